"""Profiles people can write: extends, --set, profiles new, kind inference, stale-source warnings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from dpmodel.cli import main
from dpmodel.errors import DpmodelError, ProfileError, ProfileWarning
from dpmodel.profiles import load_cluster, load_profile
from dpmodel.profiles.loader import COMMAND_LINE_SOURCE, hardware_dir, infer_kind
from dpmodel.scenario import Scenario

PARTIAL = """name = "mine"
extends = "dualpath-hopper"

[node]
snic_count = 2

[provenance]
source = "our rack"
date = "2026-12-01"

[provenance.fields]
"node.snic_count" = "measured: lspci on our nodes, two ConnectX-7 storage NICs"
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_extends_inherits_values_and_provenance(tmp_path):
    base = load_cluster("dualpath-hopper")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProfileWarning)
        mine = load_cluster(_write(tmp_path, "mine.toml", PARTIAL))
    assert mine.name == "mine" and mine.node.snic_count == 2
    assert mine.node.snic_Gbps == base.node.snic_Gbps and mine.storage == base.storage
    assert mine.snic_payload_Bps_per_node == pytest.approx(2 * base.snic_payload_Bps_per_node)
    assert mine.provenance.fields["node.snic_count"].startswith("measured: lspci")
    assert mine.provenance.fields["gpu.hbm_GBps"] == base.provenance.fields["gpu.hbm_GBps"]
    assert "dualpath-hopper" in mine.description


def test_extends_chain_and_relative_path(tmp_path):
    _write(tmp_path, "mine.toml", PARTIAL)
    sub = tmp_path / "sub"
    sub.mkdir()
    child = _write(
        sub,
        "more.toml",
        'extends = "../mine.toml"\n[storage]\nread_GBps = 5000\n[provenance]\nsource = "s"\ndate = "d"\n'
        '[provenance.fields]\n"storage.read_GBps" = "measured: fio on our 3FS"\n',
    )
    more = load_cluster(child)
    assert more.name == "more" and more.node.snic_count == 2 and more.storage.read_GBps == 5000
    assert more.provenance.fields["node.snic_count"].startswith("measured: lspci")


def test_extends_errors_name_the_field(tmp_path):
    bad = _write(tmp_path, "bad.toml", 'extends = "dualpath-hoper"\n')
    with pytest.raises(ProfileError, match="extends.*did you mean 'dualpath-hopper'"):
        load_cluster(bad)
    a = _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ProfileError, match="cycle"):
        load_cluster(a)
    typo = _write(tmp_path, "typo.toml", 'extends = "dualpath-hopper"\n[node]\nsnic_cuont = 2\n')
    with pytest.raises(ProfileError, match="did you mean 'snic_count'"):
        load_cluster(typo)


def test_changed_value_with_inherited_source_warns(tmp_path):
    stale = _write(tmp_path, "stale.toml", 'extends = "dualpath-hopper"\n[node]\nsnic_count = 2\n')
    with pytest.warns(ProfileWarning, match=r"node.snic_count = 2 but its source, inherited unchanged, describes 1"):
        prof = load_cluster(stale)
    assert prof.node.snic_count == 2


def test_copied_profile_with_stale_source_warns(tmp_path):
    text = (hardware_dir() / "dualpath-hopper.toml").read_text().replace("snic_count = 1", "snic_count = 2")
    with pytest.warns(ProfileWarning, match="copied from a packaged profile"):
        load_cluster(_write(tmp_path, "copy.toml", text))


def test_packaged_profiles_raise_no_warning():
    from dpmodel.profiles import KINDS, list_profiles

    with warnings.catch_warnings():
        warnings.simplefilter("error", ProfileWarning)
        for k in KINDS:
            for n in list_profiles(k):
                load_profile(k, n)


def test_overrides_are_sourced_command_line():
    sc = Scenario.load(overrides={"cluster": {"node.snic_count": 2}, "workload": {"trajectory.mean_append_tokens": 900}})
    assert sc.cluster.node.snic_count == 2
    assert sc.cluster.provenance.fields["node.snic_count"] == COMMAND_LINE_SOURCE
    assert sc.workload.trajectory.mean_append_tokens == 900
    d = sc.to_dict()
    assert d["config_command_line"] == {"cluster.node.snic_count": 2, "workload.trajectory.mean_append_tokens": 900}
    assert d["fingerprint"] != Scenario.load().to_dict()["fingerprint"]
    assert "config_command_line" not in Scenario.load().to_dict()
    with pytest.raises(ProfileError, match="node.snic_count = 0: must be"):
        Scenario.load(overrides={"cluster": {"node.snic_count": 0}})


