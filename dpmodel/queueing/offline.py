"""Offline batches (the RL rollout phase): n agents start together and run their trajectories with
zero think time; job completion time (JCT) from an approximate MVA plus the drain of the longest
trajectories (:mod:`dpmodel.queueing.mva`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..results import Result
from ..scenario import MODES, Scenario
from ..workload.classes import RequestClass, classes_from_turns
from ..workload.synth import synthesize_workload
from ..workload.trajectory import TrajectorySet
from .mva import Station, drain_jct_s, mva_dpmodel
from .open_model import as_shares


def build_network(scenario: Scenario, mode: str, split):
    """Stations of one turn's cycle, the decode service as a function of turns in decode, and the
    share of the load's residence that holds the prefill GPU (returned for :func:`mva_dpmodel`).
    ``split``: the two-path ``split_de_frac`` (a number) or the path shares (one per topology path).

    Per-turn demands and capacities are the LP's (:meth:`Scenario.demands`), so the offline model
    and the saturated-throughput bound share one source of truth. Without layerwise loading (the
    paper's Basic) the prefill engine holds itself while its KV loads: its service is the LP's
    prefill GPU time (compute plus the load at the engines' shared storage-NIC rate,
    :func:`dpmodel.flows.shared_snic_rate_Bps_per_gpu`), and the load's links are inside that
    service rather than separate stations.
    """
    layerwise = MODES[mode].layerwise
    d = scenario.demands(mode)
    hold = 0.0
    if np.ndim(split):  # a vector of path shares (the topology's paths, summing to 1)
        sh = np.asarray(split, float) if d.de_path else (np.arange(len(d.paths)) == 0).astype(float)
        per_turn = np.einsum("rkp,k,p->r", d.coef, d.weights, sh)
    else:
        f = np.full(len(d.weights), split if d.de_path else 0.0)
        per_turn = d.const @ d.weights + d.slope @ (d.weights * f)
    cl, dep = scenario.cluster, scenario.deployment
    io = scenario.topology.io_names  # the topology's byte resources, with their unit counts
    stations: list[Station] = []
    for i, name in enumerate(d.names):
        if name in io:
            if layerwise and per_turn[i] > 0 and math.isfinite(d.capacity[i]):
                u = float(d.units[i])
                # one turn's transfer uses one unit (a node's NICs, a GPU's CNIC); load spreads over all
                stations.append(Station(name, per_turn[i] / (d.capacity[i] / u), u, "kv"))
        elif name == "pe.gpu.time":
            # engines of e GPUs in lock step: P g / e servers, each a turn's compute in 1/e the time
            e = scenario.prefill_engine_gpus
            stations.append(Station(name, per_turn[i] / e, d.capacity[i] / e, "pe"))
    dec = scenario.decode_capacity()
    g, D = cl.gpus_per_node, dep.decode_nodes_count
    slots = max(dec["batch_seqs_per_gpu"] * g * D, 1.0)
    gen = float(sum(k.weight_frac * k.generated_tokens for k in scenario.classes()))

    def decode_service_s(in_decode: float) -> float:
        batch = min(max(in_decode, 1.0), slots) / (g * D)
        t0, per_seq = scenario.decode_affine_s()
        return gen * float(t0 + batch * per_seq)

    stations.append(Station("de.decode", decode_service_s(1.0), slots, "dec"))
    return stations, decode_service_s, hold


@dataclass(frozen=True)
class OfflineResult(Result):
    mode: str
    agents: int
    jct_s: float
    turns_per_s: float  # total turns / JCT
    turns_total: int
    saturated_turns_per_s: float  # MVA throughput with every agent active
    split_de_frac: float
    decode_tpot_s: float  # at full population
    seed: int
    path_shares: dict[str, float] = field(default_factory=dict)  # load path -> share of hit KV (sums to 1)


def _work_in_mean_turns(scenario: Scenario, ts: TrajectorySet) -> np.ndarray:
    """Each agent's work in units of the mean turn.

    Turns differ: an agent that takes many turns often takes short ones. Agents advance through
    the closed network at a common rate in *work*, so the drain is measured in mean-turn
    equivalents: a turn's weight is its zero-load cost (prefill compute plus decoding its tokens at
    a lone sequence's step time) over the mean turn's.
    """
    ctx = ts.context_tokens()
    comp = scenario.model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens)
    rate = scenario.prefill_rate_flops_per_s()
    t0, per_seq = scenario.decode_affine_s()
    step0 = t0 + per_seq
    cost = comp / rate + ts.generated_tokens * step0
    per_agent = np.add.reduceat(cost, ts.offsets[:-1])
    return per_agent / cost.mean()


def trajectories_for(scenario: Scenario, agents: int, *, seed: int = 0, append_scale: float = 1.0, gen_scale: float = 1.0) -> TrajectorySet:
    """The agents of an offline batch: synthesized from the workload, with the paper's knobs."""
    ts = synthesize_workload(scenario.workload, agents=agents, seed=seed)
    if append_scale != 1.0 or gen_scale != 1.0:
        ts = ts.scaled(append_factor=append_scale, generated_factor=gen_scale)
    return ts


#: the readings of a workload's Table 2 (:func:`offline_jct_many`)
TURNS_READINGS = ("plain", "turn-weighted")


def default_turns_reading(scenario: Scenario) -> str:
    """``"plain"`` for a workload fitted to Table 2-style means (one with a ``[synthesis]`` table: the
    packaged ``agentic-*`` presets), ``"turn-weighted"`` (the trajectories as they are) otherwise."""
    return "plain" if scenario.workload.synthesis is not None else "turn-weighted"


def offline_jct(
    scenario: Scenario,
    mode: str,
    agents: int,
    *,
    seed: int = 0,
    append_scale: float = 1.0,
    gen_scale: float = 1.0,
    trajectories: TrajectorySet | None = None,
    split_de_frac: float | None = None,
    path_shares=None,
    lp_split: Callable[[Scenario, str], Any] | None = None,
    turns_reading: str | None = None,
) -> OfflineResult:
    """JCT of ``agents`` agents in ``mode`` (``basic``, ``layerwise``, ``dualpath``, ``oracle``);
    ``split_de_frac``, ``path_shares``, ``lp_split`` and ``turns_reading`` as in :func:`offline_jct_many`."""
    if not isinstance(agents, int | np.integer) or isinstance(agents, bool) or agents < 1:
        raise ScenarioError(f"agents = {agents!r}: must be an integer >= 1")
    (res,) = offline_jct_many(
        scenario,
        mode,
        [int(agents)],
        seed=seed,
        append_scale=append_scale,
        gen_scale=gen_scale,
        trajectories=trajectories,
        split_de_frac=split_de_frac,
        path_shares=path_shares,
        lp_split=lp_split,
        turns_reading=turns_reading,
    )
    return res


def offline_jct_many(
    scenario: Scenario,
    mode: str,
    agent_counts: list[int],
    *,
    seed: int = 0,
    append_scale: float = 1.0,
    gen_scale: float = 1.0,
    trajectories: TrajectorySet | None = None,
    split_de_frac: float | None = None,
    path_shares=None,
    turns_reading: str | None = None,
    lp_split: Callable[[Scenario, str], Any] | None = None,
) -> list[OfflineResult]:
    """JCTs for several batch sizes from one MVA recursion: the batch of ``n`` agents is the first
    ``n`` of one synthesized set (nested samples), and per-turn demands are that set's means.

    ``turns_reading`` says how the workload's Table 2 is read (README, "Table 2 weighting"):
    ``"plain"``: Turns, Append, Gen and Context as plain per-trajectory means, as if agents manage
    their context (context is not the sum of earlier turns): per-turn demands are Table 2's means
    (times ``append_scale`` / ``gen_scale``) and every agent's turn count is scaled so the mean is
    Table 2's Turns; ``"turn-weighted"``: the (synthesized or given) cumulative-context trajectories
    as they are. None (default): :func:`default_turns_reading` (plain for a Table 2-fitted workload,
    the one the paper's Fig. 7 supports: benchmarks/results/roofline_fig7.md). The simulator
    replays trajectories as they are, so a cross-check against it passes ``"turn-weighted"``.

    ``split_de_frac``: the two-path split (the second path's share of the hit KV), or
    ``path_shares``: one share per topology path, summing to 1; neither given, the throughput LP's
    split or path shares of the scenario as read, ``lp_split(scenario, mode)``
    (:func:`dpmodel.plan.lp_path_shares`), needed then for a mode with more than one path.
    """
    if turns_reading is None:
        turns_reading = default_turns_reading(scenario)
    if turns_reading not in ("turn-weighted", "plain"):
        raise ScenarioError(f"turns_reading = {turns_reading!r}: use 'turn-weighted' or 'plain'")
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not agent_counts or any(int(a) < 1 for a in agent_counts):
        raise ScenarioError(f"agents = {agent_counts!r}: every count must be an integer >= 1")
    n_max = max(int(a) for a in agent_counts)
    ts = (
        trajectories
        if trajectories is not None
        else trajectories_for(scenario, n_max, seed=seed, append_scale=append_scale, gen_scale=gen_scale)
    )
    if ts.agents_count < n_max:
        raise ScenarioError(f"the trajectory set has {ts.agents_count} agents, fewer than the {n_max} asked for")
    turns = _work_in_mean_turns(scenario, ts)
    if turns_reading == "plain":
        t = scenario.workload.trajectory
        mean_turn = RequestClass(1.0, t.mean_context_tokens, t.mean_append_tokens * append_scale, t.mean_generated_tokens * gen_scale)
        sc = dataclasses.replace(scenario, request_classes=(mean_turn,))
        # Table 2's Turns is the mean of the unscaled set: longer turns still reach MAL sooner
        scaled = trajectories is None and (append_scale != 1.0 or gen_scale != 1.0)
        ref = trajectories_for(scenario, n_max, seed=seed) if scaled else ts
        turns = turns * (scenario.workload.trajectory.mean_turns_count / ref.turns_per_trajectory()[:n_max].mean())
    else:
        ctx = ts.context_tokens()
        classes = classes_from_turns(ctx, ts.append_tokens, ts.generated_tokens, count=1, model=scenario.model)
        sc = dataclasses.replace(scenario, request_classes=classes)
    if split_de_frac is not None and path_shares is not None:
        raise ScenarioError("give split_de_frac (two paths) or path_shares, not both")
    split = path_shares if path_shares is not None else split_de_frac
    if split is None:
        split = 0.0
        if MODES[mode].de_path and len(sc.topology.paths) > 1:
            if lp_split is None:
                raise ScenarioError(
                    f"offline model: mode {mode!r} reads through the decode side and no split was given: "
                    "pass split_de_frac= or path_shares=, or lp_split=dpmodel.plan.lp_path_shares "
                    "(or call it from dpmodel.serving)"
                )
            split = lp_split(sc, mode)
    shares = as_shares(sc, split)
    if not MODES[mode].de_path:
        shares = (1.0,) + (0.0,) * (len(shares) - 1)
    stations, dec_fn, hold = build_network(sc, mode, split if np.ndim(split) == 0 else np.asarray(shares))
    res = mva_dpmodel(stations, n_max, hold_frac=hold, decode_service_s=dec_fn)
    real_turns = ts.turns_per_trajectory()
    X = res["throughput_per_s"]
    dec_col = [s.group for s in stations].index("dec")
    gen_mean = max(float(sum(k.weight_frac * k.generated_tokens for k in sc.classes())), 1e-9)
    out = []
    for a in agent_counts:
        n = int(a)
        jct = drain_jct_s(turns[:n], X[:n])
        total = int(real_turns[:n].sum()) if turns_reading != "plain" else int(round(turns[:n].sum()))
        tpot = dec_fn(res["queue"][n - 1][dec_col]) / gen_mean
        out.append(
            OfflineResult(
                mode,
                n,
                jct,
                total / jct,
                total,
                float(X[n - 1]),
                float(shares[1]) if len(shares) > 1 else 0.0,
                tpot,
                seed,
                path_shares=dict(zip(sc.topology.path_names, shares, strict=True)),
            )
        )
    return out
