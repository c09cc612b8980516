"""The report's figures follow the house style (dpmodel/plots.py): units on every axis, value labels
on bars, the binding resource highlighted and the rest grey, categories named in a legend, the
scenario marked, the TTFT axis clipped, only binding limits named in the split figure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpmodel import plots
from dpmodel.plan import analyse
from dpmodel.sweep import bottleneck_grid, split_curve


@pytest.fixture(scope="module")
def res(default_scenario):
    return analyse(default_scenario)


def _has_units(fig) -> bool:
    lay = fig.layout
    return all("[" in (ax.title.text or "") for ax in (lay.xaxis, lay.yaxis) if ax.title.text is not None)


def test_mode_bars_are_labelled_and_highlight_one_mode(res):
    fig = plots.mode_bars(res)
    bar = fig.data[0]
    assert list(bar.text) == [f"{res.modes[m].turns_per_s:.2f} turns/s" for m in plots.MODE_ORDER]
    colors = dict(zip(plots.MODE_ORDER, bar.marker.color, strict=True))
    assert colors["dualpath"] == plots.MODE_COLORS["dualpath"] and colors["basic"] == colors["layerwise"] == plots.GREY
    assert "[turns/s" in fig.layout.yaxis.title.text


def test_resource_utilization_highlights_exactly_the_binding(res):
    dp = res.modes["dualpath"]
    fig = plots.resource_utilization(dp)
    bar = fig.data[0]
    hot = {name for name, c in zip(bar.y, bar.marker.color, strict=True) if c == plots.HIGHLIGHT}
    assert hot == set(dp.bottlenecks) and len(bar.y) == len(dp.resources)
    assert all(t.split(" %")[0].replace(".", "").isdigit() for t in bar.text)  # value labels
    assert fig.layout.xaxis.title.text == "utilization [% of capacity]"


def test_split_figure_names_only_the_limits_that_bind(default_scenario, res):
    curve = split_curve(default_scenario)
    fig = plots.throughput_vs_split(curve, res.modes["dualpath"].split_de_frac)
    named = {t.name.removeprefix("limit: ") for t in fig.data if t.name.startswith("limit: ")}
    ach = curve["turns_per_s"]
    binds = {n for n, lim in curve["limits"].items() if np.any(np.isclose(lim, ach, rtol=1e-6, atol=0))}
    assert named == binds and 1 <= len(named) < len(curve["limits"])
    grey = [t for t in fig.data if t.legendgroup == "slack"]
    assert sum(bool(t.showlegend) for t in grey) <= 1 and all(t.line.color == plots.GREY for t in grey)
    top = fig.layout.yaxis.range[1]
    assert top == pytest.approx(float(np.max(ach)) * 1.6)  # clipped near the curve, not at the loosest limit
    assert _has_units(fig)


def test_bottleneck_map_is_categorical_with_the_scenario_marked(default_scenario):
    g = bottleneck_grid(default_scenario, pd_ratios=[0.25, 0.5, 1, 2, 4], contexts_tokens=[4e3, 32e3, 128e3])
    fig = plots.bottleneck_map(g, scenario_point=(0.5, 32721))
    names = sorted(set(g["bottleneck"].ravel().tolist()))
    legend = [t.name for t in fig.data if t.type == "scatter" and t.showlegend and t.name != "this scenario"]
    assert legend == names  # one legend entry per resource, by name
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert all(not t.showscale for t in heat)  # no continuous colour bar
    assert len({t.colorscale[0][1] for t in heat}) == len(names)  # one discrete colour each
    star = [t for t in fig.data if t.name == "this scenario"]
    assert star and (star[0].x[0], star[0].y[0]) == (0.5, 32721)
    assert _has_units(fig)


def test_ttft_axis_is_clipped_and_saturation_marked():
    aps = {"basic": [0.1, 0.3, 0.59], "dualpath": [0.2, 1.0, 2.2]}
    ttft = {"basic": {"mean": [0.1, 1.0, 2e4]}, "dualpath": {"mean": [0.1, 0.2, 0.6], "p99": [0.3, 0.5, 1.5]}}
    fig = plots.ttft_vs_aps(aps, ttft, slo_ttft_s=4.0, saturation_aps={"basic": 0.6, "dualpath": 2.25})
    assert fig.layout.yaxis.range[1] == pytest.approx(math.log10(40))  # 10 x the SLO, not 20,000 s
    assert fig.layout.xaxis.range[1] == pytest.approx(2.25 * 1.05)
    texts = [a.text for a in fig.layout.annotations]
    assert "TTFT SLO 4 s" in texts and any("basic saturates at 0.6" in t for t in texts)
    assert sum(1 for s in fig.layout.shapes if s.type == "line") == 3  # the SLO and two saturation lines
    assert {t.legendgroup for t in fig.data} == {"basic", "dualpath"}


def test_pareto_front_marks_the_front_and_the_scenario():
    rows = [
        {
            "prefill_nodes": p,
            "decode_nodes": 6 - p,
            "snics_per_node": 1,
            "prefill_engine_gpus": 8,
            "mode": m,
            "fits": True,
            "turns_per_s": 10.0 * p,
            "bottleneck": "x",
            "tokens_per_s_per_gpu": 100.0 * p,
            "tokens_per_s_per_user": 100.0 / p,
        }
        for p in (1, 2, 3)
        for m in ("basic", "dualpath")
    ]
    front = [r for r in rows if r["mode"] == "dualpath"]
    fig = plots.pareto_front(rows, front, current=rows[0])
    names = [t.name for t in fig.data]
    assert names[0].startswith("all feasible configurations (6)") and "front: dualpath" in names and "this scenario" in names
    assert "[tokens/s]" in fig.layout.xaxis.title.text and "[tokens/s]" in fig.layout.yaxis.title.text


def test_search_report_writes_the_top_configuration_with_the_front(tmp_path, monkeypatch, capsys):
    # the CLI wiring of `search --report` (the online curves stubbed out: test_report_browser.py runs them)
    import dpmodel.report as report
    from dpmodel.cli import main

    monkeypatch.setattr(report, "_online_curves", lambda scenario: ({}, {}, {}))
    out = tmp_path / "s.html"
    assert main(["search", "--nodes", "6", "--front-capacity", "0", "--report", str(out), "--quiet"]) == 0
    text = out.read_text()
    assert 'id="fig-pareto_front"' in text and "Search over 180 configurations of 6 nodes" in text
    assert "configuration ranks 1 (" in text and "is on the Pareto front" in text
    assert "wrote report" in capsys.readouterr().err
