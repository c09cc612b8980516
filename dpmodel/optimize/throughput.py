"""Saturated turn throughput as a linear program (cvxpy), built from named ``define_*`` pieces.

Notes
-----
Variables: ``X`` turns/s of the whole cluster; ``z_k`` = class-``k`` turns/s whose hit KV is read
on the decode-node (DE) path, expressed as a rate (``z_k = f_k w_k X``). With the per-turn demand
``const[r, k] + slope[r, k] f_k`` of every resource ``r`` and its capacity ``cap_r``:

    maximize   X
    subject to sum_k (w_k const[r, k] X + slope[r, k] z_k) / cap_r <= 1     for every resource r
               0 <= z_k <= u_k w_k X                                      (u_k = 1 if the DE path
                                                                           is allowed, else 0)

Constraints are normalized by capacity so each dual ``lambda_r`` is the marginal throughput of a
1.0x (100 %) capacity increase; the shadow price per unit of capacity is ``lambda_r / cap_r``.
The problem is DPP: compiled once per (resource set, class count) and re-solved by changing
``cp.Parameter`` values.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ..errors import InfeasibleError, ScenarioError, SolverError
from .checks import require_dpp
from .quiet import QuietStdout

SOLVERS: tuple[str, ...] = ("CLARABEL", "HIGHS", "SCS")


def define_variables(n_classes: int) -> tuple[cp.Variable, cp.Variable]:
    """``X`` >= 0: cluster turns/s; ``z`` >= 0: DE-path turns/s per class."""
    return cp.Variable(name="turns_per_s", nonneg=True), cp.Variable(n_classes, name="de_path_turns_per_s", nonneg=True)


def define_capacity_constraint(X: cp.Variable, z: cp.Variable, coef_x: cp.Parameter, coef_z: cp.Parameter) -> cp.Constraint:
    """``coef_x X + coef_z . z <= 1``: the resource's demand stays within its capacity.

    ``coef_x = sum_k w_k const[r, k] / cap_r`` and ``coef_z[k] = slope[r, k] / cap_r``.
    """
    return coef_x * X + coef_z @ z <= 1


def define_split_bounds(X: cp.Variable, z: cp.Variable, z_max: cp.Parameter) -> cp.Constraint:
    """``z_k <= u_k w_k X``: at most all of a class's turns read on the DE path (none if u_k = 0)."""
    return z <= cp.multiply(z_max, X)


def define_objective(X: cp.Variable) -> cp.Maximize:
    """Maximize cluster turns/s."""
    return cp.Maximize(X)


@dataclass(frozen=True)
class LPSolution:
    turns_per_s: float
    de_turns_per_s: np.ndarray  # (K,)
    duals: dict[str, float]  # lambda_r: marginal turns/s per +100 % of capacity r
    utilization: dict[str, float]
    solver: str
    fallback_note: str


class ThroughputLP:
    """The compiled throughput LP for a fixed resource list and class count."""

    def __init__(self, names: tuple[str, ...], n_classes: int):
        self.names = names
        self.n_classes = n_classes
        X, z = define_variables(n_classes)
        self.X, self.z = X, z
        self.coef_x = {n: cp.Parameter(name=f"cx[{n}]") for n in names}
        self.coef_z = {n: cp.Parameter(n_classes, name=f"cz[{n}]") for n in names}
        self.z_max = cp.Parameter(n_classes, nonneg=True, name="z_max")
        self.constraints = {n: define_capacity_constraint(X, z, self.coef_x[n], self.coef_z[n]) for n in names}
        self.split = define_split_bounds(X, z, self.z_max)
        self.problem = cp.Problem(define_objective(X), [*self.constraints.values(), self.split])
        require_dpp(self.problem, "throughput LP")

    def solve(self, coef_x: np.ndarray, coef_z: np.ndarray, z_max: np.ndarray) -> LPSolution:
        """Solve with normalized coefficients ``coef_x (R,)``, ``coef_z (R, K)``, ``z_max (K,)``."""
        if np.all(coef_x <= 0) and np.all(coef_z <= 0):
            raise ScenarioError("no resource limits throughput (every demand is zero): check the scenario's profiles")
        for i, n in enumerate(self.names):
            self.coef_x[n].value = float(coef_x[i])
            self.coef_z[n].value = np.asarray(coef_z[i], float)
        self.z_max.value = np.asarray(z_max, float)
        notes = []
        last_status = None
        for solver in SOLVERS:
            try:
                with warnings.catch_warnings(), QuietStdout():
                    warnings.simplefilter("ignore")
                    self.problem.solve(solver=solver)
            except (cp.error.SolverError, ValueError) as exc:  # solver missing or failed
                notes.append(f"{solver} failed ({exc.__class__.__name__})")
                continue
            last_status = self.problem.status
            if last_status == cp.OPTIMAL:
                break
            if last_status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
                raise InfeasibleError("throughput LP is infeasible: a capacity constraint cannot hold even at zero load")
            if last_status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
                raise ScenarioError("throughput is unbounded: no resource limits it; check the scenario's capacities")
            notes.append(f"{solver} returned {last_status}")
        else:
            raise SolverError(f"every solver failed on the throughput LP ({'; '.join(notes)})")
        X = float(self.X.value)
        z = np.clip(np.asarray(self.z.value, float).reshape(-1), 0.0, None)
        # duals below solver tolerance (relative to X) are noise: report them as 0
        duals = {n: float(c.dual_value) for n, c in self.constraints.items()}
        duals = {n: (v if v > 1e-6 * max(X, 1e-12) else 0.0) for n, v in duals.items()}
        util = {n: float(coef_x[i] * X + np.dot(coef_z[i], z)) for i, n in enumerate(self.names)}
        return LPSolution(X, z, duals, util, solver, "; ".join(notes))


