"""Answers that name what limits them: capacity's limiting condition, overload output, token rates."""

from __future__ import annotations

import json
import math

import pytest

from dpmodel.cli import main
from dpmodel.scenario import Scenario
from dpmodel.serving import online_metrics, saturated_resource, slo_capacity


@pytest.fixture(scope="module")
def sc():
    return Scenario.load()


def test_capacity_names_a_resource_or_an_slo(sc):
    r = slo_capacity(sc, "basic")
    assert r.reason.startswith("limited by ") and f"at {r.max_aps:.3g} agents/s" in r.reason
    # just above the capacity the model is unstable or breaks an SLO, as the reason says
    above = online_metrics(sc, "basic", r.max_aps * 1.01)
    if "saturation" in r.reason:
        assert not above.stable
    elif "TTFT" in r.reason:
        assert above.ttft_s["mean"] > 4.0
    else:
        assert above.tpot_s > 0.05


def test_capacity_ttft_slo_binds_when_tight(sc):
    r = slo_capacity(sc, "dualpath", slo_ttft_s=0.3)
    assert r.reason == f"limited by the mean TTFT SLO (0.3 s) at {r.max_aps:.3g} agents/s"
    assert online_metrics(sc, "dualpath", r.max_aps * 1.01).stable


def test_capacity_tpot_slo_binds_when_tight(sc):
    r = slo_capacity(sc, "dualpath", slo_tpot_s=0.02)
    assert r.reason == f"limited by the TPOT SLO (20 ms) at {r.max_aps:.3g} agents/s"
    assert online_metrics(sc, "dualpath", r.max_aps * 1.01).tpot_s > 0.02


def test_saturated_resource_past_saturation(sc):
    name, util, f = saturated_resource(sc, "basic", 1.0)
    assert name == "pe.gpu.time" and util > 1 and f == 0.0
    # the snic bound: with a slow storage NIC the storage NIC saturates first, whatever the split
    slow = Scenario.load(overrides={"cluster": {"node.snic_Gbps": 25}})
    name, util, _ = saturated_resource(slow, "layerwise", 2.0)
    assert name == "pe.snic.read" and util > 1


def test_online_overload_leads_with_unstable_and_prints_no_artefacts(capsys):
    assert main(["online", "--aps", "10"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("UNSTABLE: 10 agents/s") and "saturates at" in first and "limited by" in first
    for bad in ("inf", "nan", "DE split 0.000", "TTFT mean"):
        assert bad not in out.replace("unbounded", ""), bad


def test_online_token_rates(capsys):
    assert main(["online", "--aps", "0.8", "--json"]) == 0  # below the default's capacity (1.0 agents/s since the calibrated roofline)
    d = json.loads(capsys.readouterr().out)
    assert d["tokens_per_s_per_user"] == pytest.approx(1 / d["tpot_s"])
    sc = Scenario.load()
    k = sc.classes()[0]
    assert d["uncached_prompt_tokens_per_s"] == pytest.approx(d["turns_per_s"] * k.append_tokens)
    assert d["prompt_tokens_per_s"] / d["uncached_prompt_tokens_per_s"] > 10  # the agentic workload is mostly cache hits
    assert d["tokens_per_s_per_gpu"] == pytest.approx(d["turns_per_s"] * k.generated_tokens / 48)


def test_plan_token_rates_consistent(capsys):
    assert main(["plan", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for m in d["modes"].values():
        assert m["tokens_per_s_per_gpu"] == pytest.approx(m["generated_tokens_per_s"] / 48)
        assert 0 < m["uncached_prompt_tokens_per_s"] < m["prompt_tokens_per_s"]
        assert m["tokens_per_s_per_user"] > 0 and math.isfinite(m["tokens_per_s_per_user"])
    # decode-bound modes run the decode batch at its largest: per-user speed = 1 / the max-batch step
    step = d["decode"]["step_s"]
    bound = [m for m in d["modes"].values() if m["bottleneck"] == "de.gpu.tokens"]
    for m in bound:
        assert m["tokens_per_s_per_user"] == pytest.approx(1 / step, rel=1e-6)
    slower = d["modes"]["basic"]
    assert slower["tokens_per_s_per_user"] >= d["modes"]["dualpath"]["tokens_per_s_per_user"]


def test_progress_ticks_from_capacity_and_is_silent_outside(capsys, sc):
    from dpmodel.progress import progress_bar, tick

    tick()  # no bar: nothing happens
    assert capsys.readouterr().err == ""
    with progress_bar("size: SLO checks", unit="check", force=True) as bar:
        slo_capacity(sc, "basic")
        assert bar.n == 1
    err = capsys.readouterr().err
    assert "size: SLO checks" in err
    with progress_bar("off", enabled=False) as bar:
        assert bar is None
        slo_capacity(sc, "basic")
    assert capsys.readouterr().err == ""
