"""Minimum-cost sizing: MILP optimum checked by enumeration, verified capacity, infeasibility."""

from __future__ import annotations

import json
import os

import pytest

from dpmodel.cli import main
from dpmodel.errors import InfeasibleError, ProfileError, ScenarioError
from dpmodel.profiles import load_cost
from dpmodel.scenario import Scenario
from dpmodel.serving import slo_capacity
from dpmodel.sizing import _with_hw, size_cluster
from dpmodel.topology import load_topology

BASE = Scenario.load()
COST = load_cost("cloud-hopper")


@pytest.fixture(scope="module")
def sized():
    return size_cluster(BASE, COST, target_aps=1.0)


def test_sizing_meets_target_and_is_verified(sized):
    assert sized.max_aps >= 1.0 * (1 - 1e-3)
    chosen = _with_hw(BASE, P=sized.prefill_nodes, D=sized.decode_nodes, snics=sized.snics_per_node, store_GBps=sized.store_GBps)
    assert slo_capacity(chosen, "dualpath").max_aps == pytest.approx(sized.max_aps, rel=1e-6)
    pr = COST.prices
    node = 8 * pr.gpu_per_hour + pr.node_base_per_hour + sized.snics_per_node * pr.snic_per_hour
    assert sized.cost_per_hour == pytest.approx(
        (sized.prefill_nodes + sized.decode_nodes) * node + sized.store_GBps * pr.store_GBps_per_hour, rel=1e-6
    )


def test_sizing_reports_paths_and_utilization_in_the_one_vocabulary(sized):
    """``path_shares`` over the topology's paths and ``utilization`` as the list of ``{name,
    utilization_frac}`` every result writes, with the LP's resource names, at the target load."""
    from dpmodel.plan import analyse_mode

    assert set(sized.path_shares) == set(BASE.topology.path_names)
    assert sum(sized.path_shares.values()) == pytest.approx(1.0, abs=1e-9)  # the LP's; split_de_frac is the online model's at capacity
    d = sized.to_dict()
    assert all(set(u) == {"name", "utilization_frac"} for u in d["utilization"])
    assert [u["name"] for u in d["utilization"]] == list(BASE.topology.names)
    chosen = _with_hw(BASE, P=sized.prefill_nodes, D=sized.decode_nodes, snics=sized.snics_per_node, store_GBps=sized.store_GBps)
    at = analyse_mode(chosen, "dualpath")
    from dpmodel.queueing.turn_sample import turns_per_agent

    load = sized.target_aps * turns_per_agent(BASE) / at.turns_per_s
    assert 0 < load < 1  # the target is below the chosen cluster's saturated throughput
    for u, r in zip(d["utilization"], at.resources, strict=True):
        assert u["utilization_frac"] == pytest.approx(r.utilization_frac * load, rel=1e-9)
    assert max(u["utilization_frac"] for u in d["utilization"]) < 1


def test_no_cheaper_node_mix_meets_the_target(sized):
    """Every cheaper mix of nodes and NICs (storage sized at 90 % read utilization) fails the target."""
    from dpmodel.queueing.turn_sample import turns_per_agent
    from dpmodel.sizing import STORE_UTIL_FRAC

    pr = COST.prices
    X = 1.0 * turns_per_agent(BASE)
    store = X * BASE.classes()[0].hit_tokens * BASE.model.kv_bytes_per_token / 1e9 / STORE_UTIL_FRAC
    for snics in (1, 2):
        node = 8 * pr.gpu_per_hour + pr.node_base_per_hour + snics * pr.snic_per_hour
        for P in range(1, sized.prefill_nodes + 2):
            for D in range(2, sized.decode_nodes + 2):
                if (P + D) * node + store * pr.store_GBps_per_hour >= sized.cost_per_hour - 1e-9:
                    continue
                sc = _with_hw(BASE, P=P, D=D, snics=snics, store_GBps=store)
                assert slo_capacity(sc, "dualpath").max_aps < 1.0 * (1 - 1e-3), (P, D, snics)


def test_more_target_costs_more(sized):
    # 0.5 vs the fixture's 1.0 agents/s (the 0.5 vs 4.0 instance took ~4 minutes on 2 cores; it is
    # on demand: DPMODEL_FULL_GRID=1, see benchmarks/results/test_speed.md)
    small = size_cluster(BASE, COST, target_aps=0.5)
    big = size_cluster(BASE, COST, target_aps=4.0) if os.environ.get("DPMODEL_FULL_GRID", "") not in ("", "0") else sized
    assert big.cost_per_hour > small.cost_per_hour
    assert big.prefill_nodes + big.decode_nodes >= small.prefill_nodes + small.decode_nodes


