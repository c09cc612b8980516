"""Fluid bandwidth-sharing network for the simulator.

A transfer (a *flow*) crosses one or more links at once (a pipelined copy: storage NIC -> DRAM ->
compute NIC ...). On each link it consumes ``weight`` bytes of link capacity per byte moved (a
half-duplex DRAM read plus write counts 2). Each link divides its capacity equally among the
weighted flows on it (``cap / sum(weights)`` per unit weight), and a flow moves at the smallest
share among its links (bottleneck share; capacity a flow cannot use on a link because it is slower
elsewhere is not redistributed -- the simple, conservative form of processor sharing). With one link
this is exactly a processor-sharing server.

Rates change only when a flow starts or ends, and only for flows sharing a link with it, so each
event touches those flows alone. Completions sit in one heap with one SimPy timer armed at the
earliest; stale entries are skipped by version.
"""

from __future__ import annotations

import heapq
import math

import simpy


class Link:
    __slots__ = ("name", "cap", "flows", "W", "busy_s", "bytes_done", "t_mark")

    def __init__(self, name: str, cap: float):
        self.name, self.cap = name, float(cap)
        self.flows: dict[Flow, float] = {}
        self.W = 0.0
        self.busy_s = 0.0
        self.bytes_done = 0.0
        self.t_mark = 0.0

    def _mark(self, now: float) -> None:
        if self.flows:
            self.busy_s += now - self.t_mark
        self.t_mark = now


class Flow:
    __slots__ = ("rem", "rate", "t", "uses", "ev", "ver", "due")

    def __init__(self, nbytes: float, uses: list[tuple[Link, float]], ev: simpy.Event, now: float):
        self.rem, self.uses, self.ev, self.t = float(nbytes), uses, ev, now
        self.rate = 0.0
        self.ver = 0
        self.due = math.inf


class FluidNet:
    """Links and the flows on them, inside one SimPy environment."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.links: dict[str, Link] = {}
        self._heap: list = []
        self._seq = 0
        self._timer_at = math.inf
        self._timer_id = 0

    def link(self, name: str, cap_Bps: float) -> Link:
        if name in self.links:
            raise ValueError(f"duplicate link {name!r}")
        L = Link(name, cap_Bps)
        self.links[name] = L
        return L

    # ---- flows -------------------------------------------------------------------------------
    def transfer(self, nbytes: float, uses: list[tuple[Link, float]]) -> simpy.Event:
        """Start moving ``nbytes`` over ``uses`` = [(link, weight), ...]; the event fires when done."""
        ev = self.env.event()
        uses = [(L, float(w)) for L, w in uses if w > 0 and math.isfinite(L.cap)]
        if nbytes <= 0 or not uses:
            ev.succeed()
            return ev
        now = self.env.now
        fl = Flow(nbytes, uses, ev, now)
        affected = self._neighbours(fl)
        for f in affected:
            self._settle(f, now)
        for L, w in uses:
            L._mark(now)
            L.flows[fl] = w
            L.W += w
        affected[fl] = None
        self._rerate(affected, now)
        return ev

    def backlog_bytes(self, link: Link) -> float:
        """Bytes still to move of the flows now on ``link`` (their whole remaining size)."""
        now = self.env.now
        tot = 0.0
        for f in link.flows:
            tot += f.rem - f.rate * (now - f.t)
        return max(tot, 0.0)

    def finish_accounting(self) -> None:
        """Bring every link's busy time and byte count up to now (for utilization)."""
        now = self.env.now
        seen: dict[Flow, None] = {}
        for L in self.links.values():
            for f in L.flows:
                seen[f] = None
            L._mark(now)
        for f in seen:
            self._settle(f, now)

    # ---- internals ---------------------------------------------------------------------------
    @staticmethod
    def _neighbours(fl: Flow) -> dict[Flow, None]:
        out: dict[Flow, None] = {}
        for L, _w in fl.uses:
            for f in L.flows:
                out[f] = None
        return out

    @staticmethod
    def _settle(f: Flow, now: float) -> None:
        dt = now - f.t
        if dt > 0:
            moved = f.rate * dt
            f.rem -= moved
            for L, w in f.uses:
                L.bytes_done += moved * w
            f.t = now

    def _rerate(self, flows: dict[Flow, None], now: float) -> None:
        for f in flows:
            rate = min(L.cap / L.W for L, _w in f.uses)
            if rate != f.rate or f.due == math.inf:
                f.rate = rate
                f.ver += 1
                f.due = now + max(f.rem, 0.0) / rate
                self._seq += 1
                heapq.heappush(self._heap, (f.due, self._seq, f.ver, f))
        self._arm(now)

    def _arm(self, now: float) -> None:
        h = self._heap
        while h and h[0][2] != h[0][3].ver:
            heapq.heappop(h)
        if not h:
            return
        t = h[0][0]
        if t < self._timer_at:
            self._timer_at = t
            self._timer_id += 1
            tid = self._timer_id
            self.env.timeout(max(t - now, 0.0)).callbacks.append(lambda _e, tid=tid: self._fire(tid))

    def _fire(self, tid: int) -> None:
        if tid != self._timer_id:
            return
        self._timer_at = math.inf
        now = self.env.now
        h = self._heap
        done: list[Flow] = []
        # simulated time is a float: entries due within a nanosecond of now count as due
        while h and h[0][0] <= now + 1e-9:
            _t, _s, ver, f = heapq.heappop(h)
            if ver == f.ver and f.ev is not None:
                done.append(f)
        if done:
            affected: dict[Flow, None] = {}
            for f in done:
                for g in self._neighbours(f):
                    affected[g] = None
            for g in affected:
                self._settle(g, now)
            for f in done:
                for L, w in f.uses:
                    L._mark(now)
                    del L.flows[f]
                    L.W -= w
                    if not L.flows:
                        L.W = 0.0
                affected.pop(f, None)
                ev, f.ev = f.ev, None
                f.ver += 1
                ev.succeed()
            self._rerate(affected, now)
        else:
            self._arm(now)
