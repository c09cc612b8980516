"""TTFT percentiles: each turn's own part plus an exponential queueing part, and equal-weight quantiles."""

from __future__ import annotations

import math

import numpy as np

PERCENTILE_METHOD = (
    "each turn's own part (its read and lone prefill, over the workload's turn sizes) + an exponential "
    "queueing part whose mean closes the model's mean; quantiles of that mixture"
)


def equal_weight_picks(key: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` equal-weight quantiles (at the bins' midpoints) of the sample ordered
    by ``key`` and weighted ``w``."""
    order = np.argsort(key, kind="stable")
    cw = np.cumsum(w[order]) / np.sum(w)
    return order[np.minimum(np.searchsorted(cw, (np.arange(k) + 0.5) / k), len(key) - 1)]


def equal_weight_quantiles(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """``k`` equal-weight quantiles (at the bins' midpoints) of the sample ``x`` weighted ``w``."""
    return x[equal_weight_picks(x, w, k)]


def ttft_quantiles(fixed_s: np.ndarray, w: np.ndarray, mean_s: float, probs: tuple[float, ...]) -> list[float]:
    """Quantiles of TTFT = a turn's own part (``fixed_s``, per turn of the workload's sample, weights
    ``w``) + a queueing part, exponential with the mean that closes ``mean_s``: the quantiles of that
    mixture, by bisection on its CDF. The spread of turn sizes sets the tail at light load, the
    queueing part near saturation."""
    if not math.isfinite(mean_s):
        return [math.inf] * len(probs)
    w = np.asarray(w, float)
    keep = w > 0
    c, w = np.asarray(fixed_s, float)[keep], w[keep] / w[keep].sum()
    if not np.all(np.isfinite(c)):
        return [math.inf] * len(probs)
    c = equal_weight_quantiles(c, w, 512)
    qmean = max(mean_s - float(c.mean()), 0.0)

    def cdf(t: float) -> float:
        if qmean <= 0:
            return float(np.mean(c <= t))
        return float(np.mean(-np.expm1(-np.maximum(t - c, 0.0) / qmean)))

    out = []
    for p in probs:
        lo, hi = float(c[0]), float(c[-1]) + 50 * qmean + 1e-12
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
        out.append(hi)
    return out
