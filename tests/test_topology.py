"""Topologies as data: packaged files, validation, and a third load path added by a file alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpmodel.cli import main
from dpmodel.errors import ProfileError
from dpmodel.plan import analyse, analyse_mode
from dpmodel.scenario import MODES, Scenario
from dpmodel.sweep import sweep_throughput
from dpmodel.topology import list_topologies, load_topology, topology_dir

from .helpers import override

BASE = Scenario.load()
RECOMPUTE_BLOCK = """
[paths.recompute]
description = "recompute the hit KV on the prefill GPU"
recompute = true
legs."pe.cnic.read" = { hit = 1 }
legs."de.cnic.write" = { hit = 1 }
"""


def _with_recompute(tmp_path):
    """dualpath.toml with one [paths.recompute] table added: a new path by data alone."""
    text = (topology_dir() / "dualpath.toml").read_text()
    head, prov = text.split("[provenance]")
    path = tmp_path / "mine.toml"
    path.write_text(head.replace('name = "dualpath"', 'name = "mine"') + RECOMPUTE_BLOCK + "\n[provenance]" + prov)
    return path


def _slow_snic(sc: Scenario, context: float = 5000.0) -> Scenario:
    """Storage NICs slow enough, and contexts short enough, that recomputing pays."""
    return override(sc, node={"snic_Gbps": 20.0}, trajectory={"mean_context_tokens": context})


def test_packaged_topologies():
    assert {"dualpath", "dualpath-recompute"} <= set(list_topologies())
    two, three = load_topology("dualpath"), load_topology("dualpath-recompute")
    assert two.path_names == ("pe_read", "de_read") and three.path_names == ("pe_read", "de_read", "recompute")
    assert two.names == three.names
    np.testing.assert_array_equal(three.leg_matrix()[:, :2], two.leg_matrix())
    rec = three.paths[2]
    assert rec.recompute and rec.load_wait == "none"
    # recompute reads nothing from storage
    for name in ("store.read", "pe.snic.read", "de.snic.read", "pe.dram"):
        assert three.leg_matrix()[three.names.index(name), 2, 0] == 0.0


def test_a_path_added_by_a_file_is_picked_up_by_lp_and_sweep(tmp_path):
    mine = Scenario.load(topology=_with_recompute(tmp_path))
    assert mine.topology.path_names[-1] == "recompute"
    two = _slow_snic(BASE)
    three = _slow_snic(mine)
    r2, r3 = analyse_mode(two, "dualpath"), analyse_mode(three, "dualpath")
    assert r3.path_shares["recompute"] > 0.05
    assert r3.turns_per_s > r2.turns_per_s * 1.05
    assert sum(r3.path_shares.values()) == pytest.approx(1.0, abs=1e-9)
    swept = sweep_throughput(three, "dualpath")
    assert float(swept["turns_per_s"]) == pytest.approx(r3.turns_per_s, rel=1e-9)
    assert float(swept["path_shares"][2]) > 0.05
    # the packaged dualpath-recompute is the same topology
    pk = _slow_snic(Scenario.load(topology="dualpath-recompute"))
    assert analyse_mode(pk, "dualpath").turns_per_s == pytest.approx(r3.turns_per_s, rel=1e-9)
    # modes without a split keep to the first path
    for mode in ("basic", "layerwise", "oracle"):
        assert analyse_mode(three, mode).turns_per_s == pytest.approx(analyse_mode(two, mode).turns_per_s, rel=1e-9)


def test_recompute_only_where_reading_binds():
    """The LP's read-or-recompute decision: where the prefill GPUs bind (the paper's testbed with
    2P5D: at 2P4D the decode GPUs bind as well since the KV bytes count the indexer keys),
    recomputing only costs GPU time and is not chosen; with slow storage NICs it is."""
    sc = Scenario.load(topology="dualpath-recompute", decode_nodes=5)
    fast = analyse_mode(sc, "dualpath")
    assert fast.bottleneck == "pe.gpu.time" and fast.path_shares["recompute"] < 1e-6
    slow = analyse_mode(_slow_snic(sc), "dualpath")
    assert slow.path_shares["recompute"] > 0.05


@settings(max_examples=12, deadline=None)
@given(
    P=st.integers(1, 4),
    D=st.integers(2, 8),
    context=st.floats(2e2, 1e5),
    snic=st.floats(10, 800),
    eff=st.floats(0.05, 1.0),
)
def test_adding_a_path_never_lowers_throughput(P, D, context, snic, eff):
    two = override(
        BASE,
        node={"snic_Gbps": snic},
        trajectory={"mean_context_tokens": context},
        prefill_nodes_count=P,
        decode_nodes_count=D,
        prefill_efficiency_frac=eff,
    )
    three = Scenario(two.cluster, two.model, two.workload, two.deployment, two.request_classes, load_topology("dualpath-recompute"))
    for mode in MODES:
        lo = analyse_mode(two, mode).turns_per_s
        hi = analyse_mode(three, mode).turns_per_s
        assert hi >= lo * (1 - 1e-9), mode
    lo = sweep_throughput(two, "dualpath", decode_nodes=np.array([D, D + 2]))["turns_per_s"]
    hi = sweep_throughput(three, "dualpath", decode_nodes=np.array([D, D + 2]))["turns_per_s"]
    assert np.all(hi >= lo * (1 - 1e-9))


def test_plan_json_path_shares(capsys):
    assert main(["plan", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for m in d["modes"].values():
        assert set(m["path_shares"]) == {"pe_read", "de_read"}
        assert sum(m["path_shares"].values()) == pytest.approx(1.0, abs=1e-9)
        assert m["split_de_frac"] == pytest.approx(m["path_shares"]["de_read"], abs=1e-12)
    res = analyse(BASE)
    assert res.modes["dualpath"].path_shares["de_read"] == pytest.approx(4 / 6, abs=1e-6)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda t: t.replace('rate = "dram_Bps_per_node"', 'rate = "dram_Bps_per_nod"', 1), "did you mean 'dram_Bps_per_node'"),
        (lambda t: t.replace('legs."pe.dram" = { hit = 2 }', 'legs."pe.drm" = { hit = 2 }'), "undeclared resource 'pe.drm'"),
        (
            lambda t: t.replace('legs."pe.dram" = { hit = 2 }', 'legs."pe.dram" = { hit = -2 }'),
            r"hit = -2: must be a number in \[0, 1000\]",
        ),
        (lambda t: t.replace('legs."pe.dram" = { hit = 2 }', 'legs."pe.dram" = { hits = 2 }'), "unknown key 'hits'; did you mean 'hit'"),
        (lambda t: t.replace('side = "prefill"', 'side = "prefil"', 1), "did you mean 'prefill'"),
        (lambda t: t.split("[provenance]")[0], "missing key 'provenance'"),
        (lambda t: t.replace('load_wait = "cnic"', 'load_wait = "nic"'), "load_wait = 'nic'"),
        (lambda t: t.replace('unit = "gpu_s"', 'unit = "bytes"'), "has unit 'gpu_s'"),
    ],
)
def test_bad_topology_is_one_line_error(tmp_path, edit, match, capsys):
    text = (topology_dir() / "dualpath.toml").read_text()
    p = tmp_path / "bad.toml"
    p.write_text(edit(text))
    with pytest.raises(ProfileError, match=match) as e:
        load_topology(p)
    assert "\n" not in str(e.value)
    assert main(["plan", "--topology", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "topology bad.toml" in err


def test_unknown_topology_name():
    with pytest.raises(ProfileError, match="did you mean 'dualpath'"):
        load_topology("dualpth")


def test_offline_model_picks_up_the_path():
    """The closed-network (MVA) model takes the LP's path shares: with slow storage NICs the
    recompute topology finishes the same batch sooner."""
    from dpmodel.serving import offline_jct

    two = _slow_snic(BASE, context=BASE.workload.trajectory.mean_context_tokens)
    three = _slow_snic(Scenario.load(topology="dualpath-recompute"), context=BASE.workload.trajectory.mean_context_tokens)
    assert offline_jct(three, "dualpath", 64).jct_s < offline_jct(two, "dualpath", 64).jct_s * 0.95


def test_a_path_added_by_a_file_is_picked_up_by_the_queueing_models(tmp_path):
    """The offline (MVA) and online models take the third path from the topology file alone: the
    online model's routes come from the paths' legs and its candidate shares from the paths (those
    of the two-path topology among them), so with slow storage NICs recomputing part of the hit KV
    lowers TTFT and raises the SLO capacity, and nowhere does adding the path lower capacity."""
    from dpmodel.serving import offline_jct, online_metrics, slo_capacity

    mine = Scenario.load(topology=_with_recompute(tmp_path))
    two = override(BASE, node={"snic_Gbps": 20.0})
    three = Scenario(two.cluster, two.model, two.workload, two.deployment, two.request_classes, mine.topology)
    # offline: the LP's path shares, recompute among them, finish the batch sooner
    j2, j3 = offline_jct(two, "dualpath", 64), offline_jct(three, "dualpath", 64)
    assert set(j3.path_shares) == {"pe_read", "de_read", "recompute"} and j3.path_shares["recompute"] > 0.05
    assert sum(j3.path_shares.values()) == pytest.approx(1.0, abs=1e-9)
    assert j3.jct_s < j2.jct_s * 0.95
    # online: the best candidate recomputes, TTFT falls, capacity rises
    c2, c3 = slo_capacity(two, "dualpath"), slo_capacity(three, "dualpath")
    assert c3.max_aps > c2.max_aps * 1.05
    assert c3.at_max.path_shares["recompute"] > 0.05 and sum(c3.at_max.path_shares.values()) == pytest.approx(1.0, abs=1e-12)
    o2, o3 = online_metrics(two, "dualpath", c2.max_aps), online_metrics(three, "dualpath", c2.max_aps)
    assert o3.ttft_s["mean"] < o2.ttft_s["mean"]
    # given shares: no recompute share is the two-path model exactly; all-recompute reads nothing
    same = online_metrics(three, "dualpath", 0.05, path_shares=(1 - o2.split_de_frac, o2.split_de_frac, 0.0))
    assert same.ttft_s == online_metrics(two, "dualpath", 0.05, split_de_frac=o2.split_de_frac).ttft_s
    rec = online_metrics(three, "dualpath", 0.05, path_shares=(0.0, 0.0, 1.0))
    assert rec.components_s["load"] == 0.0 and rec.utilization["pe.snic.read"] == 0.0 and rec.utilization["de.snic.read"] == 0.0
    assert rec.components_s["prefill_batch"] > same.components_s["prefill_batch"]  # recomputing costs GPU time
    # modes without a split keep to the first path: the same capacity
    assert slo_capacity(three, "layerwise").max_aps == slo_capacity(two, "layerwise").max_aps


@pytest.mark.parametrize("snic", [20.0, 400.0])
def test_adding_a_path_never_lowers_online_capacity(snic):
    two = override(BASE, node={"snic_Gbps": snic})
    three = Scenario(two.cluster, two.model, two.workload, two.deployment, two.request_classes, load_topology("dualpath-recompute"))
    from dpmodel.serving import slo_capacity

    assert slo_capacity(three, "dualpath").max_aps >= slo_capacity(two, "dualpath").max_aps


def test_bad_path_shares_are_one_line_errors():
    from dpmodel.errors import ScenarioError
    from dpmodel.serving import online_metrics

    three = Scenario.load(topology="dualpath-recompute")
    with pytest.raises(ScenarioError, match="give 3 shares >= 0 summing to 1"):
        online_metrics(three, "dualpath", 0.1, path_shares=(0.5, 0.6, 0.0))
    with pytest.raises(ScenarioError, match=r"split_de_frac = 1.5: must lie in \[0, 1\]"):
        online_metrics(BASE, "dualpath", 0.1, split_de_frac=1.5)
