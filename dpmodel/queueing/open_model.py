"""The online model (open network): Poisson agent arrivals at APS; TTFT / TTST / TPOT; SLO capacity.

Notes
-----
Turns arrive at ``lambda = APS x turns per agent``. The structure follows the paper's data path
(and the simulator, :mod:`dpmodel.sim`):

* **Read** (layerwise modes): the turn's hit KV is read into a DRAM buffer through one side's
  storage NIC (the decode side with probability ``f``), an M/G/1 processor-sharing queue per node:
  mean ``(H / S) / (1 - rho_side)``.
* **Prefill**: ``P g / e`` engines of ``e`` GPUs in lock step (an expert-parallel group; 1 GPU for
  dense models). An engine takes every turn waiting when it frees up as one batch, its ranks taking
  the batch's turns in turn. A batch lasts the longest of its summed compute over the ``e`` GPUs,
  each GPU's summed compute-NIC bytes and its members' lone times (:class:`~dpmodel.queueing.batch.TurnParts`), averaged
  over sampled batches of the workload's turns (:func:`~dpmodel.queueing.batch.batch_law`). With layerwise loading a
  prefill-side turn moves 2H + A through its GPU's compute NIC (load and hand-off share it) and a
  turn relayed from the decode side H; the legs that cross a decode GPU's compute NIC are stretched
  by its utilization (:func:`~dpmodel.queueing.batch.layerwise_routes`). In ``basic`` the engine holds itself while its
  batch's KV loads, then computes. The batch sizes form a Markov chain (gated batch service; the
  arrivals during a batch are a Poisson mixture over its random duration); its stationary law
  gives the wait for the running batch and the own batch's duration. Under the compute quota (the
  paper's 300 ms) the turns an engine finds waiting are served as consecutive sub-batches, each
  taking turns in order while their compute fits, and a turn's own time runs to the end of its
  sub-batch (:func:`~dpmodel.queueing.batch.sub_batch_starts`). Turns reach
  an engine at random in ``basic`` and ``layerwise``; DualPath's scheduler (and the Oracle) sends
  each to the least-loaded engine, which only the chance that every engine holds work leaves
  waiting (:func:`~dpmodel.queueing.erlang.least_loaded_wait_frac`).
* TTFT = read + wait for the running batch + own batch. Link utilizations come from the flow table
  (:func:`~dpmodel.queueing.links.link_model`).
* **Decode**: TPOT at the batch Little's law implies, ``b = lambda o TPOT / (D g)``, a fixed point
  with a closed form because a step is linear in b. TTST = TTFT + the decode node's H2D of the
  prompt KV + one TPOT.

The convex split optimizer (:mod:`dpmodel.optimize.latency`) keeps the simpler max-of-links load
residence (:func:`~dpmodel.queueing.links.load_residence_s`), which is what makes it convex.

Percentiles (method stated in every result): a turn's TTFT = its own part (its read, stretched by
its storage NIC's utilization, plus its lone prefill time; per turn of the workload's sample) plus
a queueing part taken as exponential, with the mean that closes the model's mean TTFT; the
quantiles are those of that mixture (:func:`~dpmodel.queueing.percentiles.ttft_quantiles`). At light load the spread of turn
sizes sets the tail; near saturation the queueing part does. (Taking the wait as uniform within
the running batch instead gave p99s further below the simulator's.) Any utilization above 0.9
marks the result low-confidence and a range (the mean at 0.95x and 1.05x the load) is reported
beside the number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..results import Result, utilization_list
from ..scenario import MODES, Scenario
from .batch import TurnParts, gated_batches, layerwise_routes
from .erlang import least_loaded_wait_frac
from .links import link_model
from .percentiles import PERCENTILE_METHOD, ttft_quantiles
from .turn_sample import batch_draws, turn_sample, turn_sizes, turns_per_agent

LOW_CONFIDENCE_UTIL_FRAC = 0.9

#: the throughput LP's split of a scenario and mode (:func:`dpmodel.plan.lp_split`), passed in by the caller
LpSplit = Callable[[Scenario, str], float]

#: modes whose scheduler sends each turn to the least-loaded prefill engine (the paper's, in
#: DualPath and its Oracle; the simulator's dual-path and oracle policies); the others pick at random
LEAST_LOADED_MODES = ("dualpath", "oracle")


@dataclass(frozen=True)
class OnlineResult(Result):
    mode: str
    aps: float
    turns_per_s: float
    split_de_frac: float
    ttft_s: dict[str, float]
    ttst_s: float
    tpot_s: float
    utilization: dict[str, float]
    low_confidence: bool
    ttft_s_range: tuple[float, float] | None
    stable: bool
    percentile_method: str = PERCENTILE_METHOD
    components_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields; ``utilization`` as the list ``[{"name", "utilization_frac"}]``."""
        return {**super().to_dict(), "utilization": utilization_list(self.utilization)}


