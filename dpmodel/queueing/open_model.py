"""The online model (open network): Poisson agent arrivals at APS; TTFT / TTST / TPOT; SLO capacity.

Notes
-----
Turns arrive at ``lambda = APS x turns per agent``. The structure follows the paper's data path
(and the simulator, :mod:`dpmodel.sim`):

Each turn's hit KV takes one of the topology's load paths, path ``p`` with share ``s_p`` (the path
shares, summing to 1; with the paper's two paths ``s = (1 - f, f)``, ``f = split_de_frac``). What a
path costs comes from its legs (:func:`routes`), not from code per path:

* **Read** (layerwise modes): the turn's hit KV is read into a DRAM buffer through the storage NICs
  its path has legs on (the prefill or the decode node's), an M/G/1 processor-sharing queue per
  node: mean ``(H / S) / (1 - rho)``; a path that recomputes reads nothing.
* **Prefill**: ``P g / e`` engines of ``e`` GPUs in lock step (an expert-parallel group; 1 GPU for
  dense models). An engine takes every turn waiting when it frees up as one batch, its ranks taking
  the batch's turns in turn. A batch lasts the longest of its summed work over the ``e`` GPUs
  (compute, plus the recompute of the hit tokens' KV on a recompute path), each GPU's summed bytes
  on the prefill GPU's links and its members' lone times (:class:`~dpmodel.queueing.batch.TurnParts`),
  averaged over sampled batches of the workload's turns (:func:`~dpmodel.queueing.batch.batch_law`).
  With layerwise loading the routes are a mixture, one per path
  (:func:`~dpmodel.queueing.batch.path_routes`): a turn's bytes on the prefill GPU's compute NIC
  are its path's legs there (2H + A read and H written when the prefill node reads, A read and H
  written when the decode node reads and relays); the legs that cross a decode GPU's compute NIC
  during the prefill (the path's legs there less the later copy of the prompt into HBM,
  :data:`H2D_LEGS`) are stretched by its utilization. In ``basic`` the engine holds itself while
  its batch's KV loads, then computes. The batch sizes form a Markov chain (gated batch service;
  the arrivals during a batch are a Poisson mixture over its random duration); its stationary law
  gives the wait for the running batch and the own batch's duration. Under the compute quota (the
  paper's 300 ms) the turns an engine finds waiting are served as consecutive sub-batches, each
  taking turns in order while their compute fits, and a turn's own time runs to the end of its
  sub-batch (:func:`~dpmodel.queueing.batch.sub_batch_starts`). Turns reach
  an engine at random in ``basic`` and ``layerwise``; DualPath's scheduler (and the Oracle) sends
  each to the least-loaded engine, which only the chance that every engine holds work leaves
  waiting (:func:`~dpmodel.queueing.erlang.least_loaded_wait_frac`).
* TTFT = read + wait for the running batch + own batch. Link utilizations are linear in the path
  shares (:func:`~dpmodel.queueing.links.path_links`, from the composition's demands).
* The path shares are given (``split_de_frac`` or ``path_shares``) or searched: the lowest mean
  TTFT among fixed candidates generated from the topology's paths and the throughput LP's split
  (:func:`split_candidates`), the same shares for every turn.
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

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..results import Result, utilization_list
from ..scenario import MODES, Scenario
from .batch import TurnParts, gated_batches, path_routes
from .erlang import least_loaded_wait_frac
from .links import path_links
from .percentiles import PERCENTILE_METHOD, ttft_quantiles
from .turn_sample import batch_draws, recompute_sizes, sample_is_classes, turn_sample, turn_sizes, turns_per_agent

LOW_CONFIDENCE_UTIL_FRAC = 0.9

#: the throughput LP's split of a scenario and mode, passed in by the caller: the two-path split
#: (:func:`dpmodel.plan.lp_split`) or the path shares (:func:`dpmodel.plan.lp_path_shares`)
LpSplit = Callable[[Scenario, str], Any]

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
    path_shares: dict[str, float] = field(default_factory=dict)  # load path -> share of the turns' hit KV (sums to 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields; ``utilization`` as the list ``[{"name", "utilization_frac"}]``."""
        return {**super().to_dict(), "utilization": utilization_list(self.utilization)}


