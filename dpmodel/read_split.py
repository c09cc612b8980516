"""The per-request read split: which share of one request's hit KV to read on the decode side.

Notes
-----
A request with ``H`` hit bytes arrives when the prefill-side storage read queue needs ``b_p``
seconds to drain and the decode-side one ``b_d`` seconds. Reading a share ``f`` on the decode side,
each side finishes at

    T_pe(f) = b_p + (1 - f) H / B_p          T_de(f) = b_d + relay + f H / B_d

with ``B_p`` the prefill node's storage read bandwidth, ``B_d`` the decode path's rate (its storage
NICs, capped by the compute-NIC headroom left for the relay to the prefill node) and ``relay`` the
fixed cost of the extra hop. The request is loaded at ``max(T_pe, T_de)``; one rises and one falls
in ``f``, so the optimum equalizes them (water-filling), clipped to [0, 1]:

    f* = clip((b_p + H/B_p - b_d - relay) / (H/B_p + H/B_d), 0, 1)

The whole-request variant (schedulers that cannot split) reads on the side that finishes first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def optimal_split(
    *,
    hit_bytes: ArrayLike,
    pe_backlog_s: ArrayLike,
    de_backlog_s: ArrayLike,
    pe_Bps: ArrayLike,
    de_Bps: ArrayLike,
    relay_s: ArrayLike = 0.0,
) -> np.ndarray:
    """Water-filling decode-side share of one request's hit bytes (vectorized)."""
    H = np.asarray(hit_bytes, float)
    tp = H / np.asarray(pe_Bps, float)
    td = H / np.asarray(de_Bps, float)
    num = np.asarray(pe_backlog_s, float) + tp - np.asarray(de_backlog_s, float) - np.asarray(relay_s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(tp + td > 0, num / (tp + td), 0.0)
    return np.clip(f, 0.0, 1.0)


def finish_time_s(f: ArrayLike, *, hit_bytes, pe_backlog_s, de_backlog_s, pe_Bps, de_Bps, relay_s=0.0) -> np.ndarray:
    """When the request's KV is loaded for a decode-side share ``f``."""
    f = np.asarray(f, float)
    H = np.asarray(hit_bytes, float)
    pe = np.asarray(pe_backlog_s, float) + (1 - f) * H / np.asarray(pe_Bps, float)
    de = np.where(f > 0, np.asarray(de_backlog_s, float) + np.asarray(relay_s, float) + f * H / np.asarray(de_Bps, float), 0.0)
    return np.maximum(pe, de)


def whole_request_side(*, hit_bytes, pe_backlog_s, de_backlog_s, pe_Bps, de_Bps, relay_s=0.0) -> np.ndarray:
    """1 where reading the whole request on the decode side finishes first, else 0."""
    t_pe = finish_time_s(
        0.0, hit_bytes=hit_bytes, pe_backlog_s=pe_backlog_s, de_backlog_s=de_backlog_s, pe_Bps=pe_Bps, de_Bps=de_Bps, relay_s=relay_s
    )
    t_de = finish_time_s(
        1.0, hit_bytes=hit_bytes, pe_backlog_s=pe_backlog_s, de_backlog_s=de_backlog_s, pe_Bps=pe_Bps, de_Bps=de_Bps, relay_s=relay_s
    )
    return np.where(t_de < t_pe, 1.0, 0.0)


def optimal_split_cvxpy(*, hit_bytes, pe_backlog_s, de_backlog_s, pe_Bps, de_Bps, relay_s=0.0) -> float:
    """The same optimum from cvxpy (one cell), to check the closed form. Times in seconds are
    scaled to the request's own load time so the problem is well conditioned."""
    import cvxpy as cp

    scale = max(hit_bytes / pe_Bps, 1e-12)
    f = cp.Variable()
    t = cp.Variable()
    cons = [
        (pe_backlog_s + (1 - f) * hit_bytes / pe_Bps) / scale <= t,
        (de_backlog_s + relay_s + f * hit_bytes / de_Bps) / scale <= t,
        f >= 0,
        f <= 1,
    ]
    prob = cp.Problem(cp.Minimize(t), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return float(f.value)
