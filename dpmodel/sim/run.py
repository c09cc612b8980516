"""Simulation runs in the result shape of the analytic models (names with ``_sim``).

* :func:`simulate_offline`: n agents start at t = 0 and run to completion (JCT);
* :func:`simulate_online`: agents arrive as a Poisson process at ``aps`` for a warm-up plus a
  measured window; every turn started in the window is measured, and the run continues until
  those turns are done (arrivals stop at the window's end);
* :func:`replicate_online`: independent replications of :func:`simulate_online` (seeds 1, 2, ...)
  until the mean TTFT's standard error is small enough (what a comparison against the open model
  needs: one window's mean varies by up to 26 % between seeds where few agents are in the system);
* :func:`simulate_trace`: a trace's requests at their own timestamps (each request one turn);
* :func:`simulate_saturated`: steady-state throughput with agents looping over the scenario's
  classes (checks the LP).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..errors import ScenarioError, WorkloadError
from ..queueing.offline import trajectories_for
from ..results import Result, utilization_list
from ..workload.synth import synthesize_workload
from ..workload.traces import percentiles
from ..workload.trajectory import TrajectorySet
from .engine import ServingSim, Turn
from .loop import run


@dataclass(frozen=True)
class SimResult(Result):
    mode: str  # the policy
    kind: str  # offline | online | trace | saturated
    agents: int
    aps: float | None
    seed: int
    horizon_s: float
    turns_measured: int
    turns_per_s_sim: float
    jct_s_sim: float | None
    ttft_s_sim: dict[str, float]
    ttst_s_sim: dict[str, float]
    tpot_s_sim: dict[str, float]
    decode_side_read_frac_sim: float
    snic_balance_max_over_avg_sim: float
    peak_dram_buffer_GB_sim: float
    utilization_sim: dict[str, float]  # the topology's resources (the LP's names, in its order), then de.hbm
    littles_law: dict[str, float]
    events: int  # SimPy events plus the fluid network's completion instants
    ttft_components_s_sim: dict[str, float] = dataclasses.field(default_factory=dict)
    path_shares_sim: dict[str, float] = dataclasses.field(default_factory=dict)  # load path -> share of hit KV
    decode_batch_seqs_mean_sim: float = 0.0  # mean sequences admitted per decode GPU

    def to_dict(self) -> dict:
        """The fields, with the utilizations as the list every result writes (``[{"name",
        "utilization_frac"}, ...]``)."""
        d = super().to_dict()
        d["utilization_sim"] = utilization_list(self.utilization_sim)
        return d


def _stats(x: np.ndarray) -> dict[str, float]:
    if not len(x):
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan}
    p = percentiles(x)
    return {k: p[k] for k in ("mean", "p50", "p90", "p99")}


def _littles(sim: ServingSim, horizon_s: float) -> dict[str, float]:
    """Little's law at the decode engines (admitted sequences): time-average occupancy ``L`` (from
    the engines' running integral) vs completion rate x mean time admitted (from each sequence's
    own timestamps). Sequences still admitted at the horizon add ``open_frac`` of ``L`` (the edge
    term, about W / T); ``rel_error_frac`` is what is left after it."""
    for e in sim.des:
        e._account()
    T = horizon_s
    L = sum(e.area for e in sim.des) / T if T > 0 else 0.0
    lam = sim.dec_entries / T if T > 0 else 0.0
    W = sim.dec_time_sum / sim.dec_entries if sim.dec_entries else 0.0
    open_L = sum(max(T - d0, 0.0) for d0 in sim.dec_open.values()) / T if T > 0 else 0.0
    return {
        "occupancy_mean": L,
        "rate_x_time": lam * W,
        "open_frac": open_L / L if L > 0 else 0.0,
        "rel_error_frac": abs(L - lam * W - open_L) / L if L > 0 else 0.0,
    }


def _result(sim: ServingSim, kind: str, agents: int, aps: float | None, seed: int, horizon_s: float, jct: float | None) -> SimResult:
    r = sim.rec
    m = np.array(r.measured, bool)
    t0, first, second, end, tpot, ready, batch = (np.array(v, float)[m] for v in (r.t0, r.first, r.second, r.end, r.tpot, r.ready, r.batch))
    comps = (
        {"read": float(np.mean(ready - t0)), "prefill_wait": float(np.mean(batch - ready)), "prefill_batch": float(np.mean(first - batch))}
        if len(t0)
        else {}
    )
    util = sim.utilization(horizon_s)
    batch_seqs = util.pop("de.batch_seqs_mean")
    turns_rate = len(end) / max(horizon_s, 1e-12)
    return SimResult(
        sim.policy,
        kind,
        int(agents),
        aps,
        int(seed),
        float(horizon_s),
        int(len(end)),
        float(turns_rate),
        jct,
        _stats(first - t0),
        _stats(second - t0),
        _stats(tpot),
        sim.de_bytes / sim.all_bytes if sim.all_bytes else 0.0,
        sim.snic_balance(),
        sim.peak_buffer_GB(),
        util,
        _littles(sim, horizon_s),
        int(next(sim.env._eid)) + sim.net.fires,
        comps,
        sim.path_shares_done(),
        batch_seqs,
    )


def _progress(total: float, quiet: bool, unit: str):
    if quiet:
        return None
    # disable=None: off automatically when stderr is not a terminal
    return tqdm(total=total, unit=unit, disable=None, file=sys.stderr, leave=False, mininterval=0.5)


def _rflops(sim: ServingSim, scenario, ctx, app, flops) -> np.ndarray | None:
    """Each turn's FLOPs to recompute its hit KV (prefilling c + a tokens from scratch less a
    after c, as the LP's composition charges a recompute path), where the topology has one."""
    if not sim.needs_rflops:
        return None
    ctx = np.asarray(ctx, float)
    return np.asarray(scenario.model.prefill_flops(context_tokens=0.0 * ctx, append_tokens=ctx + app), float) - flops


