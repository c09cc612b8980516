"""Mean value analysis (MVA) for closed queueing networks.

:func:`mva_exact` is the textbook exact recursion for single-class product-form networks of
load-independent queueing stations and delay stations (Reiser & Lavenberg 1980); it is the
reference the tests check against. :func:`mva_dpmodel` is the approximate recursion used for the
serving system (see its docstring for every approximation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def mva_exact(demands_s: ArrayLike, delay_s: float, population: int) -> dict[str, np.ndarray]:
    """Exact single-class MVA.

    Parameters
    ----------
    demands_s : service demand per visit-cycle at each queueing station [s]
    delay_s : total demand at delay (infinite-server) stations, i.e. think time [s]
    population : number of customers N >= 1

    Returns
    -------
    ``throughput_per_s`` (N,), ``cycle_s`` (N,) and ``queue`` (N, K): values for populations 1..N.
    """
    D = np.asarray(demands_s, float)
    if population < 1:
        raise ValueError("population must be >= 1")
    Q = np.zeros_like(D)
    X = np.zeros(population)
    R = np.zeros(population)
    Qs = np.zeros((population, len(D)))
    for m in range(1, population + 1):
        Ri = D * (1.0 + Q)
        cyc = Ri.sum() + delay_s
        x = m / cyc
        Q = x * Ri
        X[m - 1], R[m - 1], Qs[m - 1] = x, cyc, Q
    return {"throughput_per_s": X, "cycle_s": R, "queue": Qs}


@dataclass(frozen=True)
class Station:
    """A station of the serving network.

    ``servers`` = 1 is a processor-sharing bandwidth resource; ``servers`` = c > 1 a multi-server
    station (GPUs, decode slots) treated with Seidmann's approximation: one queue of demand s/c plus
    a delay of s(c - 1)/c. ``group`` names how residences combine per cycle: stations in group
    "kv" are links of one pipelined transfer (a turn spends the *max* of them); "pe" is prefill
    compute; "kv" and "pe" overlap (max) when loading is layerwise; "dec" (decode) adds.
    """

    name: str
    service_s: float
    servers: float
    group: str


def mva_dpmodel(
    stations: list[Station],
    population: int,
    *,
    hold_frac: float = 0.0,
    decode_service_s: Callable[[float], float] | None = None,
) -> dict[str, np.ndarray]:
    """Approximate MVA of the serving cycle load -> prefill -> hand-off -> decode (zero think time).

    Approximations (stated, tested against the simulator in the simulator issue):

    * bandwidth links are processor-sharing single servers (exact MVA form);
    * GPUs and decode slots are multi-server stations (Seidmann);
    * a turn's KV transfer crosses several links at once (pipelined): its residence is the max of
      the links' residences, not the sum;
    * a turn's load and prefill overlap (layerwise loading): its front-end time is max(load, prefill);
      without layerwise loading (the paper's Basic) the GPU is *held* while the KV loads, so a share
      ``hold_frac`` of the load's residence (from the previous population) is added to the GPU's
      service time, which then also covers the load;
    * decode service depends on the decode batch: ``decode_service_s(q)`` gets the number of turns
      in decode at the previous population (fixed point as population grows).

    Returns throughput, cycle time and per-station queue lengths for populations 1..N.
    """
    n = len(stations)
    Q = np.zeros(n)  # turns at each station (queue part + delay part)
    Qq = np.zeros(n)  # turns at the queue part (Seidmann)
    X = np.zeros(population)
    Cyc = np.zeros(population)
    Qs = np.zeros((population, n))
    groups = np.array([s.group for s in stations])
    serv = np.array([s.service_s for s in stations], float)
    c = np.array([max(s.servers, 1.0) for s in stations], float)
    dec_idx = np.flatnonzero(groups == "dec")
    kv = groups == "kv"
    pe = groups == "pe"
    other = ~(kv | pe | (groups == "dec"))
    r_kv_prev = 0.0
    for m in range(1, population + 1):
        s = serv.copy()
        if hold_frac > 0:
            s[pe] += hold_frac * r_kv_prev
        if decode_service_s is not None and len(dec_idx):
            j = dec_idx[0]
            s[j] = decode_service_s(Q[j])
        # Seidmann: a queue of demand s/c (seeing its own queue) plus a delay of s(c - 1)/c
        queue_part = (s / c) * (1.0 + Qq)
        delay_part = s * (c - 1.0) / c
        R = queue_part + delay_part
        r_kv = R[kv].max() if kv.any() else 0.0
        r_pe = R[pe].sum()
        r_kv_prev = r_kv
        front = max(r_kv, r_pe)
        cyc = front + R[groups == "dec"].sum() + R[other].sum()
        x = m / cyc
        # Little's law per station; a link only holds a turn for its own residence
        Q = x * R
        Qq = x * queue_part
        X[m - 1], Cyc[m - 1], Qs[m - 1] = x, cyc, Q
    return {"throughput_per_s": X, "cycle_s": Cyc, "queue": Qs}


def drain_jct_s(turns_per_agent: ArrayLike, throughput_per_s: ArrayLike) -> float:
    """Job completion time of agents that start together and each need ``T_j`` turns.

    In a symmetric closed network every active agent advances at ``r(m) = X(m) / m`` turns per
    second when ``m`` are active. With turn counts sorted ``T_(1) <= ... <= T_(n)``, the phase
    between the (k-1)-th and k-th finish lasts ``(T_(k) - T_(k-1)) / r(n - k + 1)``: the JCT is the
    sum, which includes the drain of the longest trajectories at low concurrency.
    """
    T = np.sort(np.asarray(turns_per_agent, float))
    X = np.asarray(throughput_per_s, float)
    n = len(T)
    if len(X) < n:
        raise ValueError("need throughput for every population up to the number of agents")
    active = n - np.arange(n)  # agents active during phase k
    rate = X[active - 1] / active
    steps = np.diff(np.concatenate([[0.0], T]))
    return float(np.sum(steps / rate))
