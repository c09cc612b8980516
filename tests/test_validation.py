"""benchmarks/validation.py: its core on a small input (one Fig. 7 workload, a two-row cross-check record)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def validation():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("validation_page", BENCH / "validation.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["validation_page"] = mod  # dataclasses resolve their module by name
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("validation_page", None)
        sys.path.remove(str(BENCH))


RECORD = """# Analytic models vs the discrete-event simulator

Command: `python benchmarks/crosscheck.py`; 2026-12-01 22:41 UTC.

## Saturated throughput: LP vs simulation

| scenario | mode | LP turns/s | simulated | error | Little's law error (decode slots) |
|---|---|---|---|---|---|
| ds-27b 1P1D agentic-32k | basic | 110.00 | 100.00 | +10.0% | 0.00% |

## Online: open-network model vs simulation

| scenario | mode | load | max util | TTFT mean model / sim (err) | sim reps (se) | p99 model / sim | TPOT model / sim [ms] | read [s] | wait [s] | own [s] |
|---|---|---|---|---|---|---|---|---|---|---|
| ds-27b 1P1D agentic-32k | basic | 0.30 | 0.30 | 0.050 / 0.100 (-50%) | 6 (1.8%) | 0.200 / 0.100 | 13.0 / 10.0 | 0 / 0 | 0 / 0 | 0 / 0 |
| ds-27b 1P1D agentic-32k | basic | 0.95 | 0.94 (low confidence) | 3.000 / 1.000 (+200%) | 20 (7.7%) | 2.0 / 1.0 | 15.0 / 15.0 | 0 / 0 | 0 / 0 | 0 / 0 |
"""


def test_parse_crosscheck_reads_model_and_sim_columns_and_flags_the_knee(validation):
    rows = validation.parse_crosscheck(RECORD)
    by = {(r.tier, r.point): r for r in rows}
    assert by[("saturated throughput", "saturated")].error_frac == pytest.approx(0.10)
    assert by[("online mean TTFT", "load 0.30")].error_frac == pytest.approx(-0.5)
    assert not by[("online mean TTFT", "load 0.30")].knee
    assert by[("online mean TTFT", "load 0.95")].knee and by[("online mean TTFT", "load 0.95")].error_frac == pytest.approx(2.0)
    assert by[("online TPOT", "load 0.30")].error_frac == pytest.approx(0.3)
    assert all(r.kind == "simulator" for r in rows)


def test_range_error_is_distance_to_the_nearer_end(validation):
    R = validation.Row
    inside = R("measurement", "x", "TPOT", "m", "w", "oracle", "", 0.02, 0.011, 0.025)
    above = R("measurement", "x", "TPOT", "m", "w", "oracle", "", 0.05, 0.011, 0.025)
    below = R("measurement", "x", "TPOT", "m", "w", "oracle", "", 0.0055, 0.011, 0.025)
    assert inside.error_frac == 0.0
    assert above.error_frac == pytest.approx(1.0)
    assert below.error_frac == pytest.approx(-0.5)


def test_summary_median_and_worst_signed(validation):
    R = validation.Row
    rows = [R("simulator", "r", "t", "m", "w", "basic", str(i), p, 1.0) for i, p in enumerate((0.9, 1.05, 1.3))]
    (s,) = validation.summarize(rows)
    assert s["count"] == 3
    assert s["median_frac"] == pytest.approx(0.05)
    assert s["worst_frac"] == pytest.approx(0.3)


def test_paper_rows_on_one_workload_follow_the_library(validation):
    """One Fig. 7 workload of one model: every mode's JCT, the speedup and TPOT rows are there, and
    the predicted JCT is the library's offline model (not a number stored in the script)."""
    from dpmodel.fig7 import load_calibration, run_trajectories, scenario_for
    from dpmodel.reference import FIG7_JCT_S
    from dpmodel.serving import offline_jct_many

    rows = validation.paper_rows(models=("qwen2.5-32b",), workloads=("agentic-32k",))
    tiers = {r.tier for r in rows}
    assert {"offline JCT, oracle", "offline JCT, dualpath", "offline JCT, basic", "speedup basic/dualpath JCT"} <= tiers
    n = len(FIG7_JCT_S["qwen2.5-32b"]["cells"]["agentic-32k"]["agents"])
    assert sum(r.tier == "offline JCT, basic" for r in rows) == n
    sc = scenario_for("qwen2.5-32b", "agentic-32k", load_calibration().get("qwen2.5-32b"))
    ref = FIG7_JCT_S["qwen2.5-32b"]["cells"]["agentic-32k"]
    direct = offline_jct_many(sc, "basic", ref["agents"], trajectories=run_trajectories(sc, max(ref["agents"])))
    got = [r.pred for r in rows if r.tier == "offline JCT, basic"]
    assert got == pytest.approx([r.jct_s for r in direct], rel=1e-12)
    assert all(r.kind == "measurement" for r in rows)


def test_page_separates_measurements_from_simulator(validation, tmp_path):
    rec = tmp_path / "crosscheck.md"
    rec.write_text(RECORD)
    lines, rows = validation.build_page(models=("qwen2.5-32b",), workloads=("agentic-32k",), crosscheck=rec, check_drift=False)
    text = "\n".join(lines)
    assert text.index("Against real measurements") < text.index("Consistency with our own simulator") < text.index("Where to trust")
    assert validation.COMMAND in text
    assert "knee, load >= 0.9" in text
    acc = text[text.index("## Acceptance (issue 14), computed") :]
    assert "every fitted knob strictly inside its sourced range" in acc and "feasible under TTFT <= 4 s" in acc
    assert text.index(validation.DEFAULT_REF) < text.index("Where to trust")  # the default's rows are on the page


def test_fit_section_puts_every_knob_beside_its_range_and_bolds_bounds(validation):
    """The committed bounded roofline fit: every fitted knob inside its sourced range; one at a bound is bold."""
    from dpmodel.fig7 import ROOFLINE_KNOB_RANGES

    fit = validation.roofline_fit()
    assert fit, "dpmodel/catalog/calibration/roofline-oracle.toml is missing (benchmarks/roofline_calibrate.py writes it)"
    for knobs in fit.values():
        for k, (lo, hi, _) in ROOFLINE_KNOB_RANGES.items():
            assert lo <= knobs[k] <= hi
    text = "\n".join(validation.fit_section())
    for k in ROOFLINE_KNOB_RANGES:
        assert f"| {k} |" in text
    bounded = [(m, x.split(":")[0]) for m, knobs in fit.items() for x in knobs.get("at_bound", [])]
    if bounded:
        m, k = bounded[0]
        assert f"**{fit[m][k]:g}**" in text