def _turns_of(scenario, ts: TrajectorySet, j: int, ctx: np.ndarray, flops: np.ndarray, rflops: np.ndarray | None = None) -> list[tuple]:
    s, e = ts.offsets[j], ts.offsets[j + 1]
    rf = rflops[s:e].tolist() if rflops is not None else [0.0] * int(e - s)
    return list(
        zip(ctx[s:e].tolist(), ts.append_tokens[s:e].tolist(), ts.generated_tokens[s:e].tolist(), flops[s:e].tolist(), rf, strict=True)
    )


def _agent(sim: ServingSim, j: int, turns: list[tuple], window: tuple[float, float] | None, tracker: dict | None):
    for c, a, o, f, rf in turns:
        measured = window is None or window[0] <= sim.env.now < window[1]
        t = Turn(j, c, a, o, f, measured=measured, rflops=rf)
        if tracker is not None and measured:
            tracker["open"] += 1
        yield from sim.turn(t)


def simulate_offline(
    scenario,
    policy: str,
    agents: int,
    *,
    seed: int = 0,
    trajectories: TrajectorySet | None = None,
    policy_table=None,
    quiet: bool = True,
    split_de_frac: float | None = None,
    lp_split=None,
    path_shares=None,
) -> SimResult:
    """n agents start together and replay their trajectories turn by turn; JCT. ``split_de_frac``,
    ``path_shares``, ``lp_split``: the static split, as in :class:`ServingSim`."""
    if not isinstance(agents, int | np.integer) or isinstance(agents, bool) or agents < 1:
        raise ScenarioError(f"agents = {agents!r}: must be an integer >= 1")
    ts = trajectories if trajectories is not None else trajectories_for(scenario, int(agents), seed=seed)
    if ts.agents_count < agents:
        raise ScenarioError(f"the trajectory set has {ts.agents_count} agents, fewer than the {agents} asked for")
    sim = ServingSim(
        scenario, policy, seed=seed, policy_table=policy_table, split_de_frac=split_de_frac, lp_split=lp_split, path_shares=path_shares
    )
    ctx = ts.context_tokens()
    flops = scenario.model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens)
    rflops = _rflops(sim, scenario, ctx, ts.append_tokens, flops)
    total = int(ts.offsets[agents])
    bar = _progress(total, quiet, "turn")
    left = {"agents": int(agents)}

    def run_agent(j):
        yield from _agent(sim, j, _turns_of(scenario, ts, j, ctx, flops, rflops), None, None)
        left["agents"] -= 1
        if left["agents"] == 0:
            sim.stopped = True

    if bar is not None:
        sim.on_turn_done = lambda _t: bar.update(1)
    for j in range(int(agents)):
        sim.env.process(run_agent(j))
    sim.env.process(sim.snic_sampler())
    run(sim.env, net=sim.net)
    if bar is not None:
        bar.close()
    jct = float(max(sim.rec.end)) if sim.rec.end else 0.0
    return _result(sim, "offline", agents, None, seed, jct, jct)