def components(scenario: Scenario, mode: str, lam: float, f: float) -> dict[str, float]:
    """Mean TTFT parts, TPOT, TTST and utilizations at turn rate ``lam`` and split ``f``."""
    m = MODES[mode]
    ts = turn_sample(scenario)
    cl, dep = scenario.cluster, scenario.deployment
    P, D, g = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node
    ks = ts.value("classes", scenario.classes)
    util: dict[str, float] = {}
    if m.kv_io:
        lm = ts.value("links:" + mode, lambda: link_model(scenario, mode, 1.0))  # utilizations scale with the rate
        for n, a, b in zip(lm.names, lm.a, lm.b, strict=True):
            util[n] = float(lam * (a + b * f))
    t_comp = ts.value("t_comp", lambda: float(sum(k.weight_frac * scenario.prefill_compute_s(k) for k in ks)))
    # prefill engines of e GPUs in lock step (n_e of them), each taking the turns waiting when it
    # frees up as one batch
    e = scenario.prefill_engine_gpus
    n_e = P * g / e
    lam_e = lam / n_e
    hit_s, comp_s, w = turn_sizes(scenario)  # hit bytes and compute seconds of the workload's turns
    if not m.kv_io:
        hit_s = np.zeros_like(hit_s)
    B = cl.cnic_kv_Bps_per_gpu
    if m.layerwise:
        # the two-route mixture (prefill-side and decode-side reads) of layerwise_routes
        A_mean = float(sum(k.weight_frac * k.append_tokens for k in ks)) * scenario.model.kv_bytes_per_token if m.kv_io else 0.0
        parts = layerwise_routes(
            hit_s,
            comp_s,
            w,
            f=f,
            e=e,
            append_bytes=A_mean,
            cnic_Bps=B,
            de_read_util=min(util.get("de.cnic.read", 0.0), 0.999999),
            de_write_util=min(util.get("de.cnic.write", 0.0), 0.999999),
            quota_s=dep.prefill_quota_s,
        )
        # step 1, the read into the DRAM buffer: the whole turn on one side (the decode side with
        # probability f), a processor-sharing storage NIC there
        H_mean = float(w @ hit_s)
        S_node = scenario.snic_read_Bps_per_node
        read = 0.0
        read_i = []  # each route's read time (processor sharing: a turn's own size, stretched)
        for share, name in ((1 - f, "pe.snic.read"), (f, "de.snic.read")):
            u_r = util.get(name, 0.0)
            read_i.append(hit_s / S_node / (1 - u_r) if u_r < 1 else np.full_like(hit_s, math.inf))
            if share > 0 and H_mean > 0:
                read += share * (H_mean / S_node / (1 - u_r) if u_r < 1 else math.inf)
        read_i = np.concatenate(read_i)
        # the engine's work per turn: its busiest resource's mean (compute; its GPUs' compute-NIC
        # read and write sides), which sets its utilization
        wn = w / np.sum(w)
        H, C = float(wn @ hit_s), float(wn @ comp_s)
        per_turn = max(C, (2 * (1 - f) * H + A_mean) / B, H / B) / e
    else:
        # the paper's Basic holds the engine while its batch's KV loads through the node's storage
        # NICs (shared with the node's other engines: processor sharing) and its GPUs' compute NICs
        # (shared with the previous batch's hand-offs), then computes
        rho_other = min(util.get("pe.snic.read", 0.0) * (1 - e / g), 0.999999)
        u = min(max(util.get("pe.cnic.read", 0.0), util.get("pe.cnic.write", 0.0)), 0.999999)
        snic_s = hit_s / scenario.snic_read_Bps_per_node / (1 - rho_other)
        c = comp_s / e
        parts = TurnParts(
            serial=c,
            work=hit_s / scenario.snic_read_Bps_per_node,
            cr=np.zeros_like(c),
            cw=hit_s / B,
            lone=np.maximum(snic_s, hit_s / B / (1 - u)),
            w=w,
            work_scale=1 / (1 - rho_other),
            comp=c,
            quota_s=dep.prefill_quota_s,
        )
        per_turn = float(w @ (c + np.maximum(snic_s, hit_s / B / e))) / float(np.sum(w))
        read = 0.0
        read_i = np.zeros(len(c))
    rho_pe = lam_e * per_turn
    util["pe.gpu.time"] = rho_pe
    statics = ts.statics(f"{m.layerwise}:{m.kv_io}:{f if m.layerwise else 0.0!r}")
    if "draws" not in statics:
        statics["draws"] = batch_draws(scenario, f if m.layerwise else None)
    draws = statics["draws"]
    if rho_pe < 1 and math.isfinite(read):  # (an overloaded read leaves TTFT infinite anyway)
        wait_batch, own, busy, alone = gated_batches(lam_e, parts, draws, e, statics=statics)
    else:
        wait_batch, own, busy, alone = math.inf, math.inf, 1.0, math.inf
    if mode in LEAST_LOADED_MODES and math.isfinite(wait_batch):
        # least-loaded dispatch: fewer turns meet a running batch; the others run alone
        frac = least_loaded_wait_frac(engines=n_e, busy_frac=busy, pending_turns=lam_e * read)
        wait_batch *= frac
        own = alone + frac * (own - alone)
    ttft = read + wait_batch + own
    fixed_i = read_i + parts.serial + parts.lone  # each turn's own part, for the percentiles
    w_batch = parts.w
    # decode: TPOT fixed point
    dec = ts.value("decode", scenario.decode_capacity)
    t0, k_per_seq = scenario.decode_affine_s()
    o = float(sum(k.weight_frac * k.generated_tokens for k in ks))
    x = k_per_seq * lam * o / (D * g)
    tpot = t0 / (1 - x) if x < 1 else math.inf
    batch = lam * o * tpot / (D * g) if math.isfinite(tpot) else math.inf
    b_max = dec["batch_seqs_per_gpu"]
    util["de.hbm"] = batch / b_max if b_max > 0 else math.inf
    util["de.gpu.tokens"] = x
    if util["de.hbm"] > 1:
        tpot = math.inf
    # TTST: the decode node copies the prompt KV to HBM (H2D through its compute NIC), then one step
    prompt_bytes = float(sum(k.weight_frac * (k.hit_tokens + k.append_tokens) for k in ks)) * scenario.model.kv_bytes_per_token
    h2d = 0.0 if not m.kv_io else prompt_bytes / cl.cnic_kv_Bps_per_gpu / max(1e-9, 1 - min(util.get("de.cnic.write", 0.0), 0.999999))
    return {
        "ttft": ttft,
        "fixed_i": fixed_i,
        "w_i": w_batch,
        "load": read,
        "wait_batch": wait_batch,
        "prefill_batch": own,
        "compute": t_comp,
        "tpot": tpot,
        "ttst": ttft + h2d + tpot,
        "util": util,
    }


