"""Arrival processes: Poisson at a rate, or replayed from a trace; burstiness measured as the CV of
inter-arrival gaps (1 for Poisson), exposed for the queueing models."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..errors import WorkloadError
from .traces import interarrival_cv


def poisson_arrivals(*, rate_per_s: float, duration_s: float, seed: int = 0) -> np.ndarray:
    """Arrival times [s] of a Poisson process on [0, duration_s)."""
    if not rate_per_s > 0 or not duration_s > 0:
        raise WorkloadError("rate_per_s and duration_s must be > 0")
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_s * duration_s)
    return np.sort(rng.uniform(0.0, duration_s, n))


def replay_arrivals(arrival_s: ArrayLike, *, speedup_factor: float = 1.0) -> np.ndarray:
    """A trace's own arrival times, shifted to start at 0 and optionally compressed in time."""
    a = np.sort(np.asarray(arrival_s, float))
    if not len(a):
        raise WorkloadError("no arrivals to replay")
    if not speedup_factor > 0:
        raise WorkloadError("speedup_factor must be > 0")
    return (a - a[0]) / speedup_factor


def arrival_stats(arrival_s: ArrayLike) -> dict[str, float]:
    """Rate and burstiness of an arrival sequence."""
    a = np.sort(np.asarray(arrival_s, float))
    span = float(a[-1] - a[0]) if len(a) > 1 else 0.0
    return {
        "arrivals": float(len(a)),
        "span_s": span,
        "rate_per_s": (len(a) - 1) / span if span > 0 else float("nan"),
        "interarrival_cv": interarrival_cv(a),
    }