#: the part of the turn legs on a decode GPU's compute NIC (coefficients of hit, new and generated
#: KV) that is not crossed during the prefill: the decode node's copy of the prompt KV into HBM
#: after it (what TTST adds), at most the legs themselves; the rest is the relay and hand-off
H2D_LEGS = np.array([1.0, 1.0, 0.0])


@dataclass(frozen=True)
class Routes:
    """What the online model reads from the topology's legs for one scenario and mode.

    ``gpu`` / ``de``: indices of the prefill-GPU and decode-GPU byte resources (per GPU) with their
    per-path legs ``gpu_legs[p, g]``, ``de_legs[p, d]`` (coefficients of hit, new and generated
    KV; the decode side's without :data:`H2D_LEGS`) and their per-GPU rates; ``read_legs[p, r]``:
    the storage-NIC reads (per node, ``read`` names, rates ``read_Bps``) of each path;
    ``recompute[p]``: the paths that recompute the hit KV."""

    paths: tuple[str, ...]
    gpu_legs: np.ndarray
    gpu_Bps: np.ndarray
    de_names: tuple[str, ...]
    de_legs: np.ndarray
    de_Bps: np.ndarray
    read_names: tuple[str, ...]
    read_legs: np.ndarray
    read_Bps: np.ndarray
    recompute: np.ndarray


def _unit_rate(scenario: Scenario, rate: str) -> float:
    """One unit's rate for a topology rate name (the scenario's own value where it has one)."""
    cl = scenario.cluster
    known = {
        "cnic_kv_Bps_per_gpu": lambda: cl.cnic_kv_Bps_per_gpu,
        "snic_read_Bps_per_node": lambda: scenario.snic_read_Bps_per_node,
        "snic_write_Bps_per_node": lambda: scenario.snic_write_Bps_per_node,
        "dram_Bps_per_node": lambda: cl.dram_Bps_per_node,
    }
    return float(known[rate]())


def routes(scenario: Scenario) -> Routes:
    """The scenario's :class:`Routes`, from its topology (kept per scenario)."""

    def make() -> Routes:
        t = scenario.topology
        M = t.leg_matrix()  # (R, P, 3), turn legs included
        turn = np.zeros((len(t.resources), 3))
        idx = {n: i for i, n in enumerate(t.names)}
        for name, c in t.turn_legs:
            turn[idx[name]] += c
        gpu, de, read = [], [], []
        for i, r in enumerate(t.resources):
            if r.demand != "legs":
                continue
            if r.per == "gpu" and r.side == "prefill":
                gpu.append(i)
            elif r.per == "gpu" and r.side == "decode":
                de.append(i)
            elif r.per == "node" and r.rate == "snic_read_Bps_per_node":
                read.append(i)
        h2d = np.minimum(turn[de], H2D_LEGS)  # (Dn, 3)
        de_legs = np.clip(M[de] - h2d[:, None, :], 0.0, None)
        rate = lambda ii: np.array([_unit_rate(scenario, t.resources[i].rate) for i in ii], float)  # noqa: E731
        return Routes(
            t.path_names,
            np.moveaxis(M[gpu], 0, 1).reshape(len(t.paths), len(gpu), 3),
            rate(gpu),
            tuple(t.names[i] for i in de),
            np.moveaxis(de_legs, 0, 1).reshape(len(t.paths), len(de), 3),
            rate(de),
            tuple(t.names[i] for i in read),
            np.moveaxis(M[read], 0, 1).reshape(len(t.paths), len(read), 3),
            rate(read),
            np.array([p.recompute for p in t.paths]),
        )

    return turn_sample(scenario).value("routes", make)


