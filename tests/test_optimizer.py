"""Throughput LP: closed forms, cross-checks with the vectorized sweep, properties, duals, solvers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dpmodel.errors import ScenarioError, SolverError
from dpmodel.optimize import compiled_lp, throughput
from dpmodel.plan import analyse, analyse_mode
from dpmodel.scenario import MODES, Deployment, Scenario
from dpmodel.sweep import sweep_throughput

from .helpers import override, snic_only

BASE = Scenario.load()


@pytest.mark.parametrize("P,D", [(1, 1), (1, 2), (2, 1), (2, 4), (3, 5), (4, 2)])
def test_snic_only_closed_form(P, D):
    """Only storage NICs bind: f = D/(P+D), throughput (P+D)S/H, speedup 1 + D/P over PE-only reads."""
    sc = snic_only(BASE, prefill_nodes_count=P, decode_nodes_count=D)
    H = sc.classes()[0].hit_tokens * sc.model.kv_bytes_per_token
    S = sc.snic_read_Bps_per_node
    dual = analyse_mode(sc, "dualpath")
    layer = analyse_mode(sc, "layerwise")
    assert layer.turns_per_s == pytest.approx(P * S / H, rel=1e-6)
    assert dual.turns_per_s == pytest.approx((P + D) * S / H, rel=1e-6)
    assert dual.split_de_frac == pytest.approx(D / (P + D), abs=1e-6)
    assert dual.turns_per_s / layer.turns_per_s == pytest.approx(1 + D / P, rel=1e-6)
    assert set(dual.bottlenecks) == {"pe.snic.read", "de.snic.read"}
    assert layer.bottleneck == "pe.snic.read"


def test_worked_example_storage_nic_caps():
    """architecture.md section 11: PE-only reads cap at 2 x 50 GB/s over the turn's hit KV, both paths at
    6 x 50 (split 4/6). The hit KV is 1.57 GB (32,721 tokens x 48,068 B, the indexer keys counted;
    architecture.md's 1.31 GB is the attention cache only): ~64 and ~191 turns/s."""
    sc = snic_only(BASE)
    assert analyse_mode(sc, "layerwise").turns_per_s == pytest.approx(2 * 50 / 1.573, rel=0.01)
    dual = analyse_mode(sc, "dualpath")
    assert dual.turns_per_s == pytest.approx(6 * 50 / 1.573, rel=0.01)
    assert dual.split_de_frac == pytest.approx(4 / 6, abs=1e-6)


scenarios = st.fixed_dictionaries(
    {
        "P": st.integers(1, 6),
        "D": st.integers(1, 12),
        "context": st.floats(1e3, 1.2e5),
        "append": st.floats(50, 4000),
        "snic": st.floats(100, 1600),
        "cnic": st.floats(100, 800),
        "dram": st.floats(100, 1500),
        "eff": st.floats(0.05, 1.0),
        "model": st.sampled_from(["deepseek-v3.2", "qwen3-235b-a22b", "gpt-oss-120b", "ds-27b"]),
    }
)


def _fits(sc: Scenario) -> bool:
    try:
        sc.decode_capacity()
    except ScenarioError:
        return False
    return True


def _build(p) -> Scenario:
    sc = BASE if p["model"] == "deepseek-v3.2" else Scenario.load(model=p["model"])
    sc = override(
        sc,
        node={"snic_Gbps": p["snic"], "cnic_Gbps": p["cnic"], "dram_GBps": p["dram"]},
        trajectory={"mean_context_tokens": p["context"], "mean_append_tokens": p["append"]},
        prefill_nodes_count=p["P"],
        decode_nodes_count=p["D"],
        prefill_efficiency_frac=p["eff"],
    )
    assume(_fits(sc))  # e.g. DeepSeek-V3.2 needs at least 2 decode nodes of 80 GB GPUs
    return sc


@given(scenarios)
def test_lp_matches_vectorized_closed_form(p):
    sc = _build(p)
    for mode in MODES:
        lp = analyse_mode(sc, mode)
        vec = sweep_throughput(sc, mode)
        assert lp.turns_per_s == pytest.approx(float(vec["turns_per_s"]), rel=1e-6), mode
        if mode == "dualpath" and set(lp.bottlenecks) == {"pe.snic.read", "de.snic.read"}:
            # where both storage-NIC sides bind, the optimal split is unique
            assert lp.split_de_frac == pytest.approx(float(vec["split_de_frac"]), abs=1e-5)


def test_sweep_marks_models_that_do_not_fit():
    out = sweep_throughput(BASE, "dualpath", decode_nodes=np.array([1, 2, 4]))
    assert out["fits"].tolist() == [False, True, True]
    assert out["turns_per_s"][0] == 0 and out["turns_per_s"][1] > 0


@given(scenarios)
def test_mode_ordering_and_split_range(p):
    res = analyse(_build(p))
    t = {m: r.turns_per_s for m, r in res.modes.items()}
    tol = 1 + 1e-6
    assert t["oracle"] * tol >= t["dualpath"]
    assert t["dualpath"] * tol >= t["layerwise"]
    assert t["layerwise"] * tol >= t["basic"]
    for r in res.modes.values():
        assert 0.0 <= r.split_de_frac <= 1.0
        assert all(x.utilization_frac <= 1 + 1e-5 for x in r.resources)


@given(scenarios, st.sampled_from(["snic", "cnic", "dram", "eff", "P", "D"]), st.floats(1.0, 4.0))
def test_more_capacity_never_lowers_throughput(p, what, factor):
    more = dict(p)
    if what in ("P", "D"):
        more[what] = int(np.ceil(p[what] * factor))
    elif what == "eff":
        more[what] = min(1.0, p[what] * factor)
    else:
        more[what] = p[what] * factor
    for mode in ("basic", "dualpath"):
        lo = float(sweep_throughput(_build(p), mode)["turns_per_s"])
        hi = float(sweep_throughput(_build(more), mode)["turns_per_s"])
        assert hi >= lo * (1 - 1e-9), (mode, what)


def test_shadow_price_matches_finite_difference():
    sc = snic_only(BASE)
    r = analyse_mode(sc, "layerwise")
    price = r.resource("pe.snic.read").shadow_price  # turns/s per GB/s of cluster PE SNIC capacity
    bumped = override(sc, node={"snic_Gbps": sc.cluster.node.snic_Gbps * 1.01})
    gain = analyse_mode(bumped, "layerwise").turns_per_s - r.turns_per_s
    extra_GBps = 0.01 * sc.capacities()["pe.snic.read"] / 1e9
    assert price == pytest.approx(gain / extra_GBps, rel=1e-4)
    # non-binding resources are worth nothing
    assert r.resource("de.snic.read").shadow_price == 0


def test_compiled_once_and_dpp():
    analyse_mode(BASE, "dualpath", solver="lp")
    before = compiled_lp.cache_info()
    lp1 = compiled_lp(tuple(BASE.demands("dualpath").names), 1)
    analyse(BASE)
    for m in ("basic", "dualpath"):
        analyse_mode(BASE, m, solver="lp")
    lp2 = compiled_lp(tuple(BASE.demands("dualpath").names), 1)
    assert lp1 is lp2
    assert compiled_lp.cache_info().misses == before.misses
    assert lp1.problem.is_dcp(dpp=True)
    assert lp1.problem.is_dpp()


def test_fallback_solver_is_used_and_reported(monkeypatch):
    monkeypatch.setattr(throughput, "SOLVERS", ("NO_SUCH_SOLVER", "HIGHS"))
    r = analyse_mode(BASE, "layerwise", solver="lp")
    assert r.solver == "HIGHS"
    assert "NO_SUCH_SOLVER failed" in r.solver_note
    monkeypatch.setattr(throughput, "SOLVERS", ("CLARABEL",))
    assert analyse_mode(BASE, "layerwise", solver="lp").turns_per_s == pytest.approx(r.turns_per_s, rel=1e-6)


def test_every_solver_failing_raises(monkeypatch):
    monkeypatch.setattr(throughput, "SOLVERS", ("NO_SUCH_SOLVER",))
    with pytest.raises(SolverError, match="every solver failed"):
        analyse_mode(BASE, "basic", solver="lp")


def test_no_limiting_resource_is_our_error():
    names = ("a", "b")
    lp = throughput.ThroughputLP(names, 1)
    with pytest.raises(ScenarioError, match="no resource limits throughput"):
        lp.solve(np.zeros(2), np.zeros((2, 1)), np.zeros(1))


def test_bad_deployment_is_our_error():
    with pytest.raises(ScenarioError, match=r"prefill_nodes_count = 0: must be in \[1, 100000\]"):
        Deployment(prefill_nodes_count=0)
    with pytest.raises(ScenarioError, match=r"prefill_efficiency_frac = 1.5: must be in \[0.01, 1\]"):
        Deployment(prefill_efficiency_frac=1.5)
    with pytest.raises(ScenarioError, match="tpot_max_s"):
        Deployment(tpot_max_s=0)


def test_model_that_does_not_fit_is_explained():
    sc = Scenario.load(model="deepseek-v3.2", decode_nodes=1)
    with pytest.raises(ScenarioError, match="does not fit on the decode GPUs"):
        analyse(sc)


def test_tpot_cap_lowers_decode_capacity():
    free = analyse_mode(BASE, "oracle")
    capped = analyse_mode(BASE.with_deployment(tpot_max_s=0.03), "oracle")
    assert capped.turns_per_s <= free.turns_per_s
    assert BASE.with_deployment(tpot_max_s=0.03).decode_capacity()["step_s"] == pytest.approx(0.03)
