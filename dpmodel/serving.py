"""The serving models with the throughput LP's split filled in (the analysis layer's entry points).

The models (:mod:`dpmodel.queueing`, :mod:`dpmodel.sim`) sit below the optimizer and the plan, so
they take the throughput LP's split as an argument (``lp_split``, a function of the scenario and
mode) instead of importing :mod:`dpmodel.plan`. These wrappers pass it, with every other argument
as the model's: the queueing models and the simulator get :func:`dpmodel.plan.lp_path_shares` (the
two-path split, or the path shares on a topology with more paths). Use
them where the model should pick the LP's split itself (a ``dualpath`` or ``oracle`` mode, or a
static-split simulator policy, with no ``split_de_frac`` or ``path_shares`` given).
"""

from __future__ import annotations

from typing import Any

from .plan import lp_path_shares, lp_split
from .queueing import offline as _offline
from .queueing import open_model as _open
from .queueing import slo as _slo
from .queueing.offline import OfflineResult
from .queueing.open_model import OnlineResult
from .queueing.slo import CapacityResult
from .scenario import Scenario
from .sim import replicate as _replicate
from .sim import run as _sim

__all__ = [
    "lp_split",
    "offline_jct",
    "offline_jct_many",
    "online_metrics",
    "replicate_online",
    "saturated_resource",
    "simulate_offline",
    "simulate_online",
    "simulate_saturated",
    "simulate_trace",
    "slo_capacity",
]


def online_metrics(scenario: Scenario, mode: str, aps: float, **kw: Any) -> OnlineResult:
    """:func:`dpmodel.queueing.open_model.online_metrics` with the LP's split among the candidates.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    aps : float
        Agent arrival rate [agents/s].
    **kw
        The other keyword arguments of :func:`dpmodel.queueing.open_model.online_metrics`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    OnlineResult
        What :func:`dpmodel.queueing.open_model.online_metrics` returns.
    """
    return _open.online_metrics(scenario, mode, aps, lp_split=lp_path_shares, **kw)


def slo_capacity(scenario: Scenario, mode: str, **kw: Any) -> CapacityResult:
    """:func:`dpmodel.queueing.slo.slo_capacity` with the LP's split among the candidates.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    **kw
        The other keyword arguments of :func:`dpmodel.queueing.slo.slo_capacity`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    CapacityResult
        What :func:`dpmodel.queueing.slo.slo_capacity` returns.
    """
    return _slo.slo_capacity(scenario, mode, lp_split=lp_path_shares, **kw)


def saturated_resource(scenario: Scenario, mode: str, aps: float) -> tuple[str, float, float]:
    """:func:`dpmodel.queueing.slo.saturated_resource` with the LP's split among the candidates.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    aps : float
        Agent arrival rate [agents/s].

    Returns
    -------
    tuple of (str, float, float)
        What :func:`dpmodel.queueing.slo.saturated_resource` returns: the resource that saturates first, its utilization [fraction] and the
        second path's share of the reads ``split_de_frac`` [fraction].
    """
    return _slo.saturated_resource(scenario, mode, aps, lp_split=lp_path_shares)


def offline_jct(scenario: Scenario, mode: str, agents: int, **kw: Any) -> OfflineResult:
    """:func:`dpmodel.queueing.offline.offline_jct`, at the LP's split unless ``split_de_frac`` or ``path_shares`` is given.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    agents : int
        Agents in the offline batch.
    **kw
        The other keyword arguments of :func:`dpmodel.queueing.offline.offline_jct`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    OfflineResult
        What :func:`dpmodel.queueing.offline.offline_jct` returns.
    """
    return _offline.offline_jct(scenario, mode, agents, lp_split=lp_path_shares, **kw)


def offline_jct_many(scenario: Scenario, mode: str, agent_counts: list[int], **kw: Any) -> list[OfflineResult]:
    """:func:`dpmodel.queueing.offline.offline_jct_many`, at the LP's split unless ``split_de_frac`` or ``path_shares`` is given.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.
    agent_counts : list of int
        The offline batch sizes (agents) to evaluate.
    **kw
        The other keyword arguments of :func:`dpmodel.queueing.offline.offline_jct_many`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    list of OfflineResult
        What :func:`dpmodel.queueing.offline.offline_jct_many` returns: one result per agent count.
    """
    return _offline.offline_jct_many(scenario, mode, agent_counts, lp_split=lp_path_shares, **kw)


def simulate_offline(scenario: Scenario, policy: str, agents: int, **kw: Any) -> _sim.SimResult:
    """:func:`dpmodel.sim.simulate_offline`; a static-split policy reads at the LP's split.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    policy : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    agents : int
        Agents in the offline batch.
    **kw
        The other keyword arguments of :func:`dpmodel.sim.simulate_offline`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    SimResult
        What :func:`dpmodel.sim.simulate_offline` returns.
    """
    return _sim.simulate_offline(scenario, policy, agents, lp_split=lp_path_shares, **kw)


def simulate_online(scenario: Scenario, policy: str, **kw: Any) -> _sim.SimResult:
    """:func:`dpmodel.sim.simulate_online`; a static-split policy reads at the LP's split.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    policy : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    **kw
        The keyword arguments (``aps``, ``duration_s``, ...) of :func:`dpmodel.sim.simulate_online`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    SimResult
        What :func:`dpmodel.sim.simulate_online` returns.
    """
    return _sim.simulate_online(scenario, policy, lp_split=lp_path_shares, **kw)


def simulate_trace(scenario: Scenario, policy: str, requests, **kw: Any) -> _sim.SimResult:
    """:func:`dpmodel.sim.simulate_trace`; a static-split policy reads at the LP's split.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    policy : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    requests : iterable of TraceRequest
        The trace's requests (:class:`~dpmodel.workload.traces.TraceRequest`), replayed at their
        own timestamps.
    **kw
        The other keyword arguments of :func:`dpmodel.sim.simulate_trace`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    SimResult
        What :func:`dpmodel.sim.simulate_trace` returns.
    """
    return _sim.simulate_trace(scenario, policy, requests, lp_split=lp_path_shares, **kw)


def simulate_saturated(scenario: Scenario, policy: str, **kw: Any) -> _sim.SimResult:
    """:func:`dpmodel.sim.simulate_saturated`; a static-split policy reads at the LP's split.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    policy : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    **kw
        The keyword arguments (``agents``, ``horizon_s``, ...) of :func:`dpmodel.sim.simulate_saturated`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    SimResult
        What :func:`dpmodel.sim.simulate_saturated` returns.
    """
    return _sim.simulate_saturated(scenario, policy, lp_split=lp_path_shares, **kw)


def replicate_online(scenario: Scenario, policy: str, **kw: Any) -> _replicate.Replications:
    """:func:`dpmodel.sim.replicate_online`; a static-split policy reads at the LP's split.

    Parameters
    ----------
    scenario : Scenario
        The cluster, model and workload (:class:`dpmodel.scenario.Scenario`).
    policy : str
        The simulator policy, one of :data:`dpmodel.sim.POLICIES`.
    **kw
        The keyword arguments (``aps``, ``duration_s``, ...) of :func:`dpmodel.sim.replicate_online`:
        all but ``lp_split``, which this wrapper passes.

    Returns
    -------
    Replications
        What :func:`dpmodel.sim.replicate_online` returns.
    """
    return _replicate.replicate_online(scenario, policy, lp_split=lp_path_shares, **kw)
