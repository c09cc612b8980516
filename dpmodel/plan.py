"""Saturated-throughput analysis of a scenario in every mode: the ``dpmodel plan`` main job."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import capacity, closed_form
from .optimize import compiled_balance_lp, compiled_lp
from .optimize.throughput import exact_peak, path_coefficients
from .results import Result, json_safe
from .scenario import MODES, Scenario

#: capacity in base units -> display unit
_DISPLAY = {"bytes": ("GB/s", 1e9), "gpu_s": ("GPUs", 1.0), "tokens": ("tokens/s", 1.0)}
BINDING_UTIL_FRAC = 1.0 - 1e-6


@dataclass(frozen=True)
class ResourceResult(Result):
    """One resource at the optimum: capacity and demand in ``unit``; shadow price in turns/s per unit.

    Attributes
    ----------
    name : str
        The topology's resource name (``pe.snic.read``, ``pe.gpu.time``, ``de.gpu.tokens``, ...).
    description : str
        What the resource is.
    unit : str
        Display unit of ``capacity`` and ``demand`` (``GB/s``, ``GPUs``, ``tokens/s``).
    capacity : float
        Cluster-wide capacity [``unit``].
    demand : float
        Demand at the optimum's throughput and split [``unit``].
    utilization_frac : float
        ``demand / capacity`` [fraction].
    shadow_price : float
        The LP dual: saturated turns/s gained per unit of added capacity [``shadow_price_unit``].
    shadow_price_unit : str
        Unit of ``shadow_price`` (``turns/s per GB/s``, ...).
    """

    name: str
    description: str
    unit: str
    capacity: float
    demand: float
    utilization_frac: float
    shadow_price: float
    shadow_price_unit: str

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


@dataclass(frozen=True)
class ModeResult(Result):
    """The throughput LP's answer for one mode.

    Attributes
    ----------
    mode : str
        ``basic``, ``layerwise``, ``dualpath`` or ``oracle``.
    description : str
        What the mode is.
    turns_per_s : float
        Saturated throughput [turns/s].
    prompt_tokens_per_s : float
        Prompt tokens (hit and appended) per second at that throughput [tokens/s].
    generated_tokens_per_s : float
        Generated tokens per second [tokens/s].
    split_de_frac : float
        Share of hit-KV bytes read through the decode side (the topology's second path) [fraction].
    bottleneck : str
        The binding resource worth most (largest dual).
    bottlenecks : tuple of str
        Every resource at capacity, busiest first.
    resources : tuple of ResourceResult
        Every resource of the topology at the optimum (``name``, ``utilization_frac``, ...).
    solver : str
        Which solver answered (closed form or the LP's).
    solver_note : str
        Why a fallback solver was used, if one was.
    uncached_prompt_tokens_per_s : float
        Appended (uncached) prompt tokens: what prefill computes anew [tokens/s].
    tokens_per_s_per_gpu : float
        Generated tokens/s over every GPU of the cluster (P + D nodes) [tokens/s per GPU].
    tokens_per_s_per_user : float
        1 / TPOT of one sequence at the decode batch this throughput needs [tokens/s].
    path_shares : dict
        Load path -> share of hit-KV bytes (sums to 1) [fraction].
    """

    mode: str
    description: str
    turns_per_s: float
    prompt_tokens_per_s: float
    generated_tokens_per_s: float
    split_de_frac: float
    bottleneck: str
    bottlenecks: tuple[str, ...]  # every resource at capacity, busiest first (bottleneck: the one worth most)
    resources: tuple[ResourceResult, ...]
    solver: str
    solver_note: str = ""
    uncached_prompt_tokens_per_s: float = math.nan  # appended (uncached) prompt tokens: what prefill computes anew
    tokens_per_s_per_gpu: float = math.nan  # generated tokens/s over every GPU of the cluster (P + D nodes)
    tokens_per_s_per_user: float = math.nan  # 1 / TPOT of one sequence at the decode batch this throughput needs
    path_shares: dict[str, float] = field(default_factory=dict)  # load path -> share of hit-KV bytes (sums to 1)

    def resource(self, name: str) -> ResourceResult:
        """One resource's result by name.

        Parameters
        ----------
        name : str
            The topology's resource name.

        Returns
        -------
        ResourceResult
            That resource at the optimum.

        Raises
        ------
        KeyError
            No resource of that name.
        """
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "mode": self.mode,
                "turns_per_s": self.turns_per_s,
                "prompt_tokens_per_s": self.prompt_tokens_per_s,
                "generated_tokens_per_s": self.generated_tokens_per_s,
                "uncached_prompt_tokens_per_s": self.uncached_prompt_tokens_per_s,
                "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
                "tokens_per_s_per_user": self.tokens_per_s_per_user,
                "split_de_frac": self.split_de_frac,
                "path_shares": dict(self.path_shares),
                "bottleneck": self.bottleneck,
                "bottlenecks": list(self.bottlenecks),
                "solver": self.solver,
                "resources": [r.to_dict() for r in self.resources],
            }
        )

    def to_frame(self):
        """One row per resource: capacity, demand, utilization and shadow price (pandas)."""
        import pandas as pd

        return pd.DataFrame([{"mode": self.mode, "turns_per_s": self.turns_per_s, **r.to_dict()} for r in self.resources])


@dataclass(frozen=True)
class PlanResult(Result):
    """``dpmodel plan``: every mode's throughput LP answer for one scenario.

    Attributes
    ----------
    scenario : dict
        The scenario block (:meth:`dpmodel.scenario.Scenario.to_dict`).
    modes : dict of str to ModeResult
        Mode name -> its answer.
    pd_ratio_window : dict
        The paper's bottleneck-free P/D window (eq. 9): ``min`` and ``max`` [prefill/decode nodes].
    decode : dict
        The decode capacity model's numbers (:meth:`dpmodel.scenario.Scenario.decode_capacity`).
    notes : tuple of str
        Warnings and assumptions, one line each.
    storage_reads : dict
        The Full-Block read model (:meth:`dpmodel.scenario.Scenario.storage_reads`).
    """

    scenario: dict[str, Any]
    modes: dict[str, ModeResult]
    pd_ratio_window: dict[str, float]
    decode: dict[str, float]
    notes: tuple[str, ...] = field(default=())
    storage_reads: dict[str, float] = field(default_factory=dict)  # Scenario.storage_reads(): the Full-Block read model

    @property
    def speedup_dualpath_vs_basic(self) -> float:
        return self.modes["dualpath"].turns_per_s / self.modes["basic"].turns_per_s

    @property
    def speedup_dualpath_vs_layerwise(self) -> float:
        return self.modes["dualpath"].turns_per_s / self.modes["layerwise"].turns_per_s

    @property
    def dualpath_vs_oracle_frac(self) -> float:
        return self.modes["dualpath"].turns_per_s / self.modes["oracle"].turns_per_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (infinite values become null)."""
        win = self.pd_ratio_window
        return json_safe(
            {
                "scenario": self.scenario,
                "modes": {name: m.to_dict() for name, m in self.modes.items()},
                "speedup_dualpath_vs_basic": self.speedup_dualpath_vs_basic,
                "speedup_dualpath_vs_layerwise": self.speedup_dualpath_vs_layerwise,
                "dualpath_vs_oracle_frac": self.dualpath_vs_oracle_frac,
                "pd_ratio_window": win,
                "decode": self.decode,
                "resources": [r.to_dict() for r in self.modes["dualpath"].resources],
                "notes": list(self.notes),
                "storage_reads": self.storage_reads,
            }
        )

    def to_frame(self):
        """One row per (mode, resource): capacity, demand, utilization and shadow price (pandas)."""
        import pandas as pd

        rows = []
        for m in self.modes.values():
            for r in m.resources:
                rows.append({"mode": m.mode, "turns_per_s": m.turns_per_s, **asdict(r)})
        return pd.DataFrame(rows)


def analyse_mode(scenario: Scenario, mode: str, *, solver: str = "auto") -> ModeResult:
    """Solve the throughput LP for one mode and map its duals back to resource names.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its demands and capacities come from :func:`dpmodel.compose.compose`).
    mode : str
        A mode of :data:`dpmodel.scenario.MODES`.
    solver : str, optional
        ``"auto"`` takes the closed form (:mod:`dpmodel.closed_form`) where it is the LP's unique
        answer and solves the LP (cvxpy) elsewhere; ``"lp"`` always solves the LP.

    Returns
    -------
    ModeResult
        Saturated throughput [turns/s], split, bottleneck and every resource's utilization and
        shadow price.
    """
    if solver not in ("auto", "lp"):
        raise ValueError(f"solver {solver!r}: use 'auto' or 'lp'")
    m = MODES[mode]
    d = scenario.demands(m)
    memo = scenario.__dict__.setdefault("_roof_memo", {})  # frozen scenario: its LP coefficients once per mode
    prep = memo.get(("plan_prep", m))
    if prep is None:
        prep = memo[("plan_prep", m)] = _prepare(scenario, d)
    coef_x, coef_z, z_max, alt, io, rows, slope_full, per_turn = prep
    n_alt = max(len(alt), 1)
    K = len(d.weights)
    sol = None
    if solver == "auto" and n_alt == 1 and np.all(d.capacity > 0):
        # two-path topologies: the closed form where it is the LP's unique answer (no cvxpy solve)
        sol = closed_form.throughput(d.names, coef_x, coef_z, z_max)
        if sol is not None:
            X = sol.turns_per_s
            z = sol.de_turns_per_s
            if alt.size and X > 0:
                balanced = closed_form.balance(d.names, io, coef_x, coef_z, z_max, X)
                if balanced is None:
                    balanced = compiled_balance_lp(d.names, io, K).solve(coef_x, coef_z, z_max, X)
                if balanced is not None:
                    z = balanced
                elif not sol.z_unique:
                    sol = None  # the split is the balancing stage's to pick, and it failed: the LP path decides
    if sol is None:
        lp = compiled_lp(d.names, K) if n_alt == 1 else compiled_lp(d.names, K, n_alt)  # one cache key per LP
        sol = lp.solve(coef_x, coef_z, z_max)
        # the exact optimum (closed form or simplex vertex) that ``sweep`` reports too; the LP above
        # gives the duals, its interior-point value agrees to solver tolerance
        peak, _, _ = exact_peak(d.coef, d.capacity, d.weights, d.allowed)
        X_lp = sol.turns_per_s
        X = float(1.0 / peak) if peak > 0 else X_lp
        z = sol.de_turns_per_s * (X / X_lp if X_lp > 0 else 1.0)
        if alt.size and X > 0:
            blp = compiled_balance_lp(d.names, io, K) if n_alt == 1 else compiled_balance_lp(d.names, io, K, n_alt)
            balanced = blp.solve(coef_x, coef_z, z_max, X)
            if balanced is not None:
                z = balanced
    zk = z.reshape(K, n_alt)
    n_paths = len(d.paths)
    shares_k = np.zeros((K, n_paths))
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where(d.weights[:, None] * X > 0, zk / (d.weights[:, None] * X), 0.0)
    moved = np.clip(moved, 0.0, 1.0)
    if alt.size:
        shares_k[:, alt] = moved
    shares_k[:, 0] = np.clip(1.0 - shares_k[:, 1:].sum(axis=1), 0.0, 1.0)
    hit_rate = d.weights * d.hit_bytes
    if hit_rate.sum() > 0:
        path_shares = hit_rate @ shares_k / hit_rate.sum()
    else:
        path_shares = (np.arange(n_paths) == 0).astype(float)
    split = float(path_shares[1]) if n_paths > 1 else 0.0
    dem_all = X * per_turn["const"] + slope_full @ z
    out = []
    for i, (name, description, unit, scale, cap, finite, price_unit) in enumerate(rows):
        dem = float(dem_all[i])
        util = dem / cap if finite else 0.0
        lam = sol.duals[name]
        price = lam / cap * scale if finite else 0.0
        out.append(
            ResourceResult(
                name=name,
                description=description,
                unit=unit,
                capacity=cap / scale,
                demand=dem / scale,
                utilization_frac=util,
                shadow_price=price,
                shadow_price_unit=price_unit,
            )
        )
    binding = tuple(r.name for r in sorted(out, key=lambda r: -r.utilization_frac) if r.utilization_frac >= BINDING_UTIL_FRAC)
    bottleneck = max(d.names, key=lambda n: sol.duals[n])
    if sol.duals[bottleneck] <= 0 and binding:
        bottleneck = binding[0]
    prompt = X * per_turn["prompt"]
    gen = X * per_turn["generated"]
    uncached = X * per_turn["uncached"]
    gpus = per_turn["gpus"]
    return ModeResult(
        mode,
        m.description,
        X,
        prompt,
        gen,
        split,
        bottleneck,
        binding,
        tuple(out),
        sol.solver,
        sol.fallback_note,
        uncached_prompt_tokens_per_s=uncached,
        tokens_per_s_per_gpu=gen / gpus,
        tokens_per_s_per_user=per_user_tokens_per_s(scenario, gen),
        path_shares={p: float(v) for p, v in zip(d.paths, path_shares, strict=True)},
    )


def _prepare(scenario: Scenario, d) -> tuple:
    """What :func:`analyse_mode` reads of a scenario and mode that does not depend on the solve
    (pure per scenario: kept in its memo): the LP coefficients, the KV rows, the per-resource
    display rows, the demand slopes and the per-turn token sums."""
    coef_x, coef_z, z_max, alt = path_coefficients(d.coef, d.capacity, d.weights, d.allowed)
    io = tuple(r.name for r in scenario.topology.resources if r.demand == "legs")
    slope_full = (d.coef[:, :, alt if alt.size else [0]] - d.coef[:, :, :1]).reshape(len(d.names), -1)
    defs = {r.name: r for r in scenario.topology.resources}
    rows = []
    for i, name in enumerate(d.names):
        unit, scale = _DISPLAY[defs[name].unit]
        cap = float(d.capacity[i])
        price_unit = f"turns/s per {unit.removesuffix('s') if unit == 'GPUs' else unit}"
        rows.append((name, defs[name].description, unit, scale, cap, bool(np.isfinite(cap) and cap > 0), price_unit))
    ks = scenario.classes()
    dep = scenario.deployment
    per_turn = {
        "const": d.const @ d.weights,
        "prompt": sum(k.weight_frac * (k.hit_tokens + k.append_tokens) for k in ks),
        "generated": sum(k.weight_frac * k.generated_tokens for k in ks),
        "uncached": sum(k.weight_frac * k.append_tokens for k in ks),
        "gpus": (dep.prefill_nodes_count + dep.decode_nodes_count) * scenario.cluster.gpus_per_node,
    }
    for arr in (coef_x, coef_z, z_max, slope_full, per_turn["const"]):
        arr.setflags(write=False)  # memoized: shared by every call
    return coef_x, coef_z, z_max, alt, io, tuple(rows), slope_full, per_turn


def lp_split(scenario: Scenario, mode: str) -> float:
    """The throughput LP's split of ``mode``.

    The models take this function as their ``lp_split`` argument (a function of the scenario and
    mode, called only when they need it): passed in, not imported from below.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    mode : str
        A mode of :data:`dpmodel.scenario.MODES`.

    Returns
    -------
    float
        Share of hit KV read through the decode side; 0 for a mode without that path [fraction].
    """
    return float(analyse_mode(scenario, mode).split_de_frac) if MODES[mode].de_path else 0.0


def lp_path_shares(scenario: Scenario, mode: str) -> float | np.ndarray:
    """The LP's split in the form the offline model takes.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    mode : str
        A mode of :data:`dpmodel.scenario.MODES`.

    Returns
    -------
    float or numpy.ndarray
        :func:`lp_split` on a two-path topology; on a k-path one the LP's share of hit-KV demand
        per path, in the topology's path order [fraction].
    """
    if len(scenario.topology.paths) <= 2:
        return lp_split(scenario, mode)
    return np.array(list(analyse_mode(scenario, mode).path_shares.values()))


def per_user_tokens_per_s(scenario: Scenario, generated_tokens_per_s: float) -> float:
    """Tokens/s one sequence sees (1 / TPOT) when the decode GPUs produce ``generated_tokens_per_s``.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its decode capacity model and decode node count).
    generated_tokens_per_s : float
        Generated tokens per second of the whole decode side [tokens/s].

    Returns
    -------
    float
        1 / TPOT [tokens/s]; NaN at zero load or past the decode HBM's bandwidth.

    Notes
    -----
    Each decode GPU runs the smallest batch ``b`` with ``b / step(b) = r`` (its share ``r`` of the
    rate), ``step(b) = t0 + b * per_seq`` (:meth:`Scenario.decode_affine_s`: the flat physics'
    overhead + weights / HBM and seq KV / HBM, or the roofline's), so ``b = r t0 / (1 - r per_seq)``.
    """
    dep, cl = scenario.deployment, scenario.cluster
    dec = scenario.decode_capacity()
    r = generated_tokens_per_s / (dep.decode_nodes_count * cl.gpus_per_node)
    if not (r > 0):
        return math.nan
    fixed, per_seq = scenario.decode_affine_s()
    denom = 1.0 - r * per_seq
    if denom <= 0:
        return math.nan
    b = min(r * fixed / denom, dec["batch_seqs_per_gpu"])
    step = fixed + b * per_seq
    return 1.0 / step


def pd_window_for(scenario: Scenario) -> dict[str, float]:
    """The paper's bottleneck-free P/D window (eq. 9) for the scenario's cluster.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its cluster's storage-NIC, compute-NIC and DRAM bandwidths).

    Returns
    -------
    dict
        ``min`` and ``max`` of the window [prefill/decode nodes].
    """
    cl = scenario.cluster
    B = cl.cnic_kv_Bps_per_gpu
    win = capacity.pd_ratio_window(
        gpus_per_node=cl.gpus_per_node,
        snic_per_cnic=scenario.snic_read_Bps_per_node / B,
        cnic_Bps=B,
        dram_Bps=cl.dram_Bps_per_node,
    )
    return {k: float(v) for k, v in win.items()}


def physics_note(scenario: Scenario) -> str:
    """Which compute physics and calibration the numbers come from (the plan's header says it too).

    Parameters
    ----------
    scenario : Scenario
        The scenario whose deployment (``physics``) and cluster (a ``+roofline-oracle`` name when
        the bounded Fig. 7 fit is applied) are described.

    Returns
    -------
    str
        One line: flat physics with its two knobs, the calibrated roofline, or the raw roofline.
    """
    from .reference import CALIBRATED_SUFFIX

    dep = scenario.deployment
    if dep.physics == "flat":
        return (
            f"flat physics: prefill efficiency {dep.prefill_efficiency_frac:.2f} of peak and decode step overhead "
            f"{dep.decode_step_overhead_s * 1e3:.1f} ms are assumptions unless fitted"
        )
    if scenario.cluster.name.endswith(CALIBRATED_SUFFIX):
        return (
            "roofline, calibrated: kernel knobs from the bounded Oracle-only Fig. 7 fit for this model on the paper's testbed "
            "(catalog/calibration/roofline-oracle.toml, every knob inside its sourced range); --uncalibrated for the raw roofline"
        )
    return "roofline, uncalibrated: published kernel figures only (the cluster's [kernels]), nothing fitted"


def analyse(scenario: Scenario, modes: tuple[str, ...] = tuple(MODES)) -> PlanResult:
    """Analyse ``scenario`` in every mode: throughput, bottleneck, split and shadow prices.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    modes : tuple of str, optional
        Modes to solve (default every mode of :data:`dpmodel.scenario.MODES`).

    Returns
    -------
    PlanResult
        Every mode's :class:`ModeResult`, the P/D window, the decode capacity and notes.
    """
    results = {m: analyse_mode(scenario, m) for m in modes}
    win = pd_window_for(scenario)
    dep = scenario.deployment
    ratio = dep.prefill_nodes_count / dep.decode_nodes_count
    notes = []
    if not (win["min"] <= ratio <= win["max"]):
        notes.append(
            f"P/D = {ratio:.3g} lies outside the bottleneck-free window [{win['min']:.3g}, {win['max']:.3g}] "
            "of the paper's equation (9): some link saturates before the storage NICs do"
        )
    notes.append(physics_note(scenario))
    dec = {k: float(v) for k, v in scenario.decode_capacity().items()}
    return PlanResult(scenario.to_dict(), results, win, dec, tuple(notes), scenario.storage_reads())
