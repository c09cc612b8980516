"""Request classes for the analytic models: a small mixture whose byte and FLOP totals equal the
workload's.

Turns with no hit (first turns, cold requests) form one class; the rest are sorted by hit
(cached) tokens, cut into equal-count bins, and each bin halved by append length (from four
classes on), about ``count`` classes in all; each class takes
its bin's share of turns and its members' mean hit, append and generated tokens (so token, hence
byte, totals are exact) and, when a model is given, its members' mean prefill FLOPs (FLOPs are not
linear in context, so the class carries them explicitly and FLOP totals are exact too). Bins of
finer bins refine coarser ones, so results converge as classes are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..errors import WorkloadError
from ..profiles.model import ModelSpec


@dataclass(frozen=True)
class RequestClass:
    """A class of turns: share of all turns, and hit / appended / generated tokens per turn."""

    weight_frac: float
    hit_tokens: float
    append_tokens: float
    generated_tokens: float
    prefill_flops: float | None = None  # mean FLOPs of the members; None = from the mean tokens


def _split(idx: np.ndarray, append: np.ndarray, count: int) -> list[np.ndarray]:
    """``idx`` (sorted by hit tokens) into ``count`` bins: equal-count hit bins, each halved by
    append length once there are enough classes (FLOPs and KV move with hit x append)."""
    if count >= 4:
        halves = []
        for b in np.array_split(idx, min(count // 2, len(idx))):
            if len(b) >= 2:
                o = b[np.argsort(append[b], kind="stable")]
                halves += [o[: len(o) // 2], o[len(o) // 2 :]]
            elif len(b):
                halves.append(b)
        return halves
    return [b for b in np.array_split(idx, min(count, len(idx))) if len(b)]


def classes_from_turns(
    hit_tokens: ArrayLike,
    append_tokens: ArrayLike,
    generated_tokens: ArrayLike,
    *,
    count: int = 8,
    model: ModelSpec | None = None,
) -> tuple[RequestClass, ...]:
    """Mixture of at most ``count`` classes from per-turn (or per-request) token counts."""
    h = np.asarray(hit_tokens, float)
    a = np.asarray(append_tokens, float)
    g = np.asarray(generated_tokens, float)
    if not (h.shape == a.shape == g.shape) or h.ndim != 1 or not len(h):
        raise WorkloadError("classes need equal-length, non-empty 1-D token arrays")
    if count < 1:
        raise WorkloadError(f"count = {count}: must be >= 1")
    order = np.argsort(h, kind="stable")
    cold = order[h[order] == 0]  # turns with no hit (first turns, cold requests) differ in kind
    warm = order[h[order] > 0]
    if len(cold) and len(warm) and count > 1:
        bins = [cold] + _split(warm, a, count - 1)
    else:
        bins = _split(order, a, count)
    flops = model.prefill_flops(context_tokens=h, append_tokens=a) if model is not None else None
    n = len(h)
    out = []
    for b in bins:
        out.append(
            RequestClass(
                weight_frac=len(b) / n,
                hit_tokens=float(h[b].mean()),
                append_tokens=float(a[b].mean()),
                generated_tokens=float(g[b].mean()),
                prefill_flops=float(flops[b].mean()) if flops is not None else None,
            )
        )
    return tuple(out)
