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

import numpy as np

from ..capacity import minimize_max_affine
from ..errors import InfeasibleError, ScenarioError, SolverError
from .checks import require_dpp
from .quiet import QuietStdout

SOLVERS: tuple[str, ...] = ("CLARABEL", "HIGHS", "SCS")


class _LazyCvxpy:
    """``cp``: cvxpy, imported on the first attribute use. The numpy kernels of this module (the
    closed forms, ``exact_peak``) serve ``plan`` and ``sweep`` without it, and importing cvxpy costs
    seconds of CPU in every process (the CLI, notebook kernels) that never builds an LP."""

    def __getattr__(self, name: str):
        import cvxpy

        globals()["cp"] = cvxpy
        return getattr(cvxpy, name)


cp = _LazyCvxpy()


def define_variables(n_classes: int, n_alt: int = 1) -> tuple[cp.Variable, cp.Variable]:
    """``X`` >= 0: cluster turns/s; ``z`` >= 0: turns/s per (class, path other than the first),
    class-major (``z[k * n_alt + j]``); with two paths, the DE-path turns/s per class."""
    return cp.Variable(name="turns_per_s", nonneg=True), cp.Variable(n_classes * n_alt, name="de_path_turns_per_s", nonneg=True)


def define_capacity_constraint(X: cp.Variable, z: cp.Variable, coef_x: cp.Parameter, coef_z: cp.Parameter) -> cp.Constraint:
    """``coef_x X + coef_z . z <= 1``: the resource's demand stays within its capacity.

    ``coef_x = sum_k w_k const[r, k] / cap_r`` and ``coef_z[k] = slope[r, k] / cap_r``.
    """
    return coef_x * X + coef_z @ z <= 1


def define_split_bounds(X: cp.Variable, z: cp.Variable, z_max: cp.Parameter, n_alt: int = 1) -> cp.Constraint:
    """``sum_j z_kj <= u_k w_k X``: at most all of a class's turns take the other paths (none if
    u_k = 0); with two paths ``z_k <= u_k w_k X``."""
    if n_alt == 1:
        return z <= cp.multiply(z_max, X)
    K = z.shape[0] // n_alt
    S = np.kron(np.eye(K), np.ones((1, n_alt)))
    return S @ z <= cp.multiply(z_max, X)


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
    """The compiled throughput LP for a fixed resource list, class count and path count."""

    def __init__(self, names: tuple[str, ...], n_classes: int, n_alt: int = 1):
        self.names = names
        self.n_classes = n_classes
        X, z = define_variables(n_classes, n_alt)
        self.X, self.z = X, z
        self.coef_x = {n: cp.Parameter(name=f"cx[{n}]") for n in names}
        self.coef_z = {n: cp.Parameter(n_classes * n_alt, name=f"cz[{n}]") for n in names}
        self.z_max = cp.Parameter(n_classes, nonneg=True, name="z_max")
        self.constraints = {n: define_capacity_constraint(X, z, self.coef_x[n], self.coef_z[n]) for n in names}
        self.split = define_split_bounds(X, z, self.z_max, n_alt)
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

    def __init__(self, names: tuple[str, ...], io_names: tuple[str, ...], n_classes: int, n_alt: int = 1):
        self.names = names
        self.io_names = io_names
        self.z = cp.Variable(n_classes * n_alt, nonneg=True, name="de_path_turns_per_s")
        self.t = cp.Variable(name="peak_io_utilization")
        self.base = {n: cp.Parameter(name=f"b[{n}]") for n in names}
        self.coef_z = {n: cp.Parameter(n_classes * n_alt, name=f"cz[{n}]") for n in names}
        self.z_cap = cp.Parameter(n_classes, nonneg=True, name="z_cap")
        cons = [self.base[n] + self.coef_z[n] @ self.z <= 1 for n in names]
        cons += [define_balance_constraint(self.z, self.t, self.base[n], self.coef_z[n]) for n in io_names]
        if n_alt == 1:
            cons.append(self.z <= self.z_cap)
        else:
            cons.append(np.kron(np.eye(n_classes), np.ones((1, n_alt))) @ self.z <= self.z_cap)
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
def compiled_balance_lp(names: tuple[str, ...], io_names: tuple[str, ...], n_classes: int, n_alt: int = 1) -> SplitBalanceLP:
    return SplitBalanceLP(names, io_names, n_classes, n_alt)


