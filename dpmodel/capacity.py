"""Closed forms: the paper's bottleneck-free P/D window and the one-dimensional split optimum.

Notes
-----
Paper notation (section 4.2): ``P``, ``D`` prefill and decode nodes; ``g`` GPUs per node with one
compute NIC of bandwidth ``B`` each; storage bandwidth per node ``s B``; DRAM bandwidth per node
``M``. With every storage NIC saturated and balanced, per PE-DE GPU pair ``T_p = B s / (D g^2)``
(PE path) and ``T_c = B s / (P g^2)`` (DE path), and the links must carry:

1. PE CNIC read   ``2 T_p D g = 2 B s / g <= B``
2. PE CNIC write  ``(T_p + T_c) D g = B s / g (1 + D/P) <= B``     => (3) ``P/D >= s / (g - s)``
4. DE CNIC read   ``(T_p + 2 T_c) P g = B s / g (P/D + 2) <= B``   => (5) ``P/D <= (g - 2s) / s``
6. DE CNIC write  ``(2 T_p + T_c) P g <= B``                        => (7) ``P/D <= (g - s) / (2s)``
8. DE DRAM        ``(3 + 2 P/D) B s <= M``                          => ``P/D <= (M/(B s) - 3) / 2``

(9): ``s/(g - s) <= P/D <= min{(g - 2s)/s, (g - s)/(2s), (M/(Bs) - 3)/2}``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def pd_ratio_window(
    *, gpus_per_node: ArrayLike, snic_per_cnic: ArrayLike, cnic_Bps: ArrayLike, dram_Bps: ArrayLike
) -> dict[str, np.ndarray]:
    """The paper's bottleneck-free P/D window, equation (9), and each of its bounds.

    Parameters
    ----------
    gpus_per_node : g [GPUs]
    snic_per_cnic : s, storage bandwidth per node in units of one compute NIC's bandwidth [-]
    cnic_Bps : B, compute-NIC bandwidth per GPU [bytes/s]
    dram_Bps : M, DRAM bandwidth per node [bytes/s]

    Returns
    -------
    dict with ``min`` and ``max`` (the window) and the bounds ``eq3_pe_cnic_write_min``,
    ``eq5_de_cnic_read_max``, ``eq7_de_cnic_write_max``, ``eq8_de_dram_max``; ``min > max`` means
    no P/D ratio is free of bottlenecks.
    """
    g = np.asarray(gpus_per_node, float)
    s = np.asarray(snic_per_cnic, float)
    Bs = np.asarray(cnic_Bps, float) * s
    M = np.asarray(dram_Bps, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(g > s, s / (g - s), np.inf)
        b5 = (g - 2 * s) / s
        b7 = (g - s) / (2 * s)
        b8 = (M / Bs - 3.0) / 2.0
    hi = np.minimum(np.minimum(b5, b7), b8)
    return {
        "min": lo,
        "max": hi,
        "eq3_pe_cnic_write_min": lo,
        "eq5_de_cnic_read_max": b5,
        "eq7_de_cnic_write_max": b7,
        "eq8_de_dram_max": b8,
    }


def paper_link_loads(
    *, prefill_nodes: ArrayLike, decode_nodes: ArrayLike, gpus_per_node: ArrayLike, snic_per_cnic: ArrayLike, cnic_Bps: ArrayLike
) -> dict[str, np.ndarray]:
    """Left-hand sides of the paper's equations (1), (2), (4), (6) [bytes/s per GPU] and (8)'s DE DRAM
    pressure [bytes/s per node] when every storage NIC is saturated and balanced."""
    P = np.asarray(prefill_nodes, float)
    D = np.asarray(decode_nodes, float)
    g = np.asarray(gpus_per_node, float)
    Bs = np.asarray(cnic_Bps, float) * np.asarray(snic_per_cnic, float)
    Tp = Bs / (D * g**2)
    Tc = Bs / (P * g**2)
    return {
        "pe.cnic.read": 2 * Tp * D * g,
        "pe.cnic.write": (Tp + Tc) * D * g,
        "de.cnic.read": (Tp + 2 * Tc) * P * g,
        "de.cnic.write": (2 * Tp + Tc) * P * g,
        "pe.dram": 2 * Bs + 0 * P,
        "de.dram": (3 + 2 * P / D) * Bs,
    }


def minimize_max_affine(const: ArrayLike, slope: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``min over f in [0, 1] of max_r (const_r + slope_r f)``, vectorized over leading axes.

    ``const`` and ``slope`` have shape ``(..., R)``. Returns ``(value, f_opt)``.

    The envelope is convex and piecewise linear. Flat lines only add a constant floor, so the
    optimum of the sloped lines alone is also optimal overall; that optimum lies at an end of
    [0, 1] or where a rising line crosses a falling one (the left end of the optimal segment).
    Every such candidate is evaluated and the best kept (ties go to the smallest ``f``).
    """
    a = np.asarray(const, float)
    b = np.asarray(slope, float)
    a, b = np.broadcast_arrays(a, b)
    R = a.shape[-1]
    up = b > 0
    down = b < 0
    iu = np.flatnonzero(up.reshape(-1, R).any(axis=0))
    idn = np.flatnonzero(down.reshape(-1, R).any(axis=0))
    sloped = np.union1d(iu, idn)
    lead = a.shape[:-1]
    flat_floor = np.max(np.where(b == 0, a, -np.inf), axis=-1)
    if sloped.size == 0:
        return flat_floor, np.zeros(lead)
    # crossings of rising i and falling j, clipped to [0, 1]; invalid pairs fall back to f = 0
    ai, bi = a[..., iu][..., :, None], b[..., iu][..., :, None]
    aj, bj = a[..., idn][..., None, :], b[..., idn][..., None, :]
    valid = up[..., iu][..., :, None] & down[..., idn][..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(valid, (aj - ai) / (bi - bj), 0.0)
    cross = np.clip(np.nan_to_num(cross, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).reshape(*lead, -1)
    cand = np.concatenate([np.zeros((*lead, 1)), cross, np.ones((*lead, 1))], axis=-1)  # (..., C)
    As = np.where(b[..., sloped] != 0, a[..., sloped], -np.inf)
    Bs = np.where(b[..., sloped] != 0, b[..., sloped], 0.0)
    env = np.max(As[..., None, :] + Bs[..., None, :] * cand[..., :, None], axis=-1)  # (..., C)
    best_val = env.min(axis=-1, keepdims=True)
    # among equally good candidates take the smallest f (fewest bytes moved to the relay path)
    masked = np.where(env <= best_val + 1e-12 * np.abs(best_val), cand, np.inf)
    f = masked.min(axis=-1)
    value = np.max(a + b * f[..., None], axis=-1)
    return value, f