def as_shares(scenario: Scenario, split) -> tuple:
    """Path shares (the topology's paths, summing to 1) from ``split``: a number is the two-path
    split ``split_de_frac`` (the second path's share), a sequence the shares themselves, a table
    (request classes x paths) one row of shares per request class (a tuple of rows; one row when
    every class has the same)."""
    n = len(scenario.topology.paths)
    if np.ndim(split) == 0:
        f = float(split)
        if not (0.0 <= f <= 1.0):
            raise ScenarioError(f"split_de_frac = {split!r}: must lie in [0, 1]")
        if n < 2:
            if f != 0.0:
                raise ScenarioError(f"split_de_frac = {split!r}: topology {scenario.topology.name!r} has one load path")
            return (1.0,)
        return (1.0 - f, f) + (0.0,) * (n - 2)
    if np.ndim(split) == 2:  # one row of shares per request class
        rows = np.asarray(split, float)
        K = len(scenario.classes())
        if rows.shape[0] != K:
            raise ScenarioError(f"path_shares: {rows.shape[0]} rows given for {K} request classes: give one row per class (or one row)")
        out = tuple(as_shares(scenario, r) for r in rows)
        return out[0] if K == 1 or all(r == out[0] for r in out) else out
    s = np.asarray(split, float).reshape(-1)
    if len(s) != n or not np.all(np.isfinite(s)) or np.any(s < -1e-9) or abs(float(s.sum()) - 1.0) > 1e-6:
        raise ScenarioError(
            f"path_shares = {list(np.round(s, 6))}: give {n} shares >= 0 summing to 1 (the paths {', '.join(scenario.topology.path_names)})"
        )
    s = np.clip(s, 0.0, None)
    return tuple(float(x) for x in s / s.sum())


def utilizations(scenario: Scenario, mode: str, lam: float, shares) -> dict[str, float]:
    """Mean utilizations at turn rate ``lam`` and path ``shares``, without the batch law: the byte
    resources (linear in the shares), the prefill engines' work and the decode GPUs (closed form)."""
    return components(scenario, mode, lam, shares, batch=False)["util"]