def test_infeasible_target_is_explained():
    with pytest.raises(InfeasibleError, match="bound by"):
        size_cluster(BASE, COST, target_aps=1e5, nodes_max=4)
    with pytest.raises(InfeasibleError, match="SLO cannot hold"):
        size_cluster(BASE, COST, target_aps=0.1, slo_ttft_s=1e-5)
    with pytest.raises(ScenarioError, match="exactly one"):
        size_cluster(BASE, COST)


def test_size_cli_json(capsys, monkeypatch, sized):
    """The CLI passes its options to size_cluster and prints its result as JSON, nothing else. The
    sizing itself is the module fixture's (the same target, 1 agent/s): the CLI's part is tested
    here, the sizing by the tests above (and by the real CLI run in test_size_cli_real_run)."""
    import dpmodel.sizing as sizing

    seen = {}

    def fake(scenario, cost, **kw):
        seen.update(kw, cost=cost.name)
        return sized

    monkeypatch.setattr(sizing, "size_cluster", fake)
    assert main(["size", "--target-aps", "1", "--slo-ttft-s", "3", "--json"]) == 0
    assert seen["target_aps"] == 1.0 and seen["slo_ttft_s"] == 3.0 and seen["target_turns_per_s"] is None
    out = capsys.readouterr().out
    d = json.loads(out)  # nothing but JSON on stdout
    assert d["command"] == "size" and d["scenario"]["cluster"] == "dualpath-hopper+roofline-oracle"  # CLI default
    assert {k: v for k, v in d.items() if k not in ("schema_version", "command", "scenario")} == json.loads(json.dumps(sized.to_dict()))
    assert {"prefill_nodes", "decode_nodes", "snics_per_node", "cost_per_hour", "max_aps"} <= set(d)
    assert set(d["sensitivities"]) >= {"prefill_node", "decode_node", "snic_per_node"}
    for v in d["sensitivities"].values():
        assert v["delta_saturated_turns_per_s_dual"] >= 0 and v["delta_cost_per_hour"] > 0