def define_balance_constraint(z: cp.Variable, t: cp.Variable, base: cp.Parameter, coef_z: cp.Parameter) -> cp.Constraint:
    """``base + coef_z . z <= t``: a load-path resource's utilization stays below the common level t."""
    return base + coef_z @ z <= t


class SplitBalanceLP:
    """Second stage: among the throughput-optimal splits, the one with the most headroom.

    When compute or decode binds, many splits reach the same throughput; a scheduler wants the
    one that leaves every I/O resource the most slack (lowest peak utilization), so that is the
    split reported:

        minimize   t
        subject to (base_r + coef_z[r] . z) <= t   for every KV I/O resource r
                   (base_r + coef_z[r] . z) <= 1   for every resource r
                   0 <= z <= z_cap                 (X fixed at the optimum)
    """

    def __init__(self, names: tuple[str, ...], io_names: tuple[str, ...], n_classes: int):
        self.names = names
        self.io_names = io_names
        self.z = cp.Variable(n_classes, nonneg=True, name="de_path_turns_per_s")
        self.t = cp.Variable(name="peak_io_utilization")
        self.base = {n: cp.Parameter(name=f"b[{n}]") for n in names}
        self.coef_z = {n: cp.Parameter(n_classes, name=f"cz[{n}]") for n in names}
        self.z_cap = cp.Parameter(n_classes, nonneg=True, name="z_cap")
        cons = [self.base[n] + self.coef_z[n] @ self.z <= 1 for n in names]
        cons += [define_balance_constraint(self.z, self.t, self.base[n], self.coef_z[n]) for n in io_names]
        cons.append(self.z <= self.z_cap)
        self.problem = cp.Problem(cp.Minimize(self.t), cons)
        require_dpp(self.problem, "split-balance LP")

    def solve(self, coef_x: np.ndarray, coef_z: np.ndarray, z_max: np.ndarray, X: float) -> np.ndarray | None:
        Xs = X * (1.0 - 1e-7)
        for i, n in enumerate(self.names):
            self.base[n].value = float(coef_x[i] * Xs)
            self.coef_z[n].value = np.asarray(coef_z[i], float)
        self.z_cap.value = np.asarray(z_max, float) * Xs
        for solver in SOLVERS:
            try:
                with warnings.catch_warnings(), QuietStdout():
                    warnings.simplefilter("ignore")
                    self.problem.solve(solver=solver)
            except (cp.error.SolverError, ValueError):
                continue
            if self.problem.status == cp.OPTIMAL:
                return np.clip(np.asarray(self.z.value, float).reshape(-1), 0.0, None) / (1.0 - 1e-7)
        return None


@functools.lru_cache(maxsize=32)
def compiled_balance_lp(names: tuple[str, ...], io_names: tuple[str, ...], n_classes: int) -> SplitBalanceLP:
    return SplitBalanceLP(names, io_names, n_classes)


@functools.lru_cache(maxsize=32)
def compiled_lp(names: tuple[str, ...], n_classes: int) -> ThroughputLP:
    """One compiled LP per (resource list, class count), reused across solves (DPP)."""
    return ThroughputLP(names, n_classes)


def normalized_coefficients(const: np.ndarray, slope: np.ndarray, capacity: np.ndarray, weights: np.ndarray):
    """Capacity-normalized LP coefficients; resources with infinite capacity get zeros."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(capacity) & (capacity > 0), 1.0 / capacity, 0.0)
    if np.any(capacity <= 0):
        raise ScenarioError("a resource has zero capacity: every bandwidth and node count must be > 0")
    coef_x = (const @ weights) * inv
    coef_z = slope * inv[:, None]
    return coef_x, coef_z