def components(scenario: Scenario, mode: str, lam: float, shares, *, batch: bool = True) -> dict[str, Any]:
    """Mean TTFT parts, TPOT, TTST and utilizations at turn rate ``lam`` and path ``shares`` (a
    sequence over the topology's paths, or a number: the two-path ``split_de_frac``). ``batch``
    False: the utilizations only (the batch law's TTFT parts are left out)."""
    m = MODES[mode]
    shares = as_shares(scenario, shares)
    n_paths = len(scenario.topology.paths)
    if not m.de_path:
        shares = (1.0,) + (0.0,) * (n_paths - 1)
    per_class = isinstance(shares[0], tuple)
    if per_class and not sample_is_classes(scenario):
        raise ScenarioError(
            "path_shares per request class: this workload's turn sample is synthesized, not its request classes; "
            "give one row of shares (or a scenario with request classes)"
        )
    S_k = np.asarray(shares, float) if per_class else None  # (K, P): the sampled turns are the classes
    ts = turn_sample(scenario)
    cl, dep = scenario.cluster, scenario.deployment
    P, D, g = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node
    ks = ts.value("classes", scenario.classes)
    util: dict[str, float] = {}
    if m.kv_io:
        links = ts.value("path_links:" + mode, lambda: path_links(scenario, mode))  # utilizations scale with the rate
        util.update(links.utilization(lam, shares))
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
        rt = routes(scenario)
        b = scenario.model.kv_bytes_per_token if m.kv_io else 0.0
        A_mean = float(sum(k.weight_frac * k.append_tokens for k in ks)) * b
        O_mean = float(sum(k.weight_frac * k.generated_tokens for k in ks)) * b
        rec = recompute_sizes(scenario) if rt.recompute.any() else None
        parts = path_routes(
            hit_s,
            comp_s,
            w,
            shares=np.asarray(shares, float),
            e=e,
            other_bytes=(A_mean, O_mean),
            gpu_legs=rt.gpu_legs,
            gpu_Bps=rt.gpu_Bps,
            de_legs=rt.de_legs,
            de_Bps=rt.de_Bps,
            de_utils=np.array([min(util.get(n, 0.0), 0.999999) for n in rt.de_names]),
            recompute_s=rec,
            recompute=rt.recompute,
            quota_s=dep.prefill_quota_s,
        )
        # step 1, the read into the DRAM buffer: the whole turn through its path's storage NICs
        # (a processor-sharing queue per node), none on a path that reads nothing
        wn = w / np.sum(w)
        H_mean = float(w @ hit_s)
        read = 0.0
        read_i = []  # each route's read time (processor sharing: a turn's own size, stretched)
        for p in range(n_paths):
            share = 0.0 if per_class else shares[p]  # (per class: summed over the turns below)
            r_i, r_mean = np.zeros_like(hit_s), 0.0
            for j, name in enumerate(rt.read_names):
                cf = rt.read_legs[p, j]
                if not cf.any():
                    continue
                u_r = util.get(name, 0.0)
                S = rt.read_Bps[j]
                mean_bytes = cf[0] * H_mean + cf[1] * A_mean + cf[2] * O_mean
                r_i = np.maximum(r_i, (cf[0] * hit_s + cf[1] * A_mean + cf[2] * O_mean) / S / (1 - u_r) if u_r < 1 else np.inf)
                if share > 0 and mean_bytes > 0:
                    r_mean = max(r_mean, mean_bytes / S / (1 - u_r) if u_r < 1 else math.inf)
            read_i.append(r_i)
            read += share * r_mean if share > 0 else 0.0
        read_i = np.concatenate(read_i)
        if per_class:  # each turn's read on each route, weighted by its own shares
            r_all = read_i.reshape(n_paths, -1)
            with np.errstate(invalid="ignore"):
                read = float(np.sum(np.where(S_k.T > 0, S_k.T * wn[None, :] * r_all, 0.0)))
        # the engine's work per turn: its busiest resource's mean (compute, and recompute on a path
        # that recomputes; its GPUs' per-GPU links), which sets its utilization
        H = float(wn @ hit_s)
        C = float(wn @ comp_s)
        R_mean = float(wn @ rec) if rec is not None else 0.0
        if not per_class:
            work_mean = sum(s_p * (C + (R_mean if rt.recompute[p] else 0.0)) for p, s_p in enumerate(shares))
            links_mean = [
                sum(s_p * float(rt.gpu_legs[p, k] @ (H, A_mean, O_mean)) for p, s_p in enumerate(shares)) / rt.gpu_Bps[k]
                for k in range(len(rt.gpu_Bps))
            ]
        else:
            W = S_k * wn[:, None]  # (K, P): each class's turns on each path
            work_mean = float(np.sum(W * (comp_s[:, None] + (rec[:, None] * rt.recompute[None, :] if rec is not None else 0.0))))
            byts = np.einsum("pgt,kt->kpg", rt.gpu_legs, np.stack([hit_s, np.full_like(hit_s, A_mean), np.full_like(hit_s, O_mean)], 1))
            links_mean = list(np.einsum("kp,kpg->g", W, byts) / rt.gpu_Bps)
        per_turn = max(work_mean, *links_mean) / e
    else:
        # the paper's Basic holds the engine while its batch's KV loads through the node's storage
        # NICs (shared with the node's other engines: processor sharing) and its GPUs' compute NICs
        # (shared with the previous batch's hand-offs), then computes
        rho_other = min(util.get("pe.snic.read", 0.0) * (1 - e / g), 0.999999)
        u = min(max(util.get("pe.cnic.read", 0.0), util.get("pe.cnic.write", 0.0)), 0.999999)
        S_node = scenario.snic_read_Bps_per_node
        snic_s = hit_s / S_node / (1 - rho_other)
        c = comp_s / e
        parts = TurnParts(
            serial=c,
            work=hit_s / S_node,
            cr=np.zeros_like(c),
            cw=hit_s / B,
            lone=np.maximum(snic_s, hit_s / B / (1 - u)),
            w=w,
            work_scale=1 / (1 - rho_other),
            comp=c,
            quota_s=dep.prefill_quota_s,
            lone_terms=(hit_s / S_node, hit_s / B),
            lone_scales=(1 / (1 - rho_other), 1 / (1 - u)),
        )
        per_turn = float(w @ (c + np.maximum(snic_s, hit_s / B / e))) / float(np.sum(w))
        read = 0.0
        read_i = np.zeros(len(c))
    rho_pe = lam_e * per_turn
    util["pe.gpu.time"] = rho_pe
    # decode: TPOT fixed point
    dec = ts.value("decode", scenario.decode_capacity)
    t0, k_per_seq = scenario.decode_affine_s()
    o = float(sum(k.weight_frac * k.generated_tokens for k in ks))
    x = k_per_seq * lam * o / (D * g)
    tpot = t0 / (1 - x) if x < 1 else math.inf
    batch_seqs = lam * o * tpot / (D * g) if math.isfinite(tpot) else math.inf
    b_max = dec["batch_seqs_per_gpu"]
    util["de.hbm"] = batch_seqs / b_max if b_max > 0 else math.inf
    util["de.gpu.tokens"] = x
    if util["de.hbm"] > 1:
        tpot = math.inf
    if not batch:
        return {"util": util, "tpot": tpot}
    statics = ts.statics(f"{m.layerwise}:{m.kv_io}:{shares if m.layerwise else 0.0!r}")
    if "draws" not in statics:
        statics["draws"] = batch_draws(scenario, shares if m.layerwise else None)
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
        "shares": shares,
    }