def test_size_cli_real_run(capsys):
    """One real `dpmodel size` (a small target, the text output): the cheapest cluster, its verified
    capacity at or above the target and the four sensitivities."""
    assert main(["size", "--target-aps", "0.2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("minimum-cost cluster for 0.2 agents/s")
    cap = float(out.split("verified capacity ")[1].split(" agents/s")[0])
    assert cap >= 0.2 * (1 - 1e-3)
    assert sum(line.strip().startswith("one more ") for line in out.splitlines()) == 4


def test_cost_profile_validation(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        'name = "c"\ndescription = "x"\n[prices]\ngpu_per_hour = -1\nnode_base_per_hour = 1\nsnic_per_hour = 1\nstore_GBps_per_hour = 1\n'
        '[provenance]\nsource = "s"\ndate = "d"\n[provenance.fields]\n"prices.gpu_per_hour" = "assumption: x"\n'
        '"prices.node_base_per_hour" = "assumption: x"\n"prices.snic_per_hour" = "assumption: x"\n"prices.store_GBps_per_hour" = "assumption: x"\n'
    )
    with pytest.raises(ProfileError, match=r"prices\.gpu_per_hour = -1: must be >= 0"):
        load_cost(p)


def _free_store(cost):
    """``cost`` with the store's bandwidth free: the MILP's cost is then the node count times one price."""
    import dataclasses

    return dataclasses.replace(cost, prices=dataclasses.replace(cost.prices, store_GBps_per_hour=0.0))


@pytest.mark.parametrize(
    "snic_Gbps, context, eff",
    [(20.0, 5000.0, 0.45), (20.0, 50000.0, 0.45), (100.0, 2000.0, 0.3), (400.0, 30000.0, 0.45), (50.0, 1000.0, 0.9)],
)
def test_sizing_milp_takes_the_topologys_paths_and_never_needs_more(tmp_path, snic_Gbps, context, eff):
    """The MILP's rows and path variables come from the topology: the same scenario with a third
    path added by a file alone has one more moved-turns column, and its optimum never costs more
    (nor, with the store free, needs more nodes): the two-path answer stays feasible."""
    from dpmodel.queueing.turn_sample import turns_per_agent
    from dpmodel.sizing import _solve_milp

    from .helpers import override
    from .test_topology import _with_recompute

    two = override(BASE, node={"snic_Gbps": snic_Gbps}, trajectory={"mean_context_tokens": context}, prefill_efficiency_frac=eff)
    three = Scenario(two.cluster, two.model, two.workload, two.deployment, two.request_classes, load_topology(_with_recompute(tmp_path)))
    X = turns_per_agent(two)
    for cost in (COST, _free_store(COST)):
        for snics in (1, 2):
            s2, cons2, _ = _solve_milp(two, X, cost, snics, 0.9, 64)
            s3, cons3, _ = _solve_milp(three, X, cost, snics, 0.9, 64)
            assert set(cons3) == set(cons2)  # one row per resource of the topology
            (z3,) = [v for v in cons3["store.read"].variables() if v.name() == "moved_turns_per_s"]
            assert z3.shape == (1, 2)  # de_read and recompute
            assert s3[3] <= s2[3] * (1 + 1e-9)
            if cost.prices.store_GBps_per_hour == 0:
                assert s3[0] + s3[1] <= s2[0] + s2[1]


def test_sizing_picks_up_the_third_path():
    """Where storage reads bind (slow storage NICs, short contexts), the MILP for one storage NIC
    per node recomputes instead of adding prefill nodes for reads, and the sized cluster reports
    the path (its LP path shares) and still meets the target."""
    from dpmodel.queueing.turn_sample import turns_per_agent
    from dpmodel.sizing import _solve_milp

    from .helpers import override

    def slow(sc):
        return override(sc, node={"snic_Gbps": 20.0}, trajectory={"mean_context_tokens": 5000.0})

    two, three = slow(BASE), slow(Scenario.load(topology="dualpath-recompute"))
    X = turns_per_agent(two)
    s2, _, _ = _solve_milp(two, X, COST, 1, 0.9, 64)
    s3, _, _ = _solve_milp(three, X, COST, 1, 0.9, 64)
    assert s3[0] + s3[1] < s2[0] + s2[1] and s3[3] < s2[3]
    r = size_cluster(three, COST, target_aps=0.5)  # a small target: a small cluster, a short search
    assert set(r.path_shares) == {"pe_read", "de_read", "recompute"} and r.path_shares["recompute"] > 0.05
    assert sum(r.path_shares.values()) == pytest.approx(1.0, abs=1e-9)
    assert r.max_aps >= 0.5 * (1 - 1e-3)
    assert [u["name"] for u in r.utilization] == list(three.topology.names)


def test_shortcuts_agree_with_the_online_model():
    """The search's two shortcuts give the online model's answers: the decode-side TPOT check
    rejects only clusters the full SLO check rejects too (and does reject the decode-bound ones),
    and the capacity bracketed from a nearby guess is slo_capacity's to its tolerance."""
    from dpmodel.sizing import _capacity_near, _decode_holds, _slo_holds

    slo = {"slo_ttft_s": 4.0, "slo_tpot_s": 0.05}
    rejected = 0
    for P, D in ((1, 2), (2, 2), (2, 3), (2, 4), (1, 5)):
        sc = _with_hw(BASE, P=P, D=D, snics=1, store_GBps=400.0)
        if not _decode_holds(sc, 2.0, slo_tpot_s=0.05):
            rejected += 1
            assert not _slo_holds(sc, 2.0, **slo), (P, D)
    assert rejected >= 2
    sc = _with_hw(BASE, P=2, D=4, snics=1, store_GBps=400.0)
    full = slo_capacity(sc, "dualpath", **slo).max_aps
    for guess in (0.9 * full, full, 1.3 * full):
        assert _capacity_near(sc, guess, **slo) == pytest.approx(full, rel=1.1e-3)  # both within tol_frac of the threshold


@pytest.mark.parametrize("which", ["two-path", "three-path", "trace, 3 classes"])
def test_milp_rows_are_the_lps_constraints(which):
    """The MILP's rows are the throughput LP's (one composition path): at the MILP's cluster the
    LP carries exactly the target over the utilization cap (a row binds at u_max), on a two- and a
    three-path topology and a multi-class trace (one moved-turns variable per class and path)."""
    from pathlib import Path

    from dpmodel.plan import analyse_mode
    from dpmodel.queueing.turn_sample import turns_per_agent
    from dpmodel.sizing import _solve_milp

    sc = {
        "two-path": lambda: BASE,
        "three-path": lambda: Scenario.load(topology="dualpath-recompute"),
        "trace, 3 classes": lambda: Scenario.load(trace=Path(__file__).parent / "data" / "mooncake_small.jsonl", classes_count=3),
    }[which]()
    K = len(sc.classes())
    X = 2 * turns_per_agent(sc) if K == 1 else 50.0
    for snics in (1, 2):
        (P, D, W, _, _), cons, _ = _solve_milp(sc, X, COST, snics, 0.9, 64)
        (z,) = [v for v in cons["store.read"].variables() if v.name() == "moved_turns_per_s"]
        assert z.shape == (K, len(sc.topology.paths) - 1)
        at = analyse_mode(_with_hw(sc, P=P, D=D, snics=snics, store_GBps=W), "dualpath")
        assert at.turns_per_s == pytest.approx(X / 0.9, rel=1e-6)
