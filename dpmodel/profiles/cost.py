"""Cost profiles: what capacity costs per hour (GPUs, nodes, storage NICs, storage bandwidth)."""

from __future__ import annotations

import dataclasses

from .schema import Provenance, fld


@dataclasses.dataclass(frozen=True)
class PricesSpec:
    gpu_per_hour: float = fld("one GPU, per hour (currency units)", ge=0, le=1e9)
    node_base_per_hour: float = fld("one node without GPUs and storage NICs (CPUs, DRAM, chassis, compute NICs), per hour", ge=0, le=1e9)
    snic_per_hour: float = fld("one storage NIC with its share of the storage network, per hour", ge=0, le=1e9)
    store_GBps_per_hour: float = fld("one GB/s of storage back-end read bandwidth, per hour", ge=0, le=1e9)


@dataclasses.dataclass(frozen=True)
class CostProfile:
    name: str = fld("profile name")
    description: str = fld("one line")
    prices: PricesSpec = fld("prices")
    provenance: Provenance = fld("sources")
    currency: str = fld("currency of every price", default="USD")