def need_lp_split(lp_split: LpSplit | None, what: str, mode: str) -> LpSplit:
    """``lp_split``, or a :class:`~dpmodel.errors.ScenarioError` saying how to give it."""
    if lp_split is None:
        raise ScenarioError(
            f"{what}: mode {mode!r} reads through the decode side and no split was given: pass de_frac=, or "
            "lp_split=dpmodel.plan.lp_split (or call it from dpmodel.serving, which does)"
        )
    return lp_split


def is_stable(c: dict[str, Any]) -> bool:
    """Every utilization below 1 and finite latencies."""
    return all(v < 1 for v in c["util"].values()) and math.isfinite(c["ttft"]) and math.isfinite(c["tpot"])


def best_components(
    scenario: Scenario,
    mode: str,
    lam: float,
    de_frac: float | None,
    lp_split: LpSplit | None = None,
    dead: dict[float, float] | None = None,
) -> tuple[float, dict[str, Any]]:
    """The split and :func:`components` at turn rate ``lam``: ``de_frac`` when given, else the split
    with the lowest mean TTFT of this model among a fixed set (a grid and the throughput LP's
    split, ``lp_split(scenario, mode)``, needed then): a minimum over fixed splits, so latency still
    rises with load.

    ``dead``: for a caller that evaluates many loads (a bisection), the lowest turn rate at which
    each split's TTFT was infinite (filled in here); a split is not evaluated again at a rate at or
    above it (a split's TTFT is infinite once a utilization or its batch queue saturates, which
    only a higher load makes worse). The answer is the same: an infinite TTFT never is the minimum
    unless every split's is, and then the first split is returned, as without ``dead``."""
    if de_frac is not None or not MODES[mode].de_path:
        f = 0.0 if de_frac is None else de_frac
        return f, components(scenario, mode, lam, f)
    split_of = need_lp_split(lp_split, "online model", mode)
    lp_f = turn_sample(scenario).value("lp_split:" + mode, lambda: float(split_of(scenario, mode)))
    cands = sorted({*np.linspace(0.0, 1.0, 11).tolist(), lp_f})
    if dead is None:
        return min(((f, components(scenario, mode, lam, f)) for f in cands), key=lambda fc: fc[1]["ttft"])
    best = None
    for f in cands:
        if lam >= dead.get(f, math.inf):
            continue
        c = components(scenario, mode, lam, f)
        if not math.isfinite(c["ttft"]):
            dead[f] = min(lam, dead.get(f, math.inf))
        if best is None or c["ttft"] < best[1]["ttft"]:
            best = (f, c)
    if best is None or not math.isfinite(best[1]["ttft"]):
        return cands[0], components(scenario, mode, lam, cands[0])
    return best


