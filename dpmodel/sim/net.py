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
that link. Each link's next completion sits in one heap (stale entries skipped by version); the
earliest valid one is ``FluidNet.next_t``, which the simulator's event loop (:mod:`dpmodel.sim.loop`)
compares with SimPy's queue and serves by calling :meth:`FluidNet.fire`: no SimPy timer per
completion (and none superseded). At a tie SimPy's events at that instant go first. A network run
by SimPy's own ``env.run()`` (``loop_driven`` false, as built) arms one SimPy timer at the earliest
completion instead, superseded ones skipped.
"""

from __future__ import annotations

import heapq
import math

import simpy
from simpy.events import Event, Timeout


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
        self.size = nbytes + 0.0  # a float
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
        self.next_t = math.inf  # the earliest valid completion (the event loop serves it)
        self.fires = 0  # completion instants served (each one event of the simulation)
        self.loop_driven = False  # set by dpmodel.sim.loop.run, which serves next_t itself
        self._timer_at = math.inf  # else: the SimPy timer armed, and its id
        self._timer_id = 0

    def link(self, name: str, cap_Bps: float) -> Link:
        if name in self.links:
            raise ValueError(f"duplicate link {name!r}")
        L = Link(name, cap_Bps)
        self.links[name] = L
        return L

    # ---- flows -------------------------------------------------------------------------------
    @staticmethod
    def route(uses: list[tuple[Link, float]]) -> tuple[tuple[Link, ...], tuple[float, ...]]:
        """``uses`` = [(link, weight), ...] as the (links, weights) a flow crosses: weight > 0 and
        finite capacity only (a link of infinite capacity never binds). Build once, reuse with
        :meth:`flow`."""
        links, ws = [], []
        for L, w in uses:
            if w > 0 and L.finite:
                links.append(L)
                ws.append(w)
        return tuple(links), tuple(ws)

    def transfer(self, nbytes: float, uses: list[tuple[Link, float]]) -> simpy.Event:
        """Start moving ``nbytes`` over ``uses`` = [(link, weight), ...]; the event fires when done."""
        return self.flow(nbytes, *self.route(uses))

    def flow(self, nbytes: float, links: tuple[Link, ...], ws: tuple[float, ...]) -> simpy.Event:
        """:meth:`transfer` over a :meth:`route` built beforehand."""
        ev = Event(self.env)
        if nbytes <= 0 or not links:
            ev.succeed()
            return ev
        now = self.env._now
        fl = Flow(nbytes, links, ws, ev)
        dirty: dict[Link, None] = {}
        for L, w in zip(links, ws, strict=False):
            if L.flows:  # advance the clock (and busy time) at the old share
                L.V += L.share * (now - L.tV)
                L.busy_s += now - L.t_mark
            L.tV = L.t_mark = now
            L.flows[fl] = w
            L.W += w
            L.share = L.cap / L.W
            dirty[L] = None
        # the shares of these links fell: a flow bound elsewhere but now faster than one of them
        # moves to it (its bottleneck is now at most this link's share, below its old one: it
        # always moves; the re-binding of :meth:`_bind`, inlined)
        push = heapq.heappush
        for L in fl.links:
            s = L.share
            for f in L.flows:
                b = f.b
                if b is not L and b is not None and b.share > s:
                    fls = f.links
                    m = fls[0]
                    for L2 in fls:
                        if L2.share < m.share:
                            m = L2
                    rem = f.F - (b.V + b.share * (now - b.tV) if b.flows else b.V)
                    dirty[b] = None
                    f.b = m
                    f.F = (m.V + m.share * (now - m.tV) if m.flows else m.V) + (0.0 if rem < 0.0 else rem)
                    f.ver += 1
                    self._seq += 1
                    push(m.bucket, (f.F, self._seq, f, f.ver))
                    dirty[m] = None
        # bind the new flow to its bottleneck (:meth:`_bind` with its whole size, inlined)
        m = links[0]
        for L2 in links:
            if L2.share < m.share:
                m = L2
        rem = float(nbytes)
        fl.b = m
        fl.F = (m.V + m.share * (now - m.tV) if m.flows else m.V) + (0.0 if rem < 0.0 else rem)
        fl.ver += 1
        self._seq += 1
        push(m.bucket, (fl.F, self._seq, fl, fl.ver))
        dirty[m] = None
        self._reschedule(dirty, now)
        return ev

    def tally(self, nbytes: float, links: tuple[Link, ...]) -> None:
        """Count ``nbytes`` on ``links`` without moving them through those links: traffic that gates
        nothing in the simulation, or links that cannot bind (kept for utilization)."""
        for L in links:
            L.bytes_done += nbytes

    def backlog_bytes(self, link: Link) -> float:
        """Bytes still to move of the flows now on ``link`` (their whole remaining size)."""
        now = self.env._now
        tot = 0.0
        for f in link.flows:  # f.rem(now), inlined
            b = f.b
            tot += f.F - (b.V + b.share * (now - b.tV) if b.flows else b.V)
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
        seq = self._seq
        for L in dirty:
            bk = L.bucket
            while bk:
                top = bk[0]
                f = top[2]
                if f.ver == top[3] and f.b is L:
                    break
                pop(bk)
            L.ver += 1
            if bk:
                seq += 1
                x = bk[0][0] - (L.V + L.share * (now - L.tV))  # bound flows: the link has flows
                push(heap, (now + (0.0 if x < 0.0 else x) / L.share, seq, L, L.ver))  # max(x, 0.0)
        self._seq = seq
        # the earliest valid completion, for the event loop (stale entries skipped by version)
        while heap and heap[0][3] != heap[0][2].ver:
            pop(heap)
        self.next_t = t = heap[0][0] if heap else math.inf
        if not self.loop_driven and t < self._timer_at:
            self._timer_at = t
            self._timer_id += 1
            d = t - now
            tm = Timeout(self.env, 0.0 if d < 0.0 else d)
            tm.tid = self._timer_id
            tm.callbacks.append(self._on_timer)

    def _on_timer(self, tm: Timeout) -> None:
        if tm.tid == self._timer_id:  # else a timer superseded by an earlier one
            self.fire()

    def fire(self) -> None:
        """Finish the flows due now (the event loop calls it at :attr:`next_t`, with the clock set)."""
        self.fires += 1
        self._timer_at = math.inf
        now = self.env._now
        h = self._heap
        pop = heapq.heappop
        done: list[Flow] = []
        dirty: dict[Link, None] = {}
        # simulated time is a float: completions due within a nanosecond of now count as due
        due = now + 1e-9
        while h and h[0][0] <= due:
            _t, _s, L, ver = pop(h)
            if ver != L.ver:
                continue
            dirty[L] = None
            v = (L.V + L.share * (now - L.tV) if L.flows else L.V) + L.share * 1e-9
            bk = L.bucket
            while bk:
                top = bk[0]
                f = top[2]
                if top[0] <= v or f.ver != top[3] or f.b is not L:
                    pop(bk)
                    if top[3] == f.ver and f.b is L and f.ev is not None:
                        done.append(f)
                        f.ver += 1  # its other entries are stale now
                else:
                    break
        if not done:
            self._reschedule(dirty, now)
            return
        grown: dict[Link, None] = {}
        for f in done:
            for L, w in zip(f.links, f.ws, strict=False):  # the same length by construction
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
        push = heapq.heappush
        for L in grown:  # the re-binding of :meth:`_bind`, inlined
            for g in L.flows:
                if g.b is L:
                    gls = g.links
                    m = gls[0]
                    for L2 in gls:
                        if L2.share < m.share:
                            m = L2
                    if m is L or m.share >= L.share:
                        continue
                    rem = g.F - (L.V + L.share * (now - L.tV) if L.flows else L.V)
                    dirty[L] = None
                    g.b = m
                    g.F = (m.V + m.share * (now - m.tV) if m.flows else m.V) + (0.0 if rem < 0.0 else rem)
                    g.ver += 1
                    self._seq += 1
                    push(m.bucket, (g.F, self._seq, g, g.ver))
                    dirty[m] = None
        for f in done:
            ev, f.ev = f.ev, None
            ev.succeed()
        self._reschedule(dirty, now)