@functools.lru_cache(maxsize=32)
def compiled_lp(names: tuple[str, ...], n_classes: int, n_alt: int = 1) -> ThroughputLP:
    """One compiled LP per (resource list, class count, paths beyond the first), reused across solves (DPP)."""
    return ThroughputLP(names, n_classes, n_alt)


def min_peak_utilization(base: np.ndarray, delta: np.ndarray) -> tuple[float, np.ndarray]:
    """Exact ``min over shares s of max_r (base_r + sum_j delta[r, j] s_j)``, one LP by simplex.

    ``base (R,)``: capacity-normalized demand with every class on the first path; ``delta (R, K,
    J)``: the change per unit share of class ``k`` moved to the ``j``-th other path (weights
    included). Shares are ``s[k, j] >= 0`` with ``sum_j s[k, j] <= 1``. Returns ``(peak, s (K, J))``;
    turns/s is ``1 / peak``. A vertex solution (HiGHS dual simplex): exact to rounding, so every
    caller that solves the same coefficients gets the same number.
    """
    from scipy.optimize import linprog

    R, K, J = delta.shape
    n = K * J
    A_ub = np.zeros((R + K, n + 1))
    A_ub[:R, :n] = delta.reshape(R, n)
    A_ub[:R, n] = -1.0
    for k in range(K):
        A_ub[R + k, k * J : (k + 1) * J] = 1.0
    b_ub = np.concatenate([-np.asarray(base, float), np.ones(K)])
    c = np.zeros(n + 1)
    c[n] = 1.0
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * n + [(None, None)], method="highs-ds")
    if res.status != 0:
        raise SolverError(f"HiGHS failed on the throughput LP: {res.message}")
    s = np.clip(res.x[:n], 0.0, 1.0).reshape(K, J)
    peak = float(np.max(base + delta.reshape(R, n) @ s.reshape(-1)))  # the envelope at the solution
    return peak, s


