"""Synthesize agentic trajectories from a workload's distributions, and fit those distributions.

Documented choices (README, "Workloads"): intended turn counts are Gamma; each trajectory has a
log-normal size scale (agents differ: some take many short turns, some few long ones); per-turn
append and generation lengths are log-normal around the trajectory's scale; the first round is
a large append (task, repository and tool descriptions). Trajectories are then truncated at MAL.
With one scale for every trajectory, Table 2 cannot be matched: 157 turn-weighted turns of 605
tokens do not fit under 64K, so size heterogeneity across agents is required by the data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import WorkloadError
from ..profiles.workload import SynthesisSpec, WorkloadProfile
from .trajectory import TrajectorySet


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, size) -> np.ndarray:
    """Log-normal samples with the given mean (not median)."""
    return mean * rng.lognormal(-0.5 * sigma**2, sigma, size)


def synthesize(spec: SynthesisSpec, *, agents: int, max_agent_length_tokens: int, seed: int = 0) -> TrajectorySet:
    """Draw ``agents`` trajectories (deterministic for a seed), truncated at MAL."""
    if agents < 1:
        raise WorkloadError(f"agents = {agents}: must be >= 1")
    rng = np.random.default_rng(seed)
    k = spec.intended_turns_shape_factor
    n = np.maximum(1, np.rint(rng.gamma(k, spec.intended_turns_mean_count / k, agents))).astype(np.int64)
    scale = _lognormal(rng, 1.0, spec.trajectory_scale_sigma, agents)
    offsets = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    per_turn_scale = np.repeat(scale, n)
    T = int(offsets[-1])
    a = np.maximum(1, np.rint(per_turn_scale * _lognormal(rng, spec.append_mean_tokens, spec.turn_sigma, T)))
    g = np.maximum(1, np.rint(per_turn_scale * _lognormal(rng, spec.generated_mean_tokens, spec.turn_sigma, T)))
    a[offsets[:-1]] = np.maximum(1, np.rint(_lognormal(rng, spec.first_append_mean_tokens, spec.first_append_sigma, agents)))
    return TrajectorySet(offsets, a.astype(np.int64), g.astype(np.int64), int(max_agent_length_tokens)).truncated()


def synthesize_workload(workload: WorkloadProfile, *, agents: int, seed: int = 0) -> TrajectorySet:
    if workload.synthesis is None:
        raise WorkloadError(f"workload '{workload.name}' has no [synthesis] table: add one (see benchmarks/fit_workloads.py)")
    return synthesize(workload.synthesis, agents=agents, max_agent_length_tokens=workload.trajectory.max_agent_length_tokens, seed=seed)


TABLE2_TARGETS = (
    "turns_turn_weighted",
    "append_tokens_per_turn",
    "generated_tokens_per_turn",
    "total_tokens_mean",
    "context_tokens_per_turn",
)


def table2_targets(workload: WorkloadProfile) -> dict[str, float]:
    t = workload.trajectory
    return {
        "turns_turn_weighted": t.mean_turns_count,
        "append_tokens_per_turn": t.mean_append_tokens,
        "generated_tokens_per_turn": t.mean_generated_tokens,
        "total_tokens_mean": t.mean_total_tokens,
        "context_tokens_per_turn": t.mean_context_tokens,
    }


def fit_synthesis(
    targets: Mapping[str, float],
    *,
    max_agent_length_tokens: int,
    agents: int = 1000,
    seed: int = 0,
    turn_sigma: float = 0.8,
    first_append_sigma: float = 0.5,
    maxiter: int = 400,
) -> tuple[SynthesisSpec, dict[str, float]]:
    """Fit the free synthesis parameters so the synthesized Table 2 columns match ``targets``.

    Minimizes the sum of squared log errors over the five Table 2 columns with Nelder-Mead on
    common random numbers (a fixed seed). ``turn_sigma`` and ``first_append_sigma`` are held
    fixed (the table has no spread information). Returns the spec and its achieved statistics.
    """
    from scipy.optimize import minimize

    def spec_of(x: np.ndarray) -> SynthesisSpec:
        p = np.exp(x)
        return SynthesisSpec(p[0], p[1], p[2], p[3], p[4], p[5], turn_sigma, first_append_sigma)

    def loss(x: np.ndarray) -> float:
        st = synthesize(spec_of(x), agents=agents, max_agent_length_tokens=max_agent_length_tokens, seed=seed).stats()
        return float(sum(np.log(st[k] / targets[k]) ** 2 for k in TABLE2_TARGETS))

    t = targets
    x0 = np.log([2 * t["turns_turn_weighted"], 1.5, 0.8, t["append_tokens_per_turn"] * 1.4, t["generated_tokens_per_turn"] * 1.7, 4000.0])
    res = minimize(loss, x0, method="Nelder-Mead", options={"maxiter": maxiter, "xatol": 1e-4, "fatol": 1e-8})
    spec = spec_of(res.x)
    return spec, synthesize(spec, agents=agents, max_agent_length_tokens=max_agent_length_tokens, seed=seed).stats()
