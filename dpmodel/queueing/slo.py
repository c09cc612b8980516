"""SLO capacity: the largest agent arrival rate whose mean TTFT and TPOT meet their SLOs, and what limits it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ScenarioError
from ..results import Result, json_safe
from ..scenario import MODES, Scenario
from .open_model import (
    LpSplit,
    OnlineResult,
    best_components,
    components,
    is_stable,
    need_lp_split,
    online_metrics,
)
from .turn_sample import turn_sample, turns_per_agent


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
    as in :func:`~dpmodel.queueing.open_model.online_metrics`)."""
    for name, v in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s)):
        if not (isinstance(v, int | float) and v > 0):
            raise ScenarioError(f"{name} = {v!r}: must be > 0")

    dead: dict[float, float] = {}  # per split, the lowest load found saturated (see best_components)

    def ok(aps: float) -> bool:  # the means only (no percentiles): the bisection's many steps
        c = best_components(scenario, mode, aps * turns_per_agent(scenario), None, lp_split, dead=dead)[1]
        return is_stable(c) and c["ttft"] <= slo_ttft_s and c["tpot"] <= slo_tpot_s

    tiny = 1e-6
    r0 = online_metrics(scenario, mode, tiny, lp_split=lp_split)
    if not (r0.ttft_s["mean"] <= slo_ttft_s and r0.tpot_s <= slo_tpot_s):
        why = []
        if r0.ttft_s["mean"] > slo_ttft_s:
            why.append(f"zero-load TTFT {r0.ttft_s['mean']:.3g} s > SLO {slo_ttft_s} s")
        if r0.tpot_s > slo_tpot_s:
            why.append(f"zero-load TPOT {r0.tpot_s:.3g} s > SLO {slo_tpot_s} s")
        return CapacityResult(mode, 0.0, False, "infeasible: " + "; ".join(why), None)
    lo, hi = tiny, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e6:
            break
    while hi - lo > tol_frac * lo:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    at = online_metrics(scenario, mode, lo, lp_split=lp_split)
    from ..progress import tick

    tick(1, f"{mode} {lo:.3g} agents/s")
    return CapacityResult(
        mode, lo, True, limiting_condition(scenario, mode, lo, hi, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, lp_split=lp_split), at
    )


def saturated_resource(scenario: Scenario, mode: str, aps: float, *, lp_split: LpSplit | None = None) -> tuple[str, float, float]:
    """(resource, its utilization, split) at the split that keeps the most-used resource least busy:
    the resource that saturates first however the reads are split (past saturation every split's
    TTFT is infinite, so the TTFT-best split would be an arbitrary one)."""
    lam = aps * turns_per_agent(scenario)
    if MODES[mode].de_path:
        split_of = need_lp_split(lp_split, "saturated_resource", mode)
        lp_f = turn_sample(scenario).value("lp_split:" + mode, lambda: float(split_of(scenario, mode)))
        cands = sorted({*np.linspace(0.0, 1.0, 11).tolist(), lp_f})  # the candidates of best_components
    else:
        cands = [0.0]

    def peak(f: float) -> tuple[str, float]:
        u = components(scenario, mode, lam, f)["util"]
        k = max(u, key=lambda n: u[n])
        return k, float(u[k])

    f = min(cands, key=lambda f: peak(f)[1])
    name, util = peak(f)
    if util < 1:  # every mean utilization below 1 but no stable split: the prefill engines' batch queue
        name = "pe.gpu.time (prefill batch queue)"
    return name, util, float(f)


def limiting_condition(
    scenario: Scenario, mode: str, lo: float, hi: float, *, slo_ttft_s: float, slo_tpot_s: float, lp_split: LpSplit | None = None
) -> str:
    """What stops the load just above capacity ``lo`` (at ``hi``): a named resource's saturation or an SLO."""
    c = best_components(scenario, mode, hi * turns_per_agent(scenario), None, lp_split)[1]
    if not is_stable(c):
        name, _, _ = saturated_resource(scenario, mode, hi, lp_split=lp_split)
        return f"limited by {name} saturation at {lo:.3g} agents/s"
    if c["ttft"] > slo_ttft_s:
        return f"limited by the mean TTFT SLO ({slo_ttft_s:g} s) at {lo:.3g} agents/s"
    return f"limited by the TPOT SLO ({slo_tpot_s * 1e3:g} ms) at {lo:.3g} agents/s"
