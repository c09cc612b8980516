"""Calibration against the paper's Fig. 7: only Oracle-calibrated compute knobs; Basic and DualPath
are predicted. The target: median absolute speedup error across every cell <= 15 %.

Table 2 is read plain (the default since the switch, docs/workloads-and-traces.md). The bounded
roofline fit (``roofline-oracle.toml``) meets the target; the flat two-knob calibration, refitted
under the plain reading, does not (21.9 %: DualPath predicted at its Oracle for DS 27B and Qwen, so
the speedup comes out 20-80 % high; benchmarks/results/paper_fig7.md): a strict xfail records it."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from dpmodel.errors import ProfileError
from dpmodel.fig7 import KNOBS, load_calibration, load_roofline_fit, predict, speedup_errors
from dpmodel.reference import FIG7_JCT_S


@pytest.fixture(scope="module")
def cells():
    cal = load_calibration()
    return {m: predict(m, cal[m]) for m in FIG7_JCT_S}


@pytest.fixture(scope="module")
def fit_cells():
    fit = load_roofline_fit()
    return {m: predict(m, kernels=fit[m]) for m in FIG7_JCT_S}


def test_calibration_covers_every_model_and_only_compute_knobs():
    cal = load_calibration()
    assert set(cal) == set(FIG7_JCT_S)
    for knobs in cal.values():
        assert set(knobs) == set(KNOBS)


def _median_speedup_error(cells):
    errs = [abs(s["error_frac"]) for m in cells for s in speedup_errors(cells[m])]
    assert len(errs) == 33  # every Fig. 7 cell with a Basic and a DualPath bar
    return statistics.median(errs)


def test_median_speedup_error_within_15pct_roofline_fit(fit_cells):
    assert _median_speedup_error(fit_cells) <= 0.15


@pytest.mark.xfail(strict=True, reason="flat calibration under the plain Table 2 reading: 21.9 % (benchmarks/results/paper_fig7.md)")
def test_median_speedup_error_within_15pct_flat(cells):
    assert _median_speedup_error(cells) <= 0.15


@pytest.mark.parametrize("which", ["cells", "fit_cells"])
def test_predictions_keep_the_paper_ordering(which, request):
    """DualPath never predicted slower than Basic, nor faster than Oracle."""
    for cs in request.getfixturevalue(which).values():
        by = {(c.workload, c.agents, c.mode): c.jct_s_pred for c in cs}
        for (wl, n, mode), v in by.items():
            if mode == "dualpath":
                assert by[(wl, n, "oracle")] <= v * (1 + 1e-9) <= by[(wl, n, "basic")] * (1 + 1e-6)


def test_runs_are_built_as_the_paper_builds_them():
    """500 trajectories; a larger run adds copies of sampled ones with a first round prepended."""
    from dpmodel.fig7 import paper_trajectories, run_trajectories, scenario_for
    from dpmodel.reference import PAPER_TRAJECTORIES_PER_SET

    sc = scenario_for("ds-27b", "agentic-32k")
    small = paper_trajectories(sc, 128)
    assert small.agents_count == PAPER_TRAJECTORIES_PER_SET == 500  # a run of 128 takes the first 128 of the set
    big = paper_trajectories(sc, 700)
    assert big.agents_count == 700
    for j in range(500):  # the set itself, unchanged
        assert all((x == y).all() for x, y in zip(big.trajectory(j), small.trajectory(j), strict=True))
    base_first = {tuple(small.trajectory(j)[0][:3]) for j in range(500)}
    short = paper_trajectories(sc, 700, first_round_tokens=1)
    for j in range(500, 700):  # each extra agent: a prepended round (one generated token), then a set member's turns
        a, g = short.trajectory(j)
        assert g[0] == 1 and a[0] == 1 and tuple(a[1:4]) in base_first
        a, g = big.trajectory(j)  # by default the round is as long as the member's first append (then re-truncated at MAL)
        assert g[0] == 1 and (len(a) == 1 or a[0] == a[1])
    assert big.turns_count < short.turns_count
    assert run_trajectories(sc, 700, agents_from="paper-1-token-round").turns_count == short.turns_count
    indep = run_trajectories(sc, 700, agents_from="independent")
    assert indep.agents_count == 700 and not np.array_equal(indep.trajectory(600)[0], big.trajectory(600)[0])
    with pytest.raises(ProfileError, match="agents_from"):
        run_trajectories(sc, 10, agents_from="fresh")


def test_bad_calibration_file(tmp_path):
    p = tmp_path / "cal.toml"
    p.write_text('[provenance]\nsource = "x"\n[models."m"]\nprefill_efficiency_frac = 0.5\nio_speed = 2.0\n')
    with pytest.raises(ProfileError, match="unknown knob"):
        load_calibration(p)
    p.write_text('[models."m"]\nprefill_efficiency_frac = 0.5\n')
    with pytest.raises(ProfileError, match="provenance"):
        load_calibration(p)


def test_roofline_fit_file_is_validated_and_applied_only_on_the_testbed(tmp_path):
    from dpmodel.fig7 import ROOFLINE_KNOB_RANGES, calibrated_cluster
    from dpmodel.scenario import Scenario

    fit = load_roofline_fit()
    assert set(fit) == set(FIG7_JCT_S)
    for knobs in fit.values():  # the committed fit: every knob strictly inside its sourced range
        assert set(knobs) == set(ROOFLINE_KNOB_RANGES)
        for k, v in knobs.items():
            lo, hi, _ = ROOFLINE_KNOB_RANGES[k]
            assert lo + 0.01 * (hi - lo) < v < hi - 0.01 * (hi - lo), k
    p = tmp_path / "fit.toml"
    p.write_text('[provenance]\nsource = "x"\n[models."m"]\ngemm_eff_max_frac = 0.95\n')
    with pytest.raises(ProfileError, match="gemm_eff_max_frac.*sourced range"):
        load_roofline_fit(p)
    p.write_text('[models."m"]\ngemm_eff_max_frac = 0.6\n')
    with pytest.raises(ProfileError, match="provenance"):
        load_roofline_fit(p)
    sc = Scenario.load(model="ds-27b", prefill_nodes=1, decode_nodes=1)
    cl = calibrated_cluster(sc.cluster, "ds-27b")
    assert cl.name.endswith("+roofline-oracle") and cl.kernels.gemm_eff_max_frac == fit["ds-27b"]["gemm_eff_max_frac"]
    kept = calibrated_cluster(sc.cluster, "ds-27b", keep=("kernels.gemm_eff_max_frac",))
    assert kept.kernels.gemm_eff_max_frac == sc.cluster.kernels.gemm_eff_max_frac  # a --set value wins
    assert calibrated_cluster(sc.cluster, "gpt-oss-120b") is None  # no fit for that model
    assert calibrated_cluster(Scenario.load(cluster="h100-sxm").cluster, "ds-27b") is None  # not the testbed
