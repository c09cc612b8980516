"""Many simulations at once, through :func:`dpmodel.parallel.parallel_sweep` (the one parallel path of
the package): a local process pool by default, an existing Dask distributed cluster when its
address (or a ``distributed.Client``) is given as ``scheduler``, in this process with ``workers=1``.

Every run is seeded, so a run gives the same numbers wherever it runs: the parallel results are
the serial ones (``tests/test_sim_fanout.py``).

* :func:`simulate_many`: a list of runs (offline, online or saturated; any scenario and policy);
* :func:`compare_policies`: the same scenario under several policies and seeds;
* :func:`dpmodel.sim.replicate_online` runs its replications in rounds through :func:`simulate_many`.

A simulator *sweep* over scenario parameters is ``parallel_sweep(simulate_point, grid(...))``
(:func:`dpmodel.sweep.simulate_point`), the same path.
"""

from __future__ import annotations

from typing import Any

from ..errors import ScenarioError

KINDS = ("offline", "online", "saturated")


def sim_task(*, kind: str, scenario, policy: str, seed: int, options: dict[str, Any]) -> dict:
    """One simulation (module-level and picklable: what a worker process or Dask worker runs)."""
    from . import run

    if kind == "offline":
        r = run.simulate_offline(scenario, policy, seed=seed, **options)
    elif kind == "online":
        r = run.simulate_online(scenario, policy, seed=seed, **options)
    elif kind == "saturated":
        r = run.simulate_saturated(scenario, policy, seed=seed, **options)
    else:
        raise ScenarioError(f"kind = {kind!r}: use one of {', '.join(KINDS)}")
    return {"result": r}


def simulate_many(tasks: list[dict], *, workers: int | None = None, scheduler=None) -> list:
    """Run every task (a dict with ``kind``, ``scenario``, ``policy``, ``seed`` and ``options``, the
    keyword arguments of the ``simulate_*`` function) and return their
    :class:`~dpmodel.sim.SimResult` in the order given.

    ``workers``: local processes (default: one per CPU; 1 runs them here, one after another);
    ``scheduler``: a Dask scheduler address or ``Client`` (then ``workers`` is not used)."""
    from ..parallel import parallel_sweep

    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ScenarioError(f"workers = {workers!r}: must be an integer >= 1 (1 runs here, serially)")
    for t in tasks:
        if t.get("kind") not in KINDS:
            raise ScenarioError(f"kind = {t.get('kind')!r}: use one of {', '.join(KINDS)}")
    pts = [
        {
            "kind": t["kind"],
            "scenario": t["scenario"],
            "policy": t["policy"],
            "seed": int(t.get("seed", 0)),
            "options": dict(t.get("options", {})),
        }
        for t in tasks
    ]
    if len(pts) == 1 and scheduler is None:
        workers = 1  # a pool for one run only costs its start-up
    return [r["result"] for r in parallel_sweep(sim_task, pts, workers=workers, scheduler=scheduler)]


def compare_policies(
    scenario,
    policies,
    *,
    agents: int | None = None,
    aps: float | None = None,
    duration_s: float | None = None,
    seeds=(0,),
    policy_table=None,
    workers: int | None = None,
    scheduler=None,
    **options,
) -> dict[str, list]:
    """The scenario under each policy and seed, offline (``agents``) or online (``aps`` and
    ``duration_s``), all runs at once; returns ``{policy: [SimResult per seed]}``."""
    if (agents is None) == (aps is None):
        raise ScenarioError("compare_policies needs exactly one of agents (offline) or aps with duration_s (online)")
    if aps is not None and duration_s is None:
        raise ScenarioError("compare_policies: aps needs duration_s (the measured window, seconds)")
    policies, seeds = list(policies), [int(s) for s in seeds]
    if not policies or not seeds:
        raise ScenarioError("compare_policies needs at least one policy and one seed")
    tasks = []
    for pol in policies:
        opt = dict(options)
        if pol == "dualpath-table":
            opt["policy_table"] = policy_table
        if agents is not None:
            tasks += [
                {"kind": "offline", "scenario": scenario, "policy": pol, "seed": s, "options": {"agents": agents, **opt}} for s in seeds
            ]
        else:
            tasks += [
                {"kind": "online", "scenario": scenario, "policy": pol, "seed": s, "options": {"aps": aps, "duration_s": duration_s, **opt}}
                for s in seeds
            ]
    res = simulate_many(tasks, workers=workers, scheduler=scheduler)
    k = len(seeds)
    return {pol: res[i * k : (i + 1) * k] for i, pol in enumerate(policies)}
