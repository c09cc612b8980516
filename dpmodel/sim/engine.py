"""Discrete-event simulator (SimPy) of a DualPath-style PD cluster, to check the analytic models.

What is simulated (architecture.md section 8; the paper's Fig. 4 data path):

* **Links** (:mod:`dpmodel.sim.net`): one per unit of each byte resource of the scenario's
  topology (:attr:`Scenario.topology`, the LP's resources: ``pe.snic.read`` is one link per
  prefill node, ``pe0.snic.read`` ...; ``pe.cnic.read`` one per prefill GPU, ``pe0.g3.cnic.read``;
  ``store.read`` one for the cluster), at the resource's per-unit rate: per node the storage NIC
  (read and write), the DRAM (half duplex: reads and writes share it) and one compute NIC per GPU
  (read and write sides), plus the store's aggregate read and write bandwidth. A transfer is a
  pipelined flow over several links.
* **Load paths** come from the topology too: each path's legs (turn legs plus its own) are matched
  against the data paths the simulator times (:data:`PATH_KINDS`: a read through the prefill
  node's storage NICs, a read through the decode node's relayed over RDMA, or recomputing the hit
  KV on the prefill GPU); a path whose legs match none is refused with its name. A new path is a
  topology file, not code, as long as it is one of these (``dualpath-recompute`` adds recompute).
* **A turn** (one request): the scheduler picks a prefill engine (PE, one GPU), a decode engine (DE,
  one GPU) and the shares of the hit KV per path: ``f`` read on the decode side, ``r`` recomputed
  (its FLOPs added to the turn's prefill compute), the rest read on the prefill side. Its bytes
  move as in the flow table of architecture.md section 3:

  1. *read*: storage -> PE node SNIC -> PE DRAM buffer ((1 - f) H) and storage -> DE node SNIC ->
     DE DRAM buffer (f H), before the turn joins its PE's ready queue;
  2. *layerwise load*, during the prefill forward: PE DRAM -> PE CNIC -> HBM ((1 - f) H) and DE DRAM
     -> DE CNIC -> RDMA -> PE CNIC -> HBM (f H);
  3. *hand-off*, layer by layer during the same forward pass: PE HBM -> DE DRAM ((1 - f) H + A;
     only the miss KV when the decode side read the hit); then HBM admission on the DE, DE DRAM ->
     HBM (H + A); decode; then the new KV (A + O) is persisted through the DE SNIC (its bytes are
     counted on the write links; nothing waits for it).

  In ``basic`` (no layerwise prefill, no scheduler) the turn is bound to a random PE at arrival;
  the PE takes a batch from its own queue, reads the batch's KV all the way to HBM (one pipelined
  flow: storage -> SNIC -> DRAM -> CNIC -> HBM) while holding the GPU, then computes; the hand-off
  follows the forward pass.
* **Prefill engines** take FIFO batches whose predicted compute time fits the quota (the paper's
  300 ms; a turn larger than the quota runs alone, standing in for its chunks). With layerwise
  loading a batch ends when both its compute and its layerwise loads are done.
* **Decode engines** admit a sequence when its KV fits the free HBM (FIFO; and at most the
  TPOT-limited batch when a TPOT cap is set); a step costs the decode model's time at the engine's
  current batch and KV, fixed for the turn when it joins (continuous batching, one step time per
  turn).
* **Policies** (one decision interface, :meth:`ServingSim.decide`): see :data:`POLICIES`.

Seeded and deterministic: the same seed gives identical results.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import Event, Timeout

from ..errors import ScenarioError
from ..scenario import MODES, Scenario
from .net import FluidNet, Link

#: policy name -> (mode of the data path, what decides)
POLICIES: dict[str, str] = {
    "basic": "no layerwise prefill, no scheduler: turns bound to a random prefill engine at arrival; prefill-side reads",
    "layerwise": "layerwise prefill, no scheduler: random engines; prefill-side reads",
    "dualpath": "alias of dualpath-static",
    "dualpath-static": "least-loaded engines; each turn's load path drawn with the throughput LP's path shares (any topology)",
    "dualpath-paper": "the paper's scheduler: PE classes by read queue (alpha) and token cap (beta), DE two-phase "
    "assignment (Z = 1.05), whole turn read on the side with the shorter storage read queue",
    "dualpath-queue": "least-loaded engines; whole turn read on the side with the shorter storage read queue",
    "dualpath-split": "least-loaded engines; each turn split across both sides to equalize finish times (water-filling)",
    "dualpath-table": "least-loaded engines; each turn's split looked up in a policy table (PolicyTable)",
    "oracle": "no KV I/O at all (the paper's zero-I/O bound); least-loaded engines",
}
DYNAMIC_POLICIES = ("dualpath-queue", "dualpath-split", "dualpath-table", "dualpath-paper")
_MODE_OF = {p: ("dualpath" if p.startswith("dualpath") else p) for p in POLICIES}
#: the paper's A.4 settings: alpha = tokens readable in 3 s, beta = tokens one GPU prefills in 5 s; Z factor
PAPER_ALPHA_S, PAPER_BETA_S, PAPER_Z = 3.0, 5.0, 1.05
#: the data paths the simulator times (a topology path is matched to one by its legs)
PATH_KINDS: dict[str, str] = {
    "pe": "read through the prefill node's storage NICs into its DRAM, layerwise to the GPU",
    "de": "read through the decode node's storage NICs into its DRAM, relayed over RDMA to the prefill GPU",
    "recompute": "no bytes read: the prefill GPU recomputes the hit KV (its FLOPs added to the turn's prefill)",
}
#: the byte resources the simulator's flows use (the topology's names)
SIM_RESOURCES = (
    "store.read",
    "store.write",
    "pe.snic.read",
    "pe.dram",
    "pe.cnic.read",
    "pe.cnic.write",
    "de.snic.read",
    "de.snic.write",
    "de.dram",
    "de.cnic.read",
    "de.cnic.write",
)


def _kind_legs(kind: str) -> dict[str, tuple[float, float, float]]:
    """Bytes per unit of (hit, new, gen) KV that the simulator's flows of a turn on a path of
    ``kind`` put on each resource: the read, the layerwise load, the hand-off, the decode node's
    load and the persisted new KV (counted on the write links)."""
    legs: dict[str, list[float]] = {}

    def add(name, hit=0.0, new=0.0, gen=0.0):
        c = legs.setdefault(name, [0.0, 0.0, 0.0])
        c[0] += hit
        c[1] += new
        c[2] += gen

    if kind in ("pe", "de"):  # the read into the side's DRAM buffer, then the layerwise load
        add("store.read", hit=1)
        add(f"{kind}.snic.read", hit=1)
        add(f"{kind}.dram", hit=2)
        add(f"{kind}.cnic.read" if kind == "de" else "pe.cnic.read", hit=1)
        add("pe.cnic.write", hit=1)
    handed = 0.0 if kind == "de" else 1.0  # the hit KV the decode node lacks, from the PE's HBM
    for name in ("pe.cnic.read", "de.cnic.write", "de.dram"):  # the hand-off
        add(name, hit=handed, new=1)
    for name in ("de.dram", "de.cnic.read", "de.cnic.write"):  # DE DRAM -> HBM at admission
        add(name, hit=1, new=1)
    for name in ("de.snic.write", "store.write"):  # persisting the new KV
        add(name, new=1, gen=1)
    return {k: tuple(v) for k, v in legs.items()}


def path_kinds(topology) -> tuple[str, ...]:
    """Each of ``topology``'s load paths as one of :data:`PATH_KINDS`, matched by its legs (turn
    legs plus its own, every coefficient) and its ``recompute`` flag; :class:`ScenarioError`
    naming a path the simulator cannot time, or a resource it lacks."""
    names = topology.names
    missing = [n for n in SIM_RESOURCES if n not in names]
    if missing:
        raise ScenarioError(
            f"simulator: topology {topology.name!r} lacks the resource(s) {', '.join(missing)} its data paths use; "
            "add them to the topology file (see dpmodel/catalog/topologies/dualpath.toml)"
        )
    M = topology.leg_matrix()
    byte = [i for i, r in enumerate(topology.resources) if r.demand == "legs"]
    want = {}
    for kind in PATH_KINDS:
        legs = _kind_legs(kind)
        want[kind] = np.array([legs.get(names[i], (0.0, 0.0, 0.0)) for i in byte])
    out = []
    for j, p in enumerate(topology.paths):
        got = M[byte, j, :]
        kind = next((k for k in PATH_KINDS if (k == "recompute") == p.recompute and np.array_equal(got, want[k])), None)
        if kind is None:
            raise ScenarioError(
                f"simulator: topology {topology.name!r}, path {p.name!r}: its legs are not those of a data path the simulator "
                f"times ({'; '.join(f'{k}: {v}' for k, v in PATH_KINDS.items())}); keep its legs to one of these"
            )
        out.append(kind)
    return tuple(out)


@dataclass(eq=False, slots=True)
class Turn:
    agent: int
    hit: float  # tokens
    append: float
    gen: float
    flops: float
    t0: float = 0.0
    measured: bool = True
    pe: PrefillEngine | None = None
    de: DecodeEngine | None = None
    f: float = 0.0  # share of the hit KV read on the decode side
    comp_s: float = 0.0
    rflops: float = 0.0  # FLOPs to recompute the hit tokens' KV (prefill of c + a from scratch less a after c)
    r: float = 0.0  # share of the hit KV recomputed on the prefill GPU
    gpu: int = 0  # the prefill GPU (rank) within its engine's node
    t_ready: float = 0.0  # read done, queued at its prefill engine
    t_batch: float = 0.0  # its prefill batch starts
    done: simpy.Event | None = None
    hbm_bytes: float = 0.0


@dataclass
class TurnRecord:
    t0: list = field(default_factory=list)
    first: list = field(default_factory=list)
    second: list = field(default_factory=list)
    end: list = field(default_factory=list)
    tpot: list = field(default_factory=list)
    measured: list = field(default_factory=list)
    ready: list = field(default_factory=list)
    batch: list = field(default_factory=list)


def _all_done(env: simpy.Environment, evs: list[simpy.Event]) -> simpy.Event:
    """An event that fires once every event in ``evs`` has (a light ``env.all_of``: no values);
    the event itself when there is one."""
    if len(evs) == 1:
        return evs[0]
    done = env.event()
    left = [len(evs)]

    def one(_e):
        left[0] -= 1
        if left[0] == 0:
            done.succeed()

    for ev in evs:
        if ev.callbacks is None:  # already processed
            left[0] -= 1
        else:
            ev.callbacks.append(one)
    if left[0] == 0:
        done.succeed()
    return done


class PrefillEngine:
    """One prefill engine: ``e`` GPUs of a node that step in lock step (one GPU when e = 1)."""

    def __init__(self, sim: ServingSim, node: int, gpus: list[int]):
        self.sim, self.node, self.gpus = sim, node, gpus
        self.name = f"pe{node}.g{gpus[0]}" + (f"-{gpus[-1]}" if len(gpus) > 1 else "")
        self.rr = 0
        self.queue: deque[Turn] = deque()
        self.tok = 0.0  # unfinished tokens assigned
        self.seq = 0
        self.busy_s = 0.0
        self.wake: simpy.Event | None = None
        sim.env.process(self.run())

    def push(self, t: Turn) -> None:
        self.queue.append(t)
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def run(self):
        sim, env = self.sim, self.sim.env
        e = len(self.gpus)
        quota = sim.sc.deployment.prefill_quota_s * e  # each GPU's forward under the quota
        while True:
            if not self.queue:
                self.wake = env.event()
                yield self.wake
                self.wake = None
            batch = [self.queue.popleft()]
            tc = batch[0].comp_s
            while self.queue and tc + self.queue[0].comp_s <= quota:
                t = self.queue.popleft()
                batch.append(t)
                tc += t.comp_s
            for t in batch:  # data-parallel ranks of the engine take the batch's turns in turn
                t.gpu = self.gpus[self.rr % e]
                self.rr += 1
            tc /= e  # the engine's ranks share the batch (balanced, as the paper's intra-engine scheduler aims)
            g0 = env.now
            for t in batch:
                t.t_batch = g0
            if not sim.mode.layerwise and sim.mode.kv_io:
                yield _all_done(env, [sim.load_basic(t) for t in batch])
            evs = [Timeout(env, tc)]
            if sim.mode.layerwise and sim.mode.kv_io:
                evs += [e for t in batch for e in sim.load_layerwise(t)]
                evs += [sim.handoff(t) for t in batch]
            yield _all_done(env, evs)
            self.busy_s += env.now - g0
            for t in batch:
                self.tok -= t.hit + t.append
                self.seq -= 1
                t.done.succeed()
            sim.retry_waiting()


class DecodeEngine:
    def __init__(self, sim: ServingSim, node: int, gpu: int, budget_bytes: float, max_seqs: float):
        self.sim, self.node, self.gpu = sim, node, gpu
        self.name = f"de{node}.g{gpu}"
        self.budget, self.max_seqs = budget_bytes, max_seqs
        self.used = 0.0  # HBM bytes of admitted sequences
        self.active = 0
        self.tok = 0.0  # unfinished tokens assigned
        self.seq = 0
        self.reserved = 0.0  # HBM bytes of assigned, unfinished sequences
        self.waiting: deque = deque()
        self.area = 0.0  # integral of admitted sequences over time
        self.area_bytes = 0.0  # integral of their HBM bytes
        self.t_mark = 0.0

    def _account(self) -> None:
        now = self.sim.env.now
        self.area += self.active * (now - self.t_mark)
        self.area_bytes += self.used * (now - self.t_mark)
        self.t_mark = now

    def _fits(self, need: float) -> bool:
        return self.active == 0 or (self.used + need <= self.budget and self.active < self.max_seqs)

    def try_admit(self, need: float) -> bool:
        """Admit now if it fits (no event needed), else False."""
        if not self.waiting and self._fits(need):
            self._take(need)
            return True
        return False

    def admit(self, need: float) -> simpy.Event:
        """An event fired on admission (FIFO behind the sequences already waiting)."""
        ev = self.sim.env.event()
        if self.try_admit(need):
            ev.succeed()
        else:
            self.waiting.append((need, ev))
        return ev

    def _take(self, need: float) -> None:
        self._account()
        self.used += need
        self.active += 1

    def release(self, need: float) -> None:
        self._account()
        self.used -= need
        self.active -= 1
        while self.waiting and self._fits(self.waiting[0][0]):
            need2, ev = self.waiting.popleft()
            self._take(need2)
            ev.succeed()


class ServingSim:
    """The simulated cluster for one scenario and policy."""

    def __init__(
        self,
        scenario: Scenario,
        policy: str,
        seed: int = 0,
        split_de_frac: float | None = None,
        policy_table=None,
        snic_window_s: float = 10.0,
        read_concurrency: int = 32,
        lp_split=None,
        path_shares=None,
    ):
        # lp_split: the throughput LP's split of a scenario and mode (dpmodel.plan.lp_split, or
        # lp_path_shares: a vector of path shares on a k-path topology), the static split of the
        # dualpath policies when neither split_de_frac nor path_shares is given
        if policy not in POLICIES:
            raise ScenarioError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")
        if policy == "dualpath-table" and policy_table is None:
            raise ScenarioError("policy 'dualpath-table' needs a policy table (--policy-table FILE)")
        self.policy, self.table = policy, policy_table
        self.sc, self.mode = scenario, MODES[_MODE_OF[policy]]
        cl, dep = scenario.cluster, scenario.deployment
        self.env = env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.P, self.D, self.g = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node
        self.b = scenario.model.kv_bytes_per_token
        self.peak = scenario.prefill_rate_flops_per_s()
        net = self.net = FluidNet(env)
        topo = scenario.topology
        self.kinds = path_kinds(topo)
        self.path_names = topo.path_names
        # the links: one per unit of each byte resource, at its per-unit rate (the rate names of
        # dpmodel.topology.RATES, read from the scenario as the LP's composition does)
        rates = {
            "snic_read_Bps_per_node": scenario.snic_read_Bps_per_node,  # Full-Block read model
            "snic_write_Bps_per_node": scenario.snic_write_Bps_per_node,
            "cnic_kv_Bps_per_gpu": cl.cnic_kv_Bps_per_gpu,
            "dram_Bps_per_node": cl.dram_Bps_per_node,
            "store_read_Bps": cl.store_read_Bps,
            "store_write_Bps": cl.store_write_Bps,
        }
        self.res: dict[str, list] = {}  # resource name -> its link, its links per node, or per node and GPU
        for r in topo.resources:
            if r.demand != "legs":
                continue
            if r.rate not in rates:
                raise ScenarioError(f"simulator: resource {r.name!r} has rate {r.rate!r}, not a byte rate; use one of {', '.join(rates)}")
            cap = rates[r.rate]
            side, rest = r.name.split(".", 1)
            n = self.P if r.side == "prefill" else self.D
            if r.per == "cluster":
                self.res[r.name] = net.link(r.name, cap)
            elif r.per == "node":
                self.res[r.name] = [net.link(f"{side}{i}.{rest}", cap) for i in range(n)]
            else:
                self.res[r.name] = [[net.link(f"{side}{i}.g{k}.{rest}", cap) for k in range(self.g)] for i in range(n)]
        R = self.res
        self.store_r, self.store_w = R["store.read"], R["store.write"]
        # Every read also crosses a storage NIC, so with max-min sharing the store binds only when
        # its bandwidth is below the storage NICs' sum; otherwise its bytes are only counted (this
        # also keeps the bottleneck-share rule from throttling a lone read on an idle NIC when
        # many reads are in flight elsewhere).
        self.store_binds = cl.store_read_Bps < (self.P + self.D) * rates["snic_read_Bps_per_node"]
        self.pe_snic, self.de_snic, self.de_snic_w = R["pe.snic.read"], R["de.snic.read"], R["de.snic.write"]
        self.pe_dram, self.de_dram = R["pe.dram"], R["de.dram"]
        self.pe_cr, self.pe_cw = R["pe.cnic.read"], R["pe.cnic.write"]
        self.de_cr, self.de_cw = R["de.cnic.read"], R["de.cnic.write"]
        e = scenario.prefill_engine_gpus
        self.pes = [PrefillEngine(self, i, list(range(k, k + e))) for i in range(self.P) for k in range(0, self.g, e)]
        # storage reads in flight per storage NIC (the rest wait FIFO in the node's read queue)
        self.read_concurrency = read_concurrency
        self.read_inflight = {L.name: 0 for L in self.pe_snic + self.de_snic}
        self.read_wait: dict[str, deque] = {L.name: deque() for L in self.pe_snic + self.de_snic}
        self.read_queued = {L.name: 0.0 for L in self.pe_snic + self.de_snic}
        dec = scenario.decode_capacity()
        self.dec = dec
        # a decode step: k0 + k1 x the batch's KV bytes (the decode model, in plain floats)
        k0, per_seq = scenario.decode_affine_s()
        self._step_coef = (k0, per_seq / dec["seq_kv_bytes"])
        max_seqs = math.floor(dec["batch_seqs_per_gpu"]) if math.isfinite(dep.tpot_max_s) else math.inf
        self.des = [DecodeEngine(self, j, k, dec["hbm_kv_bytes_per_gpu"], max(max_seqs, 1)) for j in range(self.D) for k in range(self.g)]
        self.des_by_node = [[e for e in self.des if e.node == j] for j in range(self.D)]
        self.de_node_tok = [0.0] * self.D  # unfinished tokens assigned per decode node
        # the static policies' path shares (in the topology's path order): split_de_frac on the
        # decode-side read path and the rest on the first path, or a vector, or the LP's
        k = len(self.kinds)
        if path_shares is None and split_de_frac is None:
            split_de_frac = 0.0
            if self.mode.de_path and policy in ("dualpath", "dualpath-static"):
                if lp_split is None:
                    raise ScenarioError(
                        f"simulator: policy {policy!r} reads at a static split and none was given: pass split_de_frac= "
                        "or path_shares=, or lp_split=dpmodel.plan.lp_path_shares (or call it from dpmodel.serving)"
                    )
                got = lp_split(scenario, "dualpath")
                if np.ndim(got):
                    path_shares = got
                else:
                    split_de_frac = got
        if path_shares is None:
            f = float(split_de_frac)
            if not 0.0 <= f <= 1.0:
                raise ScenarioError(f"split_de_frac = {f!r}: must be in [0, 1] (the share of hit KV read on the decode side)")
            path_shares = [0.0] * k
            if f > 0:
                if "de" not in self.kinds:
                    raise ScenarioError(f"split_de_frac = {f}: topology {topo.name!r} has no decode-side read path")
                path_shares[self.kinds.index("de")] = f
            path_shares[0] += 1.0 - f
        shares = np.asarray(path_shares, float).reshape(-1)
        if len(shares) != k or not np.all(shares >= -1e-12) or abs(float(shares.sum()) - 1.0) > 1e-9:
            raise ScenarioError(
                f"path_shares = {shares.tolist()}: needs {k} shares >= 0 summing to 1, one per path of topology {topo.name!r} ({', '.join(self.path_names)})"
            )
        self.path_shares = [max(float(x), 0.0) for x in shares]
        # a turn's path: the last path whose reverse cumulative share exceeds one uniform draw (the
        # first path takes what the others leave); on two paths: the decode side when u < split
        self._draw = []
        acc = 0.0
        for j in range(k - 1, 0, -1):
            if self.path_shares[j] > 0:
                acc += self.path_shares[j]
                self._draw.append((acc, self.kinds[j]))
        self.split_de_frac = sum(s for s, kd in zip(self.path_shares, self.kinds, strict=True) if kd == "de")
        self.base_kind = self.kinds[0]  # the modes without a split (basic, layerwise) take the first path
        if self.mode.kv_io and self.base_kind == "de" and not self.mode.layerwise:
            raise ScenarioError(f"simulator: topology {topo.name!r}: mode basic reads on the first path, which is a decode-side read")
        self.needs_rflops = "recompute" in self.kinds
        self.kind_bytes = dict.fromkeys(PATH_KINDS, 0.0)  # hit KV bytes per kind of path
        # the paper's constants, in seconds of reading / of one GPU's prefill
        ks = scenario.classes()
        tok = sum(k.weight_frac * (k.hit_tokens + k.append_tokens) for k in ks)
        comp = sum(k.weight_frac * scenario.prefill_compute_s(k) for k in ks)
        self.beta_tokens = PAPER_BETA_S * tok / comp if comp > 0 else math.inf
        self.pe_waiting: deque = deque()
        self.rec = TurnRecord()
        self.de_bytes = 0.0
        self.all_bytes = 0.0
        self.gen_tokens = 0.0
        self.pe_key = [f"pe{i}" for i in range(self.P)]  # the buffers' names, built once
        self.de_key = [f"de{j}" for j in range(self.D)]
        self.buf = dict.fromkeys(self.pe_key, 0.0) | dict.fromkeys(self.de_key, 0.0)
        self.buf_peak = dict(self.buf)
        self.dec_entries = 0
        self.dec_open: dict[int, float] = {}
        self.dec_time_sum = 0.0
        self.snic_window_s = snic_window_s
        self.snic_samples: list[list[float]] = []
        self.stopped = False
        self.on_turn_done = None
        self._routes()

    # ---- data path ----------------------------------------------------------------------------
    def _buffer(self, node: str, delta: float) -> None:
        v = self.buf[node] + delta
        self.buf[node] = v
        if v > self.buf_peak[node]:
            self.buf_peak[node] = v

    def load_basic(self, t: Turn) -> simpy.Event:
        """Basic: the whole hit KV storage -> PE SNIC -> DRAM -> CNIC -> HBM, pipelined, GPU held
        (what is not recomputed)."""
        H = (t.hit * self.b) if not t.r else (1.0 - t.r) * t.hit * self.b
        i, k = t.pe.node, t.gpu
        return self.net.transfer(
            H, [*self._store(H), (self.pe_snic[i], 1), (self.pe_dram[i], 2), (self.pe_cr[i][k], 1), (self.pe_cw[i][k], 1)]
        )

    def _routes(self) -> None:
        """The links (and weights) of every flow a turn can start, built once (what
        :meth:`FluidNet.route` would make of them each time): per storage NIC the read, per
        prefill GPU the prefill-side layerwise load, per decode GPU the load into HBM; the
        decode-side load and the hand-off per pair of GPUs, as they are first used."""
        route, store = self.net.route, ([(self.store_r, 1.0)] if self.store_binds else [])
        self._rt_read = {
            L: route([*store, (L, 1), (D, 1)]) for L, D in zip(self.pe_snic + self.de_snic, self.pe_dram + self.de_dram, strict=True)
        }
        self._rt_lw_pe = [
            [route([(self.pe_dram[i], 1), (self.pe_cr[i][k], 1), (self.pe_cw[i][k], 1)]) for k in range(self.g)] for i in range(self.P)
        ]
        self._rt_dec = [
            [route([(self.de_dram[j], 1), (self.de_cr[j][m], 1), (self.de_cw[j][m], 1)]) for m in range(self.g)] for j in range(self.D)
        ]
        self._rt_lw_de: dict[tuple[int, int, int, int], tuple] = {}
        self._rt_hand: dict[tuple[int, int, int, int], tuple] = {}

    def _store(self, nbytes: float) -> list[tuple[Link, float]]:
        """The store's read link as a use of a read flow, or [] (bytes counted) when it cannot bind."""
        if self.store_binds:
            return [(self.store_r, 1.0)]
        self.net.tally(nbytes, (self.store_r,))
        return []

    def _read_one(self, nbytes: float, snic: Link, dram: Link) -> simpy.Event:
        """One storage read through the node's read queue: started now if fewer than
        ``read_concurrency`` are in flight on this storage NIC, else queued FIFO."""
        q = self.read_wait[snic.name]
        if self.read_inflight[snic.name] < self.read_concurrency and not q:
            return self._start_read(nbytes, snic, dram, None)
        done = self.env.event()
        q.append((nbytes, snic, dram, done))
        self.read_queued[snic.name] += nbytes
        return done

    def _start_read(self, nbytes: float, snic: Link, dram: Link, done: simpy.Event | None) -> simpy.Event:
        self.read_inflight[snic.name] += 1
        if not self.store_binds:  # the store's bytes only counted (:meth:`_store`)
            self.store_r.bytes_done += nbytes
        ev = self.net.flow(nbytes, *self._rt_read[snic])
        ev.callbacks.append(lambda _e: self._end_read(snic, done))
        return ev

    def _end_read(self, snic: Link, done: simpy.Event | None) -> None:
        self.read_inflight[snic.name] -= 1
        q = self.read_wait[snic.name]
        if q:
            nbytes, snic2, dram2, done2 = q.popleft()
            self.read_queued[snic.name] -= nbytes
            self._start_read(nbytes, snic2, dram2, done2)
        if done is not None:  # a read that waited in the queue: its own event
            done.succeed()

    def read(self, t: Turn) -> list[simpy.Event]:
        """Step 1: storage -> SNIC -> DRAM buffer, on each side by the turn's split (through the
        node's read queue: at most ``read_concurrency`` reads in flight per storage NIC)."""
        H = t.hit * self.b
        evs = []
        i, j = t.pe.node, t.de.node
        pe = 1 - t.f - t.r  # the prefill side's share (1 - f when nothing is recomputed)
        if pe * H > 0:
            self._buffer(self.pe_key[i], pe * H)
            evs.append(self._read_one(pe * H, self.pe_snic[i], self.pe_dram[i]))
        if t.f * H > 0:
            self._buffer(self.de_key[j], t.f * H)
            evs.append(self._read_one(t.f * H, self.de_snic[j], self.de_dram[j]))
        return evs

    def _free_after(self, ev: simpy.Event, node: str, nbytes: float) -> simpy.Event:
        ev.callbacks.append(lambda _e: self._buffer(node, -nbytes))
        return ev

    def load_layerwise(self, t: Turn) -> list[simpy.Event]:
        """Step 2, during the forward pass: each side's buffer -> the PE GPU's HBM."""
        H = t.hit * self.b
        i, k, j, m = t.pe.node, t.gpu, t.de.node, t.de.gpu
        evs = []
        pe = 1 - t.f - t.r
        if pe * H > 0:
            ev = self.net.flow(pe * H, *self._rt_lw_pe[i][k])
            evs.append(self._free_after(ev, self.pe_key[i], pe * H))
        if t.f * H > 0:
            rt = self._rt_lw_de.get((j, m, i, k))
            if rt is None:
                rt = self._rt_lw_de[j, m, i, k] = self.net.route([(self.de_dram[j], 1), (self.de_cr[j][m], 1), (self.pe_cw[i][k], 1)])
            ev = self.net.flow(t.f * H, *rt)
            evs.append(self._free_after(ev, self.de_key[j], t.f * H))
        return evs

    def handoff(self, t: Turn) -> simpy.Event:
        """The prompt KV the decode node lacks ((1 - f) H + A: what the prefill side read or
        recomputed, and the new KV) from the PE GPU to the DE buffer: layer by layer during the
        forward pass with layerwise prefill (the paper's Fig. 4a steps 5-7; only the miss KV when
        the decode side read the hit), after it in ``basic``."""
        H, A = t.hit * self.b, t.append * self.b
        nbytes = (1 - t.f) * H + A
        i, k, j, m = t.pe.node, t.gpu, t.de.node, t.de.gpu
        self._buffer(self.de_key[j], nbytes)
        rt = self._rt_hand.get((i, k, j, m))
        if rt is None:
            rt = self._rt_hand[i, k, j, m] = self.net.route([(self.pe_cr[i][k], 1), (self.de_cw[j][m], 1), (self.de_dram[j], 1)])
        return self.net.flow(nbytes, *rt)

    # ---- decisions ----------------------------------------------------------------------------
    def read_backlog_s(self, side: str, node: int) -> float:
        link = (self.pe_snic if side == "pe" else self.de_snic)[node]
        return (self.net.backlog_bytes(link) + self.read_queued[link.name]) / link.cap

    def _least(self, engines):
        return min(engines, key=lambda e: (e.tok, e.seq, e.name))

    def _paper_pe(self) -> PrefillEngine | None:
        alpha_s = PAPER_ALPHA_S
        beta = self.beta_tokens
        ok = [e for e in self.pes if not e.tok > beta]  # not C1 (overloaded)
        if not ok:
            return None
        # the least engine of all that are not overloaded is the answer when its node's read queue is
        # short (then it is the least of C2): one read-queue check instead of one per node (the keys
        # are unique, names included, so this is the same engine as the full classification below)
        best = self._least(ok)
        if self.read_backlog_s("pe", best.node) <= alpha_s:
            return best
        c2, c3 = [], []
        short: dict[int, bool] = {best.node: False}  # per node, computed only for a node with an engine not overloaded
        for e in ok:
            i = e.node
            s = short.get(i)
            if s is None:
                s = short[i] = self.read_backlog_s("pe", i) <= alpha_s
            (c2 if s else c3).append(e)
        if c2:
            return self._least(c2)
        if c3:
            return self._least(c3)
        return None

    def _paper_de(self, t: Turn) -> DecodeEngine:
        # phase 1: the node (group) with the smallest unfinished tokens
        tok = self.de_node_tok
        node = tok.index(min(tok))  # the first of the smallest: min(range(D), key=(tok[j], j)), in C
        group = self.des_by_node[node]
        need = t.hbm_bytes
        Z = PAPER_Z * (need / self.b + tok[node]) / len(group)
        room = [e for e in group if e.budget - e.reserved >= need]
        if room:
            low = [e for e in room if e.tok + need / self.b <= Z]
            if low:
                return min(low, key=lambda e: (e.seq, e.tok, e.name))
            return min(room, key=lambda e: (e.tok, e.name))
        return self._least(group)  # waits for HBM at admission

    def decide(self, t: Turn) -> bool:
        """Choose the turn's PE, DE and decode-side read share; False if it must wait (paper's C1)."""
        p = self.policy
        if p in ("basic", "layerwise"):
            t.pe = self.pes[int(self.rng.integers(len(self.pes)))]
            t.de = self.des[int(self.rng.integers(len(self.des)))]
            t.f = 0.0
            if self.base_kind != "pe" and self.mode.kv_io:  # the topology's first path
                self._take_kind(t, self.base_kind)
            return True
        if p == "dualpath-paper":
            pe = self._paper_pe()
            if pe is None:
                return False
            t.pe, t.de = pe, self._paper_de(t)
        else:
            t.pe, t.de = self._least(self.pes), self._least(self.des)
        if not self.mode.kv_io:
            t.f = 0.0
        elif p in ("dualpath", "dualpath-static"):
            u = self.rng.random()
            t.f = t.r = 0.0
            for acc, kind in self._draw:
                if u < acc:
                    self._take_kind(t, kind)
                    break
        else:
            bp, bd = self.read_backlog_s("pe", t.pe.node), self.read_backlog_s("de", t.de.node)
            H = t.hit * self.b
            if p in ("dualpath-queue", "dualpath-paper"):
                t.f = 1.0 if bd < bp else 0.0
            elif p == "dualpath-split":
                from ..read_split import optimal_split

                cap_p, cap_d = self.pe_snic[t.pe.node].cap, self.de_snic[t.de.node].cap
                t.f = float(optimal_split(hit_bytes=H, pe_backlog_s=bp, de_backlog_s=bd, pe_Bps=cap_p, de_Bps=cap_d))
            else:
                t.f = float(self.table.lookup(hit_tokens=float(t.hit), pe_backlog_s=bp, de_backlog_s=bd))
        return True

    def _take_kind(self, t: Turn, kind: str) -> None:
        """Put the whole of ``t``'s hit KV on a path of ``kind``."""
        if kind == "de":
            t.f, t.r = 1.0, 0.0
        elif kind == "recompute":
            t.f, t.r = 0.0, 1.0
        else:
            t.f, t.r = 0.0, 0.0

    def _assign(self, t: Turn) -> None:
        t.pe.tok += t.hit + t.append
        t.pe.seq += 1
        t.de.tok += t.hit + t.append + t.gen
        self.de_node_tok[t.de.node] += t.hit + t.append + t.gen
        t.de.seq += 1
        t.de.reserved += t.hbm_bytes

    def retry_waiting(self) -> None:
        while self.pe_waiting:
            t, ev = self.pe_waiting[0]
            if not self.decide(t):
                return
            self.pe_waiting.popleft()
            self._assign(t)
            ev.succeed()

    # ---- one turn -----------------------------------------------------------------------------
    def _step_s(self, de: DecodeEngine) -> float:
        """The decode model's step time (:func:`dpmodel.compute.decode_step_s`) at the engine's
        admitted batch: overhead + (weights + the batch's KV) / HBM bandwidth, in plain floats."""
        k0, k1 = self._step_coef
        return k0 + de.used * k1

    def turn(self, t: Turn):
        env = self.env
        t.t0 = env.now
        io = self.mode.kv_io
        t.comp_s = t.flops / self.peak
        t.hbm_bytes = (t.hit + t.append + t.gen) * self.b
        t.done = Event(env)
        if self.pe_waiting or not self.decide(t):
            ev = Event(env)
            self.pe_waiting.append((t, ev))
            yield ev
        else:
            self._assign(t)
        if t.r:  # recomputed hit KV: its FLOPs join the turn's prefill
            t.comp_s = (t.flops + t.r * t.rflops) / self.peak
        H = t.hit * self.b if io else 0.0
        A = t.append * self.b if io else 0.0
        if self.mode.layerwise and io:
            evs = self.read(t)
            if evs:
                yield _all_done(env, evs)
        t.t_ready = env.now
        t.pe.push(t)
        yield t.done
        t_first = env.now
        self.all_bytes += H
        self.de_bytes += t.f * H
        if t.r:
            self.kind_bytes["recompute"] += t.r * H
        de = t.de
        handoff = (1 - t.f) * H + A
        if io and handoff > 0 and not self.mode.layerwise:  # layerwise: sent during the forward pass
            yield self.handoff(t)
        if not de.try_admit(t.hbm_bytes):
            yield de.admit(t.hbm_bytes)
        d0 = env.now
        self.dec_open[id(t)] = d0
        if io and H + A > 0:
            yield self.net.flow(H + A, *self._rt_dec[de.node][de.gpu])
            self._buffer(self.de_key[de.node], -handoff)
        step = self._step_s(de)
        t_second = env.now + step
        yield Timeout(env, max(t.gen, 1.0) * step)
        de.release(t.hbm_bytes)
        self.dec_entries += 1
        self.dec_time_sum += env.now - d0
        del self.dec_open[id(t)]
        de.tok -= t.hit + t.append + t.gen
        self.de_node_tok[de.node] -= t.hit + t.append + t.gen
        de.seq -= 1
        de.reserved -= t.hbm_bytes
        self.gen_tokens += t.gen
        if io:  # persisting the new KV gates nothing here: its bytes are counted on the write links
            self.net.tally((t.append + t.gen) * self.b, (self.de_snic_w[de.node], self.store_w))
        r = self.rec
        r.t0.append(t.t0)
        r.first.append(t_first)
        r.second.append(t_second)
        r.end.append(env.now)
        r.tpot.append(step)
        r.measured.append(t.measured)
        r.ready.append(t.t_ready)
        r.batch.append(t.t_batch)
        if self.on_turn_done is not None:
            self.on_turn_done(t)

    def snic_sampler(self):
        links = self.pe_snic + self.de_snic
        last = [0.0] * len(links)
        while not self.stopped:
            yield self.env.timeout(self.snic_window_s)
            cur = [self.net.link_bytes(L) for L in links]
            self.snic_samples.append([c - p for c, p in zip(cur, last, strict=True)])
            last = cur

    # ---- results ------------------------------------------------------------------------------
    def utilization(self, horizon_s: float) -> dict[str, float]:
        """Mean utilization of every resource of the topology, by the LP's names in its order
        (a byte resource: bytes moved over capacity x time, the mean over its units; the prefill
        GPU time: the engines' busy share; the decode tokens: tokens generated over the decode
        GPUs' token capacity), then the simulator's own ``de.hbm`` (admitted KV over the HBM
        budget) and ``de.batch_seqs_mean`` (sequences admitted per decode GPU, a count)."""
        self.net.finish_accounting()
        T = max(horizon_s, 1e-12)
        out: dict[str, float] = {}
        for r in self.sc.topology.resources:
            if r.demand == "legs":
                x = self.res[r.name]
                links = [x] if isinstance(x, Link) else [L for row in x for L in (row if isinstance(row, list) else [row])]
                vals = [L.bytes_done / (L.cap * T) for L in links if math.isfinite(L.cap)]
                out[r.name] = float(np.mean(vals)) if vals else 0.0
            elif r.demand == "prefill_gpu_s":
                out[r.name] = float(np.mean([e.busy_s for e in self.pes])) / T
            elif r.demand == "generated_tokens":
                cap = self.dec["tokens_per_s_per_gpu"] * len(self.des)
                out[r.name] = self.gen_tokens / (cap * T) if cap > 0 else 0.0
        for e in self.des:
            e._account()
        out["de.hbm"] = float(np.mean([e.area_bytes / e.budget for e in self.des])) / T
        out["de.batch_seqs_mean"] = float(np.mean([e.area for e in self.des])) / T
        return out

    def path_shares_done(self) -> dict[str, float]:
        """Share of the hit KV of finished turns per load path (each kind's bytes on the first
        path of that kind)."""
        tot = self.all_bytes
        rec = self.kind_bytes["recompute"]
        by_kind = {"de": self.de_bytes, "recompute": rec, "pe": tot - self.de_bytes - rec}
        out = dict.fromkeys(self.path_names, 0.0)
        for name, kind in zip(self.path_names, self.kinds, strict=True):
            if by_kind.get(kind) is not None:
                out[name] = by_kind.pop(kind) / tot if tot else 0.0
        return out

    def snic_balance(self) -> float:
        """Mean over sliding windows of max/avg bytes per storage NIC (windows with traffic)."""
        vals = []
        for w in self.snic_samples:
            avg = sum(w) / len(w)
            if avg > 0:
                vals.append(max(w) / avg)
        return float(np.mean(vals)) if vals else 1.0

    def peak_buffer_GB(self) -> float:
        return max(self.buf_peak.values()) / 1e9 if self.buf_peak else 0.0