def normalized_coefficients(const: np.ndarray, slope: np.ndarray, capacity: np.ndarray, weights: np.ndarray):
    """Capacity-normalized LP coefficients; resources with infinite capacity get zeros."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(capacity) & (capacity > 0), 1.0 / capacity, 0.0)
    if np.any(capacity <= 0):
        raise ScenarioError("a resource has zero capacity: every bandwidth and node count must be > 0")
    coef_x = (const @ weights) * inv
    coef_z = slope * inv[:, None]
    return coef_x, coef_z


def path_coefficients(coef: np.ndarray, capacity: np.ndarray, weights: np.ndarray, allowed: np.ndarray):
    """Capacity-normalized LP coefficients of a k-path topology: ``coef (R, K, P)`` per-turn demands.

    Returns ``(coef_x (R,), coef_z (R, K * J), z_max (K,), alt)``: all turns on the first path, the
    change per turn/s moved to each other usable path ``alt`` (J of them, class-major), and the
    split bound. With no other usable path, one zero column and ``z_max = 0`` (the LP as before).
    """
    alt = np.flatnonzero(np.asarray(allowed, bool))[1:]
    R, K, P = coef.shape
    cols = alt if alt.size else np.array([1 if P > 1 else 0])
    slope = coef[:, :, cols] - coef[:, :, :1]  # (R, K, J)
    coef_x, coef_z = normalized_coefficients(coef[:, :, 0], slope.reshape(R, -1), capacity, np.asarray(weights, float))
    z_max = np.asarray(weights, float) * (1.0 if alt.size else 0.0)
    return coef_x, coef_z, z_max, alt


def min_max_affine(const: np.ndarray, slope: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``min over f in [0, 1] of max_r (const_r + slope_r f)`` over leading axes ``(..., R)``:
    the same optimum as :func:`dpmodel.capacity.minimize_max_affine`, found by walking the envelope.

    The envelope of the sloped lines is convex with a unique minimizer (every piece has a nonzero
    slope); flat lines only add a floor. Start from the line on top at ``f = 0`` (falling) and the
    one on top at ``f = 1`` (rising); their crossing is the optimum unless another line is higher
    there, which then replaces the one of its slope sign. Each step lifts the pair, so it ends
    after at most ``R`` steps (two or three in practice), each ``O(R)`` per point, instead of
    evaluating every rising x falling crossing.
    """
    a = np.asarray(const, float)
    b = np.asarray(slope, float)
    a, b = np.broadcast_arrays(a, b)
    lead, R = a.shape[:-1], a.shape[-1]
    a2 = a.reshape(-1, R)
    b2 = b.reshape(-1, R)
    N = a2.shape[0]
    if N > 64:
        f = _min_max_argmin(a2, b2)
        if f is not None:
            value = np.max(a2 + b2 * f[:, None], axis=1)
            return value.reshape(lead), f.reshape(lead)
    As = np.where(b2 != 0, a2, -np.inf)  # sloped lines only choose f
    f = np.zeros(N)
    rows = np.arange(N)
    # at f = 0: the top line, ties to the larger slope; at f = 1: ties to the smaller slope
    v0 = As
    top0 = v0.max(axis=1)
    L = np.argmax(np.where(v0 >= top0[:, None], b2, -np.inf), axis=1)
    v1 = As + b2
    top1 = v1.max(axis=1)
    U = np.argmax(np.where(v1 >= top1[:, None], -b2, -np.inf), axis=1)
    bL, bU = b2[rows, L], b2[rows, U]
    none = ~np.isfinite(top0)  # no sloped line: f = 0
    at1 = ~none & (bU < 0)  # falling at the right end: f = 1
    at0 = ~none & ~at1 & (bL > 0)  # rising from the left end: f = 0
    f[at1] = 1.0
    todo = np.flatnonzero(~(none | at0 | at1))
    Li, Ui = L[todo], U[todo]
    for _ in range(R + 1):
        if todo.size == 0:
            break
        aL, bL_ = a2[todo, Li], b2[todo, Li]
        aU, bU_ = a2[todo, Ui], b2[todo, Ui]
        x = np.clip((aL - aU) / (bU_ - bL_), 0.0, 1.0)
        vals = As[todo] + b2[todo] * x[:, None]
        m = np.argmax(vals, axis=1)
        top = vals[np.arange(todo.size), m]
        here = np.maximum(aL + bL_ * x, aU + bU_ * x)
        done = top <= here + 1e-13 * np.abs(here)
        f[todo[done]] = x[done]
        keep = ~done
        bm = b2[todo, m]
        Li = np.where(bm < 0, m, Li)[keep]
        Ui = np.where(bm > 0, m, Ui)[keep]
        todo = todo[keep]
    if todo.size:  # cannot happen for finite inputs; keep the exact enumeration as the fallback
        _, f[todo] = minimize_max_affine(a2[todo], b2[todo])
    value = np.max(a2 + b2 * f[:, None], axis=1)
    return value.reshape(lead), f.reshape(lead)


#: rising x falling column pairs up to which :func:`min_max_affine` takes the pairwise formula
_PAIRS_MAX = 64


def _min_max_argmin(a2: np.ndarray, b2: np.ndarray) -> np.ndarray | None:
    """:func:`min_max_affine`'s minimizer over ``(N, R)`` rows by the pairwise formula where few
    columns slope (None: the caller walks the envelope)."""
    rising = np.flatnonzero((b2 > 0).any(axis=0))
    falling = np.flatnonzero((b2 < 0).any(axis=0))
    if rising.size * falling.size > _PAIRS_MAX:
        return None
    return _min_max_by_pairs(a2, b2, rising, falling)


