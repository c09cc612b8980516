"""Fuzz (issue 18): profiles, trace lines, policy files and CLI arguments give a valid result with
finite non-negative numbers or our error (DpmodelError), never a crash. Small budgets keep it to
seconds; the long run is benchmarks/fuzz.py (its count is in benchmarks/results/fuzz.md), which
imports the strategies and oracles below."""

from __future__ import annotations

import copy
import json
import math
import tempfile
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpmodel.cli import main
from dpmodel.errors import DpmodelError
from dpmodel.profiles import from_mapping, resolve
from dpmodel.workload import open_trace
from dpmodel.workload.traces import summarize

# ---- strategies and oracles ------------------------------------------------------------------

BASE = {
    k: tomllib.loads(resolve(k, n).read_text())
    for k, n in (("cluster", "dualpath-hopper"), ("model", "deepseek-v3.2"), ("workload", "agentic-32k"), ("cost", "cloud-hopper"))
}

floats_all = st.floats(allow_nan=True, allow_infinity=True)  # the whole float range, subnormals included
huge_ints = st.integers(min_value=-(10**400), max_value=10**400)
noise = st.one_of(
    st.text(max_size=20),
    st.binary(max_size=20),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
values = st.one_of(floats_all, huge_ints, st.integers(-10, 10**6), noise)


def numeric_paths(doc: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in doc.items():
        if k == "provenance":
            continue
        p = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out += numeric_paths(v, p)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out.append(p)
    return out


@st.composite
def profile_docs(draw):
    """A packaged profile with 1-3 of its numbers replaced by anything, deleted or renamed."""
    kind = draw(st.sampled_from(sorted(BASE)))
    doc = copy.deepcopy(BASE[kind])
    for path in draw(st.lists(st.sampled_from(numeric_paths(doc)), min_size=1, max_size=3)):
        *head, last = path.split(".")
        d = doc
        for h in head:
            d = d[h]
        action = draw(st.sampled_from(["set", "set", "set", "delete", "rename"]))
        if action == "set":
            d[last] = draw(values)
        elif action == "delete":
            d.pop(last, None)
        else:
            d[last + draw(st.text(max_size=3))] = d.pop(last, 0)
    return kind, doc


def check_profile(kind: str, doc: dict) -> str:
    """'ok' (valid, every derived quantity finite and > 0, the P/D window free of NaN) or 'error'."""
    try:
        prof = from_mapping(kind, doc, ctx=f"fuzzed {kind}")
    except DpmodelError:
        return "error"
    if kind == "cluster":
        for v in (
            prof.snic_payload_Bps_per_node,
            prof.cnic_kv_Bps_per_gpu,
            prof.dram_Bps_per_node,
            prof.hbm_bytes_per_gpu,
            prof.peak_flops_per_s_per_gpu("bf16"),
            prof.store_read_Bps,
        ):
            assert math.isfinite(v) and v > 0, v
        from dpmodel import capacity

        B = prof.cnic_kv_Bps_per_gpu
        win = capacity.pd_ratio_window(
            gpus_per_node=prof.gpus_per_node, snic_per_cnic=prof.snic_payload_Bps_per_node / B, cnic_Bps=B, dram_Bps=prof.dram_Bps_per_node
        )
        assert all(not math.isnan(float(v)) for v in win.values()), win
    elif kind == "model":
        for v in (prof.kv_bytes_per_token, prof.total_params, prof.active_params, prof.weight_bytes):
            assert math.isfinite(v) and v > 0, v
    return "ok"


GOOD_LINE = {"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}
trace_values = st.one_of(floats_all, huge_ints, st.integers(-5, 10**6), noise)


@st.composite
def trace_lines(draw) -> bytes:
    """A Mooncake line: a valid one with fields replaced, raw binary noise, deep brackets or a long integer."""
    kind = draw(st.sampled_from(["field", "field", "raw", "nest", "digits"]))
    if kind == "raw":
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    if kind == "nest":
        n = draw(st.integers(1, 3000))
        return b'{"timestamp": 1, "x": ' + b"[" * n + b"]" * n + b"}"
    if kind == "digits":
        return b'{"timestamp": 1, "input_length": ' + b"9" * draw(st.integers(1, 6000)) + b', "output_length": 1, "hash_ids": [1]}'
    obj = dict(GOOD_LINE)
    for key in draw(st.lists(st.sampled_from(sorted(GOOD_LINE)), min_size=1, max_size=2)):
        obj[key] = draw(trace_values)
    try:
        text = json.dumps(obj, default=repr)
    except (ValueError, TypeError):
        text = repr(obj)
    return text.encode("utf-8", "surrogatepass").replace(b"\n", b" ")


def _finite(obj, where: str = "") -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(obj, list | tuple):
        for v in obj:
            _finite(v, where)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        assert math.isfinite(obj) and obj >= 0, f"{where} = {obj}"


def check_trace(lines: list[bytes], tmp: Path) -> str:
    """Strict: our error or a summary; lenient: our error (nothing valid) or a summary. Every number
    in a summary is finite and >= 0."""
    p = tmp / "fuzz.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    result = "error"
    for lenient in (False, True):
        try:
            d = summarize(open_trace(p, lenient=lenient)).to_dict()
        except DpmodelError:
            continue
        _finite({k: v for k, v in d.items() if v is not None}, "summary")
        result = "ok"
    return result


cli_args = st.lists(
    st.one_of(
        st.sampled_from(["--agents", "--aps", "--seed", "--duration-s", "--append-scale", "--axis", "--prefill-nodes", "--json"]),
        st.sampled_from(["0", "-1", "1e308", "nan", "inf", "1.5", "", "decode_nodes=0", "decode_nodes=,", "x=1", "99999999999"]),
        st.text(max_size=8),
    ),
    max_size=5,
)

# ---- tests (small budgets) -------------------------------------------------------------------

FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)


@FAST
@given(profile_docs())
def test_fuzzed_profiles(kd):
    assert check_profile(*kd) in ("ok", "error")


@FAST
@given(st.lists(trace_lines(), min_size=1, max_size=4))
def test_fuzzed_trace_lines(lines):
    with tempfile.TemporaryDirectory() as d:
        assert check_trace(lines, Path(d)) in ("ok", "error")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(
    st.binary(max_size=300),
    st.sampled_from([".json", ".csv", ".parquet", ""]),
    st.sampled_from([b"", b"{", b"# {", b"PAR1", b'{"kind": "dpmodel-policy-table", "schema_version": 1, ']),
)
def test_fuzzed_policy_files(data, suffix, prefix):
    from dpmodel.policy import PolicyTable

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"t{suffix}"
        p.write_bytes(prefix + data)
        try:
            PolicyTable.load(p)
        except DpmodelError:
            pass


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(st.sampled_from([["offline"], ["online"], ["sweep"], ["simulate"], ["capacity"], ["workload", "synth", "agentic-32k"]]), cli_args)
def test_fuzzed_cli_args_fail_cleanly(capsys, cmd, args):
    """Fuzzed arguments plus one known-bad one (so no model runs and the test stays fast): exit 2,
    one line, no traceback, whatever the rest of the arguments are."""
    rc = main([*cmd, *args, "--seed", "-1"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len([x for x in err.splitlines() if x.strip()]) == 1, err