def need_lp_split(lp_split: LpSplit | None, what: str, mode: str) -> LpSplit:
    """``lp_split``, or a :class:`~dpmodel.errors.ScenarioError` saying how to give it."""
    if lp_split is None:
        raise ScenarioError(
            f"{what}: mode {mode!r} reads through the decode side and no split was given: pass split_de_frac= or "
            "path_shares=, or lp_split=dpmodel.plan.lp_path_shares (or call it from dpmodel.serving, which does)"
        )
    return lp_split


def is_stable(c: dict[str, Any]) -> bool:
    """Every utilization below 1 and finite latencies."""
    return all(v < 1 for v in c["util"].values()) and math.isfinite(c["ttft"]) and math.isfinite(c["tpot"])


#: the grid of the second path's share each pair of paths is searched over (with the LP's split)
SPLIT_GRID = tuple(np.linspace(0.0, 1.0, 11).tolist())


def split_candidates(scenario: Scenario, mode: str, lp_split: LpSplit | None) -> tuple[tuple[float, ...], ...]:
    """The path shares the online model searches (a minimum over fixed candidates), generated from
    the topology's paths in order.

    Two paths: the second path's share on :data:`SPLIT_GRID` and the throughput LP's split. Each
    further path ``j`` adds the LP's shares over the first ``j + 1`` paths and the segment from the
    LP's shares over the first ``j`` paths to path ``j`` alone (on the same grid). So a topology's
    candidates hold those of the topology without its last path (with a zero share for it): adding
    a path never raises the minimum TTFT, and so never lowers the SLO capacity."""
    n = len(scenario.topology.paths)
    if not MODES[mode].de_path or n == 1:
        return ((1.0,) + (0.0,) * (n - 1),)
    split_of = need_lp_split(lp_split, "online model", mode)

    def make():
        topo = scenario.topology

        def lp_over(j: int) -> np.ndarray:  # the LP's shares when only the first j paths exist
            sc = scenario if j == n else dataclasses.replace(scenario, topology=dataclasses.replace(topo, paths=topo.paths[:j]))
            s = np.zeros(n)
            s[:j] = as_shares(sc, split_of(sc, mode))
            return s

        prev = lp_over(2)
        cands = [as_shares(scenario, f) for f in sorted({*SPLIT_GRID, float(prev[1])})]
        for j in range(2, n):
            here = lp_over(j + 1)
            vertex = np.eye(n)[j]
            for s in (here, *((1 - t) * prev + t * vertex for t in SPLIT_GRID[1:])):
                c = tuple(float(x) for x in s)
                if c not in cands:
                    cands.append(c)
            prev = here
        return tuple(cands)

    return turn_sample(scenario).value("split_candidates:" + mode, make)