def _turn_durations_s(scenario, aps: float, ts: TrajectorySet) -> np.ndarray:
    """Each turn's expected duration for the warm start: its prefill at zero load plus decoding its
    tokens at the open model's TPOT (zero-load TPOT if the model is unstable there)."""
    from ..queueing.open_model import online_metrics

    # decode does not depend on the read path: any split gives the same TPOT
    tpot = online_metrics(scenario, "oracle", aps, split_de_frac=0.0).tpot_s
    if not math.isfinite(tpot):
        tpot = online_metrics(scenario, "oracle", 1e-6, split_de_frac=0.0).tpot_s
    rate = scenario.prefill_rate_flops_per_s()
    comp = np.asarray(scenario.model.prefill_flops(context_tokens=ts.context_tokens(), append_tokens=ts.append_tokens), float) / rate
    return comp + ts.generated_tokens * tpot


def simulate_online(
    scenario,
    policy: str,
    *,
    aps: float,
    duration_s: float,
    warmup_s: float | None = None,
    seed: int = 0,
    policy_table=None,
    quiet: bool = True,
    trajectories: TrajectorySet | None = None,
    warm_start: bool = True,
    split_de_frac: float | None = None,
    lp_split=None,
    path_shares=None,
) -> SimResult:
    """Poisson agent arrivals at ``aps`` [agents/s]; turns started in [warm-up, warm-up + duration)
    are measured."""
    if not (isinstance(aps, int | float) and math.isfinite(aps) and aps > 0):
        raise ScenarioError(f"aps = {aps!r}: must be a number > 0 (agents per second)")
    if not (isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s > 0):
        raise ScenarioError(f"duration_s = {duration_s!r}: must be a number > 0 (seconds)")
    if warmup_s is None:
        warmup_s = 0.5 * duration_s
    if not (warmup_s >= 0 and math.isfinite(warmup_s)):
        raise ScenarioError(f"warmup_s = {warmup_s!r}: must be >= 0 (seconds)")
    from ..workload.arrivals import poisson_arrivals

    end_s = warmup_s + duration_s
    arr = poisson_arrivals(rate_per_s=aps, duration_s=end_s, seed=seed + 7919)
    # warm start: agents live for many minutes, so an empty cluster takes long to reach steady
    # state. Start with the stationary population in progress: Poisson(aps x mean lifetime) agents,
    # drawn in proportion to their lifetimes, each at a turn drawn in proportion to its duration
    # (estimated: zero-load prefill plus decoding at the analytic TPOT); only the initial condition
    # depends on the estimate, and the warm-up absorbs its error.
    rng = np.random.default_rng(seed + 104729)
    n_new = len(arr)
    pool = trajectories if trajectories is not None else synthesize_workload(scenario.workload, agents=max(4 * n_new, 400), seed=seed)
    dur = _turn_durations_s(scenario, aps, pool)
    life = np.add.reduceat(dur, pool.offsets[:-1])  # each agent's lifetime
    n_warm = int(rng.poisson(aps * float(life.mean()))) if warm_start else 0
    if n_new + n_warm == 0:
        raise ScenarioError(f"aps = {aps} over {end_s:g} s gave no arrivals: raise --aps or --duration-s")
    # agents in progress are found in proportion to their lifetimes, at a turn in proportion to its duration
    warm_ids = rng.choice(pool.agents_count, size=n_warm, p=life / life.sum()) if n_warm else np.array([], int)
    warm_from = []
    for j in warm_ids:
        d = dur[pool.offsets[j] : pool.offsets[j + 1]]
        warm_from.append(int(rng.choice(len(d), p=d / d.sum())))
    ts = pool
    sim = ServingSim(
        scenario, policy, seed=seed, policy_table=policy_table, split_de_frac=split_de_frac, lp_split=lp_split, path_shares=path_shares
    )
    ctx = ts.context_tokens()
    flops = scenario.model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens)
    rflops = _rflops(sim, scenario, ctx, ts.append_tokens, flops)
    tracker = {"open": 0}
    finished = sim.env.event()
    bar = _progress(end_s, quiet, "s")

    def on_done(t: Turn):
        if t.measured:
            tracker["open"] -= 1
        if bar is not None and sim.env.now <= end_s:
            bar.update(sim.env.now - bar.n)
        if sim.env.now >= end_s and tracker["open"] == 0 and not finished.triggered:
            finished.succeed()

    sim.on_turn_done = on_done

    for j, k0 in zip(warm_ids, warm_from, strict=True):
        sim.env.process(_agent(sim, int(j), _turns_of(scenario, ts, int(j), ctx, flops, rflops)[k0:], (warmup_s, end_s), tracker))

    def source():
        order = rng.permutation(ts.agents_count)
        for i, a in enumerate(arr):
            yield sim.env.timeout(a - sim.env.now)
            j = int(order[i % ts.agents_count])
            sim.env.process(_agent(sim, j, _turns_of(scenario, ts, j, ctx, flops, rflops), (warmup_s, end_s), tracker))
        yield sim.env.timeout(max(end_s - sim.env.now, 0.0))
        if tracker["open"] == 0 and not finished.triggered:
            finished.succeed()

    sim.env.process(source())
    sim.env.process(sim.snic_sampler())
    run(sim.env, until=finished, net=sim.net)
    sim.stopped = True
    if bar is not None:
        bar.close()
    horizon = sim.env.now
    res = _result(sim, "online", n_new + n_warm, float(aps), seed, horizon, None)
    # throughput over the measured window: measured turns per second of window
    return dataclasses.replace(res, turns_per_s_sim=res.turns_measured / duration_s)


