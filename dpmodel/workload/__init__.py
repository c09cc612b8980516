"""Workloads: agentic trajectories, synthesis, request classes, trace readers and arrivals."""

from .arrivals import arrival_stats, poisson_arrivals, replay_arrivals
from .classes import classes_from_turns
from .dispatch import open_trace
from .sources import (
    resolve_trace,
    resolve_workload,
    workload_from_trace,
    workload_from_trajectories,
)
from .synth import fit_synthesis, synthesize, synthesize_workload, table2_targets
from .traces import (
    AzureReader,
    InfiniteCache,
    LRUCache,
    MooncakeReader,
    TraceRequest,
    TraceSummary,
    interarrival_cv,
    read_trajectories,
    summarize,
    write_trajectories,
)
from .trajectory import TrajectorySet

__all__ = [
    "AzureReader",
    "InfiniteCache",
    "LRUCache",
    "MooncakeReader",
    "TraceRequest",
    "TraceSummary",
    "TrajectorySet",
    "arrival_stats",
    "classes_from_turns",
    "fit_synthesis",
    "interarrival_cv",
    "open_trace",
    "poisson_arrivals",
    "read_trajectories",
    "replay_arrivals",
    "resolve_trace",
    "resolve_workload",
    "summarize",
    "synthesize",
    "synthesize_workload",
    "table2_targets",
    "workload_from_trace",
    "workload_from_trajectories",
    "write_trajectories",
]
