"""Simulation runs: offline batches of agents (JCT) and steady-state saturated throughput."""

from __future__ import annotations

import numpy as np

from ..errors import ScenarioError
from ..queueing.offline import trajectories_for
from ..workload.trajectory import TrajectorySet
from .engine import ServingSim, SimResult


def _ttft(sim: ServingSim, lo: float = 0.0, hi: float = float("inf")) -> dict[str, float]:
    t = np.array([f - s for s, f, e in sim.stats.turn_times if lo <= s and e <= hi])
    if not len(t):
        return {"mean": float("nan"), "p50": float("nan"), "p90": float("nan"), "p99": float("nan")}
    return {"mean": float(t.mean()), "p50": float(np.percentile(t, 50)), "p90": float(np.percentile(t, 90)), "p99": float(np.percentile(t, 99))}


def _littles(sim: ServingSim) -> dict[str, float]:
    """Little's law at the decode slots: time-average occupancy vs rate x mean time there."""
    now = sim.env.now
    L = sim.dec_area / now if now > 0 else 0.0
    lam = sim.dec_entries / now if now > 0 else 0.0
    W = sim.dec_time_sum / sim.dec_entries if sim.dec_entries else 0.0
    return {"occupancy_mean": L, "rate_x_time": lam * W, "rel_error_frac": abs(L - lam * W) / L if L > 0 else 0.0}


def simulate_offline(scenario, mode: str, agents: int, *, seed: int = 0, trajectories: TrajectorySet | None = None,
                     policy_table=None) -> SimResult:
    """n agents start together and replay their trajectories turn by turn (per-turn tokens); JCT."""
    if not isinstance(agents, int | np.integer) or agents < 1:
        raise ScenarioError(f"agents = {agents!r}: must be an integer >= 1")
    ts = trajectories if trajectories is not None else trajectories_for(scenario, int(agents), seed=seed)
    sim = ServingSim(scenario, mode, seed=seed, policy_table=policy_table)
    ctx = ts.context_tokens()
    flops = scenario.model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens)
    for j in range(int(agents)):
        s, e = ts.offsets[j], ts.offsets[j + 1]
        turns = list(zip(ctx[s:e].tolist(), ts.append_tokens[s:e].tolist(), ts.generated_tokens[s:e].tolist(), flops[s:e].tolist(), strict=True))
        sim.env.process(sim.agent(turns))
    sim.env.run()
    util, bal = sim.link_stats()
    jct = sim.env.now
    return SimResult(mode, int(agents), seed, jct, sim.stats.turns_done / jct, jct, _ttft(sim),
                     sim.stats.de_bytes / sim.stats.all_bytes if sim.stats.all_bytes else 0.0, bal, util, _littles(sim), next(sim.env._eid))  # events scheduled so far


def simulate_saturated(scenario, mode: str, *, agents: int, horizon_s: float, seed: int = 0, warmup_frac: float = 0.25) -> SimResult:
    """Steady-state throughput: ``agents`` agents loop over identical mean turns (the scenario's
    classes drawn by weight) with no think time; turns completed after the warm-up, per second."""
    sim = ServingSim(scenario, mode, seed=seed)
    ks = scenario.classes()
    w = np.array([k.weight_frac for k in ks])
    flops = [k.prefill_flops if k.prefill_flops is not None else float(scenario.model.prefill_flops(context_tokens=k.hit_tokens, append_tokens=k.append_tokens)) for k in ks]
    rng = np.random.default_rng(seed + 1)

    def looping():
        while True:
            i = int(rng.choice(len(ks), p=w))
            k = ks[i]
            yield from sim.turn(k.hit_tokens, k.append_tokens, k.generated_tokens, flops[i])

    for _ in range(agents):
        sim.env.process(looping())
    sim.env.run(until=horizon_s)
    start = warmup_frac * horizon_s
    done = sum(1 for s, f, e in sim.stats.turn_times if e >= start)
    util, bal = sim.link_stats()
    return SimResult(mode, agents, seed, horizon_s, done / (horizon_s - start), None, _ttft(sim, lo=start),
                     sim.stats.de_bytes / sim.stats.all_bytes if sim.stats.all_bytes else 0.0, bal, util, _littles(sim), next(sim.env._eid))  # events scheduled so far
