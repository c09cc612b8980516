"""Per-turn byte flows of the two KV load paths over every named resource.

Notes
-----
Per turn: ``H = c b`` hit KV bytes, ``A = a b`` new-prompt KV bytes, ``O = o b`` generated KV
bytes (``b`` = KV bytes per token, all layers); ``f`` in [0, 1] is the share of ``H`` read through
the decode-node (DE) path. Following the paper's Fig. 4 (the PCIe side of each compute NIC is
counted, as the paper does):

====================  ===========================
resource              bytes per turn
====================  ===========================
pe.snic.read          (1 - f) H
pe.dram               2 (1 - f) H
pe.cnic.read          2 (1 - f) H + A
pe.cnic.write         H
de.snic.read          f H
de.snic.write         A + O
de.dram               2 H + 2 A + f H
de.cnic.read          H + A + f H
de.cnic.write         2 H + 2 A - f H
store.read            H
store.write           A + O
====================  ===========================

Every demand is affine in ``f``: ``demand = const + slope * f``. With ``A = O = 0`` these give the
paper's equations (1)-(8).

The table is not written out here: it is the packaged ``dualpath`` topology
(``dpmodel/catalog/topologies/dualpath.toml``, :mod:`dpmodel.topology`), and the resource list,
the coefficients, the capacities and the unit counts below are generated from it (the first two
paths: ``f`` is the second path's share). Any topology can be passed instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .topology import Topology, default_topology


@dataclass(frozen=True)
class ResourceDef:
    """A named resource: ``<side>.<resource>.<quantity>``, its unit and what it is."""

    name: str
    unit: str  # unit of demand per turn; capacity is this unit per second
    description: str


def _defs(topology: Topology | None, demand: str | None = None) -> tuple[ResourceDef, ...]:
    t = default_topology() if topology is None else topology
    return tuple(
        ResourceDef(r.name, r.unit, r.description) for r in t.resources if demand is None or (r.demand == "legs") == (demand == "legs")
    )


#: Byte-flow resources (the dualpath topology's, in its order).
KV_RESOURCES: tuple[ResourceDef, ...] = _defs(None, "legs")
#: Compute resources: prefill GPU time (seconds per turn) and decode tokens.
COMPUTE_RESOURCES: tuple[ResourceDef, ...] = _defs(None, "compute")
RESOURCES: tuple[ResourceDef, ...] = _defs(None)
RESOURCE_NAMES: tuple[str, ...] = tuple(r.name for r in RESOURCES)
KV_RESOURCE_NAMES: tuple[str, ...] = tuple(r.name for r in KV_RESOURCES)


def kv_flow_coefficients(
    *, hit_bytes: ArrayLike, new_bytes: ArrayLike, gen_bytes: ArrayLike, topology: Topology | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-turn bytes on each KV resource as ``(const, slope)`` with ``demand = const + slope * f``
    (``f``: the second path's share), from the topology's legs (default ``dualpath``)."""
    t = default_topology() if topology is None else topology
    H = np.asarray(hit_bytes, float)
    A = np.asarray(new_bytes, float)
    O = np.asarray(gen_bytes, float)  # noqa: E741 - the paper's symbol
    z = np.zeros(np.broadcast(H, A, O).shape)
    M = t.leg_matrix()
    out = {}
    for i, r in enumerate(t.resources):
        if r.demand != "legs":
            continue
        m0 = M[i, 0]
        m1 = M[i, 1] if M.shape[1] > 1 else m0
        const = m0[0] * H + m0[1] * A + m0[2] * O + z
        d = m1 - m0
        out[r.name] = (const, d[0] * H + d[1] * A + d[2] * O + z)
    return out


def kv_flows_bytes(*, hit_bytes: ArrayLike, new_bytes: ArrayLike, gen_bytes: ArrayLike, split_de_frac: ArrayLike) -> dict[str, np.ndarray]:
    """Bytes per turn on every KV resource for a DE-path share ``split_de_frac`` of the hit bytes."""
    f = np.asarray(split_de_frac, float)
    if np.any((f < 0) | (f > 1)):
        raise ValueError("split_de_frac must lie in [0, 1]")
    coef = kv_flow_coefficients(hit_bytes=hit_bytes, new_bytes=new_bytes, gen_bytes=gen_bytes)
    return {name: c + s * f for name, (c, s) in coef.items()}