def online_metrics(
    scenario: Scenario, mode: str, aps: float, *, de_frac: float | None = None, lp_split: LpSplit | None = None
) -> OnlineResult:
    """Online metrics at agent arrival rate ``aps`` [agents/s] in ``mode``, at split ``de_frac``, else
    at the best of the candidate splits (:func:`best_components`; ``lp_split`` then needed for a
    mode with the decode-side path)."""
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not (isinstance(aps, int | float) and math.isfinite(aps) and aps > 0):
        raise ScenarioError(f"aps = {aps!r}: must be a number > 0 (agents per second)")
    lam = aps * turns_per_agent(scenario)
    de_frac, c = best_components(scenario, mode, lam, de_frac, lp_split)
    util = c["util"]
    stable = is_stable(c)
    mean = c["ttft"]
    q = ttft_quantiles(c["fixed_i"], c["w_i"], mean, (0.5, 0.9, 0.99))
    ttft = {"mean": mean, "p50": q[0], "p90": q[1], "p99": q[2]}
    low = any(v > LOW_CONFIDENCE_UTIL_FRAC for v in util.values())
    rng = None
    if low:
        lo = components(scenario, mode, 0.95 * lam, de_frac)["ttft"]
        hi = components(scenario, mode, 1.05 * lam, de_frac)["ttft"]
        rng = (lo, hi)
    comps = {k: c[k] for k in ("load", "wait_batch", "prefill_batch", "compute")}
    return OnlineResult(mode, aps, lam, float(de_frac), ttft, c["ttst"], c["tpot"], util, low, rng, stable, components_s=comps)
