"""Hardware (cluster node) profiles: TOML in ``hardware_profiles/`` -> :class:`ClusterProfile`."""

from __future__ import annotations

import dataclasses

from .. import units
from .schema import Provenance, fld


@dataclasses.dataclass(frozen=True)
class GpuSpec:
    model: str = fld("GPU product name (free text)")
    dense_bf16_TFLOPS: float = fld("peak dense BF16 tensor throughput per GPU", gt=0, ge=0.01, le=1e5)
    dense_fp8_TFLOPS: float = fld("peak dense FP8 tensor throughput per GPU", gt=0, ge=0.01, le=1e5)
    hbm_GiB: float = fld("HBM capacity per GPU", gt=0, ge=0.01, le=1e5)
    hbm_GBps: float = fld("HBM bandwidth per GPU", gt=0, ge=0.1, le=1e6)
    pcie_GBps: float = fld("host<->GPU PCIe bandwidth per GPU, one direction", gt=0, ge=0.1, le=1e4)


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    gpus_count: int = fld("GPUs per node (g)", gt=0, ge=1, le=1024)
    cnic_Gbps: float = fld("compute-network (RDMA) NIC line rate per GPU, one NIC per GPU (B)", gt=0, ge=0.1, le=1e5)
    snic_count: int = fld("storage NICs per node", gt=0, ge=1, le=64)
    snic_Gbps: float = fld("storage NIC line rate, each, full duplex", gt=0, ge=0.1, le=1e5)
    snic_payload_frac: float = fld(
        "share of the storage NIC line rate that carries payload while the NIC is busy (the block-read "
        "model of dpmodel.storage sets how busy it is)",
        gt=0,
        ge=0.01,
        le=1,
    )
    dram_GBps: float = fld("host DRAM bandwidth per node, reads + writes together (half duplex) (M)", gt=0, ge=0.1, le=1e5)
    dram_kv_buffer_GiB: float = fld("host DRAM reserved for the PE/DE KV buffer per node", gt=0, ge=0.001, le=1e6)


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    cnic_collective_frac: float = fld(
        "share of compute-NIC time taken by model-execution collectives (KV gets the rest)", ge=0, lt=1, le=0.99
    )
    cnic_imbalance_factor: float = fld("max/mean load over a node's compute NICs (>= 1)", ge=1, le=100)
    copy_submit_us: float = fld("CPU cost to submit one cudaMemcpyAsync", ge=0, le=1e6)
    rdma_wr_us: float = fld("CPU cost to post one RDMA work request", ge=0, le=1e6)


@dataclasses.dataclass(frozen=True)
class StorageSpec:
    read_GBps: float = fld("storage back end aggregate read bandwidth", gt=0, ge=0.1, le=1e8)
    write_GBps: float = fld("storage back end aggregate write bandwidth", gt=0, ge=0.1, le=1e8)
    read_overhead_ms: float = fld(
        "fixed cost of one block read from the store that does not occupy the NIC (RPC, lookup, SSD)", ge=0, le=1e4
    )
    write_overhead_ms: float = fld("fixed cost of one block write to the store that does not occupy the NIC", ge=0, le=1e4)
    full_block_tokens: int = fld("tokens per Full Block, the unit of every store read and write (all layers)", gt=0, ge=1, le=1_000_000)
    reads_in_flight_max_count: int = fld(
        "most block reads (or writes) kept outstanding per storage NIC: the I/O ring's depth", gt=0, ge=1, le=1_000_000
    )


