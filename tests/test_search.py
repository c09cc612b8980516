"""dpmodel search: enumeration, ranking, Pareto front, cost, CLI formats."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from dpmodel.cli import main
from dpmodel.plan import analyse_mode
from dpmodel.profiles import load_cost
from dpmodel.scenario import Scenario
from dpmodel.search import config_scenario, pareto_front, search


@pytest.fixture(scope="module")
def res():
    return search(Scenario.load(), nodes=6, cost=load_cost("cloud-hopper"), front_capacity=1, progress=False)


def test_enumerates_every_configuration(res):
    assert res.evaluated == 5 * 3 * 4 * 3  # P = 1..5, 3 NIC counts, engines 1,2,4,8, 3 modes
    keys = {(r["prefill_nodes"], r["snics_per_node"], r["prefill_engine_gpus"], r["mode"]) for r in res.rows}
    assert len(keys) == res.evaluated
    assert all(r["prefill_nodes"] + r["decode_nodes"] == 6 for r in res.rows)
    tp = [r["turns_per_s"] for r in res.rows]
    assert tp == sorted(tp, reverse=True)


def test_vectorized_rows_match_the_lp(res):
    fit = [r for r in res.rows if r["fits"]]
    assert any(not r["fits"] and r["turns_per_s"] == 0 for r in res.rows)  # 1 decode node cannot hold DeepSeek's weights
    for r in fit[:3] + fit[-3:]:
        lp = analyse_mode(config_scenario(Scenario.load(), r), r["mode"])
        assert r["turns_per_s"] == pytest.approx(lp.turns_per_s, rel=1e-6)
        assert r["tokens_per_s_per_gpu"] == pytest.approx(lp.tokens_per_s_per_gpu, rel=1e-6)
        assert r["tokens_per_s_per_user"] == pytest.approx(lp.tokens_per_s_per_user, rel=1e-6)


def test_pareto_front_is_not_dominated(res):
    ok = [r for r in res.rows if r["turns_per_s"] > 0]
    for f in res.front:
        for r in ok:
            assert not (
                r["tokens_per_s_per_gpu"] > f["tokens_per_s_per_gpu"] + 1e-9
                and r["tokens_per_s_per_user"] > f["tokens_per_s_per_user"] + 1e-9
            )
    assert "slo_capacity_aps" in res.front[0] and res.front[0]["slo_limited_by"].startswith("limited by")
    assert sum("slo_capacity_aps" in f for f in res.front) == 1


def test_pareto_front_helper():
    x = np.array([1.0, 2.0, 3.0, 2.0, 3.0])
    y = np.array([3.0, 2.0, 1.0, 1.0, 1.0])
    tie = np.array([0, 0, 5, 0, 1.0])
    assert sorted(pareto_front(x, y, tie).tolist()) == [0, 1, 4]


def test_cost_per_million_tokens(res):
    pr = load_cost("cloud-hopper").prices
    r = res.rows[0]
    per_h = 6 * (8 * pr.gpu_per_hour + pr.node_base_per_hour) + 6 * r["snics_per_node"] * pr.snic_per_hour + 7260 * pr.store_GBps_per_hour
    assert r["cost_per_hour"] == pytest.approx(per_h)
    assert r["cost_per_million_tokens"] == pytest.approx(per_h / (r["generated_tokens_per_s"] * 3600) * 1e6)


def test_free_store_prices_what_is_needed():
    fixed = search(Scenario.load(), nodes=4, cost=load_cost("cloud-hopper"), front_capacity=0, progress=False)
    free = search(Scenario.load(), nodes=4, cost=load_cost("cloud-hopper"), front_capacity=0, progress=False, store="free")
    a = {(r["prefill_nodes"], r["snics_per_node"], r["prefill_engine_gpus"], r["mode"]): r for r in fixed.rows}
    for r in free.rows:
        b = a[(r["prefill_nodes"], r["snics_per_node"], r["prefill_engine_gpus"], r["mode"])]
        assert r["turns_per_s"] >= b["turns_per_s"] - 1e-9
        assert r["cost_per_hour"] < b["cost_per_hour"]  # 7,260 GB/s is far more than these 4 nodes read


def test_search_errors():
    with pytest.raises(Exception, match="at least 2 nodes"):
        search(Scenario.load(), nodes=1, progress=False)


def test_cli_search_text_json_csv(capsys):
    assert main(["search", "--nodes", "4", "--front-capacity", "0", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "evaluated 108 configurations" in out and "Pareto front" in out and "top 3 by throughput" in out
    assert main(["search", "--gpus", "32", "--front-capacity", "0", "--json", "--top", "2", "--cost", "cloud-hopper"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["nodes"] == 4 and d["evaluated"] == 108 and len(d["top"]) == 2 and d["pareto_front"]
    assert d["top"][0]["cost_per_million_tokens"] > 0
    assert main(["search", "--nodes", "4", "--front-capacity", "0", "--csv", "--snics", "1,2", "--modes", "dualpath"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 * 2 * 4
    assert main(["search", "--gpus", "30"]) == 2
    assert "multiple of the 8 GPUs" in capsys.readouterr().err
    assert main(["search", "--nodes", "4", "--snics", "0"]) == 2  # argparse's usage error, returned by main


@pytest.mark.slow
def test_p99_ttft_slo_capacity_on_the_front():
    from dpmodel.search import front_capacity_of
    from dpmodel.serving import online_metrics

    sc = config_scenario(Scenario.load(), {"prefill_nodes": 2, "decode_nodes": 4, "snics_per_node": 1, "prefill_engine_gpus": 8})
    r = front_capacity_of(sc, "dualpath", ttft_mean_s=4.0, tpot_s=0.05, ttft_p99_s=1.0)
    assert r["slo_limited_by"] == f"limited by the p99 TTFT SLO (1 s) at {r['slo_capacity_aps']:.3g} agents/s"
    assert online_metrics(sc, "dualpath", r["slo_capacity_aps"]).ttft_s["p99"] <= 1.0
    assert online_metrics(sc, "dualpath", r["slo_capacity_aps"] * 1.02).ttft_s["p99"] > 1.0


def test_search_takes_the_topologys_paths():
    """A three-path topology (recompute): every row carries path_shares over its paths (summing
    to 1), no configuration loses throughput, and where storage reads bind some recompute."""
    from .helpers import override

    def slow(sc):
        return override(sc, node={"snic_Gbps": 20.0}, trajectory={"mean_context_tokens": 5000.0})

    kw = {"nodes": 4, "snics": (1,), "engines": (8,), "modes": ("dualpath",), "front_capacity": 0, "progress": False}
    two = {r["prefill_nodes"]: r for r in search(slow(Scenario.load()), **kw).rows}
    three = {r["prefill_nodes"]: r for r in search(slow(Scenario.load(topology="dualpath-recompute")), **kw).rows}
    assert set(two[1]["path_shares"]) == {"pe_read", "de_read"}
    for P, r in three.items():
        assert set(r["path_shares"]) == {"pe_read", "de_read", "recompute"}
        assert sum(r["path_shares"].values()) == pytest.approx(1.0, abs=1e-9)
        assert r["turns_per_s"] >= two[P]["turns_per_s"] * (1 - 1e-9)
    assert any(r["path_shares"]["recompute"] > 0.01 and r["turns_per_s"] > two[P]["turns_per_s"] * 1.01 for P, r in three.items())
