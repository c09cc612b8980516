"""Discrete-event simulator (SimPy) of the serving cycle, to check the analytic models.

Simulated per turn: the hit-KV read as a transfer on the chosen node's storage NICs (a fluid
processor-sharing link per node: n transfers each get 1/n of it), prefill on the prefill GPUs
(``P g`` servers, FCFS), decode on the decode slots (``D g`` x the HBM-limited batch per GPU, the
step time following the batch in decode). The paper's Basic holds the GPU while the KV loads;
with layerwise loading the GPU is taken only for compute (other turns compute while this one
loads). Compute-NIC and DRAM links are not simulated (the analytic model checks them; they do not
bind in the scenarios cross-checked). Seeded and deterministic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from .. import compute
from ..errors import ScenarioError
from ..scenario import MODES, Scenario

EPS_BYTES = 1e-3


class PSLink:
    """A fluid processor-sharing bandwidth link."""

    def __init__(self, env: simpy.Environment, capacity_Bps: float, name: str):
        self.env, self.cap, self.name = env, float(capacity_Bps), name
        self.active: dict[int, list] = {}
        self.last = 0.0
        self.version = 0
        self.next_id = 0
        self.busy_s = 0.0
        self.bytes_done = 0.0

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self.last
        if dt > 0 and self.active:
            share = self.cap / len(self.active) * dt
            for rec in self.active.values():
                rec[0] -= share
            self.busy_s += dt
            self.bytes_done += self.cap * dt
        self.last = now

    def _schedule(self) -> None:
        self.version += 1
        if not self.active:
            return
        rem = min(r[0] for r in self.active.values())
        t = max(rem, 0.0) / (self.cap / len(self.active))
        v = self.version
        self.env.timeout(t).callbacks.append(lambda _e, v=v: self._fire(v))

    def _fire(self, v: int) -> None:
        if v != self.version:
            return
        self._advance()
        # what is left below one nanosecond of transfer counts as done (simulated time is a float:
        # near t = 1e3 s it cannot resolve steps much below 1e-13 s)
        tol = max(EPS_BYTES, self.cap / max(len(self.active), 1) * 1e-9)
        done = [k for k, r in self.active.items() if r[0] <= tol]
        for k in done:
            self.active.pop(k)[1].succeed()
        self._schedule()

    def transfer(self, nbytes: float) -> simpy.Event:
        ev = self.env.event()
        if nbytes <= 0:
            ev.succeed()
            return ev
        self._advance()
        self.active[self.next_id] = [float(nbytes), ev]
        self.next_id += 1
        self._schedule()
        return ev


@dataclass
class SimStats:
    turns_done: int = 0
    turn_times: list = field(default_factory=list)  # (start, first_token, end)
    de_bytes: float = 0.0
    all_bytes: float = 0.0
    events: int = 0


@dataclass(frozen=True)
class SimResult:
    mode: str
    agents: int
    seed: int
    horizon_s: float
    turns_per_s_sim: float
    jct_s_sim: float | None
    ttft_s_sim: dict[str, float]
    decode_side_read_frac_sim: float
    snic_balance_max_over_avg_sim: float
    utilization_sim: dict[str, float]
    littles_law: dict[str, float]
    events: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: read policies beyond the modes: each picks, per request, which share to read on the decode side
#: from the live storage-read backlogs (seconds of reading queued on each side's least-loaded node)
DYNAMIC_POLICIES = {
    "dualpath-queue": "whole request on the side with the shorter storage read queue (the paper's read-path rule)",
    "dualpath-split": "each request split across both sides to equalize their finish times (water-filling)",
    "dualpath-table": "each request's split looked up in a policy table (PolicyTable)",
}
POLICIES = (*MODES, *DYNAMIC_POLICIES)


class ServingSim:
    """The simulated cluster for one scenario and policy (a mode, or a dynamic read policy)."""

    def __init__(self, scenario: Scenario, mode: str, seed: int = 0, de_frac: float | None = None, policy_table=None):
        if mode not in POLICIES:
            raise ScenarioError(f"unknown policy {mode!r}: use one of {', '.join(POLICIES)}")
        self.policy = mode
        if mode == "dualpath-table" and policy_table is None:
            raise ScenarioError("policy 'dualpath-table' needs a policy table (--policy-table FILE)")
        self.table = policy_table
        mode = "dualpath" if mode in DYNAMIC_POLICIES else mode
        self.sc, self.mode = scenario, MODES[mode]
        cl, dep = scenario.cluster, scenario.deployment
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.P, self.D, self.g = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node
        self.pe_snic = [PSLink(self.env, cl.snic_read_Bps_per_node, f"pe{i}.snic") for i in range(self.P)]
        self.de_snic = [PSLink(self.env, cl.snic_read_Bps_per_node, f"de{i}.snic") for i in range(self.D)]
        self.gpus = simpy.Resource(self.env, capacity=self.P * self.g)
        dec = scenario.decode_capacity()
        self.dec = dec
        self.slots = max(1, int(math.floor(dec["batch_seqs_per_gpu"] * self.g * self.D)))
        self.decode = simpy.Resource(self.env, capacity=self.slots)
        self.in_decode = 0
        self.b = scenario.model.kv_bytes_per_token
        self.peak = cl.peak_flops_per_s_per_gpu(scenario.model.numerics.compute_dtype) * dep.prefill_efficiency_frac
        if de_frac is None:
            de_frac = 0.0
            if self.mode.de_path and self.policy == "dualpath":
                from ..plan import analyse_mode

                de_frac = analyse_mode(scenario, mode).split_de_frac
        self.de_frac = float(de_frac)
        self.stats = SimStats()
        self.gpu_busy = 0.0
        self.dec_area = 0.0
        self.dec_last = 0.0
        self.dec_entries = 0
        self.dec_time_sum = 0.0

    # ---- one turn -----------------------------------------------------------------------------
    def _least_loaded(self, links: list[PSLink]) -> PSLink:
        return min(links, key=lambda L: (len(L.active), L.name))

    @staticmethod
    def _backlog_s(link: PSLink) -> float:
        link._advance()
        return sum(r[0] for r in link.active.values()) / link.cap

    def _read(self, H: float, hit_tokens: float, use_de: bool):
        """The hit-KV read of one request under the policy; returns the decode-side bytes."""
        if self.policy not in DYNAMIC_POLICIES:
            link = self._least_loaded(self.de_snic if use_de else self.pe_snic)
            yield link.transfer(H)
            return H if use_de else 0.0
        pe, de = self._least_loaded(self.pe_snic), self._least_loaded(self.de_snic)
        bp, bd = self._backlog_s(pe), self._backlog_s(de)
        if self.policy == "dualpath-queue":
            f = 1.0 if bd < bp else 0.0
        elif self.policy == "dualpath-split":
            from ..policy.split import optimal_split

            f = float(optimal_split(hit_bytes=H, pe_backlog_s=bp, de_backlog_s=bd, pe_Bps=pe.cap, de_Bps=de.cap))
        else:
            f = float(self.table.lookup(hit_tokens=float(hit_tokens), pe_backlog_s=bp, de_backlog_s=bd))
        parts = []
        if f < 1:
            parts.append(pe.transfer((1 - f) * H))
        if f > 0:
            parts.append(de.transfer(f * H))
        yield self.env.all_of(parts)
        return f * H

    def _decode_step_s(self, batch_per_gpu: float) -> float:
        dep, cl = self.sc.deployment, self.sc.cluster
        return float(compute.decode_step_s(batch_seqs=max(batch_per_gpu, 1.0 / self.g), seq_kv_bytes=self.dec["seq_kv_bytes"],
                                           weight_bytes_per_gpu=self.dec["weight_bytes_per_gpu"], hbm_Bps=cl.hbm_Bps_per_gpu,
                                           hbm_efficiency_frac=dep.decode_hbm_efficiency_frac, step_overhead_s=dep.decode_step_overhead_s))

    def _dec_account(self, delta: int) -> None:
        now = self.env.now
        self.dec_area += self.in_decode * (now - self.dec_last)
        self.dec_last = now
        self.in_decode += delta

    def turn(self, hit_tokens: float, append_tokens: float, generated_tokens: float, prefill_flops: float):
        env, st = self.env, self.stats
        t0 = env.now
        H = hit_tokens * self.b if self.mode.kv_io else 0.0
        use_de = self.mode.de_path and self.rng.random() < self.de_frac
        t_comp = prefill_flops / self.peak
        hold = not self.mode.layerwise
        if hold:
            req = self.gpus.request()
            yield req
            g0 = env.now
            # the read side's least-loaded node is chosen when the read starts
            de_bytes = yield from self._read(H, hit_tokens, use_de)
            yield env.timeout(t_comp)
            self.gpus.release(req)
            self.gpu_busy += env.now - g0
        else:
            de_bytes = yield from self._read(H, hit_tokens, use_de)
            req = self.gpus.request()
            yield req
            g0 = env.now
            yield env.timeout(t_comp)
            self.gpus.release(req)
            self.gpu_busy += env.now - g0
        t_first = env.now
        st.all_bytes += H
        st.de_bytes += de_bytes
        dreq = self.decode.request()
        yield dreq
        self._dec_account(+1)
        d0 = env.now
        yield env.timeout(generated_tokens * self._decode_step_s(self.decode.count / (self.g * self.D)))
        self._dec_account(-1)
        self.dec_entries += 1
        self.dec_time_sum += env.now - d0
        self.decode.release(dreq)
        st.turns_done += 1
        st.turn_times.append((t0, t_first, env.now))

    def agent(self, turns: list[tuple[float, float, float, float]]):
        for c, a, o, f in turns:
            yield from self.turn(c, a, o, f)

    def link_stats(self) -> tuple[dict[str, float], float]:
        now = self.env.now
        util = {}
        loads = []
        for L in self.pe_snic + self.de_snic:
            L._advance()
            util[L.name] = L.busy_s / now if now > 0 else 0.0
            loads.append(L.bytes_done)
        util["pe.gpu"] = self.gpu_busy / (now * self.P * self.g) if now > 0 else 0.0
        self._dec_account(0)
        util["de.slots"] = self.dec_area / (now * self.slots) if now > 0 else 0.0
        used = [x for x in loads if x > 0]
        balance = max(used) / (sum(used) / len(used)) if used else 1.0
        return util, balance
