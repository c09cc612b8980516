"""Queueing kernels: Erlang C (M/M/c) and the least-loaded dispatch correction built on it.

Pure functions of numbers (no scenario): the open model (:mod:`.open_model`) and the tests use them.
"""

from __future__ import annotations

import math


def erlang_c_prob(*, offered: float, servers: int) -> float:
    """Probability that an arrival finds all ``servers`` busy in an M/M/c queue with ``offered``
    load (in servers; Erlang C); 1 when unstable."""
    a, c = float(offered), int(servers)
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    b = 1.0  # Erlang B by its stable recursion, then C
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def erlang_c_wait_s(*, arrival_per_s: float, service_s: float, servers: int) -> float:
    """Mean waiting time in an M/M/c queue (Erlang C); inf when unstable."""
    if service_s <= 0 or arrival_per_s <= 0:
        return 0.0
    a = arrival_per_s * service_s  # offered load in servers
    if a >= int(servers):
        return math.inf
    return erlang_c_prob(offered=a, servers=servers) * service_s / (int(servers) - a)


def least_loaded_wait_frac(*, engines: int, busy_frac: float, pending_turns: float) -> float:
    """Share of the random-dispatch wait for the running batch left when each turn goes to the
    engine holding the least work (an approximation, checked against the simulator).

    With random dispatch a turn can meet a running batch whenever its engine holds work; with
    least-loaded dispatch only when every engine does. An engine holds work when it is busy or a
    turn sent to it is still reading (``pending_turns`` per engine on average, Poisson), so it is
    empty with probability ``(1 - busy) exp(-pending)``; the chance that all ``engines`` hold work
    is taken as Erlang C at that occupancy, and the wait scales by it over the one engine's
    occupancy (1 for a single engine)."""
    occ = 1.0 - (1.0 - min(max(busy_frac, 0.0), 1.0)) * math.exp(-max(pending_turns, 0.0))
    c = max(int(round(engines)), 1)
    if c == 1 or occ <= 0:
        return 1.0 if c == 1 else 0.0
    return min(erlang_c_prob(offered=c * occ, servers=c) / occ, 1.0)