_K = "compute-references.md"


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """Achieved kernel rates of the roofline forward pass (:func:`dpmodel.compute.forward_parts_s`).

    Defaults are H800 figures from shared/reference/compute-references.md (section in each source).
    """

    gemm_eff_max_frac: float = fld(
        "large-M GEMM efficiency (share of the tensor peak)",
        gt=0,
        le=1,
        default=0.70,
        source=f"measured: DeepGEMM README, 1346 TFLOPS grouped / 1009-1426 dense at M=4096 of 1979 ({_K} 2a)",
    )
    gemm_half_rows_count: float = fld(
        "GEMM rows at which efficiency is half its maximum",
        gt=0,
        default=200.0,
        source=f"derived: DeepGEMM M=64 / 128 rows at 0.10-0.17 / 0.18-0.33 of peak ({_K} 2a)",
    )
    attention_efficiency_frac: float = fld(
        "attention kernel FLOP rate as a share of the BF16 peak",
        gt=0,
        le=1,
        default=0.65,
        source=f"measured: FlashMLA sparse prefill 640 TFLOPS of 989 BF16; FA3 740 (75 %) ({_K} 2b)",
    )
    hbm_efficiency_frac: float = fld(
        "achieved share of HBM bandwidth (weights and KV reads)",
        gt=0,
        le=1,
        default=0.80,
        source=f"measured: DeepGEMM small-M 45-80 %, FlashMLA 90 % of 3.35 TB/s ({_K} 2a, 4)",
    )
    prefill_layer_fixed_us: float = fld(
        "fixed cost per layer of a prefill forward (eager launches)",
        ge=0,
        default=100.0,
        source=f"derived: 20-40 kernels x 3-5 us per layer ({_K} 6, unverified)",
    )
    decode_layer_fixed_us: float = fld(
        "fixed cost per layer of a decode step (CUDA graph): the kernels' minimum durations",
        ge=0,
        default=100.0,
        source=f"derived: 20-40 kernels per layer x 3-5 us each = 60-200 us per layer; a graph removes the CPU "
        f"launch, not a small kernel's ramp and tail ({_K} 6, unverified)",
    )
    ep_normal_latency_us: float = fld(
        "latency floor of one expert-parallel normal-mode call (prefill)",
        ge=0,
        default=150.0,
        source=f"measured: DeepEP normal-mode 0.1-0.45 ms fixed per call ({_K} 2c, 6)",
    )
    ep_low_latency_us: float = fld(
        "latency floor of one expert-parallel low-latency call (decode)",
        ge=0,
        default=50.0,
        source=f"measured: DeepEP LL 77 us dispatch at EP8/128 tokens; 0.06 ms SM time per layer ({_K} 2c)",
    )
    ep_decode_rank_wait_us: float = fld(
        "time a decode step's expert-parallel dispatch waits for the slowest rank, per MoE layer and micro-batch",
        ge=0,
        default=110.0,
        source=f"measured: DeepEP low-latency dispatch takes ~0.17 ms per layer in DeepSeek's and SGLang's decode profiles against "
        f"0.06 ms of SM time in its unit test; the rest is busy-waiting ({_K} 2c)",
    )
    nvlink_GBps: float = fld(
        "achieved all-to-all rate inside a node, per GPU",
        gt=0,
        default=155.0,
        source=f"measured: DeepEP intranode 153-158 GB/s on H800 ({_K} 2c)",
    )
    rdma_GBps: float = fld(
        "achieved all-to-all rate across nodes, per GPU",
        gt=0,
        default=45.0,
        source=f"measured: DeepEP internode 43-58 GB/s on CX7 400G ({_K} 2c)",
    )
    tp_allreduce_latency_us: float = fld(
        "latency floor of one tensor-parallel all-reduce",
        ge=0,
        default=15.0,
        source="assumption: NCCL small-message all-reduce inside an NVLink node",
    )
    comm_overlap_frac: float = fld(
        "share of the smaller of compute and communication hidden when an engine runs two overlapped micro-batches",
        ge=0,
        le=1,
        default=0.74,
        source=f"derived: DeepSeek decode profile per layer and micro-batch, attention 388 + MoE 128 us compute, dispatch 187 + "
        f"combine 394 us; two micro-batches take 1.43 ms per layer against 2.19 ms serial, hiding 0.76 of the 1.03 ms compute ({_K} 1)",
    )
    decode_attention_efficiency_frac: float = fld(
        "decode attention kernel FLOP rate as a share of the BF16 peak (sparse FP8-KV decode is dequantization-bound)",
        gt=0,
        le=1,
        default=0.41,
        source=f"measured: FlashMLA sparse decode (FP8 KV) 410 TFLOPS of 989 BF16 on H800 ({_K} 2b)",
    )


