"""One composition path: a scenario's per-turn demands and capacities over (axes x classes x paths).

Every consumer of demands -- the throughput LP (:mod:`dpmodel.plan`), the vectorized sweep
(:mod:`dpmodel.sweep`), sizing, the queueing models and the simulator's set-up -- takes them from
:func:`compose`, so one scenario gives one set of numbers everywhere. The physics (FLOPs, decode
capacity, the storage read model) are the kernels of :mod:`dpmodel.compute`,
:mod:`dpmodel.storage` and the scenario's own methods; the structure (which resource a turn loads
on which path, and how much) is the scenario's :class:`~dpmodel.topology.Topology`.

Notes
-----
For a class ``k`` and a path ``p`` the demand of one turn on resource ``r`` is

* a byte resource: ``io * (M[r, p] . (H_k, A_k, O_k))`` (the topology's legs; ``io = 0`` in a
  mode without KV I/O);
* the prefill GPU time: ``compute_k + (1 - overlap) * io * H_k / wait_p + recompute_p * recompute_k``
  where ``wait_p`` is the per-GPU rate the path's load waits on and ``recompute_k`` the GPU-seconds
  to recompute the class's hit tokens (the FLOPs of prefilling ``c + a`` tokens from scratch less
  those of prefilling ``a`` after ``c``, at the same effective FLOP/s);
* the decode tokens: ``o_k``.

Sweep axes (:data:`dpmodel.sweep.SWEEP_AXES`) replace scenario values by broadcastable arrays.
A token axis sets the turn-weighted mean of that token count; the class mixture is scaled to it
(one class: the value itself). A class's prefill FLOPs (the mean over its members, where the
workload gave them) move by the FLOPs difference between its new and its given mean tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import compute, flows, storage, units
from .topology import Topology, default_topology

TOKEN_AXES = {"context_tokens": "hit_tokens", "append_tokens": "append_tokens", "generated_tokens": "generated_tokens"}


@dataclass(frozen=True)
class Composition:
    """Per-turn demands and capacities of one scenario and mode over the axes' broadcast shape ``S``.

    ``coef[..., r, k, p]``: demand of one class-``k`` turn on resource ``r`` when its hit KV takes
    path ``p`` (in the resource's unit); ``capacity[..., r]``: cluster-wide capacity per second.
    """

    topology: Topology
    coef: np.ndarray  # S + (R, K, P)
    capacity: np.ndarray  # S + (R,)
    weights: np.ndarray  # (K,)
    hit_bytes: np.ndarray  # S + (K,)
    allowed: np.ndarray  # (P,) bool: paths the mode may use
    fits: np.ndarray  # S bool: the model's weights fit on the decode GPUs
    units: np.ndarray  # S + (R,): identical parallel units making up each resource

    @property
    def names(self) -> tuple[str, ...]:
        return self.topology.names

    @property
    def paths(self) -> tuple[str, ...]:
        return self.topology.path_names


def _scenario_topology(scenario) -> Topology:
    t = getattr(scenario, "topology", None)
    return default_topology() if t is None else t


def _class_arrays(scenario) -> dict[str, np.ndarray]:
    ks = scenario.classes()
    w = np.array([k.weight_frac for k in ks], float)
    c = np.array([k.hit_tokens for k in ks], float)
    a = np.array([k.append_tokens for k in ks], float)
    o = np.array([k.generated_tokens for k in ks], float)
    given = np.array([k.prefill_flops is not None for k in ks])
    fl = np.array([k.prefill_flops if k.prefill_flops is not None else np.nan for k in ks], float)
    if not given.all():
        fl = np.where(given, fl, scenario.model.prefill_flops(context_tokens=c, append_tokens=a))
    return {"w": w, "hit_tokens": c, "append_tokens": a, "generated_tokens": o, "flops": fl}


def _scaled_tokens(base: np.ndarray, w: np.ndarray, value: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Class tokens ``S + (K,)`` with their weighted mean set to ``value`` (S), and the scale (S)."""
    if value is None:
        return base, np.ones(())
    mean = float(w @ base)
    v = np.asarray(value, float)
    if mean > 0:
        scale = v / mean
        return base * scale[..., None], scale
    return np.broadcast_to(v[..., None], v.shape + base.shape).copy(), np.full(v.shape, np.nan)


def _per_combo(fn, keys: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """``fn(*row)`` for every distinct row of the broadcast ``keys``, scattered back to ``shape``."""
    cols = [np.broadcast_to(np.asarray(k, float), shape).reshape(-1) for k in keys]
    if not cols or not shape:
        return np.asarray(fn(*[float(c[0]) if c.size else None for c in cols]) if cols else fn(), float).reshape(shape)
    stacked = np.stack(cols, axis=-1)
    uniq, inv = np.unique(stacked, axis=0, return_inverse=True)
    vals = np.array([fn(*row) for row in uniq], float)
    return vals[inv.reshape(-1)].reshape(shape)


def _nic_read_Bps(block, reads, line, payload, overhead_s) -> np.ndarray:
    """:func:`dpmodel.storage.effective_read_Bps`, evaluated only where its loss probability can
    matter: where ``B(n, a) <= a^n / n! < 1e-18`` the busy share ``1 - B`` is exactly 1.0 in double
    precision, so the rate is the payload line rate, bit for bit what the kernel returns."""
    from scipy.special import gammaln

    n = np.floor(np.asarray(reads, float))
    L = np.asarray(line, float) * np.asarray(payload, float)
    if n.size == 1 and L.size == 1:
        return storage.effective_read_Bps(
            block_bytes=block, reads_in_flight=reads, line_Bps=line, payload_frac=payload, read_overhead_s=overhead_s
        )
    a = np.asarray(overhead_s, float) * L / np.asarray(block, float)
    n_b, a_b, L_b = np.broadcast_arrays(n, a, L)
    with np.errstate(divide="ignore"):
        tiny = (a_b == 0) | (n_b * np.log(a_b) - gammaln(n_b + 1.0) < np.log(1e-18))
    out = np.array(L_b, float)
    need = ~tiny
    if need.any():
        out[need] = storage.effective_read_Bps(
            block_bytes=block,
            reads_in_flight=np.broadcast_to(reads, n_b.shape)[need],
            line_Bps=np.broadcast_to(line, n_b.shape)[need],
            payload_frac=payload,
            read_overhead_s=overhead_s,
        )
    return out


def compose(scenario, mode, **axes: Any) -> Composition:
    """Per-turn demands (resources x classes x paths) and capacities of ``scenario`` in ``mode``
    (a :class:`dpmodel.scenario.Mode`), with any sweep axis replaced by an array (validated by the
    caller). Without axes every array has no leading dimensions."""
    if axes:
        parts = _mode_free_parts(scenario, axes)
    else:  # no axes: the mode-free part once per (frozen) scenario, shared by its modes
        memo = scenario.__dict__.setdefault("_roof_memo", {}) if hasattr(scenario, "__dict__") else {}
        parts = memo.get("compose_mode_free")
        if parts is None:
            parts = memo["compose_mode_free"] = _mode_free_parts(scenario, axes)
    (topo, cl, mdl, dep, w, shape, c, a, o, b, g, rate, compute_s, snic_read, cnic, cap, unit_n, fits) = parts
    cap, unit_n, fits = cap.copy(), unit_n.copy(), fits.copy()  # the Composition's own arrays

    # ---- demands ----------------------------------------------------------------------------------
    m = mode
    io = 1.0 if m.kv_io else 0.0
    H, A, O = io * c * b, io * a * b, io * o * b  # noqa: E741 - the paper's symbol
    K = len(w)
    Hb, Ab, Ob = (np.broadcast_to(x, shape + (K,)) for x in (H, A, O))
    HAO = np.stack([Hb, Ab, Ob], axis=-1)  # S + (K, 3)
    M = topo.leg_matrix()  # (R, P, 3)
    coef = np.moveaxis(np.tensordot(HAO, M, axes=([-1], [-1])), -3, -2)  # S + (R, K, P)
    coef = np.ascontiguousarray(coef)
    lost = 0.0 if m.layerwise else 1.0 - dep.basic_overlap_frac
    for i, r in enumerate(topo.resources):
        if r.demand == "generated_tokens":
            coef[..., i, :, :] = np.broadcast_to(o, shape + (K,))[..., None]
        elif r.demand == "prefill_gpu_s":
            need_rec = any(p.recompute for p in topo.paths)
            if need_rec:
                rec = (
                    mdl.prefill_flops(context_tokens=0.0 * c, append_tokens=c + a) - mdl.prefill_flops(context_tokens=c, append_tokens=a)
                ) / rate
            for j, p in enumerate(topo.paths):
                t = compute_s
                if lost and p.load_wait != "none":
                    if p.load_wait == "pe_snic_shared":
                        wait = flows.shared_snic_rate_Bps_per_gpu(
                            hit_bytes=(c * b) @ w if c.ndim > 1 else float(w @ (c * b)),
                            compute_s=compute_s @ w,
                            snic_read_Bps_per_node=snic_read,
                            gpus_per_node=g,
                            engine_gpus=scenario.prefill_engine_gpus,
                        )
                    else:
                        wait = cnic
                    t = t + lost * (H / np.asarray(wait)[..., None])
                if p.recompute:
                    t = t + rec
                coef[..., i, :, j] = np.broadcast_to(t, shape + (K,))
    allowed = np.array([j == 0 or m.de_path for j in range(len(topo.paths))])
    hit = np.broadcast_to(c * b, shape + (K,))
    return Composition(topo, coef, cap, w, hit, allowed, fits, unit_n)


def _mode_free_parts(scenario, axes: dict) -> tuple:
    """What :func:`compose` computes before the demands, none of which depends on the mode: the
    classes' tokens, the prefill compute seconds, every per-unit rate, the capacities and unit
    counts, and where the weights fit."""
    topo = _scenario_topology(scenario)
    cl, mdl, dep = scenario.cluster, scenario.model, scenario.deployment
    node, gpu, net, st_ = cl.node, cl.gpu, cl.network, cl.storage
    kc = _class_arrays(scenario)
    w = kc["w"]

    def ax(name: str, default: float) -> np.ndarray:
        return np.asarray(axes[name], float) if name in axes else np.asarray(default, float)

    P = ax("prefill_nodes", dep.prefill_nodes_count)
    D = ax("decode_nodes", dep.decode_nodes_count)
    snics = ax("snic_count", node.snic_count)
    snic_Gbps = ax("snic_Gbps", node.snic_Gbps)
    cnic_Gbps = ax("cnic_Gbps", node.cnic_Gbps)
    dram_GBps = ax("dram_GBps", node.dram_GBps)
    eff = ax("prefill_efficiency_frac", dep.prefill_efficiency_frac)
    tok_vals = {name: (np.asarray(axes[name], float) if name in axes else None) for name in TOKEN_AXES}
    shape = np.broadcast_shapes(
        P.shape,
        D.shape,
        snics.shape,
        snic_Gbps.shape,
        cnic_Gbps.shape,
        dram_GBps.shape,
        eff.shape,
        *(v.shape for v in tok_vals.values() if v is not None),
    )
    c, sc_c = _scaled_tokens(kc["hit_tokens"], w, tok_vals["context_tokens"])
    a, sc_a = _scaled_tokens(kc["append_tokens"], w, tok_vals["append_tokens"])
    o, sc_o = _scaled_tokens(kc["generated_tokens"], w, tok_vals["generated_tokens"])
    tokens_moved = any(v is not None for v in tok_vals.values())
    flops = kc["flops"]
    if tokens_moved:
        flops = flops + (
            mdl.prefill_flops(context_tokens=c, append_tokens=a)
            - mdl.prefill_flops(context_tokens=kc["hit_tokens"], append_tokens=kc["append_tokens"])
        )
    b = mdl.kv_bytes_per_token
    g = cl.gpus_per_node
    roofline = dep.physics != "flat"

    def derived(sc_c_: float, sc_a_: float, sc_o_: float, D_: float | None = None, P_: float | None = None):
        """The scenario with its classes' tokens scaled (and D, P replaced): the roofline's inputs."""
        ks = scenario.classes()
        new = []
        for k in ks:
            new.append(
                dataclasses.replace(
                    k,
                    hit_tokens=k.hit_tokens * sc_c_ if np.isfinite(sc_c_) else float(tok_vals["context_tokens"].reshape(-1)[0]),
                    append_tokens=k.append_tokens * sc_a_,
                    generated_tokens=k.generated_tokens * sc_o_,
                )
            )
        out = dataclasses.replace(scenario, request_classes=tuple(new))
        if D_ is not None and int(D_) != dep.decode_nodes_count:
            out = out.with_deployment(decode_nodes_count=int(D_))
        if P_ is not None and int(P_) != dep.prefill_nodes_count:
            out = out.with_deployment(prefill_nodes_count=int(P_))  # the prefill EP layout spans nodes
        return out

    # ---- prefill compute seconds per turn (K classes, shape S + (K,)) -------------------------
    if not roofline:
        rate = cl.peak_flops_per_s_per_gpu(mdl.numerics.compute_dtype) * eff
    elif not tokens_moved and "prefill_nodes" not in axes:
        rate = np.asarray(scenario.prefill_rate_flops_per_s(), float)
    else:
        rate = _per_combo(lambda x, y, p: derived(x, y, 1.0, None, p).prefill_rate_flops_per_s(), [sc_c, sc_a, P], shape)
    rate = np.asarray(rate, float)[..., None]
    compute_s = flops / rate

    # ---- per-unit rates -----------------------------------------------------------------------
    block = storage.full_block_bytes(kv_bytes_per_token=b, block_tokens=st_.full_block_tokens)
    hit_mean = c @ w if c.ndim > 1 else np.asarray(float(w @ c))
    n_r = np.maximum(
        1.0,
        storage.reads_in_flight(
            depth_max=st_.reads_in_flight_max_count,
            hit_tokens=hit_mean,
            block_tokens=st_.full_block_tokens,
            engines_count=g // scenario.prefill_engine_gpus,
        )
        / snics,
    )
    line = snic_Gbps * units.Gbps
    snic_read = snics * _nic_read_Bps(block, n_r, line, node.snic_payload_frac, st_.read_overhead_ms * 1e-3)
    snic_write = snics * _nic_read_Bps(block, st_.reads_in_flight_max_count, line, node.snic_payload_frac, st_.write_overhead_ms * 1e-3)
    cnic = np.minimum(cnic_Gbps * units.Gbps, gpu.pcie_GBps * units.GBps) * (1.0 - net.cnic_collective_frac) / net.cnic_imbalance_factor
    dram = dram_GBps * units.GBps
    arch = mdl.architecture
    place = dict(weight_bytes=mdl.weight_bytes, gpus_per_node=g, decode_nodes=D, weight_nodes=dep.decode_weight_nodes_count)
    moe = arch.layers_count > arch.dense_layers_count
    # MoE: attention data parallel (non-routed weights on every GPU) where that leaves HBM, as Scenario does
    rep = scenario.nonrouted_weight_bytes() if roofline else 0.0
    dp = compute.decode_weight_bytes_per_gpu(**place, moe=moe, replicated_bytes=rep)
    rep = np.where(dp < cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac), rep, 0.0)
    wbytes = compute.decode_weight_bytes_per_gpu(**place, moe=moe, replicated_bytes=rep)
    hbm_kv = cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac) - wbytes
    fits = np.broadcast_to(hbm_kv > 0, shape)
    if not roofline:
        seq = ((c + a + o / 2.0) * b) @ w if c.ndim > 1 or a.ndim > 1 or o.ndim > 1 else float(w @ ((c + a + o / 2.0) * b))
        dec = compute.decode_tokens_per_s_per_gpu(
            hbm_kv_bytes_per_gpu=hbm_kv,
            seq_kv_bytes=seq,
            weight_bytes_per_gpu=wbytes,
            hbm_Bps=cl.hbm_Bps_per_gpu,
            hbm_efficiency_frac=dep.decode_hbm_efficiency_frac,
            step_overhead_s=dep.decode_step_overhead_s,
            tpot_max_s=dep.tpot_max_s,
        )["tokens_per_s_per_gpu"]
    else:

        def dec_one(x, y, z, d):
            sc = derived(x, y, z, d)
            try:
                return sc.decode_capacity()["tokens_per_s_per_gpu"]
            except Exception:  # the weights do not fit: marked by ``fits``
                return 0.0

        dec = (
            _per_combo(dec_one, [sc_c, sc_a, sc_o, D], shape)
            if (tokens_moved or "decode_nodes" in axes)
            else np.asarray(dec_one(1.0, 1.0, 1.0, None), float)
        )
    dec = np.where(fits, dec, 0.0)
    rates = {
        "snic_read_Bps_per_node": snic_read,
        "snic_write_Bps_per_node": snic_write,
        "cnic_kv_Bps_per_gpu": cnic,
        "dram_Bps_per_node": dram,
        "store_read_Bps": np.asarray(cl.store_read_Bps, float),
        "store_write_Bps": np.asarray(cl.store_write_Bps, float),
        "gpu_s_per_s": np.ones(()),
        "decode_tokens_per_s_per_gpu": dec,
    }

    # ---- capacities and unit counts -------------------------------------------------------------
    R = len(topo.resources)
    # filled resource by resource in (R,) + S (contiguous rows, each product computed once per
    # distinct rate and unit count), then laid out as S + (R,) in one transposing copy
    cap_t = np.empty((R,) + shape)
    unit_t = np.empty((R,) + shape)
    done: dict[tuple, int] = {}
    for i, r in enumerate(topo.resources):
        key = (r.rate, r.side, r.per)
        if key in done:
            cap_t[i], unit_t[i] = cap_t[done[key]], unit_t[done[key]]
            continue
        done[key] = i
        n_side = P if r.side == "prefill" else D if r.side == "decode" else np.ones(())
        n = n_side * g if r.per == "gpu" else n_side
        unit_t[i] = n
        cap_t[i] = rates[r.rate] * n
    cap = np.ascontiguousarray(np.moveaxis(cap_t, 0, -1))
    unit_n = np.ascontiguousarray(np.moveaxis(unit_t, 0, -1))

    return (topo, cl, mdl, dep, w, shape, c, a, o, b, g, rate, compute_s, snic_read, cnic, cap, unit_n, fits)
