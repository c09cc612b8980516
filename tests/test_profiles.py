"""Profiles: every packaged profile loads; bad input raises our error naming file and field."""

from __future__ import annotations

import copy
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpmodel.errors import ProfileError
from dpmodel.profiles import (
    ClusterProfile,
    ModelSpec,
    WorkloadProfile,
    from_mapping,
    hardware_dir,
    list_profiles,
    load_cluster,
    load_model,
    load_profile,
    load_workload,
)

from .tomlw import dumps

REQUIRED = {
    "cluster": {"dualpath-hopper", "h100-sxm", "h200-sxm", "h20", "dualpath-hopper-2snic"},
    "model": {"deepseek-v3.2", "ds-27b", "qwen2.5-32b", "deepseek-v3", "qwen3-235b-a22b", "gpt-oss-120b"},
    "workload": {"agentic-32k", "agentic-48k", "agentic-64k"},
}


@pytest.mark.parametrize("kind", list(REQUIRED))
def test_required_profiles_are_packaged_and_load(kind):
    names = set(list_profiles(kind))
    assert REQUIRED[kind] <= names
    for n in names:
        prof = load_profile(kind, n)
        assert prof.name == n, "a packaged profile's name must match its file name"
        assert prof.provenance.source and prof.provenance.date


def test_every_given_number_has_a_provenance_kind():
    for kind in REQUIRED:
        for n in list_profiles(kind):
            prov = load_profile(kind, n).provenance
            for key, text in prov.fields.items():
                assert text.split(":", 1)[1].strip(), f"{kind} {n}: empty source for {key}"


def test_testbed_values_match_the_paper():
    c = load_cluster("dualpath-hopper")
    assert c.gpus_per_node == 8
    assert c.snic_payload_Bps_per_node == pytest.approx(50e9)  # 1 x 400 Gb/s, saturated
    assert c.cnic_line_Bps_per_gpu == pytest.approx(50e9)
    assert c.dram_Bps_per_node == pytest.approx(500e9)
    assert load_cluster("dualpath-hopper-2snic").snic_payload_Bps_per_node == pytest.approx(100e9)


def test_nominal_and_measured_are_labelled():
    c = load_cluster("h100-sxm")
    assert c.provenance.fields["node.snic_payload_frac"].startswith("measured:")
    assert c.provenance.fields["gpu.hbm_GBps"].startswith("datasheet:")


def test_workloads_match_table2():
    w = load_workload("agentic-64k").trajectory
    assert (w.mean_turns_count, w.mean_append_tokens, w.mean_generated_tokens) == (157, 429, 176)
    assert (w.mean_total_tokens, w.mean_context_tokens) == (55958, 32721)
    assert load_workload("agentic-64k").hit_frac == pytest.approx(0.987, abs=0.001)  # paper: 98.7 %


def test_load_by_path(tmp_path):
    src = hardware_dir() / "h20.toml"
    dst = tmp_path / "my-node.toml"
    dst.write_bytes(src.read_bytes())
    assert load_cluster(str(dst)).name == "h20"


# ---- bad input --------------------------------------------------------------------------


def _testbed() -> dict:
    with open(hardware_dir() / "dualpath-hopper.toml", "rb") as fh:
        return tomllib.load(fh)


def _write(tmp_path, data, name="bad.toml"):
    p = tmp_path / name
    p.write_text(dumps(data))
    return p


def test_unknown_key_suggests(tmp_path):
    d = _testbed()
    d["node"]["snic_Gpbs"] = d["node"].pop("snic_Gbps")
    with pytest.raises(ProfileError, match=r"bad\.toml.*unknown key 'node\.snic_Gpbs'.*did you mean 'snic_Gbps'"):
        load_cluster(_write(tmp_path, d))


def test_missing_field(tmp_path):
    d = _testbed()
    del d["gpu"]["hbm_GBps"]
    with pytest.raises(ProfileError, match=r"bad\.toml.*missing field gpu\.hbm_GBps"):
        load_cluster(_write(tmp_path, d))


def test_missing_table(tmp_path):
    d = _testbed()
    del d["storage"]
    with pytest.raises(ProfileError, match=r"missing table \[storage\]"):
        load_cluster(_write(tmp_path, d))


def test_wrong_type(tmp_path):
    d = _testbed()
    d["node"]["gpus_count"] = "eight"
    with pytest.raises(ProfileError, match=r"field node\.gpus_count = 'eight': must be an integer"):
        load_cluster(_write(tmp_path, d))


def test_non_integer_count(tmp_path):
    d = _testbed()
    d["node"]["snic_count"] = 1.5
    with pytest.raises(ProfileError, match=r"node\.snic_count = 1\.5: must be an integer"):
        load_cluster(_write(tmp_path, d))


@pytest.mark.parametrize("path", ["node.snic_Gbps", "node.cnic_Gbps", "node.dram_GBps", "storage.read_GBps", "gpu.pcie_GBps"])
def test_non_positive_bandwidth(tmp_path, path):
    d = _testbed()
    sec, key = path.split(".")
    d[sec][key] = -50
    with pytest.raises(ProfileError, match=rf"bad\.toml\) field {path} = -50: must be > 0"):
        load_cluster(_write(tmp_path, d))


@pytest.mark.parametrize("path", ["gpu.hbm_GiB", "node.dram_kv_buffer_GiB"])
def test_non_positive_capacity(tmp_path, path):
    d = _testbed()
    sec, key = path.split(".")
    d[sec][key] = 0
    with pytest.raises(ProfileError, match=rf"field {path} = 0: must be > 0"):
        load_cluster(_write(tmp_path, d))


