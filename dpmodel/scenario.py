"""A scenario: cluster + model + workload + deployment, and the per-turn demands it implies.

This is the object layer: it composes the pure kernels of :mod:`dpmodel.compute`,
:mod:`dpmodel.flows` into per-resource demand coefficients and capacities for the models.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import compose, compute, storage, units
from .errors import ScenarioError
from .profiles import ClusterProfile, ModelSpec, WorkloadProfile, load_cluster, load_model
from .topology import Topology, default_topology, load_topology
from .units import DTYPE_BYTES
from .workload.classes import RequestClass

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
    physics : "flat" (default): FLOPs at ``prefill_efficiency_frac``, decode weights + KV over
        HBM plus ``decode_step_overhead_s`` (the physics the committed Fig. 7 calibration was fitted
        under); "roofline": prefill and decode times from the roofline forward pass
        (:func:`dpmodel.compute.forward_parts_s`, the cluster's ``[kernels]`` rates). The library
        keeps "flat" as its default; the CLI runs the roofline, on the paper's testbed with the
        model's bounded Oracle-only fit of the kernel knobs (``dpmodel.fig7.calibrated_cluster``;
        ``--uncalibrated`` for the raw roofline). Raw, it meets DeepSeek's published per-GPU
        prefill and decode figures and the paper's TPOT ranges and is 30 % fast (median) against
        the Fig. 7 Oracle bars with Table 2 read plain (docs/validation.md; issue 14).
    prefill_gpu_max_tokens : most new tokens one GPU holds in a prefill forward (DeepSeek's
        profile-data prefill trace: 16K tokens per GPU; compute-references.md 1).
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
    physics: str = "flat"
    prefill_gpu_max_tokens: int = 16384

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
        if self.physics not in ("roofline", "flat"):
            raise ScenarioError(f"deployment field physics = {self.physics!r}: use 'roofline' or 'flat'")
        if not self.tpot_max_s > 0:
            raise ScenarioError(f"deployment field tpot_max_s = {self.tpot_max_s!r}: must be > 0 (inf for no cap)")


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
    coef: np.ndarray | None = None  # (R, K, P): demand of one class-k turn whose hit KV takes path p
    paths: tuple[str, ...] = ()  # the topology's load paths (P)
    allowed: np.ndarray | None = None  # (P,) bool: paths the mode may use
    units: np.ndarray | None = None  # (R,): identical parallel units making up each resource


#: Scenario fields holding frozen profiles that scenarios share (their fingerprint text is kept on them)
_PROFILE_FIELDS = frozenset({"cluster", "model", "workload", "topology"})


@dataclass(frozen=True)
class Scenario:
    cluster: ClusterProfile
    model: ModelSpec
    workload: WorkloadProfile
    deployment: Deployment = Deployment()
    request_classes: tuple[RequestClass, ...] = ()  # a mixture (from trajectories or a trace)
    topology: Topology = dataclasses.field(default_factory=default_topology)  # resources and load paths (data)

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
        overrides: dict[str, dict[str, Any]] | None = None,
        topology: str | Path | Topology | None = None,
        **deployment: Any,
    ) -> Scenario:
        """Load profiles by name or path and build a scenario (defaults: the paper's 2P4D testbed).

        ``workload`` is a packaged name, a TOML profile, or a trajectory ``.jsonl`` (a mixture of
        ``classes_count`` request classes); ``trace`` (a Mooncake ``.jsonl`` or Azure ``.csv``)
        replaces it with the trace's requests, hits simulated with an LRU cache of ``cache_GiB``
        (infinite when None). ``overrides`` maps a kind ('cluster', 'model', 'workload') to
        ``{dotted field: value}`` (``--set``), each recorded as ``config: command line``.
        ``topology`` names a packaged topology or a TOML path (default ``dualpath``).
        """
        from .workload.sources import resolve_trace, resolve_workload

        ov = overrides or {}
        dep = Deployment(prefill_nodes_count=prefill_nodes, decode_nodes_count=decode_nodes, **deployment)
        mdl = load_model(model, ov.get("model"))
        if trace is not None:
            if ov.get("workload"):
                raise ScenarioError("--set workload.*: a trace is the workload; drop --trace or the workload overrides")
            wl, classes, _ = resolve_trace(trace, model=mdl, cache_GiB=cache_GiB, classes_count=classes_count)
        else:
            wl, classes = resolve_workload(workload, model=mdl, classes_count=classes_count, overrides=ov.get("workload"))
        topo = default_topology() if topology is None else load_topology(topology)
        return cls(load_cluster(cluster, ov.get("cluster")), mdl, wl, dep, classes, topo)

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

    def _prefill_weight_bytes_per_gpu(self, ep: int) -> float:
        mdl, arch = self.model, self.model.architecture
        wb = DTYPE_BYTES[mdl.numerics.weight_dtype]
        if arch.layers_count > arch.dense_layers_count:
            _, _, nonexpert = self._flops_split()
            return (nonexpert + (mdl.total_params - nonexpert) / ep) * wb
        return mdl.total_params * wb / self.prefill_engine_gpus

    @property
    def prefill_ep_gpus(self) -> int:
        """GPUs a prefill replica's routed experts spread over (expert parallel, MoE models): the
        engine's GPUs, or as many whole prefill nodes as it takes for the weights to fit in HBM
        (``hbm_reserve_frac`` kept free). DeepSeek-V3.2 in FP8 (672 GB) does not fit one node of
        8 x 80 GB: it takes both nodes of 2P4D (EP16; DeepSeek's production prefill runs EP32).
        Only the roofline's weights, expert rows and all-to-all links use it."""
        arch = self.model.architecture
        e = self.prefill_engine_gpus
        if arch.layers_count <= arch.dense_layers_count:
            return e
        g, P = self.cluster.gpus_per_node, self.deployment.prefill_nodes_count
        usable = self.cluster.hbm_bytes_per_gpu * (1.0 - self.deployment.hbm_reserve_frac)
        if self._prefill_weight_bytes_per_gpu(e) <= usable:
            return e
        for nodes in range(1, P + 1):
            if self._prefill_weight_bytes_per_gpu(nodes * g) <= usable:
                return nodes * g
        return P * g

    def decode_weight_bytes_per_gpu(self) -> float:
        """Weight bytes a decode GPU holds and reads per step: an MoE replica runs attention data
        parallel (the non-routed weights on every GPU) with routed experts over its GPUs, as
        DeepSeek's and SGLang's decode do, unless that leaves no HBM (then every weight is split,
        attention tensor parallel); a dense replica is tensor parallel. The flat physics keeps the
        placement its Oracle calibration was fitted under (every weight split)."""
        arch = self.model.architecture
        moe = arch.layers_count > arch.dense_layers_count
        return float(
            compute.decode_weight_bytes_per_gpu(
                weight_bytes=self.model.weight_bytes,
                gpus_per_node=self.cluster.gpus_per_node,
                decode_nodes=self.deployment.decode_nodes_count,
                weight_nodes=self.deployment.decode_weight_nodes_count,
                moe=moe,
                replicated_bytes=self._decode_replicated_weight_bytes() if moe else 0.0,
            )
        )

    def _decode_replicated_weight_bytes(self) -> float:
        """Non-routed weights (attention, dense layers, shared experts, embeddings) at the weight
        dtype, held by every decode GPU of an MoE replica (data-parallel attention); 0 where that
        placement leaves no HBM for KV (attention then tensor parallel: every weight split)."""
        rep = self.nonrouted_weight_bytes()
        if rep == 0.0 or self.deployment.physics == "flat":  # the flat physics keeps its fitted placement: all split
            return 0.0
        dp = compute.decode_weight_bytes_per_gpu(
            weight_bytes=self.model.weight_bytes,
            gpus_per_node=self.cluster.gpus_per_node,
            decode_nodes=self.deployment.decode_nodes_count,
            weight_nodes=self.deployment.decode_weight_nodes_count,
            moe=True,
            replicated_bytes=rep,
        )
        return rep if float(dp) < self.cluster.hbm_bytes_per_gpu * (1.0 - self.deployment.hbm_reserve_frac) else 0.0

    def nonrouted_weight_bytes(self) -> float:
        """An MoE model's non-routed weights at the weight dtype (0 for a dense model)."""
        arch = self.model.architecture
        if arch.layers_count <= arch.dense_layers_count:
            return 0.0
        _, _, nonexpert = self._flops_split()
        return float(nonexpert * self.model.weight_bytes / self.model.total_params)

    @property
    def decode_replica_gpus(self) -> int:
        """GPUs one decode replica spans (its EP size for an MoE model, its TP size for a dense one)."""
        arch = self.model.architecture
        nodes = compute.decode_weight_nodes(
            decode_nodes=self.deployment.decode_nodes_count,
            weight_nodes=self.deployment.decode_weight_nodes_count,
            moe=arch.layers_count > arch.dense_layers_count,
        )
        return int(round(float(nodes))) * self.cluster.gpus_per_node

    def decode_capacity(self) -> dict[str, float]:
        """Decode batch per GPU, step time and tokens/s per GPU at the largest admissible batch."""
        memo = self.__dict__.setdefault("_roof_memo", {})
        if "decode_capacity" in memo:  # frozen scenario: computed once per object (a copy each call)
            return dict(memo["decode_capacity"])
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
        t0, per_seq = self.decode_affine_s()
        by_hbm = max(hbm_kv, 0.0) / seq_bytes
        by_tpot = math.inf if math.isinf(dep.tpot_max_s) else max(dep.tpot_max_s - t0, 0.0) / per_seq
        batch = min(by_hbm, by_tpot)
        step = t0 + batch * per_seq
        cap = {"batch_seqs_per_gpu": batch, "step_s": step, "tokens_per_s_per_gpu": batch / step if step > 0 else 0.0}
        memo["decode_capacity"] = {
            **{k: float(v) for k, v in cap.items()},
            "weight_bytes_per_gpu": w,
            "hbm_kv_bytes_per_gpu": hbm_kv,
            "seq_kv_bytes": seq_bytes,
        }
        return dict(memo["decode_capacity"])

    # ---- roofline forward passes -----------------------------------------------------------
    def _mean_turn(self) -> tuple[float, float, float]:
        ks = self.classes()
        w = sum(k.weight_frac for k in ks)
        c = sum(k.weight_frac * k.hit_tokens for k in ks) / w
        a = sum(k.weight_frac * k.append_tokens for k in ks) / w
        o = sum(k.weight_frac * k.generated_tokens for k in ks) / w
        return c, a, o

    def _flops_split(self) -> tuple[float, float, float]:
        """Per-token linear FLOPs: (dense GEMMs, routed-expert GEMMs), and non-expert weight params."""
        mdl, arch = self.model, self.model.architecture
        moe_layers = arch.layers_count - arch.dense_layers_count
        expert = 3.0 * arch.hidden_dim * arch.moe_intermediate_dim
        routed_active = moe_layers * arch.active_experts_count * expert
        routed_all = moe_layers * arch.routed_experts_count * expert
        return 2.0 * (mdl.active_params - routed_active), 2.0 * routed_active, mdl.total_params - routed_all

    def prefill_forward_parts(self, turns: ArrayLike, context_tokens: float | None = None, append_tokens: float | None = None) -> dict:
        """Roofline parts of one prefill forward of ``turns`` mean turns on one engine (per GPU)."""
        cl, mdl, arch, k = self.cluster, self.model, self.model.architecture, self.cluster.kernels
        c0, a0, _ = self._mean_turn()
        c = c0 if context_tokens is None else context_tokens
        a = a0 if append_tokens is None else append_tokens
        n = np.asarray(turns, float)
        e = self.prefill_engine_gpus
        dense_f, expert_f, nonexpert_params = self._flops_split()
        moe = arch.layers_count > arch.dense_layers_count
        t = n * a / e
        attn = float(mdl.prefill_flops(context_tokens=c, append_tokens=a)) - (dense_f + expert_f) * a
        ep = self.prefill_ep_gpus
        weights = self._prefill_weight_bytes_per_gpu(ep)
        h = arch.hidden_dim
        moe_layers = arch.layers_count - arch.dense_layers_count
        g = cl.gpus_per_node
        if moe and ep > 1:
            calls = 2.0 * moe_layers
            # DeepEP normal mode (hierarchical): a token's dispatch (FP8) and combine (BF16) cross
            # RDMA once per other node holding one of its experts, then NVLink once per other GPU
            copies = compute.ep_copies_per_token(ep_gpus=ep, gpus_per_node=g, active_experts=arch.active_experts_count)
            per_tok = moe_layers * 3.0 * h
            link = (k.rdma_GBps if ep > g else k.nvlink_GBps) * 1e9
            nv = copies["nvlink"] * (k.rdma_GBps / k.nvlink_GBps if ep > g else 1.0)  # as bytes at the link's rate
            comm_bytes = t * per_tok * (copies["rdma"] + nv)
        elif e > 1:  # tensor parallel: two all-reduces per layer
            calls = 2.0 * arch.layers_count
            comm_bytes = arch.layers_count * 2.0 * t * 2.0 * h * 2.0 * (e - 1) / e
            link = k.nvlink_GBps * 1e9
        else:
            calls, comm_bytes, link = 0.0, 0.0, 1.0
        lat = (k.ep_normal_latency_us if moe else k.tp_allreduce_latency_us) * 1e-6
        return compute.best_micro_batching_parts_s(
            tokens_per_gpu=t,
            dense_flops_per_token=dense_f,
            expert_flops_per_token=expert_f,
            expert_rows=t * (ep if moe else e) * arch.active_experts_count / max(arch.routed_experts_count, 1),
            attention_flops_per_gpu=n * attn / e,
            weight_bytes_per_gpu=weights,
            kv_read_bytes_per_gpu=n * (c + a) * mdl.kv_bytes_per_token / e,
            comm_calls=calls,
            comm_bytes_per_gpu=comm_bytes,
            comm_Bps=link,
            comm_latency_s=lat,
            layers_count=arch.layers_count,
            **self._kernel_rates(),
            layer_fixed_s=k.prefill_layer_fixed_us * 1e-6,
        )

    def _kernel_rates(self) -> dict[str, float]:
        """The achieved rates every roofline forward pass (prefill and decode) takes from the cluster."""
        cl, k = self.cluster, self.cluster.kernels
        return dict(
            gemm_peak_flops_per_s=cl.peak_flops_per_s_per_gpu(self.model.numerics.compute_dtype),
            gemm_eff_max_frac=k.gemm_eff_max_frac,
            gemm_half_rows_count=k.gemm_half_rows_count,
            attention_flops_per_s=cl.peak_flops_per_s_per_gpu("bf16") * k.attention_efficiency_frac,
            hbm_Bps=cl.hbm_Bps_per_gpu,
            hbm_efficiency_frac=k.hbm_efficiency_frac,
            comm_overlap_frac=k.comm_overlap_frac,
        )

    def prefill_batch_turns(self) -> float:
        """Mean turns per prefill forward: as many as fit in ``prefill_quota_s`` (at least one),
        at most ``prefill_gpu_max_tokens`` new tokens per GPU."""
        _, a, _ = self._mean_turn()
        e = self.prefill_engine_gpus
        n_max = max(1.0, math.floor(self.deployment.prefill_gpu_max_tokens * e / max(a, 1.0)))
        grid = np.unique(np.concatenate([np.arange(1.0, min(n_max, 64.0) + 1), np.geomspace(1.0, n_max, 200).round()]))
        tot = self.prefill_forward_parts(grid)["total_s"]
        ok = grid[tot <= self.deployment.prefill_quota_s]
        return float(ok.max()) if len(ok) else 1.0

    def prefill_rate_flops_per_s(self) -> float:
        """Effective prefill FLOP/s per GPU: the mean turn's FLOPs over its GPU-seconds in a
        forward of :meth:`prefill_batch_turns` turns (roofline), or peak x efficiency (flat)."""
        if self.deployment.physics == "flat":
            return self.cluster.peak_flops_per_s_per_gpu(self.model.numerics.compute_dtype) * self.deployment.prefill_efficiency_frac
        key = ("prefill_rate",)
        memo = self.__dict__.setdefault("_roof_memo", {})
        if key not in memo:
            c, a, _ = self._mean_turn()
            n = self.prefill_batch_turns()
            gpu_s = self.prefill_engine_gpus * float(self.prefill_forward_parts(n)["total_s"]) / n
            memo[key] = float(self.model.prefill_flops(context_tokens=c, append_tokens=a)) / gpu_s
        return memo[key]

    def decode_step_parts(self, batch_seqs: ArrayLike) -> dict:
        """Roofline parts of one decode step at ``batch_seqs`` sequences per GPU (mean turn's context)."""
        cl, mdl, arch, k = self.cluster, self.model, self.model.architecture, self.cluster.kernels
        c, a, o = self._mean_turn()
        ctx = c + a + o / 2.0
        b = np.asarray(batch_seqs, float)
        dense_f, expert_f, _ = self._flops_split()
        moe = arch.layers_count > arch.dense_layers_count
        g = cl.gpus_per_node
        w = self.decode_weight_bytes_per_gpu()
        G = float(max(1, self.decode_replica_gpus))  # GPUs one replica spans (EP size, or TP size)
        att = mdl.attention
        attn_tok = float(mdl.prefill_flops(context_tokens=ctx, append_tokens=1.0)) - (dense_f + expert_f)
        if att.sparse_top_k_tokens:  # the top-k latents, and the indexer keys of every position
            per_seq = mdl.kv_layers_count * (
                min(ctx, att.sparse_top_k_tokens) * mdl.attention_kv_bytes_per_token_layer + ctx * mdl.indexer_key_bytes_per_token_layer
            )
        else:
            per_seq = ctx * mdl.kv_bytes_per_token
        h = arch.hidden_dim
        moe_layers = arch.layers_count - arch.dense_layers_count
        if moe and G > 1:
            calls = 2.0 * moe_layers
            remote = max(G - g, 0.0) / G
            comm_bytes = moe_layers * b * arch.active_experts_count * 3.0 * h * (remote if remote > 0 else (G - 1) / G)
            link = (k.rdma_GBps if remote > 0 else k.nvlink_GBps) * 1e9
            # each MoE layer's dispatch also waits for the slowest rank (split over its two calls)
            lat = (k.ep_low_latency_us + 0.5 * k.ep_decode_rank_wait_us) * 1e-6
        elif G > 1:
            calls = 2.0 * arch.layers_count
            comm_bytes = arch.layers_count * 2.0 * b * 2.0 * h * 2.0 * (G - 1) / G
            link, lat = k.nvlink_GBps * 1e9, k.tp_allreduce_latency_us * 1e-6
        else:
            calls, comm_bytes, link, lat = 0.0, 0.0, 1.0, 0.0
        tp = G if not moe else 1.0  # a dense replica's GEMMs are split over its TP GPUs
        rates = self._kernel_rates()
        rates["attention_flops_per_s"] = cl.peak_flops_per_s_per_gpu("bf16") * k.decode_attention_efficiency_frac
        # one micro-batch (dispatch / combine serial with compute) or two overlapped, whichever is faster
        return compute.best_micro_batching_parts_s(
            tokens_per_gpu=b,
            dense_flops_per_token=dense_f / tp,
            expert_flops_per_token=expert_f,
            expert_rows=b * G * arch.active_experts_count / max(arch.routed_experts_count, 1),
            attention_flops_per_gpu=b * attn_tok / tp,
            weight_bytes_per_gpu=w,
            kv_read_bytes_per_gpu=b * per_seq,
            comm_calls=calls,
            comm_bytes_per_gpu=comm_bytes,
            comm_Bps=link,
            comm_latency_s=lat,
            layers_count=arch.layers_count,
            **rates,
            layer_fixed_s=k.decode_layer_fixed_us * 1e-6,
        )

    def decode_affine_s(self) -> tuple[float, float]:
        """Decode step as ``t0 + batch x per_seq`` (seconds; batch per GPU): the roofline's step at
        a near-empty batch and its slope up to the HBM-capacity batch, or the flat physics."""
        memo = self.__dict__.setdefault("_roof_memo", {})
        if "decode" in memo:
            return memo["decode"]
        dep, cl = self.deployment, self.cluster
        w = self.decode_weight_bytes_per_gpu()
        seq_bytes = self._mean_decode_seq_bytes()
        if dep.physics == "flat":
            bw = cl.hbm_Bps_per_gpu * dep.decode_hbm_efficiency_frac
            out = (dep.decode_step_overhead_s + w / bw, seq_bytes / bw)
        else:
            b_cap = max(cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac) - w, 0.0) / seq_bytes
            b_ref = max(b_cap, 1.0)
            t = self.decode_step_parts(np.array([1e-6, b_ref]))["total_s"]
            out = (float(t[0]), float(max(t[1] - t[0], 0.0) / b_ref))
        memo["decode"] = out
        return out

    def _mean_decode_seq_bytes(self) -> float:
        b = self.model.kv_bytes_per_token
        cls = self.classes()
        return float(sum(k.weight_frac * (k.hit_tokens + k.append_tokens + k.generated_tokens / 2.0) * b for k in cls))

    # ---- storage reads in Full Blocks ------------------------------------------------------
    def storage_reads(self) -> dict[str, float]:
        """The block-read model of :mod:`dpmodel.storage` for this scenario: Full-Block bytes, reads
        in flight per storage NIC, and the read and write rates one node's storage NICs sustain."""
        return dict(self._storage_reads)

    @functools.cached_property
    def _storage_reads(self) -> dict[str, float]:  # frozen scenario: computed once per object
        cl, st_ = self.cluster, self.cluster.storage
        b = self.model.kv_bytes_per_token
        block = float(storage.full_block_bytes(kv_bytes_per_token=b, block_tokens=st_.full_block_tokens))
        hit = float(sum(k.weight_frac * k.hit_tokens for k in self.classes()))
        n_r = float(
            storage.reads_in_flight(
                depth_max=st_.reads_in_flight_max_count,
                hit_tokens=hit,
                block_tokens=st_.full_block_tokens,
                engines_count=cl.gpus_per_node // self.prefill_engine_gpus,
            )
            / cl.node.snic_count
        )
        n_r = max(1.0, n_r)
        read = float(cl.snic_block_Bps_for(block_bytes=block, reads_in_flight=n_r))
        # persists come from every sequence a decode node serves: the ring's depth bounds them
        write = float(cl.snic_block_Bps_for(block_bytes=block, reads_in_flight=st_.reads_in_flight_max_count, write=True))
        line = cl.node.snic_count * units.gbps_to_Bps(cl.node.snic_Gbps)
        layer_block = block / self.model.kv_layers_count
        per_copy_s = cl.network.rdma_wr_us * 1e-6
        return {
            "full_block_bytes": block,
            "layer_block_bytes": layer_block,
            "reads_in_flight": n_r,
            "line_Bps_per_node": line,
            "payload_Bps_per_node": cl.snic_payload_Bps_per_node,
            "read_Bps_per_node": read,
            "write_Bps_per_node": write,
            "read_frac_of_line": read / line,
            "layer_block_load_Bps_per_gpu": float(
                storage.layer_block_load_Bps(layer_block_bytes=layer_block, per_copy_s=per_copy_s, link_Bps=cl.cnic_line_Bps_per_gpu)
            ),
        }

    @property
    def snic_read_Bps_per_node(self) -> float:
        """Storage read rate of one node (all its storage NICs) for this model's Full Blocks [B/s]."""
        return self._storage_reads["read_Bps_per_node"]

    @property
    def snic_write_Bps_per_node(self) -> float:
        """Storage write (persist) rate of one node for this model's Full Blocks [B/s]."""
        return self._storage_reads["write_Bps_per_node"]

    # ---- demands -------------------------------------------------------------------------
    def prefill_compute_s(self, k: RequestClass) -> float:
        """GPU-seconds of prefill compute for one turn of class ``k``."""
        if k.prefill_flops is not None:
            flops = k.prefill_flops
        else:
            flops = float(self.model.prefill_flops(context_tokens=k.hit_tokens, append_tokens=k.append_tokens))
        return flops / self.prefill_rate_flops_per_s()

    def capacities(self) -> dict[str, float]:
        """Cluster-wide capacity per second of every resource of the topology, in the resource's unit."""
        self.decode_capacity()  # raises, naming the fix, when the weights do not fit
        comp = compose.compose(self, MODES["dualpath"])
        return {n: float(v) for n, v in zip(comp.names, comp.capacity, strict=True)}

    def demands(self, mode: str | Mode) -> Demands:
        """Demand coefficients (per turn, per class, per path) and capacities for ``mode``: the
        one composition path (:func:`dpmodel.compose.compose`) every model takes them from."""
        m = MODES[mode] if isinstance(mode, str) else mode
        self.decode_capacity()  # raises, naming the fix, when the weights do not fit
        key = ("demands", m)
        memo = self.__dict__.setdefault("_roof_memo", {})
        if key in memo:
            return memo[key]
        comp = compose.compose(self, m)
        coef = comp.coef  # (R, K, P)
        const = coef[..., 0]
        slope = coef[..., 1] - coef[..., 0] if coef.shape[-1] > 1 else np.zeros_like(const)
        out = Demands(
            comp.names,
            const,
            slope,
            comp.capacity,
            comp.weights,
            comp.hit_bytes,
            m.de_path,
            coef=coef,
            paths=comp.paths,
            allowed=comp.allowed,
            units=comp.units,
        )
        for arr in (out.const, out.slope, out.capacity, out.weights, out.hit_bytes, out.coef, out.allowed, out.units):
            arr.setflags(write=False)  # memoized: shared by every caller
        memo[key] = out
        return out

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
            "topology": self.topology.name,
            "deployment": dep,
            **({"config_command_line": cli} if (cli := self.command_line_fields()) else {}),
            "fingerprint": self.fingerprint(),
        }

    def command_line_fields(self) -> dict[str, Any]:
        """``kind.field -> value`` of every profile field set on the command line (``--set``)."""
        from .profiles.loader import COMMAND_LINE_SOURCE

        out: dict[str, Any] = {}
        for kind, prof in (("cluster", self.cluster), ("model", self.model), ("workload", self.workload)):
            for key, text in prof.provenance.fields.items():
                if text == COMMAND_LINE_SOURCE:
                    node: Any = prof
                    for part in key.split("."):
                        node = getattr(node, part)
                    out[f"{kind}.{key}"] = node
        return out

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex) of the profiles' and deployment's contents."""
        from .profiles.schema import to_plain

        memo = self.__dict__.setdefault("_roof_memo", {})
        if "fingerprint" not in memo:  # frozen scenario: its contents hash once per object
            # json.dumps(to_plain(self), sort_keys=True, default=str), field by field: the profiles
            # (frozen, shared by every scenario derived from them) keep their own text
            parts = []
            for f in sorted(dataclasses.fields(self), key=lambda f: f.name):
                value = getattr(self, f.name)
                text = value.__dict__.get("_plain_json") if f.name in _PROFILE_FIELDS else None
                if text is None:
                    text = json.dumps(to_plain(value), sort_keys=True, default=str)
                    if f.name in _PROFILE_FIELDS:
                        object.__setattr__(value, "_plain_json", text)
                parts.append(f"{json.dumps(f.name)}: {text}")
            blob = ("{" + ", ".join(parts) + "}").encode()
            memo["fingerprint"] = hashlib.sha256(blob).hexdigest()[:16]
        return memo["fingerprint"]
