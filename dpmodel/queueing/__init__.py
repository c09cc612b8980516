"""Queueing models: closed network (MVA) for offline batches; open network for online serving."""

from .mva import Station, drain_jct_s, mva_dpmodel, mva_exact
from .offline import OfflineResult, build_network, offline_jct, offline_jct_many, trajectories_for

__all__ = [
    "OfflineResult",
    "Station",
    "build_network",
    "drain_jct_s",
    "mva_dpmodel",
    "mva_exact",
    "offline_jct",
    "offline_jct_many",
    "trajectories_for",
]
