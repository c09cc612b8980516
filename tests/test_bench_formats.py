"""bench fit on other tools' outputs: fio, perftest, nvbandwidth, nccl-tests JSON (recognised by content)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dpmodel.bench import apply_overlay, fit_rows, read_csv, write_csv, write_overlay
from dpmodel.bench.fit import BenchError
from dpmodel.bench.formats import read_bench, read_benches
from dpmodel.cli import main
from dpmodel.profiles import load_cluster

DATA = Path(__file__).parent / "data" / "bench"


def test_fio_fixture_fit():
    rows, machine, digest, fmt = read_bench(DATA / "fio_randread.json")
    assert fmt == "fio" and machine["tool"] == "fio-3.36" and len(digest) == 64
    assert [r.bytes for r in rows] == [4096, 131072, 1048576]
    assert rows[0].median_s == pytest.approx(62.5e-6)
    f = fit_rows(rows)["fio.read"]
    # the fixture's clat means follow 60 us + bs / 2.3 GB/s within 1 %
    assert f.alpha_s == pytest.approx(60e-6, rel=0.05) and f.beta_Bps == pytest.approx(2.3e9, rel=0.02)


PERFTEST = sorted(DATA.glob("perftest_ib_write_bw_s*.json"), key=lambda q: int(q.stem.rsplit("_s", 1)[1]))


def test_perftest_fixture_units():
    """One --out_json per size; the two small runs report MB/s (2^20 B/s), the two large ones Gb/s
    (--report_gbits): the unit is inferred from MsgRate, which the unit does not touch."""
    rows, machine, _, fmt = read_benches(PERFTEST)
    assert fmt == "perftest" and machine["tool"] == "perftest RDMA_Write_BW_Test"
    assert {r.link for r in rows} == {"perftest.write"} and [r.bytes for r in rows] == [4096, 65536, 1048576, 8388608]
    small = json.loads(PERFTEST[0].read_text())["results"]
    assert rows[0].bytes / rows[0].median_s == pytest.approx(small["BW_average"] * 2**20)  # MB/s
    big = rows[-1]
    assert big.bytes / big.median_s == pytest.approx(393.1e9 / 8)  # Gb/s
    for q, r in zip(PERFTEST, rows, strict=True):  # either way: bytes/s = MsgRate [Mpps] x 1e6 x MsgSize
        res = json.loads(q.read_text())["results"]
        assert r.bytes / r.median_s == pytest.approx(res["MsgRate"] * 1e6 * res["MsgSize"], rel=2e-3)
    f = fit_rows(rows)["perftest.write"]
    assert f.beta_Bps == pytest.approx(393.1e9 / 8, rel=0.02)


def test_perftest_malformed(tmp_path, capsys):
    d = json.loads(PERFTEST[0].read_text())
    d["results"]["BW_average"] *= 7  # matches neither unit
    bad = _bad(tmp_path, json.dumps(d))
    with pytest.raises(BenchError, match="matches neither MB/s nor Gb/s"):
        read_bench(bad)
    d["results"].pop("MsgRate")
    with pytest.raises(BenchError, match="results needs MsgSize, BW_average and MsgRate"):
        read_bench(_bad(tmp_path, json.dumps(d)))
    # one file is one size: no fit, our one-line error with the fix, nothing written
    assert main(["bench", "fit", str(PERFTEST[0]), "--out", str(tmp_path / "no.toml")]) == 2
    err = capsys.readouterr().err
    assert "pass one --out_json file per size" in err and err.count("\n") == 1 and not (tmp_path / "no.toml").exists()


def test_cli_fits_several_perftest_files(tmp_path):
    out = tmp_path / "ov.toml"
    assert main(["bench", "fit", *map(str, PERFTEST), "--out", str(out)]) == 0
    assert "node.cnic_Gbps" in out.read_text()


def test_nvbandwidth_fixture_latency_and_bandwidth():
    rows, *_, fmt = read_bench(DATA / "nvbandwidth.json")
    assert fmt == "nvbandwidth"
    fits = fit_rows(rows)
    h2d = fits["cuda.h2d_pinned"]
    assert h2d.alpha_s == pytest.approx(781e-9, rel=0.01)
    assert h2d.beta_Bps == pytest.approx(55.275e9, rel=0.01)  # the mean of the two GPUs
    assert h2d.valid_max_bytes == 512 * 2**20  # the JSON records no buffer size: the tool's default


def test_nvbandwidth_na_and_small_buffer(tmp_path):
    d = json.loads((DATA / "nvbandwidth.json").read_text())
    d["nvbandwidth"]["testcases"][0]["bandwidth_matrix"][0].append("N/A")  # a column with no value
    rows = read_bench(_bad(tmp_path, json.dumps(d)))[0]
    assert sum(r.link == "cuda.h2d_pinned" and r.bytes > 0 for r in rows) == 2
    d["nvbandwidth"]["warning"] = (
        "NOTE: You have chosen a buffer size that is smaller than the default buffer size. "
        "It is suggested to use the default buffer size (64MB) to achieve maximal peak bandwidth."
    )
    with pytest.raises(BenchError, match="does not record the size"):
        read_bench(_bad(tmp_path, json.dumps(d)))


def test_nccl_lines_fixture():
    rows, *_, fmt = read_bench(DATA / "rccl_allreduce.jsonl")
    assert fmt == "nccl" and len(rows) == 3  # in-place lines skipped
    assert rows[0].median_s == pytest.approx(19.18415e-6)


def test_nccl_tests_json_fixture():
    """NVIDIA nccl-tests -J output (src/util.cu): results[].size and out_of_place.time [us]."""
    rows, machine, _, fmt = read_bench(DATA / "nccl_tests_all_reduce.json")
    d = json.loads((DATA / "nccl_tests_all_reduce.json").read_text())
    assert fmt == "nccl-json" and machine["tool"] == "nccl-tests JSON v3 (NCCL 22703)"
    assert {r.link for r in rows} == {"nccl.all_reduce"}  # from args[0] ./build/all_reduce_perf
    assert [r.bytes for r in rows] == [x["size"] for x in d["results"]]
    assert [r.median_s for r in rows] == pytest.approx([x["out_of_place"]["time"] * 1e-6 for x in d["results"]])
    f = fit_rows(rows)["nccl.all_reduce"]
    # the fixture's times follow 25 us + size / 200 GB/s (algbw)
    assert f.alpha_s == pytest.approx(25e-6, rel=1e-3) and f.beta_Bps == pytest.approx(200e9, rel=1e-3)
    # the alg_bw the tool wrote is size / time: the fields mean what the reader assumes
    for x in d["results"]:
        assert x["out_of_place"]["alg_bw"] == pytest.approx(x["size"] / x["out_of_place"]["time"] / 1e3, rel=1e-5)


def test_nccl_tests_text_table_cross_checks_json():
    """The stdout table of the same run fits the same link as its -J JSON (within the table's 2 decimals)."""
    rows, machine, _, fmt = read_bench(DATA / "nccl_tests_all_reduce.txt")
    assert fmt == "nccl-text" and machine["tool"] == "nccl-tests all_reduce"
    a = fit_rows(rows)["nccl.all_reduce"]
    b = fit_rows(read_bench(DATA / "nccl_tests_all_reduce.json")[0])["nccl.all_reduce"]
    assert a.alpha_s == pytest.approx(b.alpha_s, rel=1e-3) and a.beta_Bps == pytest.approx(b.beta_Bps, rel=1e-4)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (
            lambda d: d["results"][3].pop("out_of_place") and d["results"][3].pop("in_place"),
            "results[3] has neither out_of_place nor in_place",
        ),
        (lambda d: d["results"][0]["out_of_place"].update(time="nan"), "results[0].time = 'nan': must be > 0"),
        (lambda d: d["results"][1].update(size=-8), "results[1].size = -8"),
        (lambda d: d.update(results=[]), "nccl-tests JSON has no results[]"),
        (lambda d: d["results"][2].update(out_of_place={"cpu_time": 1.0, "alg_bw": 1.0}), "the run used -C"),
    ],
)
def test_nccl_tests_json_malformed(tmp_path, mutate, needle, capsys):
    d = json.loads((DATA / "nccl_tests_all_reduce.json").read_text())
    mutate(d)
    bad = _bad(tmp_path, json.dumps(d))
    with pytest.raises(BenchError) as e:
        read_bench(bad)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert main(["bench", "fit", str(bad), "--out", str(tmp_path / "no.toml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "no.toml").exists()


def test_nccl_tests_text_malformed(tmp_path):
    lines = (DATA / "nccl_tests_all_reduce.txt").read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("65536"))
    lines[i] = lines[i].replace("25.33", "fast.")
    p = tmp_path / "bad.txt"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchError, match=rf"bad.txt:{i + 1}: nccl-tests out-of-place time \[us\] = 'fast.': not a number"):
        read_bench(p)
    p.write_text("\n".join(ln for ln in lines if ln.startswith("#")) + "\n")  # the run died before any result
    with pytest.raises(BenchError, match="has no result lines"):
        read_bench(p)


def test_overlay_applies_to_profile(tmp_path):
    """The fitted overlay sets the matching profile field and validates as a profile."""
    rows, machine, digest, _ = read_benches(PERFTEST)
    fits = fit_rows(rows)
    ov = write_overlay(tmp_path / "ov.toml", fits, source="test", digest=digest, machine=machine)
    cl = apply_overlay(load_cluster("dualpath-hopper"), ov)
    assert cl.node.cnic_Gbps == pytest.approx(8 * fits["perftest.write"].beta_Bps / 1e9, rel=1e-5)
    assert cl.provenance.fields["node.cnic_Gbps"].startswith("measured: overlay ov.toml")


@pytest.mark.parametrize(
    "name", ["fio_randread.json", "nvbandwidth.json", "rccl_allreduce.jsonl", "nccl_tests_all_reduce.json", "nccl_tests_all_reduce.txt"]
)
def test_round_trip_through_dpmodel_csv(tmp_path, name):
    """Rows read from a tool's file, written as dpmodel CSV and read back, fit to the same links."""
    rows, machine, *_ = read_bench(DATA / name)
    p = write_csv(tmp_path / "x.csv", rows, machine)
    back, _, _ = read_csv(p)
    a, b = fit_rows(rows), fit_rows(back)
    assert a.keys() == b.keys() and a
    for k in a:
        assert b[k].beta_Bps == pytest.approx(a[k].beta_Bps, rel=1e-6)
        assert b[k].alpha_s == pytest.approx(a[k].alpha_s, rel=1e-6, abs=1e-12)
    # detection is by content: the same JSON under a .csv name is still read as JSON
    shutil.copy(DATA / name, tmp_path / "renamed.csv")
    assert read_bench(tmp_path / "renamed.csv")[3] == read_bench(DATA / name)[3]


def _bad(tmp_path, text):
    p = tmp_path / "bad.json"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d["jobs"][0]["job options"].pop("bs"), "has no 'job options'.bs"),
        (lambda d: d["jobs"][1]["read"].pop("clat_ns"), "jobs[1].read has no clat_ns.mean"),
        (lambda d: d["jobs"][0]["read"]["clat_ns"].update(mean="fast"), "clat_ns.mean = 'fast': not a number"),
    ],
)
def test_fio_malformed(tmp_path, mutate, needle):
    d = json.loads((DATA / "fio_randread.json").read_text())
    mutate(d)
    with pytest.raises(BenchError) as e:
        read_bench(_bad(tmp_path, json.dumps(d)))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_other_malformed(tmp_path):
    n = json.loads((DATA / "nvbandwidth.json").read_text())
    n["nvbandwidth"]["testcases"].pop()  # no latency testcase: one size only
    with pytest.raises(BenchError, match="add testcase host_device_latency_sm"):
        read_bench(_bad(tmp_path, json.dumps(n)))
    with pytest.raises(BenchError, match="JSON of no known benchmark tool"):
        read_bench(_bad(tmp_path, '{"hello": 1}'))


def test_cli_fit_json_and_error(tmp_path, capsys):
    out = tmp_path / "ov.toml"
    assert main(["bench", "fit", str(DATA / "fio_randread.json"), "--out", str(out)]) == 0
    assert '"storage.read_GBps" = 2.30' in out.read_text()
    bad = _bad(tmp_path, '{"jobs": []}')
    assert main(["bench", "fit", str(bad), "--out", str(tmp_path / "no.toml")]) == 2
    err = capsys.readouterr().err
    assert "fio JSON has no jobs[]" in err and err.count("\n") == 1
    assert not (tmp_path / "no.toml").exists()  # nothing partial


def test_perftest_round_trip_through_dpmodel_csv(tmp_path):
    rows, machine, *_ = read_benches(PERFTEST)
    back, _, _ = read_csv(write_csv(tmp_path / "p.csv", rows, machine))
    a, b = fit_rows(rows)["perftest.write"], fit_rows(back)["perftest.write"]
    assert b.beta_Bps == pytest.approx(a.beta_Bps, rel=1e-6) and b.alpha_s == pytest.approx(a.alpha_s, rel=1e-6, abs=1e-12)
