"""Workload profiles: per-turn statistics of agentic trajectories (the paper's Table 2)."""

from __future__ import annotations

import dataclasses

from .schema import Provenance, fld


@dataclasses.dataclass(frozen=True)
class TrajectorySpec:
    mean_turns_count: float = fld("mean turns per trajectory", gt=0, ge=0.001, le=1e6)
    mean_append_tokens: float = fld("mean appended (cache-miss) tokens per turn, a", ge=0, le=1e9)
    mean_generated_tokens: float = fld("mean generated tokens per turn, o", gt=0, ge=0.001, le=1e9)
    mean_total_tokens: float = fld("mean final length of a trajectory", gt=0, ge=0.001, le=1e9)
    mean_context_tokens: float = fld("mean cached (hit) context per turn, c", ge=0, le=1e9)
    max_agent_length_tokens: int = fld("maximum agent length (MAL): trajectories are truncated here", gt=0, le=1_000_000_000)


@dataclasses.dataclass(frozen=True)
class SynthesisSpec:
    """Distributions the trajectory synthesizer draws from (before truncation at MAL).

    Per trajectory: intended turns ~ Gamma(mean, shape), a size scale ~ LogNormal(mean 1,
    ``trajectory_scale_sigma``); per turn: append and generation = scale x mean x LogNormal(mean 1,
    ``turn_sigma``); the first round's append (task + tool descriptions) ~ LogNormal around its own
    mean. Fitted to the paper's Table 2 (see ``benchmarks/fit_workloads.py``).
    """

    intended_turns_mean_count: float = fld("mean intended turns per trajectory before truncation", gt=0, ge=0.001, le=1e6)
    intended_turns_shape_factor: float = fld("gamma shape of intended turns", gt=0, ge=0.001, le=1e6)
    trajectory_scale_sigma: float = fld("log-sd of the per-trajectory size scale", ge=0, le=5)
    append_mean_tokens: float = fld("mean append of a later turn before scaling", gt=0, ge=0.001, le=1e9)
    generated_mean_tokens: float = fld("mean generation per turn before scaling", gt=0, ge=0.001, le=1e9)
    first_append_mean_tokens: float = fld("mean append of the first round", gt=0, ge=0.001, le=1e9)
    turn_sigma: float = fld("log-sd of per-turn lengths", ge=0, le=5)
    first_append_sigma: float = fld("log-sd of the first round's append", ge=0, le=5)


@dataclasses.dataclass(frozen=True)
class WorkloadProfile:
    """An agentic workload: Table 2 statistics, and optionally the synthesizer's distributions."""

    name: str = fld("workload name")
    description: str = fld("one line describing the workload")
    trajectory: TrajectorySpec = fld("per-turn and per-trajectory statistics")
    provenance: Provenance = fld("sources")
    synthesis: SynthesisSpec | None = fld("synthesizer distributions (optional)", default=None, source="structural: none")

    @property
    def hit_frac(self) -> float:
        """Token hit fraction of a mean turn: c / (c + a)."""
        t = self.trajectory
        return t.mean_context_tokens / (t.mean_context_tokens + t.mean_append_tokens)
