"""SLO capacity: the largest agent arrival rate whose mean TTFT and TPOT meet their SLOs, and what limits it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ScenarioError
from ..results import Result, json_safe
from ..scenario import MODES, Scenario
from .open_model import (
    SPLIT_GRID,
    LpSplit,
    OnlineResult,
    best_components,
    components,
    is_stable,
    result_from,
    split_candidates,
    utilizations,
)
from .turn_sample import turns_per_agent


@dataclass(frozen=True)
class CapacityResult(Result):
    mode: str
    max_aps: float
    feasible: bool
    reason: str
    at_max: OnlineResult | None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "mode": self.mode,
                "max_aps": self.max_aps,
                "feasible": self.feasible,
                "reason": self.reason,
                "at_max": None if self.at_max is None else self.at_max.to_dict(),
            }
        )


def slo_capacity(
    scenario: Scenario,
    mode: str,
    *,
    slo_ttft_s: float = 4.0,
    slo_tpot_s: float = 0.05,
    tol_frac: float = 1e-3,
    lp_split: LpSplit | None = None,
) -> CapacityResult:
    """Largest APS whose mean TTFT <= ``slo_ttft_s`` and TPOT <= ``slo_tpot_s`` (bisection; ``lp_split``
    as in :func:`~dpmodel.queueing.open_model.online_metrics`).

    Every load the bisection tries is evaluated once: the candidates found saturated at a load are
    not tried again above it (``dead``, :func:`~dpmodel.queueing.open_model.best_components`), and
    the result at capacity and the limiting condition just above it reuse the bisection's own
    evaluations (the same numbers :func:`online_metrics` gives there)."""
    for name, v in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s)):
        if not (isinstance(v, int | float) and v > 0):
            raise ScenarioError(f"{name} = {v!r}: must be > 0")
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    tpa = turns_per_agent(scenario)
    dead: dict[tuple[float, ...], float] = {}  # per candidate, the lowest load found saturated (see best_components)
    seen: dict[float, tuple[tuple[float, ...], dict[str, Any]]] = {}
    memo: dict[tuple[tuple[float, ...], float], dict[str, Any]] = {}
    cands = split_candidates(scenario, mode, lp_split)
    order = {c: i for i, c in enumerate(cands)}
    searched = MODES[mode].de_path and len(cands) > 1

    def comp(s: tuple[float, ...], lam: float) -> dict[str, Any]:
        if (s, lam) not in memo:
            c = components(scenario, mode, lam, s)
            if not math.isfinite(c["ttft"]):
                dead[s] = min(lam, dead.get(s, math.inf))
            memo[s, lam] = c
        return memo[s, lam]

    def best(aps: float):  # best_components(..., dead=dead), sharing the evaluations
        if aps not in seen:
            lam = aps * tpa
            if not searched:
                seen[aps] = (cands[0], comp(cands[0], lam))
            else:
                top = None
                for s in cands:
                    if lam >= dead.get(s, math.inf) and (s, lam) not in memo:
                        continue
                    c = comp(s, lam)
                    if math.isfinite(c["ttft"]) and (top is None or c["ttft"] < top[1]["ttft"]):
                        top = (s, c)
                seen[aps] = top if top is not None else (cands[0], comp(cands[0], lam))
        return seen[aps]

    def passes(c: dict[str, Any]) -> bool:
        return is_stable(c) and c["ttft"] <= slo_ttft_s and c["tpot"] <= slo_tpot_s

    lead = [cands[_lp_index(cands)]]  # the candidate that passed last: tried first

    def ok(aps: float) -> bool:  # the means only (no percentiles): the bisection's many steps
        """Whether the best candidate (least mean TTFT) meets the SLOs. When the one that passed
        last does, the best one does too unless a candidate with a lower TTFT is unstable; only
        the candidates with a utilization at or above 1 (cheap: no batch law) can be, so only
        they are evaluated. Else every live candidate is (:func:`best`)."""
        lam = aps * tpa
        s_b = lead[0]
        if searched and aps not in seen and lam < dead.get(s_b, math.inf):
            c_b = comp(s_b, lam)
            if passes(c_b):
                for s in cands:
                    if s == s_b or lam >= dead.get(s, math.inf):
                        continue
                    if all(v < 1 for v in utilizations(scenario, mode, lam, s).values()):
                        continue  # stable: if its TTFT is lower, it passes as well
                    c = comp(s, lam)
                    t, t_b = c["ttft"], c_b["ttft"]
                    if math.isfinite(t) and (t < t_b or (t == t_b and order[s] < order[s_b])):
                        break  # an unstable candidate may be the best: decide on the best
                else:
                    return True
        s_best, c_best = best(aps)
        lead[0] = s_best
        return passes(c_best)

    tiny = 1e-6
    # zero load: the SLOs can be met iff some candidate meets them (the best one then does too), so
    # the candidates are tried from the LP's split on until one does; all only when none does
    cands = split_candidates(scenario, mode, lp_split)
    lp_first = sorted(range(len(cands)), key=lambda i: i != _lp_index(cands))
    z_ttft, z_tpot = math.inf, math.inf
    for i in lp_first:
        c0 = components(scenario, mode, tiny * tpa, cands[i])
        z_ttft, z_tpot = min(z_ttft, c0["ttft"]), c0["tpot"]  # TPOT does not depend on the split
        if z_ttft <= slo_ttft_s:
            break
    if not (z_ttft <= slo_ttft_s and z_tpot <= slo_tpot_s):
        why = []
        if z_ttft > slo_ttft_s:
            why.append(f"zero-load TTFT {z_ttft:.3g} s > SLO {slo_ttft_s} s")
        if z_tpot > slo_tpot_s:
            why.append(f"zero-load TPOT {z_tpot:.3g} s > SLO {slo_tpot_s} s")
        return CapacityResult(mode, 0.0, False, "infeasible: " + "; ".join(why), None)
    lo, hi = tiny, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e6:
            break
    while hi - lo > tol_frac * lo:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    at = result_from(scenario, mode, lo, lo * tpa, *best(lo))
    from ..progress import tick

    tick(1, f"{mode} {lo:.3g} agents/s")
    c_hi = best(hi)[1]
    return CapacityResult(
        mode,
        lo,
        True,
        _limit_reason(scenario, mode, lo, hi, c_hi, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, lp_split=lp_split),
        at,
    )


def _lp_index(cands: tuple[tuple[float, ...], ...]) -> int:
    """Index of the throughput LP's split among the two-path candidates (the grid point it is not
    on; the first candidate when it is on the grid)."""
    grid = {round(x, 12) for x in SPLIT_GRID}
    for i, c in enumerate(cands[: len(SPLIT_GRID) + 1]):
        if len(c) > 1 and round(c[1], 12) not in grid:
            return i
    return 0


def saturated_resource(scenario: Scenario, mode: str, aps: float, *, lp_split: LpSplit | None = None) -> tuple[str, float, float]:
    """(resource, its utilization, split) at the candidate path shares that keep the most-used
    resource least busy: the resource that saturates first however the reads are split (past
    saturation every candidate's TTFT is infinite, so the TTFT-best one would be an arbitrary one).
    The split is the second path's share (``split_de_frac``); the mean utilizations need no batch
    law (:func:`~dpmodel.queueing.open_model.utilizations`)."""
    lam = aps * turns_per_agent(scenario)
    cands = split_candidates(scenario, mode, lp_split)

    def peak(s: tuple[float, ...]) -> tuple[str, float]:
        u = utilizations(scenario, mode, lam, s)
        k = max(u, key=lambda n: u[n])
        return k, float(u[k])

    peaks = [peak(s) for s in cands]
    i = min(range(len(cands)), key=lambda i: peaks[i][1])
    name, util = peaks[i]
    if util < 1:  # every mean utilization below 1 but no stable split: the prefill engines' batch queue
        name = "pe.gpu.time (prefill batch queue)"
    s = cands[i]
    return name, util, float(s[1]) if len(s) > 1 else 0.0


def _limit_reason(
    scenario: Scenario,
    mode: str,
    lo: float,
    hi: float,
    c: dict[str, Any],
    *,
    slo_ttft_s: float,
    slo_tpot_s: float,
    lp_split: LpSplit | None,
) -> str:
    if not is_stable(c):
        name, _, _ = saturated_resource(scenario, mode, hi, lp_split=lp_split)
        return f"limited by {name} saturation at {lo:.3g} agents/s"
    if c["ttft"] > slo_ttft_s:
        return f"limited by the mean TTFT SLO ({slo_ttft_s:g} s) at {lo:.3g} agents/s"
    return f"limited by the TPOT SLO ({slo_tpot_s * 1e3:g} ms) at {lo:.3g} agents/s"


def limiting_condition(
    scenario: Scenario, mode: str, lo: float, hi: float, *, slo_ttft_s: float, slo_tpot_s: float, lp_split: LpSplit | None = None
) -> str:
    """What stops the load just above capacity ``lo`` (at ``hi``): a named resource's saturation or an SLO."""
    c = best_components(scenario, mode, hi * turns_per_agent(scenario), None, lp_split)[1]
    return _limit_reason(scenario, mode, lo, hi, c, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, lp_split=lp_split)
