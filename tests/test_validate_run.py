"""validate --run: a hand-written `vllm bench serve` result file against the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpmodel.cli import main
from dpmodel.scenario import Scenario
from dpmodel.validate_run import RunError, compare, predict, read_vllm_result

DATA = Path(__file__).parent / "data"
OPEN, CLOSED = DATA / "vllm_bench_serve_qwen.json", DATA / "vllm_bench_serve_qwen_closed.json"


def test_read_open_loop_fixture():
    r = read_vllm_result(OPEN)
    d = json.loads(OPEN.read_text())
    assert r.loop == "open" and r.request_rate_per_s == 1.0 and r.completed == 8
    assert (r.mean_input_tokens, r.mean_output_tokens) == (4000, 200)
    assert r.ttft_s["mean"] == pytest.approx(np.mean(d["ttfts"]))  # per-request list wins
    assert r.ttft_s["p99"] == pytest.approx(np.percentile(d["ttfts"], 99))
    assert r.tpot_s == pytest.approx(0.021)


def test_summary_fields_cross_check(tmp_path):
    """Without the per-request lists the summary {mean,median,p99}_ttft_ms fields give the same TTFT."""
    d = json.loads(OPEN.read_text())
    for k in ("ttfts", "itls", "input_lens", "output_lens"):
        d.pop(k)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(d))
    a, b = read_vllm_result(OPEN), read_vllm_result(p)
    assert b.ttft_s["mean"] == pytest.approx(a.ttft_s["mean"])
    assert (b.mean_input_tokens, b.mean_output_tokens) == (4000, 200)


def test_closed_loop_littles_law():
    sc = Scenario.load(model="qwen2.5-32b")
    run = read_vllm_result(CLOSED)
    assert run.loop == "closed" and run.max_concurrency == 4
    p = predict(sc, run, "basic")
    r = p["result"]
    in_flight = p["rate_per_s"] * (r.ttft_s["mean"] + (run.mean_output_tokens - 1) * r.tpot_s)
    assert in_flight == pytest.approx(4.0, rel=1e-3)


def test_compare_signed_errors():
    sc = Scenario.load(model="qwen2.5-32b")
    out = compare(sc, read_vllm_result(OPEN), "basic")
    m = {x["metric"]: x for x in out["metrics"]}
    assert set(m) == {"throughput_req_per_s", "ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "tpot_s"}
    for x in m.values():
        assert x["error_frac"] == pytest.approx(x["predicted"] / x["measured"] - 1)
    assert m["throughput_req_per_s"]["predicted"] == 1.0  # open loop, stable: throughput = offered rate


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"completed": None}, "missing field 'completed'"),
        ({"request_rate": "inf", "max_concurrency": None}, "neither an open nor a closed loop"),
        ({"max_concurrency": 0}, "field max_concurrency = 0"),
        ({"ttfts": [], "mean_ttft_ms": "slow"}, "field mean_ttft_ms = 'slow': must be a number"),
    ],
)
def test_malformed_run(tmp_path, change, needle, capsys):
    d = json.loads(OPEN.read_text())
    for k, v in change.items():
        if v is None:
            d.pop(k)
        else:
            d[k] = v
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(RunError, match=None) as e:
        read_vllm_result(p)
    assert needle in str(e.value)
    assert main(["validate", "--run", str(p), "--model", "qwen2.5-32b"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and needle in cap.err


def test_cli_json(capsys):
    assert main(["validate", "--run", str(OPEN), "--model", "qwen2.5-32b", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["loop"] == "open" and len(d["metrics"]) == 5 and d["fingerprint"]


# ---- AIPerf profile export (profile_export_aiperf.json) ------------------------------------------
AIPERF = DATA / "aiperf_profile_export_aiperf_qwen.json"  # JsonExportData shape of ai-dynamo/aiperf


def test_read_aiperf_fixture():
    from dpmodel.validate_run import read_run

    r = read_run(AIPERF)
    assert r.tool == "AIPerf profile export" and r.loop == "open" and r.request_rate_per_s == 1.0
    assert (r.completed, r.mean_input_tokens, r.mean_output_tokens, r.max_total_tokens) == (8, 4000, 200, 4200)
    d = json.loads(AIPERF.read_text())
    assert r.ttft_s == pytest.approx({k: d["time_to_first_token"][s] / 1e3 for k, s in (("mean", "avg"), ("p50", "p50"), ("p99", "p99"))})
    assert r.tpot_s == pytest.approx(0.021)  # inter_token_latency [ms] = (latency - TTFT) / (OSL - 1)


def test_aiperf_cross_checks_vllm_result_of_the_same_run():
    """The fixture is the vLLM open-loop fixture's run written as AIPerf would: same measured and predicted rows."""
    from dpmodel.validate_run import read_run

    a, v = read_run(AIPERF), read_run(OPEN)
    sc = Scenario.load(model="qwen2.5-32b")
    ca, cv = compare(sc, a, "basic"), compare(sc, v, "basic")
    from dpmodel.validate_run import run_workload

    assert run_workload(a).trajectory == run_workload(v).trajectory  # the same matching workload (names differ)
    assert [m["metric"] for m in ca["metrics"]] == [m["metric"] for m in cv["metrics"]]
    for x, y in zip(ca["metrics"], cv["metrics"], strict=True):
        assert x["measured"] == pytest.approx(y["measured"]) and x["predicted"] == pytest.approx(y["predicted"])


