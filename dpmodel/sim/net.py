"""Fluid bandwidth-sharing network for the simulator.

A transfer (a *flow*) crosses one or more links at once (a pipelined copy: storage NIC -> DRAM ->
compute NIC ...). On each link it consumes ``weight`` bytes of link capacity per byte moved (a
half-duplex DRAM read plus write counts 2). Each link divides its capacity equally among the
weighted flows on it (``share = cap / sum(weights)`` per unit weight), and a flow moves at the
smallest share among its links (bottleneck share; capacity a flow cannot use on a link because it
is slower elsewhere is not redistributed -- the simple, conservative form of processor sharing).
With one link this is exactly a processor-sharing server.

How it is computed (exactly, with few operations per event): every link keeps a *virtual clock*
``V``, the bytes one of its flows would have moved at its share, ``dV/dt = share``. A flow is bound
to its bottleneck link and stored there by its finish mark ``F`` (``V`` at the start of its binding
plus its remaining bytes): it is done when that link's clock reaches ``F``. A start or an end
changes the shares of the links of that flow only; the flows bound there keep their marks (only the
link's next completion moves), and a flow is re-bound only when another of its links becomes its
bottleneck -- after a start, a flow faster than the link's new share; after an end, a flow bound to
that link. Each link's next completion sits in one heap, with one SimPy timer armed at the earliest;
stale entries are skipped by version.
"""

from __future__ import annotations

import heapq
import math

import simpy


class Link:
    __slots__ = ("name", "cap", "finite", "flows", "W", "share", "V", "tV", "bucket", "ver", "busy_s", "bytes_done", "t_mark")

    def __init__(self, name: str, cap: float):
        self.name, self.cap = name, float(cap)
        self.finite = math.isfinite(self.cap)  # a link of infinite capacity is left out of flows
        self.flows: dict[Flow, float] = {}  # flow -> weight
        self.W = 0.0
        self.share = math.inf  # cap / W: the rate of a flow bound here
        self.V = 0.0  # virtual clock at time tV
        self.tV = 0.0
        self.bucket: list = []  # heap of (F, seq, flow, flow version) for the flows bound here
        self.ver = 0
        self.busy_s = 0.0
        self.bytes_done = 0.0  # bytes of flows finished (or tallied); see FluidNet.link_bytes
        self.t_mark = 0.0

    def vnow(self, now: float) -> float:
        return self.V + self.share * (now - self.tV) if self.flows else self.V

    def _advance(self, now: float) -> None:
        """Bring the clock (and busy time) to ``now`` before the share changes."""
        if self.flows:
            self.V += self.share * (now - self.tV)
            self.busy_s += now - self.t_mark
        self.tV = self.t_mark = now


class Flow:
    __slots__ = ("size", "links", "ws", "ev", "b", "F", "ver")

    def __init__(self, nbytes: float, links: tuple[Link, ...], ws: tuple[float, ...], ev: simpy.Event):
        self.size = float(nbytes)
        self.links, self.ws, self.ev = links, ws, ev
        self.b: Link | None = None  # the link it is bound to (its bottleneck)
        self.F = 0.0
        self.ver = 0

    def rem(self, now: float) -> float:
        return self.F - self.b.vnow(now)


