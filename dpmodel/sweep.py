"""Vectorized what-if sweeps of saturated throughput over many scenarios at once.

The same demands and capacities as the LP (one composition path, :func:`dpmodel.compose.compose`),
evaluated on arrays; the optimal split per scenario comes from the exact one-dimensional closed
form :func:`dpmodel.optimize.throughput.min_max_affine` (one request class, two paths), the exact
batched vertex enumeration :func:`dpmodel.optimize.throughput.min_max_affine_2d` (one class, three
paths), or one exact LP per point for a class mixture or more paths. Cross-checked against ``dpmodel plan`` in the tests.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .compose import Composition, compose
from .errors import ScenarioError
from .optimize.throughput import exact_peak
from .parallel import parallel_sweep  # noqa: F401  (re-exported: dpmodel.sweep.parallel_sweep)
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
    integers for counts.

    Parameters
    ----------
    name : str
        The axis, one of :data:`SWEEP_AXES`.
    values : array_like
        The axis's values, in the unit of the option it replaces (counts, tokens, Gb/s, GB/s or a
        fraction; :data:`SWEEP_AXES`), each within :data:`AXIS_RANGES`.

    Returns
    -------
    numpy.ndarray
        ``values`` as a flat float array.

    Raises
    ------
    ScenarioError
        Naming the axis and the bad value: an unknown axis, non-numbers, no values, or a value that
        is not finite, out of range, or not an integer for a count.
    """
    if name not in SWEEP_AXES:
        raise ScenarioError(f"--axis {name}: unknown sweep axis; use one of {', '.join(SWEEP_AXES)}")
    try:
        v = np.asarray(values, float).reshape(-1)
    except (TypeError, ValueError):
        raise ScenarioError(f"--axis {name}: values must be numbers") from None
    if v.size == 0:
        raise ScenarioError(f"--axis {name}: no values; give {name}=V1,V2,...")
    integer, lo, hi = AXIS_RANGES[name]
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(v) & (v >= lo) & (v <= hi))
        if integer:
            bad |= np.isfinite(v) & (v != np.floor(v))
    if bad.any():
        x = float(v[np.argmax(bad)])
        kind = "an integer" if integer else "a finite number"
        raise ScenarioError(f"--axis {name}={x:g}: each value must be {kind} in [{lo:g}, {hi:g}] ({SWEEP_AXES[name]})")
    return v


