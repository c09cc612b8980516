"""The throughput LP and its split-balancing stage in closed form, where the closed form is exact.

Notes
-----
The LP of :mod:`dpmodel.optimize.throughput` (normalized rows ``coef_x X + coef_z . z <= 1``,
``0 <= z_k <= z_max_k X``) has a closed form in two cases:

* **No decode-side path** (``z_max = 0``, or no row depends on ``z``): ``z = 0`` and
  ``X = 1 / max_r coef_x[r]``; the binding row's dual is ``X`` (its own capacity scales ``X``).
* **One request class** (``K = 1``): with ``g = z / (z_max X)`` in [0, 1] every row's utilization
  per unit of ``X`` is affine, ``a_r + b_r g`` (``a = coef_x``, ``b = coef_z z_max``), so
  ``X = 1 / min_g max_r (a_r + b_r g)``, the minimum of a convex piecewise-linear envelope
  (:func:`dpmodel.capacity.minimize_max_affine`). The duals follow from complementary slackness:
  at a crossing of a rising row ``i`` and a falling row ``j``, ``lambda_i a_i + lambda_j a_j = 1`` and
  ``lambda_i coef_z_i + lambda_j coef_z_j = 0``; at ``g = 0`` the one binding row takes
  ``lambda = 1 / a``; at ``g = 1`` it takes ``lambda = 1 / (a + b)``.

The balancing stage (the split with the lowest peak KV I/O utilization among the throughput-optimal
ones, :class:`dpmodel.optimize.throughput.SplitBalanceLP`) is, for ``K = 1``, the minimum of the
KV rows' envelope over the interval of ``z`` that keeps every row within capacity.

The closed form answers only when its answer is the LP's unique one: a vertex where more rows meet
than the two dimensions need (several duals would do), or a flat stretch of optimal splits (the LP's
interior-point solver returns a point inside it, not an end), returns ``None``, and the caller
solves the LP. Equal to the LP's solution to 1e-9 (tests/test_plan.py, over varied scenarios).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capacity import minimize_max_affine

#: rows within this relative distance of the optimum count as meeting there
TIE_REL = 1e-9


@dataclass(frozen=True)
class ClosedFormSolution:
    """The fields of :class:`dpmodel.optimize.throughput.LPSolution` that the plan reads."""

    turns_per_s: float
    de_turns_per_s: np.ndarray  # (K,)
    duals: dict[str, float]
    utilization: dict[str, float]
    solver: str = "closed form"
    fallback_note: str = ""
    z_unique: bool = True  # False: a stretch of splits is optimal; the balancing stage must pick one


def normalized_coefficients(const: np.ndarray, slope: np.ndarray, capacity: np.ndarray, weights: np.ndarray):
    """Capacity-normalized rows, as :func:`dpmodel.optimize.throughput.normalized_coefficients`
    computes them (kept here so that the closed form does not import cvxpy); ``None`` when some
    capacity is zero (the LP path reports that error)."""
    if np.any(capacity <= 0):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.isfinite(capacity) & (capacity > 0), 1.0 / capacity, 0.0)
    return (const @ weights) * inv, slope * inv[:, None]


def _finish(names, coef_x, coef_z, X: float, z: np.ndarray, lam: dict[int, float], z_unique: bool = True) -> ClosedFormSolution:
    duals = {n: 0.0 for n in names}
    for i, v in lam.items():
        duals[names[i]] = float(v) if v > 1e-6 * max(X, 1e-12) else 0.0  # as the LP path filters noise
    util = {n: float(coef_x[i] * X + np.dot(coef_z[i], z)) for i, n in enumerate(names)}
    return ClosedFormSolution(float(X), z, duals, util, z_unique=z_unique)


def throughput(names: tuple[str, ...], coef_x: np.ndarray, coef_z: np.ndarray, z_max: np.ndarray) -> ClosedFormSolution | None:
    """The throughput LP's optimum, or ``None`` where the closed form is not the LP's unique answer."""
    a = np.asarray(coef_x, float)
    cz = np.asarray(coef_z, float)
    zm = np.asarray(z_max, float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(cz))):
        return None
    K = len(zm)
    if not np.any(zm > 0) or not np.any(cz != 0):
        top = float(a.max()) if len(a) else 0.0
        if top <= 0:
            return None  # nothing limits throughput: the LP path raises the error
        at = np.flatnonzero(a >= top * (1 - TIE_REL))
        if len(at) != 1:
            return None  # several rows bind at once: the duals are not unique
        X = 1.0 / top
        return _finish(names, a, cz, X, np.zeros(K), {int(at[0]): X})
    if K != 1:
        return None
    b = cz[:, 0] * zm[0]
    value, g = minimize_max_affine(a, b)
    value, g = float(value), float(g)
    if not value > 0:
        return None
    X = 1.0 / value
    env = a + b * g
    active = np.flatnonzero(env >= value * (1 - TIE_REL))
    rise = [i for i in active if b[i] > 0]
    fall = [i for i in active if b[i] < 0]
    flat = [i for i in active if b[i] == 0]
    z = np.array([g * zm[0] * X])
    if len(active) == 1:
        i = int(active[0])
        if b[i] == 0:  # a flat row alone binds: a stretch of splits is optimal (the LP's z lies inside it)
            return _finish(names, a, cz, X, z, {i: 1.0 / a[i]}, z_unique=False)
        if (b[i] > 0 and g > 0) or (b[i] < 0 and g < 1):
            return None  # (cannot happen at an optimum; be safe)
        return _finish(names, a, cz, X, z, {i: 1.0 / (a[i] + b[i] * g)})
    if len(active) == 2 and len(rise) == 1 and len(fall) == 1 and not flat and 0 < g < 1:
        i, j = rise[0], fall[0]
        ci, cj = cz[i, 0], cz[j, 0]
        li = 1.0 / (a[i] - a[j] * ci / cj)
        lj = -li * ci / cj
        if not (li > 0 and lj > 0):
            return None
        return _finish(names, a, cz, X, z, {i: li, j: lj})
    return None


def balance(
    names: tuple[str, ...], io_names: tuple[str, ...], coef_x: np.ndarray, coef_z: np.ndarray, z_max: np.ndarray, X: float
) -> np.ndarray | None:
    """The balancing LP's split for one class (see the module notes), or ``None`` where it is not
    unique (the caller solves the LP). Scaled as the LP path scales it (``X (1 - 1e-7)``)."""
    a = np.asarray(coef_x, float)
    cz = np.asarray(coef_z, float)
    if cz.shape[1] != 1:
        return None
    Xs = X * (1.0 - 1e-7)
    base = a * Xs
    c = cz[:, 0]
    lo, hi = 0.0, float(z_max[0]) * Xs
    for r in range(len(a)):  # every row within capacity: an interval of z
        if c[r] > 0:
            hi = min(hi, (1.0 - base[r]) / c[r])
        elif c[r] < 0:
            lo = max(lo, (1.0 - base[r]) / c[r])
        elif base[r] > 1:
            return None
    if not hi >= lo:
        return None
    io = np.array([i for i, n in enumerate(names) if n in io_names], dtype=int)
    if len(io) == 0:
        return None
    span = hi - lo
    A = base[io] + c[io] * lo
    B = c[io] * span
    if span <= 0 or not np.any(B != 0):
        if span > 0:
            return None  # every KV row is flat: any split in the interval is optimal
        return np.array([lo]) / (1.0 - 1e-7)
    value, s = minimize_max_affine(A, B)
    value, s = float(value), float(s)
    env = A + B * s
    scale = max(abs(value), 1e-300)
    active = np.flatnonzero(env >= value - TIE_REL * scale)
    right = max(B[active])  # the envelope's slopes either side of s
    left = min(B[active])
    if (s > 0 and not left < 0) or (s < 1 and not right > 0):
        return None  # a flat stretch of optimal splits: the LP's answer lies inside it
    return np.array([lo + span * s]) / (1.0 - 1e-7)
