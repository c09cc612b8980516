"""Workload profiles: per-turn statistics of agentic trajectories (the paper's Table 2)."""

from __future__ import annotations

import dataclasses

from .schema import Provenance, fld


@dataclasses.dataclass(frozen=True)
class TrajectorySpec:
    mean_turns_count: float = fld("mean turns per trajectory", gt=0)
    mean_append_tokens: float = fld("mean appended (cache-miss) tokens per turn, a", ge=0)
    mean_generated_tokens: float = fld("mean generated tokens per turn, o", gt=0)
    mean_total_tokens: float = fld("mean final length of a trajectory", gt=0)
    mean_context_tokens: float = fld("mean cached (hit) context per turn, c", ge=0)
    max_agent_length_tokens: int = fld("maximum agent length (MAL): trajectories are truncated here", gt=0)


@dataclasses.dataclass(frozen=True)
class WorkloadProfile:
    """An agentic workload. For now the per-turn means define one request class."""

    name: str = fld("workload name")
    description: str = fld("one line describing the workload")
    trajectory: TrajectorySpec = fld("per-turn and per-trajectory statistics")
    provenance: Provenance = fld("sources")

    @property
    def hit_frac(self) -> float:
        """Token hit fraction of a mean turn: c / (c + a)."""
        t = self.trajectory
        return t.mean_context_tokens / (t.mean_context_tokens + t.mean_append_tokens)
