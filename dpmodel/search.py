"""Configuration search for a fixed budget of nodes: which P/D split, how many storage NICs per
node, which prefill engine size and which read mode.

Every configuration's saturated throughput comes from the vectorized kernels of
:func:`dpmodel.sweep.sweep_throughput` (one call per engine size and mode, arrays over P, D and
storage NICs); the slower online model (SLO capacity by bisection) runs only on the Pareto front of
throughput per GPU against per-user decode speed.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ScenarioError
from .profiles.cost import CostProfile
from .results import Result, json_safe
from .scenario import Scenario
from .sweep import sweep_throughput

SEARCH_MODES = ("basic", "layerwise", "dualpath")
RANK_KEYS = {
    "throughput": ("turns_per_s", True),
    "per-gpu": ("tokens_per_s_per_gpu", True),
    "per-user": ("tokens_per_s_per_user", True),
    "cost": ("cost_per_million_tokens", False),
    "capacity": ("slo_capacity_aps", True),
}


@dataclass(frozen=True)
class SearchResult(Result):
    """``dpmodel search``: every configuration of a fixed node budget, ranked, and its Pareto front.

    Attributes
    ----------
    nodes : int
        The node budget (P + D).
    rows : list of dict
        Every configuration evaluated (feasible or not), ranked: node counts, storage NICs,
        engine size, mode, ``turns_per_s``, ``split_de_frac``, ``path_shares`` (load path -> share
        of hit-KV bytes), ``bottleneck``, token rates, cost.
    front : list of dict
        The Pareto front (tokens/s per GPU against per user), with SLO capacity where computed.
    evaluated : int
        Number of configurations.
    seconds : float
        Wall time of the whole search [s].
    rank_by : str
        The ranking key (:data:`RANK_KEYS`).
    slo : dict
        The SLOs the front's capacity meets (``ttft_mean_s``, ``tpot_s``, ``ttft_p90_s``,
        ``ttft_p99_s``; ``None`` where not set) [s].
    store : str
        ``fixed`` (the profile's storage back end) or ``free`` (priced per GB/s).
    saturated_seconds : float
        Wall time of the vectorized pass over every configuration [s].
    capacity_seconds : float
        Wall time of the SLO capacity on the front [s].
    """

    nodes: int
    rows: list[dict[str, Any]]  # every configuration evaluated (feasible or not), ranked
    front: list[dict[str, Any]]  # the Pareto front (tokens/s per GPU vs per user), with SLO capacity
    evaluated: int
    seconds: float
    rank_by: str
    slo: dict[str, float | None] = field(default_factory=dict)
    store: str = "fixed"
    saturated_seconds: float = 0.0  # the vectorized pass over every configuration
    capacity_seconds: float = 0.0  # SLO capacity on the front

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """The JSON-safe dict of the result (``rows`` under ``top``).

        Parameters
        ----------
        top : int, optional
            Keep only the first ``top`` ranked rows (default all).

        Returns
        -------
        dict
            Plain JSON types only.
        """
        return json_safe(
            {
                "nodes": self.nodes,
                "evaluated": self.evaluated,
                "seconds": self.seconds,
                "rank_by": self.rank_by,
                "saturated_seconds": self.saturated_seconds,
                "capacity_seconds": self.capacity_seconds,
                "store": self.store,
                "slo": self.slo,
                "top": self.rows[:top] if top else self.rows,
                "pareto_front": self.front,
            }
        )

    def to_frame(self):
        """One row per configuration evaluated, ranked (pandas)."""
        import pandas as pd

        return pd.DataFrame(json_safe(self.rows))


def engine_sizes(gpus_per_node: int) -> list[int]:
    """Prefill engine sizes that divide a node: 1, 2, 4, ... up to the node.

    Parameters
    ----------
    gpus_per_node : int
        GPUs of one node.

    Returns
    -------
    list of int
        Every divisor of ``gpus_per_node``, ascending [GPUs].
    """
    return [e for e in range(1, gpus_per_node + 1) if gpus_per_node % e == 0]


def pareto_front(x: np.ndarray, y: np.ndarray, tie: np.ndarray | None = None) -> np.ndarray:
    """Indices of the points not dominated when both ``x`` and ``y`` are maximized.

    Parameters
    ----------
    x, y : numpy.ndarray
        The two objectives, both maximized (same shape).
    tie : numpy.ndarray, optional
        Of equal points the one with the smallest ``tie`` (e.g. the cost) is kept.

    Returns
    -------
    numpy.ndarray
        Indices of the front, ``x`` descending.
    """
    tie = np.zeros_like(x) if tie is None else tie
    order = np.lexsort((tie, -y, -x))  # x descending, then y descending, then tie ascending
    keep, best_y = [], -np.inf
    for i in order:
        if y[i] > best_y:
            keep.append(int(i))
            best_y = y[i]
    return np.array(keep, dtype=int)


def _per_user(sc: Scenario, D: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Vectorized :func:`dpmodel.plan.per_user_tokens_per_s` over decode node counts ``D``."""
    out = np.full(gen.shape, np.nan)
    for d in np.unique(D):
        sel = D == d
        s = sc.with_deployment(decode_nodes_count=int(d))
        try:
            dec = s.decode_capacity()
        except ScenarioError:
            continue
        dep, cl = s.deployment, s.cluster
        H = cl.hbm_Bps_per_gpu * dep.decode_hbm_efficiency_frac
        fixed = dep.decode_step_overhead_s + dec["weight_bytes_per_gpu"] / H
        r = gen[sel] / (d * cl.gpus_per_node)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.minimum(r * fixed / (1.0 - r * dec["seq_kv_bytes"] / H), dec["batch_seqs_per_gpu"])
            b = np.where(r * dec["seq_kv_bytes"] / H < 1, b, dec["batch_seqs_per_gpu"])
        out[sel] = np.where(r > 0, 1.0 / (fixed + b * dec["seq_kv_bytes"] / H), np.nan)
    return out


def config_scenario(base: Scenario, row: dict[str, Any]) -> Scenario:
    """The scenario of one searched configuration.

    Parameters
    ----------
    base : Scenario
        The searched scenario.
    row : dict
        A row of :attr:`SearchResult.rows` (``prefill_nodes``, ``decode_nodes``,
        ``snics_per_node``, ``prefill_engine_gpus``).

    Returns
    -------
    Scenario
        ``base`` with that configuration.
    """
    cl = base.cluster
    cl = dataclasses.replace(cl, node=dataclasses.replace(cl.node, snic_count=int(row["snics_per_node"])))
    sc = dataclasses.replace(base, cluster=cl)
    return sc.with_deployment(
        prefill_nodes_count=int(row["prefill_nodes"]),
        decode_nodes_count=int(row["decode_nodes"]),
        prefill_engine_gpus_count=int(row["prefill_engine_gpus"]),
    )


def search(
    base: Scenario,
    *,
    nodes: int,
    snics: tuple[int, ...] = (1, 2, 4),
    engines: tuple[int, ...] | None = None,
    modes: tuple[str, ...] = SEARCH_MODES,
    cost: CostProfile | None = None,
    store: str = "fixed",
    slo_ttft_s: float = 4.0,
    slo_tpot_s: float = 0.05,
    slo_ttft_p90_s: float | None = None,
    slo_ttft_p99_s: float | None = None,
    rank_by: str = "throughput",
    front_capacity: int = 3,
    progress: bool = True,
) -> SearchResult:
    """Every (P, D = nodes - P, storage NICs per node, prefill engine size, mode) of ``base`` ranked.

    Parameters
    ----------
    base : Scenario
        A one-class scenario: its model, workload, node and topology.
    nodes : int
        The node budget P + D (at least 2).
    snics : tuple of int, optional
        Storage NICs per node to try.
    engines : tuple of int, optional
        Prefill engine sizes to try [GPUs] (default every divisor of a node).
    modes : tuple of str, optional
        Read modes to try.
    cost : CostProfile, optional
        Prices; adds ``cost_per_hour`` and ``cost_per_million_tokens`` to every row.
    store : str, optional
        ``fixed`` keeps the cluster profile's storage back end (a limit); ``free`` removes that
        limit and prices the read bandwidth each configuration needs (``cost``'s
        ``store_GBps_per_hour``).
    slo_ttft_s : float, optional
        Mean TTFT SLO of the front's capacity [s].
    slo_tpot_s : float, optional
        TPOT SLO [s].
    slo_ttft_p90_s, slo_ttft_p99_s : float, optional
        p90 / p99 TTFT SLOs, if any [s].
    rank_by : str, optional
        A key of :data:`RANK_KEYS`.
    front_capacity : int, optional
        SLO capacity is computed for at most this many points of the Pareto front, highest
        throughput per GPU first.
    progress : bool, optional
        Show a progress bar on stderr.

    Returns
    -------
    SearchResult
        Every configuration ranked, and the front.

    Raises
    ------
    ScenarioError
        A bad budget, option or ranking key, or a multi-class workload.
    """
    t0 = time.perf_counter()
    if nodes < 2:
        raise ScenarioError(f"--nodes {nodes}: a disaggregated cluster needs at least 2 nodes (one prefill, one decode)")
    if store not in ("fixed", "free"):
        raise ScenarioError(f"store = {store!r}: use 'fixed' (the profile's back end) or 'free' (priced per GB/s)")
    if rank_by not in RANK_KEYS:
        raise ScenarioError(f"rank by {rank_by!r}: use one of {', '.join(RANK_KEYS)}")
    if len(base.classes()) != 1:
        raise ScenarioError(
            "search takes a one-class workload (a profile); a trajectory file or trace: use 'dpmodel plan' per configuration"
        )
    for s in snics:
        if not (isinstance(s, int) and s >= 1):
            raise ScenarioError(f"--snics {s!r}: storage NICs per node must be integers >= 1")
    g = base.cluster.gpus_per_node
    engines = tuple(engines) if engines else tuple(engine_sizes(g))
    for e in engines:
        if g % e:
            raise ScenarioError(f"--engines {e}: a prefill engine's GPUs must divide the {g} GPUs per node")
    if store == "free":
        cl = base.cluster
        huge = 1e12  # GB/s: no back-end limit; priced below
        base = dataclasses.replace(
            base, cluster=dataclasses.replace(cl, storage=dataclasses.replace(cl.storage, read_GBps=huge, write_GBps=huge))
        )
    (k,) = base.classes()
    P = np.arange(1, nodes)
    S = np.asarray(snics, float)
    PP, SS = np.meshgrid(P, S, indexing="ij")
    PP, SS = PP.ravel(), SS.ravel()
    DD = nodes - PP
    names = np.array(base.topology.names)
    paths = base.topology.path_names
    rows: list[dict[str, Any]] = []
    hit_bytes = k.hit_tokens * base.model.kv_bytes_per_token
    for e in engines:
        sc_e = base.with_deployment(prefill_engine_gpus_count=e)
        for mode in modes:
            out = sweep_throughput(sc_e, mode, prefill_nodes=PP, decode_nodes=DD, snic_count=SS)
            X = np.where(out["fits"], out["turns_per_s"], 0.0)
            gen = X * k.generated_tokens
            user = _per_user(sc_e, DD, gen)
            for i in range(len(PP)):
                rows.append(
                    {
                        "prefill_nodes": int(PP[i]),
                        "decode_nodes": int(DD[i]),
                        "snics_per_node": int(SS[i]),
                        "prefill_engine_gpus": e,
                        "mode": mode,
                        "fits": bool(out["fits"][i]),
                        "turns_per_s": float(X[i]),
                        "split_de_frac": float(out["split_de_frac"][i]) if mode == "dualpath" else 0.0,
                        "path_shares": dict(zip(paths, map(float, out["path_shares"][i]), strict=True)),
                        "bottleneck": str(names[int(out["bottleneck_index"][i])]) if out["fits"][i] else "decode HBM (weights do not fit)",
                        "generated_tokens_per_s": float(gen[i]),
                        "uncached_prompt_tokens_per_s": float(X[i] * k.append_tokens),
                        "tokens_per_s_per_gpu": float(gen[i] / (nodes * g)),
                        "tokens_per_s_per_user": float(user[i]),
                        "store_read_GBps_needed": float(X[i] * hit_bytes / 1e9),
                    }
                )
    if cost is not None:
        pr = cost.prices
        for r in rows:
            per_h = nodes * (g * pr.gpu_per_hour + pr.node_base_per_hour) + nodes * r["snics_per_node"] * pr.snic_per_hour
            store_GBps = r["store_read_GBps_needed"] if store == "free" else base.cluster.storage.read_GBps
            per_h += store_GBps * pr.store_GBps_per_hour
            r["cost_per_hour"] = per_h
            tok_h = r["generated_tokens_per_s"] * 3600
            r["cost_per_million_tokens"] = per_h / tok_h * 1e6 if tok_h > 0 else math.inf
    saturated_seconds = time.perf_counter() - t0
    ok = [r for r in rows if r["fits"] and r["turns_per_s"] > 0]
    x = np.array([r["tokens_per_s_per_gpu"] for r in ok])
    y = np.array([np.nan_to_num(r["tokens_per_s_per_user"], nan=0.0) for r in ok])
    tie = np.array([r.get("cost_per_hour", 0.0) + 1e-3 * r["snics_per_node"] + 1e-6 * r["prefill_engine_gpus"] for r in ok])
    front = [ok[i] for i in pareto_front(x, y, tie)] if ok else []
    for r in front:
        r["pareto"] = True
    slo = {"ttft_mean_s": slo_ttft_s, "tpot_s": slo_tpot_s, "ttft_p90_s": slo_ttft_p90_s, "ttft_p99_s": slo_ttft_p99_s}
    todo = sorted(front, key=lambda r: -r["tokens_per_s_per_gpu"])[:front_capacity]
    bar = _bar(len(todo), progress)
    for r in todo:
        r.update(front_capacity_of(config_scenario(base, r), r["mode"], **{k2: v for k2, v in slo.items()}))
        bar.update(1)
    bar.close()
    capacity_seconds = time.perf_counter() - t0 - saturated_seconds
    key, desc = RANK_KEYS[rank_by]

    def sort_key(r: dict[str, Any]) -> tuple[float, float, int, int]:
        v = r.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            v0 = math.inf
        else:
            v0 = -v if desc else v
        return (v0, r.get("cost_per_hour", 0.0), r["snics_per_node"], SEARCH_MODES.index(r["mode"]) if r["mode"] in SEARCH_MODES else 9)

    if rank_by == "cost" and cost is None:
        raise ScenarioError("rank by cost needs --cost PROFILE")
    rows.sort(key=sort_key)
    return SearchResult(
        nodes,
        rows,
        sorted(front, key=lambda r: -r["tokens_per_s_per_gpu"]),
        len(rows),
        time.perf_counter() - t0,
        rank_by,
        slo,
        store,
        saturated_seconds,
        capacity_seconds,
    )


def front_capacity_of(
    sc: Scenario, mode: str, *, ttft_mean_s: float, tpot_s: float, ttft_p90_s: float | None = None, ttft_p99_s: float | None = None
) -> dict[str, Any]:
    """SLO capacity of one configuration and its limiting condition.

    Mean TTFT and TPOT by the online model's bisection; then, if given, the p90/p99 TTFT SLOs by a
    further bisection below it.

    Parameters
    ----------
    sc : Scenario
        The configuration's scenario (:func:`config_scenario`).
    mode : str
        Its read mode.
    ttft_mean_s : float
        Mean TTFT SLO [s].
    tpot_s : float
        TPOT SLO [s].
    ttft_p90_s, ttft_p99_s : float, optional
        p90 / p99 TTFT SLOs [s].

    Returns
    -------
    dict
        ``slo_capacity_aps`` [agents/s], ``slo_capacity_turns_per_s`` [turns/s] and
        ``slo_limited_by`` (a sentence).
    """
    from .queueing.turn_sample import turns_per_agent
    from .serving import online_metrics, slo_capacity

    cap = slo_capacity(sc, mode, slo_ttft_s=ttft_mean_s, slo_tpot_s=tpot_s, tol_frac=5e-3)
    aps, reason = cap.max_aps, cap.reason
    pct = [(q, s) for q, s in (("p90", ttft_p90_s), ("p99", ttft_p99_s)) if s is not None]
    if pct and aps > 0:

        def ok(a: float) -> bool:
            r = online_metrics(sc, mode, a)
            return r.stable and all(r.ttft_s[q] <= s for q, s in pct)

        if not ok(aps):
            lo, hi = 0.0, aps
            for _ in range(14):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if ok(mid) else (lo, mid)
            r = online_metrics(sc, mode, hi)
            q, s = next(((q, s) for q, s in pct if r.ttft_s[q] > s), pct[0])
            aps, reason = lo, f"limited by the {q} TTFT SLO ({s:g} s) at {lo:.3g} agents/s"
    return {"slo_capacity_aps": aps, "slo_capacity_turns_per_s": aps * turns_per_agent(sc), "slo_limited_by": reason}


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool):
    if not progress or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="SLO capacity on the Pareto front", unit="config", disable=None, file=sys.stderr, leave=False)
