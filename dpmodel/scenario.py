"""A scenario: cluster + model + workload + deployment, and the per-turn demands it implies.

This is the object layer: it composes the pure kernels of :mod:`dpmodel.compute`,
:mod:`dpmodel.flows` into per-resource demand coefficients and capacities for the models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import compute, flows
from .errors import ScenarioError
from .profiles import ClusterProfile, ModelSpec, WorkloadProfile, load_cluster, load_model

DEFAULT_CLUSTER = "dualpath-hopper"
DEFAULT_MODEL = "deepseek-v3.2"
DEFAULT_WORKLOAD = "agentic-64k"
DEFAULT_PREFILL_NODES = 2
DEFAULT_DECODE_NODES = 4


#: bounds of the deployment knobs (see Deployment.__post_init__)
MAX_NODES = 100_000
MIN_EFFICIENCY_FRAC = 0.01
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Mode:
    """How KV reaches the prefill GPUs.

    de_path: the DE read path may be used (split optimized); kv_io: KV I/O exists at all
    (``oracle`` bypasses it); overlap: load overlaps compute (layerwise) or uses the deployment's
    ``basic_overlap_frac`` (the paper's Basic: no layerwise prefill).
    """

    name: str
    de_path: bool
    kv_io: bool
    layerwise: bool
    description: str


MODES: dict[str, Mode] = {
    "basic": Mode("basic", False, True, False, "all reads via prefill-node storage NICs; load and compute serial"),
    "layerwise": Mode("layerwise", False, True, True, "prefill-node reads, layerwise loading overlapped with compute"),
    "dualpath": Mode("dualpath", True, True, True, "optimal split of hit-KV reads between prefill- and decode-node NICs"),
    "oracle": Mode("oracle", False, False, True, "no KV I/O at all (the paper's zero-I/O upper bound)"),
}


@dataclass(frozen=True)
class Deployment:
    """Deployment and calibration knobs (not hardware facts). Defaults are assumptions, stated.

    Attributes
    ----------
    prefill_nodes_count, decode_nodes_count : P and D.
    prefill_efficiency_frac : achieved / peak dense FLOP/s in prefill. The paper does not report
        it; 0.4 is an assumption to be calibrated (issue: queueing calibration from Fig. 7 Oracle).
    basic_overlap_frac : share of KV load time hidden behind compute in ``basic`` mode (the
        paper's Basic has no layerwise prefill: 0).
    decode_hbm_efficiency_frac : achieved / peak HBM bandwidth in decode steps (assumption 0.8).
    decode_step_overhead_s : fixed cost per decode step (kernel launches, MoE all-to-all);
        assumption 5 ms, to be calibrated.
    hbm_reserve_frac : HBM share kept for activations, graphs and fragmentation (assumption 0.1).
    tpot_max_s : cap on time per output token for the decode batch (inf = only HBM limits it).
    decode_weight_nodes_count : decode nodes one model replica's weights are spread over; 0 =
        auto (MoE: every decode node, expert parallel; dense: one node).
    prefill_quota_s : attention-time cap of one prefill forward pass (the paper's appendix A.4: 300 ms).
    prefill_engine_gpus_count : GPUs of one prefill engine that run their forward passes in lock
        step (an expert-parallel group: every GPU waits for the all-to-all); 0 = auto (MoE models:
        a whole node, as the paper's DS models use EP + DP; dense models: one GPU, as its Qwen runs
        data parallel only).
    """

    prefill_nodes_count: int = DEFAULT_PREFILL_NODES
    decode_nodes_count: int = DEFAULT_DECODE_NODES
    prefill_efficiency_frac: float = 0.4
    basic_overlap_frac: float = 0.0
    decode_hbm_efficiency_frac: float = 0.8
    decode_step_overhead_s: float = 0.005
    hbm_reserve_frac: float = 0.1
    tpot_max_s: float = math.inf
    decode_weight_nodes_count: int = 0
    prefill_quota_s: float = 0.3
    prefill_engine_gpus_count: int = 0

    def __post_init__(self) -> None:
        # upper bounds: far above any deployment (the largest clusters have ~10^4 nodes), low enough
        # that every count, product and LP coefficient stays finite and exact
        checks = {
            "prefill_nodes_count": (self.prefill_nodes_count, 1, MAX_NODES, True),
            "decode_nodes_count": (self.decode_nodes_count, 1, MAX_NODES, True),
            "decode_weight_nodes_count": (self.decode_weight_nodes_count, 0, MAX_NODES, True),
            "prefill_engine_gpus_count": (self.prefill_engine_gpus_count, 0, 4096, True),
        }
        for name, (v, lo, hi, integer) in checks.items():
            if integer and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
                raise ScenarioError(f"deployment field {name} = {v!r}: must be an integer >= {lo}")
            if v < lo or v > hi:
                raise ScenarioError(f"deployment field {name} = {v!r}: must be in [{lo}, {hi}]")
        fracs = {
            "prefill_efficiency_frac": (self.prefill_efficiency_frac, False),
            "basic_overlap_frac": (self.basic_overlap_frac, True),
            "decode_hbm_efficiency_frac": (self.decode_hbm_efficiency_frac, False),
            "hbm_reserve_frac": (self.hbm_reserve_frac, True),
        }
        for name, (v, zero_ok) in fracs.items():
            # an efficiency below 1 % of peak is no running engine, and would push compute times
            # (and the LP's coefficients) towards overflow
            lo = 0.0 if zero_ok else MIN_EFFICIENCY_FRAC
            if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or not (lo <= v <= 1):
                rng = "[0, 1]" if zero_ok else f"[{lo}, 1]"
                raise ScenarioError(f"deployment field {name} = {v!r}: must be in {rng}")
        for name in ("decode_step_overhead_s", "prefill_quota_s"):
            v = getattr(self, name)
            if isinstance(v, int | float) and not isinstance(v, bool) and v > MAX_SECONDS:
                raise ScenarioError(f"deployment field {name} = {v!r}: must be <= {MAX_SECONDS:g} s (an hour)")
        if not (self.decode_step_overhead_s >= 0 and math.isfinite(self.decode_step_overhead_s)):
            raise ScenarioError(f"deployment field decode_step_overhead_s = {self.decode_step_overhead_s!r}: must be >= 0")
        if not (self.prefill_quota_s >= 0 and math.isfinite(self.prefill_quota_s)):
            raise ScenarioError(f"deployment field prefill_quota_s = {self.prefill_quota_s!r}: must be >= 0")
        if not self.tpot_max_s > 0:
            raise ScenarioError(f"deployment field tpot_max_s = {self.tpot_max_s!r}: must be > 0 (inf for no cap)")


@dataclass(frozen=True)
class RequestClass:
    """A class of turns: share of all turns, and hit / appended / generated tokens per turn."""

    weight_frac: float
    hit_tokens: float
    append_tokens: float
    generated_tokens: float
    prefill_flops: float | None = None  # mean FLOPs of the members; None = from the mean tokens


@dataclass(frozen=True)
class Demands:
    """Per-turn demand coefficients and capacities for one mode.

    ``const[r, k] + slope[r, k] * f_k`` is the demand of one class-``k`` turn on resource ``r``
    (in the resource's unit) when a share ``f_k`` of its hit bytes is read on the DE path;
    ``capacity[r]`` is the resource's cluster-wide capacity per second (``inf`` = unconstrained).
    """

    names: tuple[str, ...]
    const: np.ndarray  # (R, K)
    slope: np.ndarray  # (R, K)
    capacity: np.ndarray  # (R,)
    weights: np.ndarray  # (K,)
    hit_bytes: np.ndarray  # (K,)
    de_path: bool


@dataclass(frozen=True)
class Scenario:
    cluster: ClusterProfile
    model: ModelSpec
    workload: WorkloadProfile
    deployment: Deployment = Deployment()
    request_classes: tuple[RequestClass, ...] = ()  # a mixture (from trajectories or a trace)

    @classmethod
    def load(
        cls,
        cluster: str | Path = DEFAULT_CLUSTER,
        model: str | Path = DEFAULT_MODEL,
        workload: str | Path = DEFAULT_WORKLOAD,
        prefill_nodes: int = DEFAULT_PREFILL_NODES,
        decode_nodes: int = DEFAULT_DECODE_NODES,
        *,
        trace: str | Path | None = None,
        cache_GiB: float | None = None,
        classes_count: int = 8,
        **deployment: Any,
    ) -> Scenario:
        """Load profiles by name or path and build a scenario (defaults: the paper's 2P4D testbed).

        ``workload`` is a packaged name, a TOML profile, or a trajectory ``.jsonl`` (a mixture of
        ``classes_count`` request classes); ``trace`` (a Mooncake ``.jsonl`` or Azure ``.csv``)
        replaces it with the trace's requests, hits simulated with an LRU cache of ``cache_GiB``
        (infinite when None).
        """
        from .workload.sources import resolve_trace, resolve_workload

        dep = Deployment(prefill_nodes_count=prefill_nodes, decode_nodes_count=decode_nodes, **deployment)
        mdl = load_model(model)
        if trace is not None:
            wl, classes, _ = resolve_trace(trace, model=mdl, cache_GiB=cache_GiB, classes_count=classes_count)
        else:
            wl, classes = resolve_workload(workload, model=mdl, classes_count=classes_count)
        return cls(load_cluster(cluster), mdl, wl, dep, classes)

    def with_deployment(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, deployment=dataclasses.replace(self.deployment, **changes))

    # ---- workload -> classes ---------------------------------------------------------------
    def classes(self) -> tuple[RequestClass, ...]:
        """Request classes: the given mixture, else one class of the workload's per-turn means."""
        if self.request_classes:
            return self.request_classes
        t = self.workload.trajectory
        return (RequestClass(1.0, t.mean_context_tokens, t.mean_append_tokens, t.mean_generated_tokens),)

    # ---- decode capacity -----------------------------------------------------------------
    @property
    def prefill_engine_gpus(self) -> int:
        """GPUs per prefill engine (lock-step group), resolved from ``prefill_engine_gpus_count``."""
        g = self.cluster.gpus_per_node
        e = self.deployment.prefill_engine_gpus_count
        if e == 0:
            arch = self.model.architecture
            e = g if arch.layers_count > arch.dense_layers_count else 1
        if g % e:
            raise ScenarioError(f"deployment field prefill_engine_gpus_count = {e}: must divide the {g} GPUs per node")
        return e

    def decode_weight_bytes_per_gpu(self) -> float:
        arch = self.model.architecture
        return float(
            compute.decode_weight_bytes_per_gpu(
                weight_bytes=self.model.weight_bytes,
                gpus_per_node=self.cluster.gpus_per_node,
                decode_nodes=self.deployment.decode_nodes_count,
                weight_nodes=self.deployment.decode_weight_nodes_count,
                moe=arch.layers_count > arch.dense_layers_count,
            )
        )

    def decode_capacity(self) -> dict[str, float]:
        """Decode batch per GPU, step time and tokens/s per GPU at the largest admissible batch."""
        dep, cl = self.deployment, self.cluster
        w = self.decode_weight_bytes_per_gpu()
        hbm_kv = cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac) - w
        if hbm_kv <= 0:
            raise ScenarioError(
                f"model '{self.model.name}' does not fit on the decode GPUs of '{cl.name}': "
                f"{w / 1e9:.1f} GB of weights per GPU vs {cl.hbm_bytes_per_gpu * (1 - dep.hbm_reserve_frac) / 1e9:.1f} GB usable; "
                "add decode nodes or set decode_weight_nodes_count"
            )
        seq_bytes = self._mean_decode_seq_bytes()
        cap = compute.decode_tokens_per_s_per_gpu(
            hbm_kv_bytes_per_gpu=hbm_kv,
            seq_kv_bytes=seq_bytes,
            weight_bytes_per_gpu=w,
            hbm_Bps=cl.hbm_Bps_per_gpu,
            hbm_efficiency_frac=dep.decode_hbm_efficiency_frac,
            step_overhead_s=dep.decode_step_overhead_s,
            tpot_max_s=dep.tpot_max_s,
        )
        return {
            **{k: float(v) for k, v in cap.items()},
            "weight_bytes_per_gpu": w,
            "hbm_kv_bytes_per_gpu": hbm_kv,
            "seq_kv_bytes": seq_bytes,
        }

    def _mean_decode_seq_bytes(self) -> float:
        b = self.model.kv_bytes_per_token
        cls = self.classes()
        return float(sum(k.weight_frac * (k.hit_tokens + k.append_tokens + k.generated_tokens / 2.0) * b for k in cls))

    # ---- demands -------------------------------------------------------------------------
    def prefill_compute_s(self, k: RequestClass) -> float:
        """GPU-seconds of prefill compute for one turn of class ``k``."""
        if k.prefill_flops is not None:
            flops = k.prefill_flops
        else:
            flops = float(self.model.prefill_flops(context_tokens=k.hit_tokens, append_tokens=k.append_tokens))
        rate = self.cluster.peak_flops_per_s_per_gpu(self.model.numerics.compute_dtype) * self.deployment.prefill_efficiency_frac
        return flops / rate

    def capacities(self) -> dict[str, float]:
        """Cluster-wide capacity per second of every resource, in the resource's unit."""
        cl, dep = self.cluster, self.deployment
        caps = flows.resource_capacities(
            prefill_nodes=dep.prefill_nodes_count,
            decode_nodes=dep.decode_nodes_count,
            gpus_per_node=cl.gpus_per_node,
            snic_read_Bps_per_node=cl.snic_read_Bps_per_node,
            snic_write_Bps_per_node=cl.snic_write_Bps_per_node,
            cnic_kv_Bps_per_gpu=cl.cnic_kv_Bps_per_gpu,
            dram_Bps_per_node=cl.dram_Bps_per_node,
            store_read_Bps=cl.store_read_Bps,
            store_write_Bps=cl.store_write_Bps,
            decode_tokens_per_s_per_gpu=self.decode_capacity()["tokens_per_s_per_gpu"],
        )
        return {k: float(v) for k, v in caps.items()}

    def demands(self, mode: str | Mode) -> Demands:
        """Demand coefficients (per turn, per class) and capacities for ``mode``."""
        m = MODES[mode] if isinstance(mode, str) else mode
        cl, dep = self.cluster, self.deployment
        b = self.model.kv_bytes_per_token
        ks = self.classes()
        names = flows.RESOURCE_NAMES
        const = np.zeros((len(names), len(ks)))
        slope = np.zeros_like(const)
        io = 1.0 if m.kv_io else 0.0
        # without layerwise loading a GPU holds itself while its KV loads; the node's GPUs share
        # its storage NICs (finite-source model over the mean turn)
        w = np.array([k.weight_frac for k in ks])
        snic_gpu = float(flows.shared_snic_rate_Bps_per_gpu(
            hit_bytes=float(w @ [k.hit_tokens * b for k in ks]), compute_s=float(w @ [self.prefill_compute_s(k) for k in ks]),
            snic_read_Bps_per_node=cl.snic_read_Bps_per_node, gpus_per_node=cl.gpus_per_node, engine_gpus=self.prefill_engine_gpus))
        for j, k in enumerate(ks):
            coef = flows.turn_demand_coefficients(
                hit_bytes=io * k.hit_tokens * b,
                new_bytes=io * k.append_tokens * b,
                gen_bytes=io * k.generated_tokens * b,
                generated_tokens=k.generated_tokens,
                compute_s=self.prefill_compute_s(k),
                snic_read_Bps_per_gpu=snic_gpu,
                cnic_kv_Bps_per_gpu=cl.cnic_kv_Bps_per_gpu,
                overlap_frac=1.0 if m.layerwise else dep.basic_overlap_frac,
            )
            for i, name in enumerate(names):
                const[i, j], slope[i, j] = float(coef[name][0]), float(coef[name][1])
        caps = self.capacities()
        capacity = np.array([caps[n] for n in names])
        weights = np.array([k.weight_frac for k in ks])
        hit = np.array([k.hit_tokens * b for k in ks])
        return Demands(names, const, slope, capacity, weights, hit, m.de_path)

    # ---- identity ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        dep = dataclasses.asdict(self.deployment)
        if math.isinf(dep["tpot_max_s"]):
            dep["tpot_max_s"] = None
        return {
            "cluster": self.cluster.name,
            "model": self.model.name,
            "workload": self.workload.name,
            "prefill_nodes": self.deployment.prefill_nodes_count,
            "decode_nodes": self.deployment.decode_nodes_count,
            "kv_bytes_per_token": self.model.kv_bytes_per_token,
            "request_classes": len(self.classes()),
            "deployment": dep,
            "fingerprint": self.fingerprint(),
        }

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex) of the profiles' and deployment's contents."""
        from .profiles.schema import to_plain

        blob = json.dumps(to_plain(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