def test_cli_set_recorded_in_plan_json(capsys):
    assert main(["plan", "--json", "--set", "cluster.node.snic_count=2", "--set", "deployment.prefill_efficiency_frac=0.5"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["scenario"]["config_command_line"] == {"cluster.node.snic_count": 2}
    assert d["scenario"]["deployment"]["prefill_efficiency_frac"] == 0.5
    assert main(["plan", "--json"]) == 0
    base = json.loads(capsys.readouterr().out)
    assert d["modes"]["layerwise"]["turns_per_s"] > base["modes"]["layerwise"]["turns_per_s"]


@pytest.mark.parametrize(
    "item, needle",
    [
        ("cluster.node.snic_count", "KIND.SECTION.KEY=VALUE"),
        ("clustr.node.snic_count=2", "did you mean 'cluster'"),
        ("deployment.prefill_eficiency_frac=0.5", "did you mean 'prefill_efficiency_frac'"),
        ("cluster.node.snic_count=two", "must be an integer"),
    ],
)
def test_cli_set_errors_are_one_line(capsys, item, needle):
    assert main(["plan", "--set", item]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_profiles_new_writes_a_valid_partial_profile(tmp_path, capsys):
    out = tmp_path / "my-cluster.toml"
    assert (
        main(
            [
                "profiles",
                "new",
                "my-cluster",
                "--from",
                "dualpath-hopper",
                "--set",
                "cluster.node.snic_count=2",
                "--set",
                "cluster.storage.read_GBps=5000",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert 'extends = "dualpath-hopper"' in text and "snic_Gbps" not in text  # only the changed fields
    prof = load_cluster(out)
    assert prof.name == "my-cluster" and prof.node.snic_count == 2 and prof.storage.read_GBps == 5000
    assert prof.provenance.fields["storage.read_GBps"].startswith("config:")
    assert list(tmp_path.iterdir()) == [out]  # the validation copy is gone
    # a partial profile extending another path, written elsewhere, still resolves its base
    sub = tmp_path / "d"
    out2 = sub / "next.toml"
    assert main(["profiles", "new", "next", "--from", str(out), "--set", "cluster.node.gpus_count=4", "--out", str(out2)]) == 0
    p2 = load_cluster(out2)
    assert p2.node.gpus_count == 4 and p2.node.snic_count == 2


def test_profiles_new_rejects_bad_field_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.toml"
    assert main(["profiles", "new", "x", "--from", "dualpath-hopper", "--set", "cluster.node.snic_count=-1", "--out", str(out)]) == 2
    assert "node.snic_count" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_profiles_show_infers_kind_and_prints_file(tmp_path, capsys):
    p = _write(tmp_path, "mine.toml", PARTIAL)
    assert infer_kind(p) == "cluster"
    assert main(["profiles", "show", str(p)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cluster mine:") and f"file: {p} (extends dualpath-hopper)" in out
    assert "measured: lspci" in out
    model = _write(tmp_path, "m.toml", 'extends = "qwen2.5-32b"\n')
    assert infer_kind(model) == "model"
    assert main(["profiles", "show", str(model), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "model" and d["file"] == str(model) and d["extends"] == "qwen2.5-32b"


def test_infer_kind_reports_the_closest_kind(tmp_path):
    p = _write(tmp_path, "broken.toml", 'name = "b"\ndescription = "d"\n[node]\ngpus_count = 8\n')
    with pytest.raises(DpmodelError, match="cluster profile.*missing"):
        infer_kind(p)


def test_every_scenario_command_takes_set():
    from dpmodel.cli import build_parser

    parser = build_parser()
    seen = []

    def walk(p, path):
        for action in p._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
        opts = {o for a in p._actions for o in a.option_strings}
        if "--cluster" in opts:
            seen.append(" ".join(path))
            assert "--set" in opts, path

    walk(parser, [])
    assert {"plan", "online", "capacity", "offline", "sweep", "search", "size", "simulate", "policy export"} <= set(seen)


def test_set_reaches_online_and_sweep(capsys):
    assert main(["online", "--aps", "0.5", "--mode", "layerwise", "--json", "--set", "cluster.node.snic_count=2"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert main(["online", "--aps", "0.5", "--mode", "layerwise", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    snic = {r["name"]: r["utilization_frac"] for r in two["utilization"]}, {r["name"]: r["utilization_frac"] for r in one["utilization"]}
    assert snic[0]["pe.snic.read"] < snic[1]["pe.snic.read"]
    assert main(["sweep", "--mode", "layerwise", "--json", "--set", "cluster.node.snic_count=2"]) == 0
    sw2 = json.loads(capsys.readouterr().out)
    assert main(["sweep", "--mode", "layerwise", "--json"]) == 0
    sw1 = json.loads(capsys.readouterr().out)
    assert sw2["rows"][0]["turns_per_s"] > sw1["rows"][0]["turns_per_s"]