def _min_max_by_pairs(a2: np.ndarray, b2: np.ndarray, rising: np.ndarray, falling: np.ndarray) -> np.ndarray:
    """The minimizer of :func:`min_max_affine` over rows ``(N, R)`` from the rising x falling
    crossings, column by column (a few columns, many points: contiguous vector passes, no gathers).

    With ``U`` the top rising line and ``D`` the top falling one, the sloped envelope's minimizer
    is the crossing ``f*`` of ``U`` and ``D``. A rising line ``i`` reaches ``D`` at
    ``g_i = max_j f_ij`` (``f_ij`` its crossing with falling line ``j``: it is above ``j`` exactly
    for ``f >= f_ij``), and ``g_i >= f*`` with equality for the line that makes ``U`` there, so
    ``f* = min_i max_j f_ij``, clipped to [0, 1]: no falling line gives 0 (rising lines only), no
    rising line 1, no sloped line 0, as the envelope walk decides. ``f_ij`` is the same expression
    the walk evaluates for the same pair, so both give the same number."""
    A = {c: np.ascontiguousarray(a2[:, c]) for c in np.union1d(rising, falling)}
    B = {c: np.ascontiguousarray(b2[:, c]) for c in A}
    up = {i: B[i] > 0 for i in rising}
    down = {j: B[j] < 0 for j in falling}
    N = a2.shape[0]
    fstar = np.full(N, np.inf)
    any_sloped = np.zeros(N, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in rising:
            g = np.full(N, -np.inf)
            for j in falling:
                fij = (A[j] - A[i]) / (B[i] - B[j])
                if up[i].all() and down[j].all():
                    np.maximum(g, fij, out=g)
                else:
                    np.maximum(g, np.where(up[i] & down[j], fij, -np.inf), out=g)
            np.minimum(fstar, np.where(up[i], g, np.inf), out=fstar)
            any_sloped |= up[i]
    for j in falling:
        any_sloped |= down[j]
    f = np.clip(fstar, 0.0, 1.0)
    f[~any_sloped] = 0.0
    return f


def min_max_affine_2d(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact minimizer ``(s1, s2)`` of ``max_r (a_r + b_r s1 + c_r s2)`` over the triangle
    ``s1, s2 >= 0, s1 + s2 <= 1``, for rows ``(N, R)`` (one class on three paths: the shares of
    the two other paths), batched over the ``N`` points.

    The problem is the LP ``min t`` s.t. ``t >= a_r + b_r s1 + c_r s2`` on the triangle; an optimal
    vertex has three tight constraints: three rows (a vertex of the planes, kept where it lies in
    the triangle), two rows and a side (the one-dimensional optimum along that side,
    :func:`min_max_affine`), or a corner. Every candidate is evaluated and the best kept (ties to
    the earliest: all on the first path, the sides' optima, the other corners, then the
    vertices). Rows that are flat in both shares only
    raise a floor and never choose the point, so vertices are formed from the sloped rows only.
    """
    N, R = a.shape
    sloped = np.flatnonzero(((b != 0) | (c != 0)).any(axis=0))
    zero = np.zeros(N)
    cand = [(zero, zero)]  # everything on the first path; then each side's optimum, then the other corners
    _, g = min_max_affine(a, b)  # side s2 = 0
    cand.append((g, zero))
    _, g = min_max_affine(a, c)  # side s1 = 0
    cand.append((zero, g))
    _, g = min_max_affine(a + c, b - c)  # side s1 + s2 = 1
    cand += [(g, 1.0 - g), (np.ones(N), zero), (zero, np.ones(N))]
    cols = {r: (np.ascontiguousarray(a[:, r]), np.ascontiguousarray(b[:, r]), np.ascontiguousarray(c[:, r])) for r in sloped}
    inside = 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        for ii, p in enumerate(sloped):
            ap, bp, cp = cols[p]
            for jj in range(ii + 1, len(sloped)):
                aq, bq, cq = cols[sloped[jj]]
                b1, c1, r1 = bp - bq, cp - cq, aq - ap
                for r in sloped[jj + 1 :]:
                    ar, br_, cr = cols[r]
                    b2, c2, r2 = bp - br_, cp - cr, ar - ap
                    det = b1 * c2 - c1 * b2
                    x = (r1 * c2 - c1 * r2) / det
                    y = (b1 * r2 - r1 * b2) / det
                    ok = (det != 0) & (x >= -inside) & (y >= -inside) & (x + y <= 1.0 + inside)
                    if ok.any():
                        x = np.where(ok, np.clip(x, 0.0, 1.0), 0.0)
                        y = np.where(ok, np.clip(y, 0.0, 1.0 - x), 0.0)
                        cand.append((x, y))
    s1, s2 = cand[0]
    best = np.max(a + b * s1[:, None] + c * s2[:, None], axis=1)
    for x, y in cand[1:]:
        v = np.max(a + b * x[:, None] + c * y[:, None], axis=1)
        better = v < best - 1e-15 * np.abs(best)
        best = np.where(better, v, best)
        s1 = np.where(better, x, s1)
        s2 = np.where(better, y, s2)
    return s1, s2


def exact_peak(
    coef: np.ndarray, capacity: np.ndarray, weights: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact least peak utilization at unit turn rate (turns/s = 1 / peak), the per-class path
    shares and every resource's utilization at unit rate ``(S,), S + (K, P), S + (R,)``,
    vectorized over leading axes of ``coef (S + (R, K, P))``.

    One class on two usable paths: the closed form (:func:`min_max_affine`);
    one class on three usable paths: the batched vertex enumeration (:func:`min_max_affine_2d`);
    one usable path: the largest demand; otherwise one simplex LP per point
    (:func:`min_peak_utilization`). ``plan`` and ``sweep`` both report this number.
    """
    cap = np.asarray(capacity, float)
    w = np.asarray(weights, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(cap) & (cap > 0), 1.0 / cap, 0.0)
    shape = cap.shape[:-1]
    K, n_paths = coef.shape[-2], coef.shape[-1]
    usable = np.flatnonzero(np.asarray(allowed, bool))
    base = np.einsum("...rk,k->...r", coef[..., 0], w) * inv
    shares_k = np.zeros(shape + (K, n_paths))
    shares_k[..., 0] = 1.0
    if len(usable) == 1:
        return base.max(axis=-1), shares_k, base
    if K == 1 and len(usable) == 2:
        j = usable[1]
        slope = (coef[..., 0, j] - coef[..., 0, 0]) * (w[0] * inv)
        R = base.shape[-1]
        f = _min_max_argmin(base.reshape(-1, R), slope.reshape(-1, R)) if base.size > 64 * R else None
        if f is not None:  # many points: the envelope at the minimizer once (what min_max_affine returns as its value)
            f = f.reshape(shape)
            util = base + slope * f[..., None]
            shares_k[..., 0, 0] = 1.0 - f
            shares_k[..., 0, j] = f
            return util.max(axis=-1), shares_k, util
        peak, f = min_max_affine(base, slope)
        shares_k[..., 0, 0] = 1.0 - f
        shares_k[..., 0, j] = f
        return peak, shares_k, base + slope * f[..., None]
    alt = usable[1:]
    delta = (coef[..., alt] - coef[..., :1]) * w[:, None] * inv[..., None, None]  # S + (R, K, J)
    if K == 1 and len(alt) == 2:  # one class on three paths: the exact vertex enumeration, batched
        R = base.shape[-1]
        s1, s2 = min_max_affine_2d(base.reshape(-1, R), delta[..., 0, 0].reshape(-1, R), delta[..., 0, 1].reshape(-1, R))
        s1, s2 = s1.reshape(shape), s2.reshape(shape)
        util = base + delta[..., 0, 0] * s1[..., None] + delta[..., 0, 1] * s2[..., None]
        shares_k[..., 0, 0] = 1.0 - s1 - s2
        shares_k[..., 0, alt[0]] = s1
        shares_k[..., 0, alt[1]] = s2
        return util.max(axis=-1), shares_k, util
    flat_base = base.reshape(-1, base.shape[-1])
    flat_delta = delta.reshape((-1,) + delta.shape[-3:])
    peak = np.empty(flat_base.shape[0])
    sk = shares_k.reshape(-1, K, n_paths)
    for i in range(flat_base.shape[0]):
        peak[i], s = min_peak_utilization(flat_base[i], flat_delta[i])
        sk[i][:, alt] = s
        sk[i][:, 0] = 1.0 - s.sum(axis=-1)
    util = np.einsum("...rkp,...kp,k->...r", coef, shares_k, w) * inv
    return peak.reshape(shape), shares_k, util
