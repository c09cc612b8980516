"""The plan result: shapes, JSON safety, frames, notes."""

from __future__ import annotations

import json

import pytest

from dpmodel.plan import analyse
from dpmodel.report import format_plan_text
from dpmodel.scenario import Scenario


def test_default_plan_result(default_scenario):
    res = analyse(default_scenario)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)  # JSON-safe: no inf/nan
    assert d["scenario"]["fingerprint"] == default_scenario.fingerprint()
    frame = res.to_frame()
    assert set(frame["mode"]) == {"basic", "layerwise", "dualpath", "oracle"}
    assert {"name", "utilization_frac", "shadow_price", "capacity", "unit"} <= set(frame.columns)
    assert res.modes["layerwise"].bottleneck == "pe.snic.read"  # PE-only reads saturate the PE storage NICs
    txt = format_plan_text(res)
    assert "bottleneck-free P/D window" in txt


def test_outside_window_is_noted():
    res = analyse(Scenario.load(prefill_nodes=8, decode_nodes=2))  # P/D = 4 > 3.5
    assert any("outside the bottleneck-free window" in n for n in res.notes)


def test_fingerprint_tracks_content(default_scenario):
    assert default_scenario.fingerprint() == Scenario.load().fingerprint()
    assert default_scenario.fingerprint() != default_scenario.with_deployment(prefill_efficiency_frac=0.5).fingerprint()


def test_tokens_per_s_are_consistent(default_scenario):
    res = analyse(default_scenario)
    t = default_scenario.workload.trajectory
    for m in res.modes.values():
        assert m.prompt_tokens_per_s == pytest.approx(m.turns_per_s * (t.mean_context_tokens + t.mean_append_tokens))
        assert m.generated_tokens_per_s == pytest.approx(m.turns_per_s * t.mean_generated_tokens)
