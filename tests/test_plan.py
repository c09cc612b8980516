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


def test_html_report_is_self_contained(tmp_path, default_scenario, capsys, monkeypatch):
    import dpmodel.report as report
    from dpmodel.cli import main

    # the online model's TTFT curves stubbed (seconds of bisection): tests/test_report_browser.py runs the real report
    monkeypatch.setattr(report, "_online_curves", lambda scenario: ({}, {}, {}))
    out = tmp_path / "r.html"
    assert main(["plan", "--report", str(out), "--plots", str(tmp_path / "png")]) == 0
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "Recommendation" in text
    assert 'src="https://' not in text  # plotly inlined: opens offline
    assert text.count("Plotly.newPlot") >= 4
    err = capsys.readouterr().err
    assert "kaleido" in err or "PNGs" in err
    assert oct(out.stat().st_mode & 0o777) != "0o600"


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    import os

    from dpmodel.fileio import atomic_write_text

    p = tmp_path / "f.txt"
    atomic_write_text(p, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(p, "new")
    assert p.read_text() == "old" and not [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]


def test_plot_functions_return_figures(default_scenario):
    import numpy as np

    from dpmodel import plots
    from dpmodel.sweep import bottleneck_grid, split_curve

    res = analyse(default_scenario)
    g = bottleneck_grid(default_scenario, pd_ratios=[0.25, 0.5, 1, 2], contexts_tokens=[8e3, 32e3, 128e3])
    assert g["bottleneck"].shape == (3, 4)
    figs = [
        plots.bottleneck_map(g),
        plots.throughput_vs_split(split_curve(default_scenario), res.modes["dualpath"].split_de_frac),
        plots.speedup_vs_agents([64, 128], {"basic": [10, 20], "dualpath": [8, 12]}),
        plots.ttft_vs_aps([0.1, 0.2], {"dualpath": {"mean": [0.1, 0.2], "p99": [0.3, 0.5]}}),
        plots.cost_capacity_front([{"cost_per_hour": 1, "max_aps": 1, "label": "a"}, {"cost_per_hour": 2, "max_aps": 0.5, "label": "b"}]),
        plots.mode_bars(res),
    ]
    assert all(len(f.data) >= 1 for f in figs)
    curve = split_curve(default_scenario)
    # the curve's maximum is the LP's dual-path throughput
    assert float(np.max(curve["turns_per_s"])) == pytest.approx(res.modes["dualpath"].turns_per_s, rel=1e-3)
