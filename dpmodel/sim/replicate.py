"""Independent replications of an online run until the mean TTFT's standard error is small
(:func:`replicate_online`), serially or in rounds through :func:`dpmodel.sim.fanout.simulate_many`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from ..results import Result
from .fanout import simulate_many
from .run import SimResult, simulate_online


@dataclass(frozen=True)
class Replications(Result):
    """Independent replications of one online run (one seed each, same settings).

    The estimate of a mean is the mean over replications and its standard error the replications'
    standard deviation over sqrt(count) (the method of independent replications)."""

    results: tuple[SimResult, ...]
    rel_se_target: float

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.results)

    def values(self, get) -> np.ndarray:
        """``get(result)`` for every replication."""
        return np.array([float(get(r)) for r in self.results])

    def mean(self, get) -> float:
        return float(np.mean(self.values(get)))

    def se(self, get) -> float:
        """Standard error of :meth:`mean` (nan with one replication)."""
        v = self.values(get)
        return float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan

    @property
    def ttft_mean_s(self) -> float:
        return self.mean(lambda r: r.ttft_s_sim["mean"])

    @property
    def ttft_mean_se_s(self) -> float:
        return self.se(lambda r: r.ttft_s_sim["mean"])

    def averaged(self) -> SimResult:
        """One result whose every number (and every number in its dicts) is the mean over the
        replications; ``seed`` is the first replication's."""
        first = self.results[0]

        def avg(vals):
            v0 = vals[0]
            if isinstance(v0, dict):
                return {k: avg([v[k] for v in vals]) for k in v0}
            if isinstance(v0, bool) or not isinstance(v0, int | float):
                return v0
            return float(np.mean(vals))

        skip = {"seed", "mode", "kind"}
        return dataclasses.replace(
            first, **{f.name: avg([getattr(r, f.name) for r in self.results]) for f in dataclasses.fields(SimResult) if f.name not in skip}
        )


def replicate_online(
    scenario,
    policy: str,
    *,
    aps: float,
    duration_s: float,
    warmup_s: float | None = None,
    rel_se: float = 0.04,
    min_reps: int = 6,
    max_reps: int = 40,
    workers: int | None = 1,
    scheduler=None,
    **kw,
) -> Replications:
    """:func:`simulate_online` with seeds 1, 2, ... until the mean TTFT's standard error is at most
    ``rel_se`` of the mean (at least ``min_reps`` replications, at most ``max_reps``). The stopping
    rule looks only at the simulator's own spread, never at a model. Deterministic.

    ``workers`` > 1 (or None: one per CPU) or a Dask ``scheduler`` runs the replications in rounds
    through :func:`dpmodel.sim.fanout.simulate_many` (first ``min_reps`` of them, then as many as
    there are workers); the stopping rule is applied to the seeds in order, and replications past
    the one where it stops are dropped, so the result is the serial one."""
    if not (isinstance(rel_se, int | float) and rel_se > 0):
        raise ScenarioError(f"rel_se = {rel_se!r}: must be a number > 0 (e.g. 0.04 for a 4 % standard error)")
    if not (isinstance(min_reps, int) and isinstance(max_reps, int) and 2 <= min_reps <= max_reps):
        raise ScenarioError(f"min_reps = {min_reps!r}, max_reps = {max_reps!r}: need integers with 2 <= min_reps <= max_reps")
    if "seed" in kw:
        raise ScenarioError("seed: replications use seeds 1, 2, ...; do not pass one")
    opts = {"aps": aps, "duration_s": duration_s, "warmup_s": warmup_s, **kw}
    if workers == 1 and scheduler is None:

        def batch(seeds):
            return [simulate_online(scenario, policy, seed=s, **opts) for s in seeds]

        size = 1
    else:
        opts["quiet"] = True  # no progress bars from the workers

        def batch(seeds):
            return simulate_many(
                [{"kind": "online", "scenario": scenario, "policy": policy, "seed": s, "options": opts} for s in seeds],
                workers=workers,
                scheduler=scheduler,
            )

        size = _pool_size(workers, scheduler)
    runs: list[SimResult] = []
    while len(runs) < max_reps:
        want = max(min_reps - len(runs), size, 1)
        new = batch(range(len(runs) + 1, min(len(runs) + want, max_reps) + 1))
        for r in new:  # the serial stopping rule, replication by replication
            runs.append(r)
            reps = Replications(tuple(runs), float(rel_se))
            if len(runs) >= min_reps and reps.ttft_mean_se_s <= rel_se * reps.ttft_mean_s:
                return reps
    return Replications(tuple(runs), float(rel_se))


def _pool_size(workers: int | None, scheduler) -> int:
    """How many replications one round runs: the local workers, or the Dask cluster's threads."""
    import os

    if scheduler is not None:
        try:
            from distributed import Client

            if isinstance(scheduler, Client):
                return max(sum(scheduler.nthreads().values()), 1)
        except ImportError:  # pragma: no cover - distributed is a dependency
            pass
        return os.cpu_count() or 1
    return workers if workers is not None else (os.cpu_count() or 1)
