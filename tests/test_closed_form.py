"""The plan's closed form (dpmodel/closed_form.py) against the throughput and balancing LPs."""

from __future__ import annotations

import numpy as np
import pytest

from dpmodel import closed_form
from dpmodel.flows import KV_RESOURCE_NAMES
from dpmodel.optimize import throughput
from dpmodel.plan import analyse_mode
from dpmodel.scenario import MODES, Scenario

CLUSTERS = ("dualpath-hopper", "dualpath-hopper-2snic", "h100-sxm", "h20", "h200-sxm")
MODELS = ("deepseek-v3.2", "ds-27b", "qwen2.5-32b", "gpt-oss-120b")
WORKLOADS = ("agentic-32k", "agentic-48k", "agentic-64k")


def _varied_scenarios(n: int):
    """``n`` loadable scenarios over clusters, models, workloads and P/D (both sides of the
    bottleneck-free window: storage-, link- and compute-bound cases)."""
    rng = np.random.default_rng(11)
    out, t = [], 0
    while len(out) < n:
        kw = dict(
            cluster=CLUSTERS[t % 5],
            model=MODELS[(t // 5) % 4],
            workload=WORKLOADS[t % 3],
            prefill_nodes=int(rng.integers(1, 9)),
            decode_nodes=int(rng.integers(1, 17)),
        )
        t += 1
        try:
            out.append((kw, Scenario.load(**kw)))
        except Exception:  # a model that does not fit the decode nodes
            continue
    return out


@pytest.fixture()
def highs_only(monkeypatch):
    """The LP path on HiGHS (a simplex: vertex solutions to ~1e-15, where Clarabel's interior point
    stops at ~1e-9)."""
    monkeypatch.setattr(throughput, "SOLVERS", ("HIGHS",))


def test_closed_form_equals_the_lp_over_varied_scenarios(highs_only):
    """Throughput and every shadow price equal the LP's to 1e-9 (relative); the split and the
    utilizations equal the LP's to its solver tolerance (1e-6: HiGHS stops the balancing stage
    within 1e-7 of its constraints), and the closed-form split is the balancing stage's exact
    optimum: its peak KV utilization no higher than the LP's and every row within capacity at the
    stage's load X (1 - 1e-7)."""
    used = 0
    for kw, sc in _varied_scenarios(24):
        for mode in MODES:
            cf = analyse_mode(sc, mode)
            lp = analyse_mode(sc, mode, solver="lp")
            if cf.solver != "closed form":
                continue
            used += 1
            where = f"{kw} {mode}"
            assert cf.turns_per_s == pytest.approx(lp.turns_per_s, rel=1e-9), where
            assert cf.split_de_frac == pytest.approx(lp.split_de_frac, abs=1e-6), where
            assert set(cf.bottlenecks) == set(lp.bottlenecks), where
            for a, b in zip(cf.resources, lp.resources, strict=True):
                assert a.name == b.name
                assert a.shadow_price == pytest.approx(b.shadow_price, rel=1e-9, abs=1e-12), (where, a.name)
                assert a.utilization_frac == pytest.approx(b.utilization_frac, abs=1e-6), (where, a.name)
                assert a.utilization_frac <= 1 + 2e-7, (where, a.name)  # the stage's 1e-7 headroom, undone
            if MODES[mode].de_path:
                io = [r.name in KV_RESOURCE_NAMES for r in cf.resources]
                peak = max(r.utilization_frac for r, k in zip(cf.resources, io, strict=True) if k)
                peak_lp = max(r.utilization_frac for r, k in zip(lp.resources, io, strict=True) if k)
                assert peak <= peak_lp + 2e-7, where
            # the bottleneck has the largest dual (ties between equal duals may name either row)
            top = max(r.shadow_price * r.capacity for r in lp.resources)
            assert cf.resource(cf.bottleneck).shadow_price * cf.resource(cf.bottleneck).capacity == pytest.approx(top, rel=1e-9), where
    assert used >= 80  # the closed form answers for (nearly) every one of the 96 scenario-modes


def test_ties_and_flat_optima_go_to_the_lp():
    """Where the closed form's answer would not be the LP's unique one, it answers None."""
    names = ("a", "b", "c")
    # two rows bind at once (no DE path): several duals would do
    assert closed_form.throughput(names, np.array([0.5, 0.5, 0.1]), np.zeros((3, 1)), np.zeros(1)) is None
    # three rows meet at the optimum of the one-class split
    cx, cz = np.array([1.0, 0.0, 0.5]), np.array([[-1.0], [1.0], [0.0]])
    assert closed_form.throughput(names, cx, cz, np.ones(1)) is None
    # a clean crossing: X = 2, split 1/2, duals from complementary slackness
    cx, cz = np.array([1.0, 0.0, 0.1]), np.array([[-1.0], [1.0], [0.0]])
    sol = closed_form.throughput(names, cx, cz, np.ones(1))
    assert sol.turns_per_s == pytest.approx(2.0) and sol.de_turns_per_s[0] == pytest.approx(1.0)
    assert sol.duals == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.0})
    # every KV row flat over a stretch of feasible splits: the balancing LP picks inside it
    assert closed_form.balance(names, ("c",), np.array([0.1, 0.1, 0.3]), np.array([[0.0], [0.0], [0.0]]), np.ones(1), 1.0) is None


def test_lp_fallback_matches_when_forced(monkeypatch):
    """With the closed form declining every case, analyse_mode's answers are the LP's."""
    sc = Scenario.load()
    monkeypatch.setattr(closed_form, "throughput", lambda *a, **k: None)
    for mode in MODES:
        r = analyse_mode(sc, mode)
        assert r.solver != "closed form"
        assert r.turns_per_s == pytest.approx(analyse_mode(sc, mode, solver="lp").turns_per_s, rel=1e-12)