def sweep_throughput(base: Scenario, mode: str = "dualpath", **axes: ArrayLike) -> dict[str, np.ndarray]:
    """Saturated turns/s of ``base`` with any of :data:`SWEEP_AXES` replaced by broadcastable arrays.

    The demands and capacities are :func:`dpmodel.compose.compose`'s, the same the LP of
    ``dpmodel plan`` solves, for every workload kind (one class or a mixture) and both physics.
    One class on two paths takes the exact closed form :func:`dpmodel.capacity.minimize_max_affine`;
    one class on three paths the exact vertex enumeration
    :func:`dpmodel.optimize.throughput.min_max_affine_2d`; a class mixture or more paths takes one
    exact LP per point (HiGHS, simplex).

    Parameters
    ----------
    base : Scenario
        The scenario whose values the axes replace.
    mode : str, optional
        The loading mode, one of :data:`dpmodel.scenario.MODES` (default ``"dualpath"``).
    **axes : array_like
        Any of :data:`SWEEP_AXES`, each broadcastable against the others, in the unit of the option
        it replaces; checked by :func:`check_axis`.

    Returns
    -------
    dict of str to numpy.ndarray
        Arrays of the broadcast shape: ``turns_per_s`` (saturated turns/s), ``split_de_frac`` (hit-KV
        share of the second path [fraction]), ``path_shares`` (shape + (paths,): hit-KV share of every
        path [fraction]), ``bottleneck_index`` (into ``base.topology.names``;
        :data:`dpmodel.flows.RESOURCE_NAMES` for the default topology) and ``fits`` (False where the
        model's weights do not fit on the decode GPUs; throughput is 0 there).

    Raises
    ------
    ScenarioError
        An unknown axis or mode, or a bad axis value (:func:`check_axis`).
    """
    unknown = set(axes) - set(SWEEP_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)[0]!r}: use one of {', '.join(SWEEP_AXES)}")
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    for name, values in axes.items():
        check_axis(name, values)
    m = MODES[mode]
    arrs = {k: np.asarray(v, float) for k, v in axes.items()}
    shape = np.broadcast_shapes(*(v.shape for v in arrs.values())) if arrs else ()
    n = int(np.prod(shape)) if shape else 1
    flat = {k: np.broadcast_to(v, shape).reshape(-1) for k, v in arrs.items()}
    n_paths = len(base.topology.paths)
    X = np.empty(n)
    shares = np.empty((n, n_paths))
    bott = np.empty(n, dtype=np.intp)
    fits = np.empty(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        comp = compose(base, m, **{k: v[lo:hi] for k, v in flat.items()}) if flat else compose(base, m)
        x, sh, bi = solve_composition(comp)
        X[lo:hi], shares[lo:hi], bott[lo:hi] = x.reshape(-1), sh.reshape(-1, n_paths), bi.reshape(-1)
        fits[lo:hi] = np.broadcast_to(comp.fits, x.shape).reshape(-1)
    shares = shares.reshape(shape + (n_paths,))
    split = shares[..., 1] if n_paths > 1 else np.zeros(shape)
    return {
        "turns_per_s": X.reshape(shape),
        "split_de_frac": split,
        "path_shares": shares,
        "bottleneck_index": bott.reshape(shape),
        "fits": fits.reshape(shape),
    }


_CHUNK = 1 << 16  # points per composition: bounds the (points x resources x classes x paths) arrays


def solve_composition(comp: Composition) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Max turns/s of every point of ``comp``: ``(turns_per_s S, path_shares S + (P,), bottleneck S)``.

    Path shares are hit-KV byte shares. Exact: the closed form for one class on two paths, the
    vertex enumeration for one class on three, one simplex LP per point otherwise (:func:`dpmodel.optimize.throughput.min_peak_utilization`).

    Parameters
    ----------
    comp : Composition
        Demands, capacities, class weights and allowed paths of S points
        (:func:`dpmodel.compose.compose`).

    Returns
    -------
    turns_per_s : numpy.ndarray
        Shape S: max turns/s of each point (0 where the weights do not fit, inf where nothing is
        demanded).
    path_shares : numpy.ndarray
        Shape S + (P,): hit-KV byte share of every path [fraction] (all on the first path where no
        hit bytes are read).
    bottleneck : numpy.ndarray
        Shape S: index of the most utilized resource at the optimum.
    """
    coef, w = comp.coef, comp.weights
    n_paths = coef.shape[-1]
    peak, shares_k, util = exact_peak(coef, comp.capacity, w, comp.allowed)
    fits = comp.fits
    with np.errstate(divide="ignore"):
        X = np.where(fits, np.where(peak > 0, 1.0 / peak, np.inf), 0.0)
    bottleneck = np.argmax(util, axis=-1)
    first = (np.arange(n_paths) == 0).astype(float)
    if coef.shape[-2] == 1:  # one class: its shares are the hit-byte shares
        shares = np.where(comp.hit_bytes[..., :1] > 0, shares_k[..., 0, :], first)
        return X, shares, bottleneck
    hw = comp.hit_bytes * w  # S + (K,)
    tot = hw.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(tot[..., None] > 0, np.einsum("...k,...kp->...p", hw, shares_k) / tot[..., None], first)
    return X, shares, bottleneck


def bottleneck_grid(
    base: Scenario, *, pd_ratios: ArrayLike, contexts_tokens: ArrayLike, decode_nodes: int = 4, mode: str = "dualpath"
) -> dict:
    """Dual-path throughput and bottleneck over P/D ratio x context length (``decode_nodes``
    fixed; P = ratio x D, rounded, at least 1).

    Parameters
    ----------
    base : Scenario
        The scenario the grid varies.
    pd_ratios : array_like
        Prefill-to-decode node ratios P/D (columns of the grid).
    contexts_tokens : array_like
        Hit (cached) tokens per turn [tokens] (rows of the grid).
    decode_nodes : int, optional
        D, decode nodes, fixed over the grid (default 4).
    mode : str, optional
        The loading mode, one of :data:`dpmodel.scenario.MODES` (default ``"dualpath"``).

    Returns
    -------
    dict
        ``pd_ratio`` (the achieved ratios after rounding P), ``context_tokens``, and arrays of shape
        (contexts, ratios): ``turns_per_s``, ``bottleneck`` (resource names) and ``split_de_frac``
        [fraction], as in :func:`sweep_throughput`.
    """
    ratios = np.asarray(pd_ratios, float)
    ctx = np.asarray(contexts_tokens, float)
    P = np.maximum(1, np.rint(ratios * decode_nodes))
    out = sweep_throughput(base, mode, prefill_nodes=P[None, :], decode_nodes=decode_nodes, context_tokens=ctx[:, None])
    names = np.array(base.topology.names)
    return {
        "pd_ratio": P / decode_nodes,
        "context_tokens": ctx,
        "turns_per_s": out["turns_per_s"],
        "bottleneck": names[out["bottleneck_index"]],
        "split_de_frac": out["split_de_frac"],
    }


def split_curve(scenario: Scenario, *, points: int = 101) -> dict:
    """Throughput as a function of the split f, with each resource's own limit ``cap / demand(f)``.

    Parameters
    ----------
    scenario : Scenario
        The scenario, at its ``dualpath`` demands.
    points : int, optional
        Number of evenly spaced splits f in [0, 1] (default 101).

    Returns
    -------
    dict
        ``split_de_frac`` (the splits f [fraction]), ``limits`` (resource name -> turns/s that
        resource alone allows at each f; inf where it has no demand) and ``turns_per_s`` (their
        minimum at each f).
    """
    d = scenario.demands("dualpath")
    f = np.linspace(0.0, 1.0, points)
    dem = (d.const @ d.weights)[:, None] + (d.slope @ d.weights)[:, None] * f[None, :]
    with np.errstate(divide="ignore"):
        limits = np.where(dem > 0, d.capacity[:, None] / dem, np.inf)
    return {"split_de_frac": f, "limits": dict(zip(d.names, limits, strict=True)), "turns_per_s": limits.min(axis=0)}


# ---- parallel sweeps of models that are not vectorized (offline MVA, and later the simulator) ----


def offline_point(*, mode: str, agents: int, seed: int = 0, **scenario) -> dict:
    """One offline-JCT evaluation from plain arguments (picklable, for process pools and Dask);
    ``scenario`` holds :meth:`Scenario.load`'s arguments (cluster, model, workload, node counts, knobs).

    Parameters
    ----------
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    agents : int
        Agents in the offline batch.
    seed : int, optional
        Seed of the synthesized trajectories (default 0).
    **scenario
        :meth:`Scenario.load`'s arguments.

    Returns
    -------
    dict
        ``jct_s`` (job completion time [s]) and ``turns_per_s`` of :func:`dpmodel.serving.offline_jct`.
    """
    from .serving import offline_jct

    r = offline_jct(Scenario.load(**scenario), mode, agents, seed=seed)
    return {"jct_s": r.jct_s, "turns_per_s": r.turns_per_s}


def simulate_point(*, mode: str, agents: int, seed: int = 0, **scenario) -> dict:
    """One simulated offline batch from plain arguments, like :func:`offline_point`.

    Parameters
    ----------
    mode : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    agents : int
        Agents in the offline batch.
    seed : int, optional
        Seed of the synthesized trajectories and of the simulator (default 0).
    **scenario
        :meth:`Scenario.load`'s arguments.

    Returns
    -------
    dict
        ``jct_s_sim`` (simulated job completion time [s]), ``turns_per_s_sim`` and ``events`` (events
        simulated) of :func:`dpmodel.serving.simulate_offline`.
    """
    from .serving import simulate_offline

    r = simulate_offline(Scenario.load(**scenario), mode, agents, seed=seed)
    return {"jct_s_sim": r.jct_s_sim, "turns_per_s_sim": r.turns_per_s_sim, "events": r.events}


def grid(**axes) -> list[dict]:
    """Every combination of the given axes, as a list of points.

    Parameters
    ----------
    **axes : iterable
        Axis name -> its values.

    Returns
    -------
    list of dict
        One ``{axis: value}`` per combination, the last axis varying fastest.
    """
    import itertools

    keys = list(axes)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(list(v) for v in axes.values()))]