def shared_snic_rate_Bps_per_gpu(
    *,
    hit_bytes: ArrayLike,
    compute_s: ArrayLike,
    snic_read_Bps_per_node: ArrayLike,
    gpus_per_node: ArrayLike,
    engine_gpus: ArrayLike = 1,
) -> np.ndarray:
    """Effective storage read rate of one prefill GPU that holds itself while its KV loads (the
    paper's Basic), with the node's ``g`` GPUs sharing its storage NICs dynamically.

    The GPUs form engines of ``e = engine_gpus`` that step in lock step (an expert-parallel group):
    an engine loads its ``e`` turns' KV (``e H`` bytes through the shared NICs, processor sharing)
    and then computes for ``compute_s``. That is the finite-source (machine-repairman) closed
    network of ``g / e`` customers, a processor-sharing station of demand ``e H / S`` and a delay of
    ``compute_s``. Exact MVA (product form) gives the load's residence ``R``; the rate per GPU is
    ``H / R``: ``S / g`` when the whole node is one engine (its loads never overlap its compute),
    up to ``S`` when single-GPU engines never load two at once. Saturated (all engines busy) by
    design: it prices the GPU time of the throughput LP.
    """
    H = np.asarray(hit_bytes, float)
    Z = np.asarray(compute_s, float)
    S = np.asarray(snic_read_Bps_per_node, float)
    e = np.asarray(engine_gpus, float)
    g = np.asarray(gpus_per_node, float) / e  # engines per node
    Dm = e * H / S
    n_max = int(np.max(g))
    Q = np.zeros(np.broadcast(H, Z, S, g).shape)
    R = np.zeros_like(Q)
    for n in range(1, n_max + 1):
        Rn = Dm * (1.0 + Q)
        with np.errstate(divide="ignore", invalid="ignore"):
            X = np.where(Rn + Z > 0, n / (Rn + Z), 0.0)
        live = n <= g
        R = np.where(live, Rn, R)
        Q = np.where(live, X * Rn, Q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(R > 0, H / R, S)


def prefill_gpu_time_coefficients(
    *,
    compute_s: ArrayLike,
    hit_bytes: ArrayLike,
    snic_read_Bps_per_gpu: ArrayLike,
    cnic_kv_Bps_per_gpu: ArrayLike,
    overlap_frac: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Prefill GPU-seconds per turn as ``(const, slope)`` in ``f``.

    ``compute_s + (1 - overlap) * load_s`` where a GPU loading alone would read its PE-path share
    at its share of the node's storage NICs and its DE-path share through its compute NIC:
    ``load_s = (1 - f) H / snic_per_gpu + f H / cnic_per_gpu``. With layerwise prefill
    (``overlap = 1``) loading hides behind compute; the paper's Basic (``overlap = 0``) holds the
    GPU while the whole KV loads.
    """
    H = np.asarray(hit_bytes, float)
    lost = 1.0 - np.asarray(overlap_frac, float)
    pe_s = H / np.asarray(snic_read_Bps_per_gpu, float)
    de_s = H / np.asarray(cnic_kv_Bps_per_gpu, float)
    const = np.asarray(compute_s, float) + lost * pe_s
    slope = lost * (de_s - pe_s)
    return const, slope


def resource_capacities(
    *,
    prefill_nodes: ArrayLike,
    decode_nodes: ArrayLike,
    gpus_per_node: ArrayLike,
    snic_read_Bps_per_node: ArrayLike,
    snic_write_Bps_per_node: ArrayLike,
    cnic_kv_Bps_per_gpu: ArrayLike,
    dram_Bps_per_node: ArrayLike,
    store_read_Bps: ArrayLike,
    store_write_Bps: ArrayLike,
    decode_tokens_per_s_per_gpu: ArrayLike,
    topology: Topology | None = None,
) -> dict[str, np.ndarray]:
    """Cluster-wide capacity per second of every resource (bytes/s, GPUs, tokens/s): each
    resource's rate times its units (the topology's capacity rules, default ``dualpath``)."""
    t = default_topology() if topology is None else topology
    rates = {
        "snic_read_Bps_per_node": snic_read_Bps_per_node,
        "snic_write_Bps_per_node": snic_write_Bps_per_node,
        "cnic_kv_Bps_per_gpu": cnic_kv_Bps_per_gpu,
        "dram_Bps_per_node": dram_Bps_per_node,
        "store_read_Bps": store_read_Bps,
        "store_write_Bps": store_write_Bps,
        "gpu_s_per_s": 1.0,
        "decode_tokens_per_s_per_gpu": decode_tokens_per_s_per_gpu,
    }
    units = resource_units(prefill_nodes=prefill_nodes, decode_nodes=decode_nodes, gpus_per_node=gpus_per_node, topology=t)
    return {r.name: np.asarray(rates[r.rate], float) * units[r.name] for r in t.resources}


def turn_demand_coefficients(
    *,
    hit_bytes: ArrayLike,
    new_bytes: ArrayLike,
    gen_bytes: ArrayLike,
    generated_tokens: ArrayLike,
    compute_s: ArrayLike,
    snic_read_Bps_per_gpu: ArrayLike,
    cnic_kv_Bps_per_gpu: ArrayLike,
    overlap_frac: ArrayLike,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-turn demand ``(const, slope)`` in ``f`` on every resource of :data:`RESOURCE_NAMES`.

    Pass zero bytes for a mode without KV I/O (``oracle``).
    """
    out = kv_flow_coefficients(hit_bytes=hit_bytes, new_bytes=new_bytes, gen_bytes=gen_bytes)
    out["pe.gpu.time"] = prefill_gpu_time_coefficients(
        compute_s=compute_s,
        hit_bytes=hit_bytes,
        snic_read_Bps_per_gpu=snic_read_Bps_per_gpu,
        cnic_kv_Bps_per_gpu=cnic_kv_Bps_per_gpu,
        overlap_frac=overlap_frac,
    )
    tokens = np.asarray(generated_tokens, float)
    out["de.gpu.tokens"] = (tokens, np.zeros_like(tokens))
    return out


def resource_units(
    *, prefill_nodes: ArrayLike, decode_nodes: ArrayLike, gpus_per_node: ArrayLike, topology: Topology | None = None
) -> dict[str, np.ndarray]:
    """How many identical parallel units make up each resource: one turn's transfer uses one unit
    (one node's storage NICs or DRAM, one GPU's compute NIC), so a lone turn moves at the unit's
    bandwidth while load spreads over all units (the topology's ``side`` and ``per``)."""
    t = default_topology() if topology is None else topology
    P = np.asarray(prefill_nodes, float)
    D = np.asarray(decode_nodes, float)
    g = np.asarray(gpus_per_node, float)
    one = np.ones(np.broadcast(P, D, g).shape)
    out = {}
    for r in t.resources:
        n = P if r.side == "prefill" else D if r.side == "decode" else 1.0
        out[r.name] = (n * g if r.per == "gpu" else n) * one
    return out
