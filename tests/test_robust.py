"""Issue 18: every bad input a clear one-line error (exit 2), every output whole (no temp file left).

Each case of the issue's list is a row here; runs in-process through ``dpmodel.cli.main``.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest

from dpmodel.cli import main
from dpmodel.errors import DpmodelError
from dpmodel.profiles import load_profile, resolve
from dpmodel.workload import open_trace, read_trajectories
from dpmodel.workload.traces import summarize

HERE = Path(__file__).resolve().parent


def one_line_error(capsys, argv, needle: str | None = None) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dpmodel: error:") and "Traceback" not in err, err
    if needle:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- CLI options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["offline", "--agents", "10000000"], "--agents"),
        (["offline", "--agents", "4", "--seed", "-1"], "--seed"),
        (["offline", "--agents", "4", "--append-scale", "nan"], "--append-scale"),
        (["offline", "--agents", "4", "--gen-scale", "1e308"], "--gen-scale"),
        (["online", "--aps", "1e308"], "--aps"),
        (["online", "--aps", "nan"], "--aps"),
        (["simulate", "--aps", "1e308", "--duration-s", "10"], "--aps"),
        (["simulate", "--aps", "1e5", "--duration-s", "1000"], "--duration-s"),
        (["simulate", "--agents", "4", "--seed", "-1"], "--seed"),
        (["sweep", "--axis", "decode_nodes=0,-1"], "decode_nodes=0"),
        (["sweep", "--axis", "decode_nodes=1.5"], "integer"),
        (["sweep", "--axis", "decode_nodes=nan"], "decode_nodes=nan"),
        (["sweep", "--axis", "decode_nodes=,,"], "no values"),
        (["sweep", "--axis", "snic_Gbps=inf"], "snic_Gbps"),
        (["sweep", "--axis", "warp=1"], "unknown sweep axis"),
        (["plan", "--prefill-efficiency", "1e-300"], "prefill_efficiency_frac"),
        (["plan", "--prefill-nodes", "1000000"], "prefill_nodes_count"),
        (["capacity", "--slo-ttft-s", "nan"], "--slo-ttft-s"),
    ],
)
def test_bad_options_one_line(capsys, argv, needle):
    one_line_error(capsys, argv, needle)


def test_bare_dpmodel_prints_a_short_usage(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("usage: dpmodel")


def test_group_without_subcommand_is_one_line(capsys):
    one_line_error(capsys, ["policy"], "needs a subcommand")


def test_solver_banner_never_on_stdout(capfd):
    """A solve that goes through HiGHS (which prints from C++) leaves stdout pure JSON."""
    from dpmodel.optimize.quiet import QuietStdout
    from dpmodel.optimize.throughput import ThroughputLP  # noqa: F401  (imported: the LP module)

    with QuietStdout():
        os.write(1, b"Running HiGHS banner\n")
    assert main(["plan", "--json"]) == 0
    out = capfd.readouterr().out
    assert "HiGHS" not in out
    json.loads(out)


def test_warnings_are_one_formatted_line(capsys, monkeypatch):
    import warnings

    import dpmodel.cli as cli

    def noisy(args):
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        return 0

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["online"].set_defaults(func=noisy)
    assert main(["online", "--aps", "1"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dpmodel: warning: overflow encountered in multiply (RuntimeWarning)"]


def test_ctrl_c_is_one_line_exit_130(capsys, monkeypatch):
    import dpmodel.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_online", interrupted)
    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["online"].set_defaults(func=interrupted)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert main(["online", "--aps", "1"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0]


# ---- unwritable outputs -----------------------------------------------------------------------


@pytest.fixture()
def cheap_report(monkeypatch):
    """The report's figures stubbed out (they run the online model for ~4 s of CPU): these rows
    test how a failed write of the report is reported; the report itself is tested in test_plan.py."""
    import dpmodel.report as report

    monkeypatch.setattr(report, "_figures", lambda scenario, res, **kw: [])


def _outputs(target: str) -> list[list[str]]:
    return [
        ["policy", "export", "--out", target],
        ["sweep", "--csv", target],
        ["workload", "synth", "agentic-32k", "--agents", "2", "--out", target],
        ["plan", "--report", target],
    ]


@pytest.mark.parametrize("which", range(4))
def test_output_is_a_folder(capsys, tmp_path, which, cheap_report):
    one_line_error(capsys, _outputs(str(tmp_path))[which], "is a folder")


@pytest.mark.parametrize("which", range(4))
def test_output_parent_is_a_file(capsys, tmp_path, which, cheap_report):
    f = tmp_path / "file"
    f.write_text("x")
    one_line_error(capsys, _outputs(str(f / "out.x"))[which], "is a file")


@pytest.mark.parametrize(
    "exc,needle",
    [
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), "does not exist"),
    ],
)
@pytest.mark.parametrize("which", range(4))
def test_unwritable_output_is_one_line_and_leaves_no_temp_file(capsys, tmp_path, monkeypatch, exc, needle, which, cheap_report):
    """mkstemp fails (permission; we run as root, so chmod would not stop us) or the write fails."""
    import dpmodel.fileio as fileio

    target = tmp_path / "out.csv"
    if isinstance(exc, PermissionError):
        monkeypatch.setattr(fileio.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(exc))
    else:
        real = os.replace
        monkeypatch.setattr(fileio.os, "replace", lambda *a: (_ for _ in ()).throw(exc) if str(a[1]) == str(target) else real(*a))
    line = one_line_error(capsys, _outputs(str(target))[which], needle)
    assert str(target) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the output nor a temp file


def test_parquet_is_atomic(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", boom)
    assert main(["policy", "export", "--out", str(tmp_path / "t.parquet")]) == 2
    assert list(tmp_path.iterdir()) == []


# ---- profiles: range and consequence ----------------------------------------------------------

CLUSTER = resolve("cluster", "dualpath-hopper").read_text()


def _cluster_with(tmp_path, field: str, value: str) -> Path:
    section, key = field.split(".")
    text = re.sub(rf"(?m)^{key}\s*=.*$", f"{key} = {value}", CLUSTER, count=1)
    assert text != CLUSTER or f"{key} = {value}" in CLUSTER
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "field,value",
    [
        ("gpu.dense_bf16_TFLOPS", "1e308"),
        ("node.gpus_count", "1e308"),
        ("node.snic_Gbps", "1e308"),
        ("gpu.pcie_GBps", "6.4e-05"),
        ("node.snic_payload_frac", "5e-324"),
        ("node.dram_GBps", "1e-300"),
        ("node.gpus_count", "1" + "0" * 400),
        ("gpu.hbm_GBps", "9" * 400),
    ],
)
def test_extreme_cluster_values_name_the_field(capsys, tmp_path, field, value):
    p = _cluster_with(tmp_path, field, value)
    one_line_error(capsys, ["plan", "--cluster", str(p)], field)


def test_huge_integer_literal_is_our_error(capsys, tmp_path):
    p = _cluster_with(tmp_path, "node.gpus_count", "1" + "0" * 5000)
    one_line_error(capsys, ["plan", "--cluster", str(p)], "too long")


def test_model_hidden_dim_1e308(capsys, tmp_path):
    text = resolve("model", "deepseek-v3.2").read_text()
    p = tmp_path / "m.toml"
    p.write_text(re.sub(r"(?m)^hidden_dim\s*=.*$", "hidden_dim = 1e308", text, count=1))
    one_line_error(capsys, ["plan", "--model", str(p)], "hidden_dim")


def test_cost_1e308(capsys, tmp_path):
    text = resolve("cost", "cloud-hopper").read_text()
    p = tmp_path / "c.toml"
    p.write_text(re.sub(r"(?m)^gpu_per_hour\s*=.*$", "gpu_per_hour = 1e308", text, count=1))
    one_line_error(capsys, ["size", "--target-aps", "1", "--cost", str(p)], "gpu_per_hour")


@pytest.mark.parametrize("kind,name", [("cluster", "dualpath-hopper"), ("model", "deepseek-v3.2"), ("workload", "agentic-32k")])
def test_non_utf8_profile(tmp_path, kind, name):
    p = tmp_path / "x.toml"
    p.write_bytes(resolve(kind, name).read_bytes() + b"\n# \xff\xfe\n")
    with pytest.raises(DpmodelError, match="not UTF-8"):
        load_profile(kind, p)


def test_non_utf8_overlay(capsys, tmp_path):
    p = tmp_path / "ov.toml"
    p.write_bytes(b'[provenance]\nsource = "\xff"\n')
    one_line_error(capsys, ["plan", "--overlay", str(p)], "UTF-8")


# ---- traces and trajectories ---------------------------------------------------------------

GOOD = '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [1]}'
BAD_TRACE_LINES = {
    "non_utf8": b'{"timestamp": 1, "input_length": 10, "output_length": 5, "hash_ids": [2]} \xff',
    "huge_int": ('{"timestamp": 1, "input_length": ' + "9" * 5000 + ', "output_length": 5, "hash_ids": [2]}').encode(),
    "tokens_1e30": b'{"timestamp": 1, "input_length": 1e30, "output_length": 5, "hash_ids": [2]}',
    "nested": b'{"timestamp": 1, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "timestamp_1e308": b'{"timestamp": 1e308, "input_length": 10, "output_length": 5, "hash_ids": [2]}',
    "long_line": b'{"timestamp": 1, "pad": "' + b"a" * (2 << 20) + b'"}',
}


@pytest.mark.parametrize("case", sorted(BAD_TRACE_LINES))
def test_bad_mooncake_line(tmp_path, case):
    p = tmp_path / "t.jsonl"
    p.write_bytes(GOOD.encode() + b"\n" + BAD_TRACE_LINES[case] + b"\n" + GOOD.replace('"timestamp": 0', '"timestamp": 5').encode() + b"\n")
    with pytest.raises(DpmodelError, match=r"t\.jsonl:2:"):
        list(open_trace(p))
    s = summarize(open_trace(p, lenient=True))
    assert s.requests == 2 and s.skipped_lines == 1


def test_non_monotonic_timestamps(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(GOOD.replace('"timestamp": 0', '"timestamp": 9') + "\n" + GOOD + "\n")
    with pytest.raises(DpmodelError, match="time order"):
        list(open_trace(p))
    assert summarize(open_trace(p, lenient=True)).skipped_lines == 1


AZ_HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
AZ_ROW = "2023-11-16 18:15:46.6805900,374,44\n"


@pytest.mark.parametrize(
    "bad",
    [
        "2023-11-16 18:16:46.6805900," + "a" * 200_000 + ",4\n",  # an over-long field (was _csv.Error)
        "2023-11-16 18:16:46.6805900,1" + "0" * 40 + ",4\n",
        "2023-11-16 18:16:46.6805900,374,\xff\n",
        "2023-11-16 18:10:46.6805900,374,44\n",  # before the previous row
    ],
)
def test_bad_azure_row(tmp_path, bad):
    p = tmp_path / "a.csv"
    raw = bad.encode("latin-1") if "\xff" in bad else bad.encode()
    p.write_bytes(AZ_HEAD.encode() + AZ_ROW.encode() + raw + b"2023-11-16 18:17:46.6805900,374,44\n")
    with pytest.raises(DpmodelError, match=r"a\.csv:3:"):
        list(open_trace(p))
    s = summarize(open_trace(p, lenient=True))
    assert s.requests == 2 and s.skipped_lines == 1


HEAD = '{"format": "dpmodel-trajectories", "version": 1, "max_agent_length_tokens": 100}'


def _traj(tmp_path, *lines: bytes) -> Path:
    from dpmodel.workload.traces import TRAJECTORY_FORMAT, TRAJECTORY_VERSION

    head = json.dumps({"format": TRAJECTORY_FORMAT, "version": TRAJECTORY_VERSION, "max_agent_length_tokens": 100})
    p = tmp_path / "tr.jsonl"
    p.write_bytes(head.encode() + b"\n" + b"\n".join(lines) + b"\n")
    return p


@pytest.mark.parametrize(
    "bad",
    [
        b'{"append_tokens": [60, 30], "generated_tokens": [10, 10]}',  # 110 tokens > MAL 100
        b'{"append_tokens": [1], "generated_tokens": [1]} \xff',
        b'{"append_tokens": [' + b"9" * 5000 + b'], "generated_tokens": [1]}',
        b'{"append_tokens": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    ],
)
def test_bad_trajectory_line(tmp_path, bad):
    ok = b'{"append_tokens": [10, 10], "generated_tokens": [5, 5]}'
    p = _traj(tmp_path, ok, bad, ok)
    with pytest.raises(DpmodelError, match=r"tr\.jsonl:3:"):
        read_trajectories(p)
    assert read_trajectories(p, lenient=True).agents_count == 2


def test_workload_show_lenient_counts_decode_errors(capsys, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(GOOD.encode() + b"\n\xff\xfe\n")
    one_line_error(capsys, ["workload", "show", "--trace", str(p)], "UTF-8")
    assert main(["workload", "show", "--trace", str(p), "--lenient"]) == 0
    assert "skipped 1 malformed lines" in capsys.readouterr().out


# ---- policy tables ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_json(tmp_path_factory):
    p = tmp_path_factory.mktemp("pol") / "t.json"
    assert main(["policy", "export", "--out", str(p)]) == 0
    return p


def _resign(doc: dict) -> dict:
    from dpmodel.policy import PolicyTable

    doc = {k: v for k, v in doc.items() if k != "checksum"}
    doc["checksum"] = PolicyTable._checksum(doc)
    return doc


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(axes="x"),
        lambda d: d.update(axes=[1, 2, 3]),
        lambda d: d["axes"][0].update(values="abc"),
        lambda d: d["axes"][1].pop("name"),
        lambda d: d.update(values={"a": 1}),
        lambda d: d.update(values=[[0.5]] * len(d["values"])),
        lambda d: d.update(meta=[]),
        lambda d: d["meta"].update(scenario="x"),
        lambda d: d["meta"].update(static_split_de_frac="half"),
        lambda d: d.update(extra=1),
        lambda d: d.update(checksum_=1),
    ],
)
def test_resigned_malformed_table_is_our_error(capsys, tmp_path, table_json, edit):
    doc = json.loads(table_json.read_text())
    edit(doc)
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_resign(doc)))
    one_line_error(capsys, ["policy", "show", str(p)], "policy table" if False else None)


def test_resigned_deeply_nested_table(capsys, tmp_path):
    p = tmp_path / "t.json"
    p.write_text('{"kind": ' + "[" * 100_000 + "]" * 100_000 + "}")
    one_line_error(capsys, ["policy", "show", str(p)])


def test_csv_row_with_neighbour_coordinates_is_rejected(capsys, tmp_path):
    p = tmp_path / "t.csv"
    assert main(["policy", "export", "--out", str(p)]) == 0
    lines = p.read_text().splitlines()
    lines[3] = ",".join(lines[4].split(",")[:3] + lines[3].split(",")[3:])  # row 2 claims row 3's coordinates
    p.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    one_line_error(capsys, ["policy", "show", str(p)], "coordinates")
