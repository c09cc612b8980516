"""The result contract: every result object is a frozen dataclass with a JSON-safe to_dict() and a
pandas to_frame()."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from dpmodel.optimize.latency import MinTTFTResult
from dpmodel.plan import ModeResult, PlanResult, ResourceResult, analyse
from dpmodel.queueing.offline import OfflineResult
from dpmodel.queueing.open_model import OnlineResult
from dpmodel.queueing.slo import CapacityResult
from dpmodel.results import Result
from dpmodel.scenario import Scenario
from dpmodel.search import SearchResult
from dpmodel.serving import online_metrics
from dpmodel.sim.replicate import Replications
from dpmodel.sim.run import SimResult
from dpmodel.sizing import SizingResult

RESULTS = (
    ResourceResult,
    ModeResult,
    PlanResult,
    OnlineResult,
    CapacityResult,
    OfflineResult,
    SimResult,
    Replications,
    SizingResult,
    SearchResult,
    MinTTFTResult,
)


@pytest.mark.parametrize("cls", RESULTS, ids=lambda c: c.__name__)
def test_result_classes_keep_the_contract(cls):
    assert issubclass(cls, Result) and dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen
    assert callable(cls.to_dict) and callable(cls.to_frame)


def test_to_dict_is_json_safe_past_saturation_and_to_frame_is_a_table():
    sc = Scenario.load()
    r = online_metrics(sc, "basic", 50.0)  # far past capacity: unbounded latencies
    assert not r.stable and r.ttft_s["mean"] == float("inf")
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["ttft_s"]["mean"] is None and d["mode"] == "basic"
    f = r.to_frame()
    assert isinstance(f, pd.DataFrame) and len(f) == 1 and f.loc[0, "aps"] == 50.0
    plan = analyse(sc)
    json.dumps(plan.to_dict(), allow_nan=False)
    t = plan.to_frame()
    assert set(t["mode"]) == {"basic", "layerwise", "dualpath", "oracle"} and {"name", "utilization_frac"} <= set(t.columns)
    m = plan.modes["dualpath"].to_frame()
    assert len(m) == len(plan.modes["dualpath"].resources)