def test_aiperf_closed_loop(tmp_path):
    from dpmodel.validate_run import read_run

    d = json.loads(AIPERF.read_text())
    d["input_config"]["loadgen"] = {"concurrency": 4}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(d))
    r = read_run(p)
    assert r.loop == "closed" and r.max_concurrency == 4


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d.pop("input_config"), "missing input_config.loadgen"),
        (lambda d: d["input_config"].update(loadgen={}), "neither request_rate nor concurrency"),
        (lambda d: d.pop("time_to_first_token"), "missing metric 'time_to_first_token'"),
        (lambda d: d["time_to_first_token"].update(unit="furlongs"), "unit 'furlongs': not a time unit"),
        (lambda d: d["request_count"].update(avg=0), "request_count avg = 0.0"),
        (lambda d: d["input_config"]["loadgen"].update(concurrency=0, request_rate=None), "concurrency = 0"),
    ],
)
def test_malformed_aiperf(tmp_path, mutate, needle, capsys):
    d = json.loads(AIPERF.read_text())
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    assert main(["validate", "--run", str(p), "--model", "qwen2.5-32b"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and needle in cap.err


def test_aiperf_per_request_jsonl_refused(tmp_path, capsys):
    rec = {
        "metadata": {"session_num": 0, "request_start_ns": 1, "request_end_ns": 2},
        "metrics": {"time_to_first_token": {"value": 1.0, "unit": "ms"}},
        "error": None,
    }
    p = tmp_path / "profile_export.jsonl"
    p.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n")
    assert main(["validate", "--run", str(p), "--model", "qwen2.5-32b"]) == 2
    err = capsys.readouterr().err
    assert "profile_export_aiperf.json" in err and err.count("\n") == 1


def test_aiperf_one_record_jsonl_refused_and_vllm_one_line_read(tmp_path):
    from dpmodel.validate_run import read_run

    rec = {"metadata": {"session_num": 0}, "metrics": {"input_sequence_length": {"value": 5, "unit": "tokens"}}, "error": None}
    p = tmp_path / "one.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    with pytest.raises(RunError, match="holds no load settings"):
        read_run(p)
    one = tmp_path / "vllm_one_line.json"  # vllm writes json.dump(...) without indent: one line
    one.write_text(json.dumps(json.loads(OPEN.read_text())))
    assert read_run(one).completed == 8
