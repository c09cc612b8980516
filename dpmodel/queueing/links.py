"""Link utilizations of a mode, linear in the split, and the max-of-links load residence.

``link_model`` normalizes the flow table (:meth:`dpmodel.scenario.Scenario.demands`) per turn; the
open model reads the utilizations from it and the convex split optimizer
(:mod:`dpmodel.optimize.latency`) keeps :func:`load_residence_s`, which is what makes it convex.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..scenario import MODES, Scenario


@dataclass(frozen=True)
class LinkModel:
    """Per-turn link demands of a mode in normalized form for a given turn rate.

    For link r: utilization ``u_r(f) = a_r + b_r f`` and zero-load service
    ``S_r(f) = K_r u_r(f)`` (so ``R_r = K_r u_r / (1 - u_r)``), with ``K_r = units_r / lambda``.
    """

    names: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    K: np.ndarray


def link_model(scenario: Scenario, mode: str, turns_per_s: float) -> LinkModel:
    d = scenario.demands(dataclasses.replace(MODES[mode], layerwise=True))
    io = scenario.topology.io_names  # the topology's byte resources; d.units their unit counts
    names, a, b, K = [], [], [], []
    for i, name in enumerate(d.names):
        if name not in io or not math.isfinite(d.capacity[i]):
            continue
        c0 = float(d.const[i] @ d.weights)
        c1 = float(d.slope[i] @ d.weights) if d.de_path else 0.0
        if c0 == 0 and c1 == 0:
            continue
        names.append(name)
        a.append(turns_per_s * c0 / d.capacity[i])
        b.append(turns_per_s * c1 / d.capacity[i])
        K.append(float(d.units[i]) / turns_per_s)
    return LinkModel(tuple(names), np.array(a), np.array(b), np.array(K))


def load_residence_s(lm: LinkModel, f: float | np.ndarray) -> np.ndarray:
    """Mean time to load a turn's KV: the max over its links of ``K u / (1 - u)`` (inf if u >= 1)."""
    f = np.asarray(f, float)
    u = lm.a[:, None] + lm.b[:, None] * f.reshape(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(u < 1, lm.K[:, None] * u / (1 - u), np.inf)
    return r.max(axis=0).reshape(f.shape) if len(lm.names) else np.zeros(f.shape)


@dataclass(frozen=True)
class PathLinks:
    """Per-turn utilization of the byte resources for any vector of path shares.

    For link r and path shares ``s`` (the topology's paths, summing to 1): utilization at turn rate
    ``lambda`` is ``lambda (a_r + sum_p b_rp s_p)`` over the paths ``p >= 1``, with ``a_r`` the first
    path's demand over the capacity and ``b_rp`` path p's demand less the first path's (what
    :class:`LinkModel` holds at ``lambda = 1`` for two paths, ``b = b_r1``).
    """

    names: tuple[str, ...]
    a: np.ndarray  # (R,)
    b: np.ndarray  # (R, P - 1)
    a_k: np.ndarray | None = None  # (R, K): each request class's part of a (its weight included)
    b_k: np.ndarray | None = None  # (R, K, P - 1)

    def utilization(self, turns_per_s: float, shares) -> dict[str, float]:
        """``{name: utilization}`` at ``turns_per_s`` and path shares ``shares``: one share per path
        (length P), or one row of shares per request class (K x P)."""
        if np.ndim(shares) == 2:
            S = np.asarray(shares, float)
            u = self.a_k.sum(axis=1) + np.einsum("rkj,kj->r", self.b_k, S[:, 1:])
        else:
            u = self.a.copy()
            for j in range(self.b.shape[1]):
                s = float(shares[j + 1])
                if s != 0.0:
                    u = u + self.b[:, j] * s
        return {n: float(turns_per_s * x) for n, x in zip(self.names, u, strict=True)}


def path_links(scenario: Scenario, mode: str) -> PathLinks:
    """:class:`PathLinks` of ``mode``: the topology's byte resources with finite capacity and any
    demand, from the one composition path (:meth:`dpmodel.scenario.Scenario.demands`)."""
    d = scenario.demands(dataclasses.replace(MODES[mode], layerwise=True))
    io = scenario.topology.io_names
    names, a, b, ak, bk = [], [], [], [], []
    n_alt = max(len(d.paths) - 1, 0)
    K = len(d.weights)
    for i, name in enumerate(d.names):
        if name not in io or not math.isfinite(d.capacity[i]):
            continue
        c0 = float(d.coef[i, :, 0] @ d.weights)  # one turn's demand on the first path
        c1 = np.array([float((d.coef[i, :, p] - d.coef[i, :, 0]) @ d.weights) if d.de_path else 0.0 for p in range(1, n_alt + 1)])
        if c0 == 0 and not np.any(c1):
            continue
        names.append(name)
        a.append(c0 / d.capacity[i])
        b.append(np.asarray(c1, float) / d.capacity[i])
        ak.append(d.coef[i, :, 0] * d.weights / d.capacity[i])
        slope = (d.coef[i, :, 1:] - d.coef[i, :, :1]) if d.de_path else np.zeros((K, n_alt))
        bk.append(slope * d.weights[:, None] / d.capacity[i])
    R = len(names)
    return PathLinks(
        tuple(names),
        np.array(a, float),
        np.array(b, float).reshape(R, n_alt),
        np.array(ak, float).reshape(R, K),
        np.array(bk, float).reshape(R, K, n_alt),
    )
