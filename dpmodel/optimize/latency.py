"""Minimum mean TTFT over the read split at a given load (convex; cvxpy, DPP).

Notes
-----
With the links of :func:`dpmodel.queueing.online.link_model` (utilization ``u_r(f) = a_r + b_r f``,
residence ``R_r = K_r u_r / (1 - u_r)``, processor sharing), the mean load time of a turn whose
hit bytes are split ``f`` to the decode-node path is ``max_r R_r(f)``; the mean TTFT with layerwise
loading is ``max(load, prefill part)``. Each ``R_r`` is convex in ``f`` (``u/(1-u)`` is convex and
increasing for ``u < 1``, ``u`` affine), so:

    minimize   t
    subject to inv_pos(1 - a_r - b_r f) - 1 <= t / K_r      for every link r
               a_r + b_r f <= 1 - eps                        (stability)
               prefill_s <= t,   0 <= f <= 1

is DCP, and DPP with ``a``, ``b``, ``1/K`` and ``prefill_s`` as parameters (compiled once per link
count). It is checked against a brute-force scan in the tests.

This is the convex *load-residence* model of the split. The open model that ``dpmodel online``
reports (:func:`dpmodel.queueing.online.online_metrics`) is richer -- a read step, then a gated
prefill batch whose lone times mix two routes -- and is not convex in the split; its default split
is the lowest full-model TTFT among a fixed set of candidates (an 11-point grid and the throughput
LP's split).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..capacity import minimize_max_affine
from ..errors import SolverError
from ..results import Result
from .checks import require_dpp
from .quiet import QuietStdout
from .throughput import SOLVERS

STABILITY_MARGIN = 1e-6


def define_link_latency(f: cp.Variable, t: cp.Variable, a: cp.Parameter, b: cp.Parameter, k_inv: cp.Parameter) -> cp.Constraint:
    """``K (1/(1 - a - b f) - 1) <= t``: the link's mean residence is below the epigraph t."""
    return cp.inv_pos(1 - a - b * f) - 1 <= k_inv * t


def define_stability(f: cp.Variable, a: cp.Parameter, b: cp.Parameter) -> cp.Constraint:
    """``a + b f <= 1 - eps``: the link is not saturated."""
    return a + b * f <= 1 - STABILITY_MARGIN


class MinTTFTProblem:
    def __init__(self, n_links: int):
        self.f = cp.Variable(name="split_de_frac")
        self.t = cp.Variable(name="ttft_s", nonneg=True)
        self.a = cp.Parameter(n_links, name="a")
        self.b = cp.Parameter(n_links, name="b")
        self.k_inv = cp.Parameter(n_links, nonneg=True, name="k_inv")
        self.prefill_s = cp.Parameter(nonneg=True, name="prefill_s")
        cons = [define_link_latency(self.f, self.t, self.a[i], self.b[i], self.k_inv[i]) for i in range(n_links)]
        cons += [define_stability(self.f, self.a[i], self.b[i]) for i in range(n_links)]
        cons += [self.prefill_s <= self.t, self.f >= 0, self.f <= 1]
        self.problem = cp.Problem(cp.Minimize(self.t), cons)
        require_dpp(self.problem, "min-TTFT split")


@functools.lru_cache(maxsize=16)
def compiled_min_ttft(n_links: int) -> MinTTFTProblem:
    return MinTTFTProblem(n_links)


@dataclass(frozen=True)
class MinTTFTResult(Result):
    split_de_frac: float
    ttft_s: float  # max(load, prefill part) at the optimum
    solver: str
    note: str = ""


def solve_min_ttft(a: np.ndarray, b: np.ndarray, K: np.ndarray, prefill_s: float) -> MinTTFTResult:
    """Solve the convex problem for normalized links ``(a, b, K)`` (see module Notes)."""
    n = len(a)
    if n == 0:
        return MinTTFTResult(0.0, prefill_s, "none")
    peak, f_bal = minimize_max_affine(a, b)
    if float(peak) >= 1 - STABILITY_MARGIN:
        return MinTTFTResult(float(f_bal), float("inf"), "none", "no split keeps every link below saturation")
    p = compiled_min_ttft(n)
    p.a.value, p.b.value, p.k_inv.value, p.prefill_s.value = (
        np.asarray(a, float),
        np.asarray(b, float),
        1.0 / np.asarray(K, float),
        float(prefill_s),
    )
    notes = []
    for solver in ("CLARABEL", *[s for s in SOLVERS if s not in ("CLARABEL", "HIGHS")]):
        try:
            with warnings.catch_warnings(), QuietStdout():
                warnings.simplefilter("ignore")
                p.problem.solve(solver=solver)
        except (cp.error.SolverError, ValueError) as exc:
            notes.append(f"{solver} failed ({exc.__class__.__name__})")
            continue
        if p.problem.status == cp.OPTIMAL:
            return MinTTFTResult(float(np.clip(p.f.value, 0, 1)), float(p.t.value), solver, "; ".join(notes))
        notes.append(f"{solver} returned {p.problem.status}")
    raise SolverError(f"min-TTFT split: every solver failed ({'; '.join(notes)})")


def min_ttft_split(scenario, mode: str, turns_per_s: float) -> MinTTFTResult:
    """The split that minimizes mean TTFT for ``scenario`` at ``turns_per_s`` turns/s."""
    from ..queueing.links import link_model

    lm = link_model(scenario, mode, turns_per_s)
    ks = scenario.classes()
    prefill = float(sum(k.weight_frac * scenario.prefill_compute_s(k) for k in ks))
    if not np.any(lm.b != 0):
        return MinTTFTResult(0.0, float("nan"), "none", "the mode has no decode-node read path")
    return solve_min_ttft(lm.a, lm.b, lm.K, prefill)