def best_components(
    scenario: Scenario,
    mode: str,
    lam: float,
    split=None,
    lp_split: LpSplit | None = None,
    dead: dict[tuple[float, ...], float] | None = None,
) -> tuple[tuple[float, ...], dict[str, Any]]:
    """The path shares and :func:`components` at turn rate ``lam``: ``split`` when given (a number,
    the two-path ``split_de_frac``, or the path shares), else the shares with the lowest mean TTFT
    of this model among :func:`split_candidates` (``lp_split(scenario, mode)``, the throughput LP's
    split or path shares, needed then): a minimum over fixed splits, so latency still rises with
    load.

    ``dead``: for a caller that evaluates many loads (a bisection), the lowest turn rate at which
    each candidate's TTFT was infinite (filled in here); a candidate is not evaluated again at a
    rate at or above it (its TTFT is infinite once a utilization or its batch queue saturates,
    which only a higher load makes worse). The answer is the same: an infinite TTFT never is the
    minimum unless every candidate's is, and then the first candidate is returned, as without
    ``dead``."""
    if split is not None or not MODES[mode].de_path:
        s = as_shares(scenario, 0.0 if split is None else split)
        return s, components(scenario, mode, lam, s)
    cands = split_candidates(scenario, mode, lp_split)
    dead = {} if dead is None else dead
    best = None
    for s in cands:
        if lam >= dead.get(s, math.inf):
            continue
        c = components(scenario, mode, lam, s)
        if not math.isfinite(c["ttft"]):
            dead[s] = min(lam, dead.get(s, math.inf))
        if best is None or c["ttft"] < best[1]["ttft"]:
            best = (s, c)
    if best is None or not math.isfinite(best[1]["ttft"]):
        first = best if best is not None and best[0] == cands[0] else None
        return first if first is not None else (cands[0], components(scenario, mode, lam, cands[0]))
    return best


def online_metrics(
    scenario: Scenario,
    mode: str,
    aps: float,
    *,
    split_de_frac: float | None = None,
    path_shares=None,
    lp_split: LpSplit | None = None,
) -> OnlineResult:
    """Online metrics at agent arrival rate ``aps`` [agents/s] in ``mode``: at ``split_de_frac`` (the
    two-path split) or ``path_shares`` (one share per topology path, summing to 1) when given, else
    at the best of the candidate shares (:func:`best_components`; ``lp_split`` then needed for a
    mode with more than one path)."""
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not (isinstance(aps, int | float) and math.isfinite(aps) and aps > 0):
        raise ScenarioError(f"aps = {aps!r}: must be a number > 0 (agents per second)")
    if split_de_frac is not None and path_shares is not None:
        raise ScenarioError("give split_de_frac (two paths) or path_shares, not both")
    lam = aps * turns_per_agent(scenario)
    shares, c = best_components(scenario, mode, lam, path_shares if path_shares is not None else split_de_frac, lp_split)
    return result_from(scenario, mode, aps, lam, shares, c)


def result_from(scenario: Scenario, mode: str, aps: float, lam: float, shares: tuple[float, ...], c: dict[str, Any]) -> OnlineResult:
    """The :class:`OnlineResult` of :func:`components` ``c`` at path ``shares`` (percentiles, and
    the range near saturation)."""
    util = c["util"]
    stable = is_stable(c)
    mean = c["ttft"]
    q = ttft_quantiles(c["fixed_i"], c["w_i"], mean, (0.5, 0.9, 0.99))
    ttft = {"mean": mean, "p50": q[0], "p90": q[1], "p99": q[2]}
    low = any(v > LOW_CONFIDENCE_UTIL_FRAC for v in util.values())
    rng = None
    if low:
        lo = components(scenario, mode, 0.95 * lam, shares)["ttft"]
        hi = components(scenario, mode, 1.05 * lam, shares)["ttft"]
        rng = (lo, hi)
    comps = {k: c[k] for k in ("load", "wait_batch", "prefill_batch", "compute")}
    names = scenario.topology.path_names
    if isinstance(shares[0], tuple):  # per request class: each path's share of the turns' hit KV
        hit, _, w = turn_sizes(scenario)
        S = np.asarray(shares, float)
        tot = float(w @ hit)
        shares = tuple(float(x) for x in ((w * hit) @ S / tot if tot > 0 else w @ S / w.sum()))
    split = float(shares[1]) if len(shares) > 1 else 0.0
    return OnlineResult(
        mode,
        aps,
        lam,
        split,
        ttft,
        c["ttst"],
        c["tpot"],
        util,
        low,
        rng,
        stable,
        components_s=comps,
        path_shares=dict(zip(names, (float(x) for x in shares), strict=True)),
    )
