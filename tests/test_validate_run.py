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