class FluidNet:
    """Links and the flows on them, inside one SimPy environment."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.links: dict[str, Link] = {}
        self._heap: list = []  # (time, seq, link, link version): each link's next completion
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
        uses = [(L, w) for L, w in uses if w > 0 and L.finite]
        if nbytes <= 0 or not uses:
            ev.succeed()
            return ev
        now = self.env.now
        fl = Flow(nbytes, tuple(L for L, _ in uses), tuple(w for _, w in uses), ev)
        dirty: dict[Link, None] = {}
        for L, w in uses:
            if L.flows:  # advance the clock (and busy time) at the old share
                L.V += L.share * (now - L.tV)
                L.busy_s += now - L.t_mark
            L.tV = L.t_mark = now
            L.flows[fl] = w
            L.W += w
            L.share = L.cap / L.W
            dirty[L] = None
        # the shares of these links fell: a flow bound elsewhere but now faster than one of them
        # moves to it
        for L in fl.links:
            s = L.share
            for f in L.flows:
                b = f.b
                if b is not None and b is not L and b.share > s:
                    self._bind(f, now, dirty)
        self._bind(fl, now, dirty, rem=float(nbytes))
        self._reschedule(dirty, now)
        return ev

    def tally(self, nbytes: float, links: tuple[Link, ...]) -> None:
        """Count ``nbytes`` on ``links`` without moving them through those links: traffic that gates
        nothing in the simulation, or links that cannot bind (kept for utilization)."""
        for L in links:
            L.bytes_done += nbytes

    def backlog_bytes(self, link: Link) -> float:
        """Bytes still to move of the flows now on ``link`` (their whole remaining size)."""
        now = self.env.now
        tot = 0.0
        for f in link.flows:
            tot += f.rem(now)
        return max(tot, 0.0)

    def link_bytes(self, link: Link) -> float:
        """Bytes ``link`` has carried up to now (weighted), including flows still on it."""
        now = self.env.now
        part = 0.0
        for f, w in link.flows.items():
            part += (f.size - f.rem(now)) * w
        return link.bytes_done + part

    def finish_accounting(self) -> None:
        """Bring every link's busy time up to now and fold the bytes of flows still moving into
        ``bytes_done`` (for utilization at the end of a run)."""
        now = self.env.now
        seen: dict[Flow, None] = {}
        for L in self.links.values():
            seen.update(dict.fromkeys(L.flows))
        for f in seen:
            r = f.rem(now)
            for L, w in zip(f.links, f.ws, strict=True):
                L.bytes_done += (f.size - r) * w
            f.size = r  # what is folded in is not counted again
        for L in self.links.values():
            L._advance(now)

    # ---- internals ---------------------------------------------------------------------------
    def _bind(self, f: Flow, now: float, dirty: dict, rem: float | None = None) -> None:
        """(Re-)bind ``f`` to its bottleneck link, keeping its remaining bytes."""
        m = f.links[0]
        for L in f.links:
            if L.share < m.share:
                m = L
        if rem is None:
            old = f.b
            if m is old or m.share >= old.share:
                return
            rem = f.F - old.vnow(now)
            dirty[old] = None
        f.b = m
        f.F = m.vnow(now) + max(rem, 0.0)
        f.ver += 1
        self._seq += 1
        heapq.heappush(m.bucket, (f.F, self._seq, f, f.ver))
        dirty[m] = None

    def _reschedule(self, dirty: dict, now: float) -> None:
        """Push the next completion of every link whose share or bound flows changed."""
        heap, pop, push = self._heap, heapq.heappop, heapq.heappush
        for L in dirty:
            bk = L.bucket
            while bk and (bk[0][2].ver != bk[0][3] or bk[0][2].b is not L):
                pop(bk)
            L.ver += 1
            if bk:
                self._seq += 1
                v = L.V + L.share * (now - L.tV)  # bound flows: the link has flows
                push(heap, (now + max(bk[0][0] - v, 0.0) / L.share, self._seq, L, L.ver))
        # arm the timer at the earliest valid completion (stale entries skipped by version)
        while heap and heap[0][3] != heap[0][2].ver:
            pop(heap)
        if heap and heap[0][0] < self._timer_at:
            t = heap[0][0]
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
        dirty: dict[Link, None] = {}
        # simulated time is a float: completions due within a nanosecond of now count as due
        while h and h[0][0] <= now + 1e-9:
            _t, _s, L, ver = heapq.heappop(h)
            if ver != L.ver:
                continue
            dirty[L] = None
            v = L.vnow(now) + L.share * 1e-9
            bk = L.bucket
            while bk and (bk[0][0] <= v or bk[0][2].ver != bk[0][3] or bk[0][2].b is not L):
                _F, _s2, f, fver = heapq.heappop(bk)
                if fver == f.ver and f.b is L and f.ev is not None:
                    done.append(f)
                    f.ver += 1  # its other entries are stale now
        if not done:
            self._reschedule(dirty, now)
            return
        grown: dict[Link, None] = {}
        for f in done:
            for L, w in zip(f.links, f.ws, strict=True):
                L.V += L.share * (now - L.tV)  # advance (it has flows: f)
                L.busy_s += now - L.t_mark
                L.tV = L.t_mark = now
                del L.flows[f]
                if L.flows:
                    L.W -= w
                    L.share = L.cap / L.W
                    grown[L] = None
                else:
                    L.W, L.share = 0.0, math.inf
                L.bytes_done += f.size * w
                dirty[L] = None
            f.b = None
        # these links' shares rose: a flow bound to one of them may now be held by another link
        for L in grown:
            for g in L.flows:
                if g.b is L:
                    self._bind(g, now, dirty)
        for f in done:
            ev, f.ev = f.ev, None
            ev.succeed()
        self._reschedule(dirty, now)
