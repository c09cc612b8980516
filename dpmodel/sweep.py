"""Vectorized what-if sweeps of saturated throughput over many scenarios at once.

The same kernels as the LP (:func:`dpmodel.flows.turn_demand_coefficients`,
:func:`dpmodel.flows.resource_capacities`), evaluated on arrays; the optimal split per scenario
comes from the exact one-dimensional closed form :func:`dpmodel.capacity.minimize_max_affine`
(one request class), so 10^5 scenarios take a fraction of a second. Cross-checked against the
cvxpy LP in the tests.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from . import compute, flows, storage, units
from .capacity import minimize_max_affine
from .errors import ScenarioError
from .scenario import MODES, Scenario

#: axes a sweep may vary, with what each overrides
SWEEP_AXES: dict[str, str] = {
    "prefill_nodes": "P, prefill nodes",
    "decode_nodes": "D, decode nodes",
    "context_tokens": "hit (cached) tokens per turn, c",
    "append_tokens": "appended tokens per turn, a",
    "generated_tokens": "generated tokens per turn, o",
    "snic_Gbps": "storage NIC line rate, each",
    "snic_count": "storage NICs per node",
    "cnic_Gbps": "compute NIC line rate per GPU",
    "dram_GBps": "DRAM bandwidth per node",
    "prefill_efficiency_frac": "achieved / peak prefill FLOP/s",
}

#: per axis: (integer?, lowest, highest) -- the same ranges as the option or profile field it replaces
AXIS_RANGES: dict[str, tuple[bool, float, float]] = {
    "prefill_nodes": (True, 1, 100_000),
    "decode_nodes": (True, 1, 100_000),
    "context_tokens": (False, 0, 1e9),
    "append_tokens": (False, 0, 1e9),
    "generated_tokens": (False, 1, 1e9),
    "snic_Gbps": (False, 1e-3, 1e5),
    "snic_count": (True, 1, 64),
    "cnic_Gbps": (False, 1e-3, 1e5),
    "dram_GBps": (False, 1e-3, 1e6),
    "prefill_efficiency_frac": (False, 0.01, 1),
}


def check_axis(name: str, values: ArrayLike) -> np.ndarray:
    """Validate one sweep axis like the option it replaces: known, non-empty, finite, in range,
    integers for counts. Raises ScenarioError naming the axis and the bad value."""
    if name not in SWEEP_AXES:
        raise ScenarioError(f"--axis {name}: unknown sweep axis; use one of {', '.join(SWEEP_AXES)}")
    try:
        v = np.asarray(values, float).reshape(-1)
    except (TypeError, ValueError):
        raise ScenarioError(f"--axis {name}: values must be numbers") from None
    if v.size == 0:
        raise ScenarioError(f"--axis {name}: no values; give {name}=V1,V2,...")
    integer, lo, hi = AXIS_RANGES[name]
    for x in v:
        if not math.isfinite(x) or not lo <= x <= hi or (integer and not float(x).is_integer()):
            kind = "an integer" if integer else "a finite number"
            raise ScenarioError(f"--axis {name}={x:g}: each value must be {kind} in [{lo:g}, {hi:g}] ({SWEEP_AXES[name]})")
    return v


def sweep_throughput(base: Scenario, mode: str = "dualpath", **axes: ArrayLike) -> dict[str, np.ndarray]:
    """Saturated turns/s of ``base`` with any of :data:`SWEEP_AXES` replaced by broadcastable arrays.

    Returns arrays of the broadcast shape: ``turns_per_s``, ``split_de_frac``,
    ``bottleneck_index`` (into :data:`dpmodel.flows.RESOURCE_NAMES`) and ``fits`` (False where the
    model's weights do not fit on the decode GPUs; throughput is 0 there).
    """
    unknown = set(axes) - set(SWEEP_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)[0]!r}: use one of {', '.join(SWEEP_AXES)}")
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    for name, values in axes.items():
        check_axis(name, values)
    m = MODES[mode]
    cl, mdl, dep = base.cluster, base.model, base.deployment
    if len(base.classes()) != 1:
        raise ScenarioError("sweeps take a one-class scenario; use the LP (dpmodel.plan.analyse) for a class mixture")
    (k,) = base.classes()
    node, gpu, net = cl.node, cl.gpu, cl.network

    def ax(name: str, default: float) -> np.ndarray:
        return np.asarray(axes.get(name, default), float)

    P = ax("prefill_nodes", dep.prefill_nodes_count)
    D = ax("decode_nodes", dep.decode_nodes_count)
    c = ax("context_tokens", k.hit_tokens)
    a = ax("append_tokens", k.append_tokens)
    o = ax("generated_tokens", k.generated_tokens)
    eff = ax("prefill_efficiency_frac", dep.prefill_efficiency_frac)
    # the Full-Block read model (dpmodel.storage), as Scenario.storage_reads but over the axes
    snics, st_ = ax("snic_count", node.snic_count), cl.storage
    block = storage.full_block_bytes(kv_bytes_per_token=mdl.kv_bytes_per_token, block_tokens=st_.full_block_tokens)
    n_reads = np.maximum(1.0, storage.reads_in_flight(depth_max=st_.reads_in_flight_max_count, hit_tokens=c, block_tokens=st_.full_block_tokens,
                                                      engines_count=cl.gpus_per_node // base.prefill_engine_gpus) / snics)
    snic_line = ax("snic_Gbps", node.snic_Gbps) * units.Gbps
    snic_node = snics * storage.effective_read_Bps(block_bytes=block, reads_in_flight=n_reads, line_Bps=snic_line, payload_frac=node.snic_payload_frac,
                                                   read_overhead_s=st_.read_overhead_ms * 1e-3)
    snic_node_w = snics * storage.effective_read_Bps(block_bytes=block, reads_in_flight=st_.reads_in_flight_max_count, line_Bps=snic_line,
                                                     payload_frac=node.snic_payload_frac, read_overhead_s=st_.write_overhead_ms * 1e-3)
    cnic = np.minimum(ax("cnic_Gbps", node.cnic_Gbps) * units.Gbps, gpu.pcie_GBps * units.GBps)
    cnic = cnic * (1.0 - net.cnic_collective_frac) / net.cnic_imbalance_factor
    dram = ax("dram_GBps", node.dram_GBps) * units.GBps
    P, D, c, a, o, eff, snic_node, snic_node_w, cnic, dram = np.broadcast_arrays(P, D, c, a, o, eff, snic_node, snic_node_w, cnic, dram)
    g = cl.gpus_per_node
    b = mdl.kv_bytes_per_token
    arch = mdl.architecture
    engine_gpus = base.prefill_engine_gpus

    w = compute.decode_weight_bytes_per_gpu(
        weight_bytes=mdl.weight_bytes,
        gpus_per_node=g,
        decode_nodes=D,
        weight_nodes=dep.decode_weight_nodes_count,
        moe=arch.layers_count > arch.dense_layers_count,
    )
    hbm_kv = cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac) - w
    dec = compute.decode_tokens_per_s_per_gpu(
        hbm_kv_bytes_per_gpu=hbm_kv,
        seq_kv_bytes=(c + a + o / 2.0) * b,
        weight_bytes_per_gpu=w,
        hbm_Bps=cl.hbm_Bps_per_gpu,
        hbm_efficiency_frac=dep.decode_hbm_efficiency_frac,
        step_overhead_s=dep.decode_step_overhead_s,
        tpot_max_s=dep.tpot_max_s,
    )
    io = 1.0 if m.kv_io else 0.0
    compute_s = mdl.prefill_flops(context_tokens=c, append_tokens=a) / (cl.peak_flops_per_s_per_gpu(mdl.numerics.compute_dtype) * eff)
    coef = flows.turn_demand_coefficients(
        hit_bytes=io * c * b,
        new_bytes=io * a * b,
        gen_bytes=io * o * b,
        generated_tokens=o,
        compute_s=compute_s,
        snic_read_Bps_per_gpu=flows.shared_snic_rate_Bps_per_gpu(hit_bytes=c * b, compute_s=compute_s, snic_read_Bps_per_node=snic_node, gpus_per_node=g,
                                                                  engine_gpus=engine_gpus),
        cnic_kv_Bps_per_gpu=cnic,
        overlap_frac=1.0 if m.layerwise else dep.basic_overlap_frac,
    )
    caps = flows.resource_capacities(
        prefill_nodes=P,
        decode_nodes=D,
        gpus_per_node=g,
        snic_read_Bps_per_node=snic_node,
        snic_write_Bps_per_node=snic_node_w,
        cnic_kv_Bps_per_gpu=cnic,
        dram_Bps_per_node=dram,
        store_read_Bps=cl.store_read_Bps,
        store_write_Bps=cl.store_write_Bps,
        decode_tokens_per_s_per_gpu=dec["tokens_per_s_per_gpu"],
    )
    names = flows.RESOURCE_NAMES
    with np.errstate(divide="ignore", invalid="ignore"):
        A = np.stack([coef[n][0] / caps[n] for n in names], axis=-1)
        B = np.stack([coef[n][1] / caps[n] for n in names], axis=-1)
    A = np.nan_to_num(A, nan=0.0, posinf=np.inf)
    B = np.nan_to_num(B, nan=0.0)
    if m.de_path:
        peak, f = minimize_max_affine(A, B)
    else:
        peak, f = A.max(axis=-1), np.zeros(A.shape[:-1])
    fits = hbm_kv > 0
    with np.errstate(divide="ignore"):
        X = np.where(fits, np.where(peak > 0, 1.0 / peak, np.inf), 0.0)
    bottleneck = np.argmax(A + B * f[..., None], axis=-1)
    return {"turns_per_s": X, "split_de_frac": f, "bottleneck_index": bottleneck, "fits": fits}


def bottleneck_grid(base: Scenario, *, pd_ratios: ArrayLike, contexts_tokens: ArrayLike, decode_nodes: int = 4, mode: str = "dualpath") -> dict:
    """Dual-path throughput and bottleneck over P/D ratio x context length (``decode_nodes``
    fixed; P = ratio x D, rounded, at least 1)."""
    ratios = np.asarray(pd_ratios, float)
    ctx = np.asarray(contexts_tokens, float)
    P = np.maximum(1, np.rint(ratios * decode_nodes))
    out = sweep_throughput(base, mode, prefill_nodes=P[None, :], decode_nodes=decode_nodes, context_tokens=ctx[:, None])
    names = np.array(flows.RESOURCE_NAMES)
    return {
        "pd_ratio": P / decode_nodes,
        "context_tokens": ctx,
        "turns_per_s": out["turns_per_s"],
        "bottleneck": names[out["bottleneck_index"]],
        "split_de_frac": out["split_de_frac"],
    }


def split_curve(scenario: Scenario, *, points: int = 101) -> dict:
    """Throughput as a function of the split f, with each resource's own limit ``cap / demand(f)``."""
    d = scenario.demands("dualpath")
    f = np.linspace(0.0, 1.0, points)
    dem = (d.const @ d.weights)[:, None] + (d.slope @ d.weights)[:, None] * f[None, :]
    with np.errstate(divide="ignore"):
        limits = np.where(dem > 0, d.capacity[:, None] / dem, np.inf)
    return {"split_de_frac": f, "limits": dict(zip(d.names, limits, strict=True)), "turns_per_s": limits.min(axis=0)}


# ---- parallel sweeps of models that are not vectorized (offline MVA, and later the simulator) ----


def offline_point(*, mode: str, agents: int, seed: int = 0, **scenario) -> dict:
    """One offline-JCT evaluation from plain arguments (picklable, for process pools and Dask);
    ``scenario`` holds :meth:`Scenario.load`'s arguments (cluster, model, workload, node counts, knobs)."""
    from .serving import offline_jct

    r = offline_jct(Scenario.load(**scenario), mode, agents, seed=seed)
    return {"jct_s": r.jct_s, "turns_per_s": r.turns_per_s}


def simulate_point(*, mode: str, agents: int, seed: int = 0, **scenario) -> dict:
    """One simulated offline batch from plain arguments, like :func:`offline_point`."""
    from .serving import simulate_offline

    r = simulate_offline(Scenario.load(**scenario), mode, agents, seed=seed)
    return {"jct_s_sim": r.jct_s_sim, "turns_per_s_sim": r.turns_per_s_sim, "events": r.events}


def parallel_sweep(fn, points: list[dict], *, workers: int | None = None, scheduler: str | None = None) -> list[dict]:
    """Evaluate ``fn(**point)`` for every point, in order: on a local process pool, or on an
    existing Dask distributed cluster when ``scheduler`` (its address, or a ``Client``) is given.

    Each result is the point merged with what ``fn`` returned. ``fn`` must be importable
    (module-level) so that workers can run it.
    """
    if not points:
        return []
    if scheduler is not None:
        from distributed import Client

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(fn, **p, pure=False) for p in points]
            results = client.gather(futures)
        finally:
            if not isinstance(scheduler, Client):
                client.close()
    elif workers == 1:
        results = [fn(**p) for p in points]
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            results = list(ex.map(_call, [(fn, p) for p in points]))
    return [{**p, **r} for p, r in zip(points, results, strict=True)]


def _call(args):
    fn, kw = args
    return fn(**kw)


def grid(**axes) -> list[dict]:
    """Every combination of the given axes, as a list of points."""
    import itertools

    keys = list(axes)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(list(v) for v in axes.values()))]
