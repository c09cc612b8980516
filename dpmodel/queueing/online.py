"""The online (open-network) model's public names, re-exported from the modules that hold them.

Kept so that ``from dpmodel.queueing.online import ...`` goes on working; new code imports from the
modules themselves:

* :mod:`.erlang`: Erlang C and the least-loaded dispatch correction (queueing kernels);
* :mod:`.links`: the links' utilizations, linear in the path shares, and the max-of-links load residence;
* :mod:`.turn_sample`: the workload's turn sample, its sampled queues and the per-scenario cache;
* :mod:`.batch`: the prefill engine's batch law (gated batch service) and its routes from the paths' legs;
* :mod:`.percentiles`: TTFT percentiles;
* :mod:`.open_model`: TTFT / TTST / TPOT at an agent arrival rate (:func:`online_metrics`);
* :mod:`.slo`: SLO capacity and what limits it.
"""

from __future__ import annotations

from .batch import TurnParts, path_routes
from .erlang import erlang_c_prob, erlang_c_wait_s, least_loaded_wait_frac
from .links import LinkModel, PathLinks, link_model, load_residence_s, path_links
from .open_model import LEAST_LOADED_MODES, LOW_CONFIDENCE_UTIL_FRAC, OnlineResult, online_metrics, split_candidates, utilizations
from .percentiles import PERCENTILE_METHOD, ttft_quantiles
from .slo import CapacityResult, limiting_condition, saturated_resource, slo_capacity
from .turn_sample import turns_per_agent

__all__ = [
    "LEAST_LOADED_MODES",
    "LOW_CONFIDENCE_UTIL_FRAC",
    "PERCENTILE_METHOD",
    "CapacityResult",
    "LinkModel",
    "OnlineResult",
    "PathLinks",
    "TurnParts",
    "erlang_c_prob",
    "erlang_c_wait_s",
    "least_loaded_wait_frac",
    "limiting_condition",
    "link_model",
    "load_residence_s",
    "online_metrics",
    "path_links",
    "path_routes",
    "saturated_resource",
    "slo_capacity",
    "split_candidates",
    "ttft_quantiles",
    "turns_per_agent",
    "utilizations",
]