def simulate_trace(
    scenario,
    policy: str,
    requests,
    *,
    seed: int = 0,
    speedup_factor: float = 1.0,
    limit: int | None = None,
    policy_table=None,
    quiet: bool = True,
    split_de_frac: float | None = None,
    lp_split=None,
    path_shares=None,
) -> SimResult:
    """A trace's requests (:class:`~dpmodel.workload.traces.TraceRequest`) at their own timestamps,
    each one turn (hit from the trace's cache simulation, append = input - hit)."""
    if not speedup_factor > 0:
        raise ScenarioError(f"speedup_factor = {speedup_factor!r}: must be > 0")
    rows = []
    for i, r in enumerate(requests):
        if limit is not None and i >= limit:
            break
        rows.append((r.arrival_s, r.hit_tokens, max(r.input_tokens - r.hit_tokens, 1), max(r.output_tokens, 1)))
    if not rows:
        raise WorkloadError("the trace has no requests")
    rows.sort()
    t_first = rows[0][0]
    arr = np.array([(a - t_first) / speedup_factor for a, *_ in rows])
    hit = np.array([h for _, h, _, _ in rows], float)
    app = np.array([a for _, _, a, _ in rows], float)
    gen = np.array([o for *_, o in rows], float)
    flops = scenario.model.prefill_flops(context_tokens=hit, append_tokens=app)
    sim = ServingSim(
        scenario, policy, seed=seed, policy_table=policy_table, split_de_frac=split_de_frac, lp_split=lp_split, path_shares=path_shares
    )
    rflops = _rflops(sim, scenario, hit, app, flops)
    bar = _progress(len(rows), quiet, "req")
    if bar is not None:
        sim.on_turn_done = lambda _t: bar.update(1)
    left = {"n": len(rows)}

    def one(i):
        yield from sim.turn(
            Turn(i, float(hit[i]), float(app[i]), float(gen[i]), float(flops[i]), rflops=0.0 if rflops is None else float(rflops[i]))
        )
        left["n"] -= 1
        if left["n"] == 0:
            sim.stopped = True

    def source():
        for i, a in enumerate(arr):
            yield sim.env.timeout(a - sim.env.now)
            sim.env.process(one(i))

    sim.env.process(source())
    sim.env.process(sim.snic_sampler())
    run(sim.env, net=sim.net)
    if bar is not None:
        bar.close()
    horizon = float(max(sim.rec.end))
    res = _result(sim, "trace", len(rows), None, seed, horizon, None)
    return dataclasses.replace(res, turns_per_s_sim=len(rows) / horizon)