def test_fraction_out_of_range(tmp_path):
    d = _testbed()
    d["network"]["cnic_collective_frac"] = 1.0
    with pytest.raises(ProfileError, match=r"network\.cnic_collective_frac = 1\.0: must be < 1"):
        load_cluster(_write(tmp_path, d))


def test_unknown_profile_name_lists_close_matches():
    with pytest.raises(ProfileError, match=r"unknown cluster profile 'h100'.*did you mean 'h100-sxm'"):
        load_cluster("h100")
    with pytest.raises(ProfileError, match=r"unknown model profile 'deepseek-v32'.*deepseek-v3\.2"):
        load_model("deepseek-v32")


def test_missing_file_path():
    with pytest.raises(ProfileError, match=r"does not exist"):
        load_cluster("no/such/file.toml")


def test_bad_toml_syntax(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("[node\ngpus_count = 8\n")
    with pytest.raises(ProfileError, match=r"broken\.toml.*not valid TOML"):
        load_cluster(p)


def test_missing_provenance_source_for_a_number(tmp_path):
    d = _testbed()
    del d["provenance"]["fields"]["node.snic_Gbps"]
    with pytest.raises(ProfileError, match=r"provenance\.fields has no source for node\.snic_Gbps"):
        load_cluster(_write(tmp_path, d))


def test_provenance_names_unknown_field(tmp_path):
    d = _testbed()
    d["provenance"]["fields"]["node.snic_Gpbs"] = "paper: typo"
    with pytest.raises(ProfileError, match=r"unknown field 'node\.snic_Gpbs'.*did you mean 'node\.snic_Gbps'"):
        load_cluster(_write(tmp_path, d))


def test_provenance_kind_is_checked(tmp_path):
    d = _testbed()
    d["provenance"]["fields"]["node.snic_Gbps"] = "vibes: trust me"
    with pytest.raises(ProfileError, match=r"kind 'vibes' must be one of"):
        load_cluster(_write(tmp_path, d))


def test_missing_provenance_table(tmp_path):
    d = _testbed()
    del d["provenance"]
    with pytest.raises(ProfileError, match=r"missing table \[provenance\]"):
        load_cluster(_write(tmp_path, d))


def test_model_cross_field_checks():
    from dpmodel.profiles.loader import _PKG

    base = load_model("qwen2.5-32b")
    with open(_PKG / "catalog" / "models" / "qwen2.5-32b.toml", "rb") as fh:
        d = tomllib.load(fh)
    d["attention"]["kv_heads_count"] = 7
    d["provenance"]["fields"]["attention.kv_heads_count"] = "assumption: test"
    with pytest.raises(ProfileError, match=r"kv_heads_count = 7: must divide heads_count"):
        from_mapping("model", d, ctx="test")
    assert base.attention.kind == "gqa"


def test_choice_field_suggests():
    from dpmodel.profiles.loader import _PKG

    with open(_PKG / "catalog" / "models" / "deepseek-v3.2.toml", "rb") as fh:
        m = tomllib.load(fh)
    m["kv_cache"]["dtype"] = "fp9"
    with pytest.raises(ProfileError, match=r"kv_cache\.dtype = 'fp9': must be one of .*did you mean 'fp8'"):
        from_mapping("model", m, ctx="test")


# ---- property: random documents only ever give a valid profile or our error ----------------

_scalars = st.one_of(
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


def _mutations():
    """A valid testbed document with random keys dropped, replaced, renamed or added."""
    return st.lists(
        st.tuples(
            st.sampled_from(["drop", "set", "rename", "add", "retable"]),
            st.sampled_from(["gpu", "node", "network", "storage", "provenance", "", "fields"]),
            st.integers(0, 20),
            _scalars,
            st.text(min_size=1, max_size=6),
        ),
        max_size=4,
    )


@given(_mutations())
def test_random_documents_yield_valid_profile_or_our_error(muts):
    d = copy.deepcopy(_testbed())
    for op, sec, i, value, name in muts:
        if sec == "":
            table = d
        elif sec == "fields":
            prov = d.get("provenance")
            table = prov.get("fields") if isinstance(prov, dict) else None
        else:
            table = d.get(sec)
        if not isinstance(table, dict) or not table:
            continue
        key = list(table)[i % len(table)]
        if op == "drop":
            del table[key]
        elif op == "set":
            table[key] = value
        elif op == "rename":
            table[name] = table.pop(key)
        elif op == "add":
            table[name] = value
        elif op == "retable":
            table[key] = {name: value}
    try:
        prof = from_mapping("cluster", d, ctx="random")
    except ProfileError as exc:
        assert str(exc).startswith("random")
        return
    assert isinstance(prof, ClusterProfile)
    assert prof.snic_payload_Bps_per_node > 0 and prof.cnic_kv_Bps_per_gpu > 0


@given(st.dictionaries(st.text(max_size=10), _scalars, max_size=6))
@pytest.mark.parametrize("kind", ["cluster", "model", "workload"])
def test_arbitrary_mappings_raise_our_error(kind, doc):
    with pytest.raises(ProfileError):
        from_mapping(kind, doc, ctx="arbitrary")


def test_profile_classes_are_frozen():
    import dataclasses

    for cls in (ClusterProfile, ModelSpec, WorkloadProfile):
        assert cls.__dataclass_params__.frozen
    c = load_cluster("h20")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.name = "x"
