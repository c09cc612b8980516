"""Turn a workload given by name, TOML, trajectory JSONL or public trace into a profile + classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import WorkloadError
from ..profiles import WorkloadProfile, load_workload
from ..profiles.model import ModelSpec
from ..profiles.schema import Provenance
from ..profiles.workload import TrajectorySpec
from .agentic import block_tokens
from .classes import RequestClass, classes_from_turns
from .dispatch import open_trace
from .traces import InfiniteCache, LRUCache, TraceSummary, read_trajectories, summarize
from .trajectory import TrajectorySet

DEFAULT_CLASSES_COUNT = 8


def _measured(source: str, what: str) -> Provenance:
    return Provenance(source=source, date="measured at load time", fields={}, notes=f"statistics {what}")


def workload_from_trajectories(ts: TrajectorySet, name: str, source: str) -> WorkloadProfile:
    st = ts.stats()
    spec = TrajectorySpec(
        mean_turns_count=st["turns_turn_weighted"],
        mean_append_tokens=st["append_tokens_per_turn"],
        mean_generated_tokens=st["generated_tokens_per_turn"],
        mean_total_tokens=st["total_tokens_mean"],
        mean_context_tokens=st["context_tokens_per_turn"],
        max_agent_length_tokens=ts.max_agent_length_tokens,
    )
    return WorkloadProfile(name, f"{ts.agents_count} trajectories from {source}", spec, _measured(source, "of the trajectory file"))


def workload_from_trace(summary: TraceSummary, name: str) -> WorkloadProfile:
    total = summary.hit_tokens + summary.miss_tokens + summary.output_tokens_each
    spec = TrajectorySpec(
        mean_turns_count=max(summary.turns_per_session["mean"], 1.0),
        mean_append_tokens=float(summary.miss_tokens.mean()),
        mean_generated_tokens=max(float(summary.output_tokens_each.mean()), 1.0),
        mean_total_tokens=float(total.mean()),
        mean_context_tokens=float(summary.hit_tokens.mean()),
        max_agent_length_tokens=int(total.max()),
    )
    return WorkloadProfile(name, f"{summary.requests} requests from {summary.source}", spec, _measured(summary.source, "of the trace"))


def resolve_workload(
    spec: str | Path, *, model: ModelSpec, classes_count: int = DEFAULT_CLASSES_COUNT, overrides: dict | None = None
) -> tuple[WorkloadProfile, tuple[RequestClass, ...]]:
    """A packaged name or TOML path (one class: the per-turn means), or a trajectory ``.jsonl``."""
    text = str(spec)
    if text.endswith(".jsonl"):
        if overrides:
            raise WorkloadError(f"--set workload.*: {text} is a trajectory file, not a profile; drop the workload overrides")
        ts = read_trajectories(text)
        ctx = ts.context_tokens()
        classes = classes_from_turns(ctx, ts.append_tokens, ts.generated_tokens, count=classes_count, model=model)
        return workload_from_trajectories(ts, Path(text).stem, text), classes
    return load_workload(spec, overrides), ()


def resolve_trace(
    path: str | Path,
    *,
    model: ModelSpec,
    cache_GiB: float | None = None,
    classes_count: int = DEFAULT_CLASSES_COUNT,
    lenient: bool = False,
) -> tuple[WorkloadProfile, tuple[RequestClass, ...], TraceSummary]:
    """A Mooncake or Azure trace -> profile, classes (hit from the cache simulation) and summary."""
    cache = None
    if cache_GiB is not None:
        if not cache_GiB >= 0:
            raise WorkloadError(f"cache_GiB = {cache_GiB}: must be >= 0")
        cache = LRUCache(cache_GiB * 2**30, block_tokens(path) * model.kv_bytes_per_token)
    elif str(path).endswith(".jsonl"):
        cache = InfiniteCache()
    summary = summarize(open_trace(path, cache=cache, lenient=lenient))
    gen = np.maximum(summary.output_tokens_each, 1)
    classes = classes_from_turns(summary.hit_tokens, summary.miss_tokens, gen, count=classes_count, model=model)
    return workload_from_trace(summary, Path(path).stem), classes, summary