@dataclasses.dataclass(frozen=True)
class ClusterProfile:
    """One node type plus the storage back end it reads from.

    Derived properties are in base units (bytes/s, FLOP/s, bytes).
    """

    name: str = fld("profile name")
    description: str = fld("one line describing the hardware")
    gpu: GpuSpec = fld("GPU")
    node: NodeSpec = fld("node")
    network: NetworkSpec = fld("compute network")
    storage: StorageSpec = fld("storage back end")
    provenance: Provenance = fld("sources")
    kernels: KernelSpec = fld("achieved kernel rates (roofline)", default=KernelSpec(), source="per-field defaults")

    # ---- derived, base units ------------------------------------------------------------
    @property
    def gpus_per_node(self) -> int:
        return self.node.gpus_count

    @property
    def snic_payload_Bps_per_node(self) -> float:
        """Payload ceiling of one node's storage NICs (all of them, fully busy).

        The rate a node sustains depends on the model's block size and the reads in flight:
        :meth:`snic_block_Bps_for` (and ``Scenario.snic_read_Bps_per_node``, which supplies them).
        """
        n = self.node
        return n.snic_count * units.gbps_to_Bps(n.snic_Gbps) * n.snic_payload_frac

    def snic_block_Bps_for(self, *, block_bytes, reads_in_flight, write: bool = False):
        """Read (or, ``write=True``, write) rate of one node's storage NICs for blocks of
        ``block_bytes`` with ``reads_in_flight`` outstanding per NIC [B/s] (vectorized)."""
        from .. import storage as st

        n, s = self.node, self.storage
        overhead_ms = s.write_overhead_ms if write else s.read_overhead_ms
        per_nic = st.effective_read_Bps(
            block_bytes=block_bytes,
            reads_in_flight=reads_in_flight,
            line_Bps=units.gbps_to_Bps(n.snic_Gbps),
            payload_frac=n.snic_payload_frac,
            read_overhead_s=overhead_ms * 1e-3,
        )
        return n.snic_count * per_nic

    @property
    def cnic_line_Bps_per_gpu(self) -> float:
        """Compute-NIC bandwidth per GPU as the paper's B: min(NIC line rate, PCIe)."""
        return min(units.gbps_to_Bps(self.node.cnic_Gbps), units.GBps_to_Bps(self.gpu.pcie_GBps))

    @property
    def cnic_kv_Bps_per_gpu(self) -> float:
        """Compute-NIC bandwidth left for KV per GPU: line x (1 - collective share) / imbalance."""
        net = self.network
        return self.cnic_line_Bps_per_gpu * (1.0 - net.cnic_collective_frac) / net.cnic_imbalance_factor

    @property
    def dram_Bps_per_node(self) -> float:
        return units.GBps_to_Bps(self.node.dram_GBps)

    @property
    def hbm_bytes_per_gpu(self) -> float:
        return units.GiB_to_bytes(self.gpu.hbm_GiB)

    @property
    def hbm_Bps_per_gpu(self) -> float:
        return units.GBps_to_Bps(self.gpu.hbm_GBps)

    def peak_flops_per_s_per_gpu(self, dtype: str) -> float:
        """Peak dense tensor FLOP/s per GPU for the compute dtype ('bf16' or 'fp8')."""
        tflops = self.gpu.dense_fp8_TFLOPS if dtype == "fp8" else self.gpu.dense_bf16_TFLOPS
        return tflops * units.TFLOPS

    @property
    def store_read_Bps(self) -> float:
        return units.GBps_to_Bps(self.storage.read_GBps)

    @property
    def store_write_Bps(self) -> float:
        return units.GBps_to_Bps(self.storage.write_GBps)