def simulate_saturated(
    scenario,
    policy: str,
    *,
    agents: int,
    horizon_s: float,
    seed: int = 0,
    warmup_frac: float = 0.25,
    turns: str = "classes",
    split_de_frac: float | None = None,
    lp_split=None,
    path_shares=None,
) -> SimResult:
    """Steady-state throughput: ``agents`` agents loop with no think time over turns drawn at random
    from the scenario's classes (by weight; ``turns="classes"``) or from a synthesized set of the
    workload's turns (``turns="workload"``: real per-turn variation); turns completed after the
    warm-up, per second."""
    sim = ServingSim(scenario, policy, seed=seed, split_de_frac=split_de_frac, lp_split=lp_split, path_shares=path_shares)
    rng = np.random.default_rng(seed + 1)
    start = warmup_frac * horizon_s
    if turns == "classes":
        ks = scenario.classes()
        w = np.array([k.weight_frac for k in ks])
        hit = np.array([k.hit_tokens for k in ks], float)
        app = np.array([k.append_tokens for k in ks], float)
        gen = np.array([k.generated_tokens for k in ks], float)
        flops = np.array(
            [
                k.prefill_flops
                if k.prefill_flops is not None
                else float(scenario.model.prefill_flops(context_tokens=k.hit_tokens, append_tokens=k.append_tokens))
                for k in ks
            ]
        )
    elif turns == "workload":
        ts = synthesize_workload(scenario.workload, agents=512, seed=seed)
        hit, app, gen = ts.context_tokens().astype(float), ts.append_tokens.astype(float), ts.generated_tokens.astype(float)
        flops = scenario.model.prefill_flops(context_tokens=hit, append_tokens=app)
        w = np.full(len(hit), 1.0 / len(hit))
    else:
        raise ScenarioError(f"turns = {turns!r}: use 'classes' or 'workload'")
    rflops = _rflops(sim, scenario, hit, app, flops)

    def looping(j):
        while True:
            i = int(rng.choice(len(w), p=w))
            rf = 0.0 if rflops is None else float(rflops[i])
            yield from sim.turn(
                Turn(j, float(hit[i]), float(app[i]), float(gen[i]), float(flops[i]), measured=sim.env.now >= start, rflops=rf)
            )

    for j in range(agents):
        sim.env.process(looping(j))
    sim.env.process(sim.snic_sampler())
    run(sim.env, until=horizon_s, net=sim.net)
    res = _result(sim, "saturated", agents, None, seed, horizon_s, None)
    done = sum(1 for e in sim.rec.end if e >= start)
    return dataclasses.replace(res, turns_per_s_sim=done / (horizon_s - start))
