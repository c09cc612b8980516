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
    snic_efficiency_frac: float = fld(
        "achievable share of the storage NIC line rate when reading from the store", gt=0, ge=0.01, le=1
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

    # ---- derived, base units ------------------------------------------------------------
    @property
    def gpus_per_node(self) -> int:
        return self.node.gpus_count

    @property
    def snic_read_Bps_per_node(self) -> float:
        """Achievable storage read bandwidth of one node (all its storage NICs)."""
        n = self.node
        return n.snic_count * units.gbps_to_Bps(n.snic_Gbps) * n.snic_efficiency_frac

    @property
    def snic_write_Bps_per_node(self) -> float:
        n = self.node
        return n.snic_count * units.gbps_to_Bps(n.snic_Gbps) * n.snic_efficiency_frac

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
