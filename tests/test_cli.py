"""CLI: the main job, JSON shape, profile listing, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dpmodel.cli import build_parser, main, scenario_from_args


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dpmodel", *args], capture_output=True, text=True, timeout=120)


def test_plan_default_text_report():
    p = run("plan")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for needle in (
        "dualpath-hopper",
        "deepseek-v3.2",
        "agentic-64k",
        "2P4D",
        "basic",
        "layerwise",
        "dualpath",
        "oracle",
        "dual-path split",
        "speedup",
        "shadow price",
        "P/D window",
        "0.143 <= P/D <= 3.5",
    ):
        assert needle in out, needle


def test_plan_json_shape(capsys):
    assert main(["plan", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"cluster", "model", "workload", "prefill_nodes", "decode_nodes"} <= set(d["scenario"])
    assert set(d["modes"]) == {"basic", "layerwise", "dualpath", "oracle"}
    for m in d["modes"].values():
        assert m["turns_per_s"] > 0 and isinstance(m["bottleneck"], str)
    assert 0 <= d["modes"]["dualpath"]["split_de_frac"] <= 1
    assert d["speedup_dualpath_vs_basic"] == pytest.approx(d["modes"]["dualpath"]["turns_per_s"] / d["modes"]["basic"]["turns_per_s"])
    assert d["pd_ratio_window"]["min"] == pytest.approx(1 / 7)
    assert d["pd_ratio_window"]["max"] == pytest.approx(3.5)
    names = {r["name"] for r in d["resources"]}
    assert {"pe.snic.read", "de.snic.read", "pe.cnic.read", "de.dram", "pe.gpu.time"} <= names
    for r in d["resources"]:
        assert {"name", "utilization_frac", "shadow_price"} <= set(r)


def test_plan_options_and_paths(capsys, tmp_path):
    from dpmodel.profiles import hardware_dir

    path = tmp_path / "node.toml"
    path.write_bytes((hardware_dir() / "dualpath-hopper-2snic.toml").read_bytes())
    assert (
        main(
            [
                "plan",
                "--json",
                "--cluster",
                str(path),
                "--model",
                "qwen2.5-32b",
                "--workload",
                "agentic-32k",
                "--prefill-nodes",
                "1",
                "--decode-nodes",
                "2",
                "--prefill-efficiency",
                "0.5",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["scenario"]["cluster"] == "dualpath-hopper-2snic"
    assert (d["scenario"]["prefill_nodes"], d["scenario"]["decode_nodes"]) == (1, 2)
    assert d["scenario"]["deployment"]["prefill_efficiency_frac"] == 0.5


@pytest.mark.parametrize(
    "args,needle",
    [
        (["plan", "--cluster", "h100"], "unknown cluster profile 'h100'; did you mean 'h100-sxm'"),
        (["plan", "--model", "no/such.toml"], "does not exist"),
        (["plan", "--prefill-nodes", "0"], "--prefill-nodes: '0' must be >= 1"),
        (["plan", "--prefill-efficiency", "2"], "prefill_efficiency_frac = 2.0"),
        (["plan", "--bogus"], "unrecognized arguments: --bogus"),
        (["plan", "--model", "deepseek-v3.2", "--decode-nodes", "1"], "does not fit on the decode GPUs"),
        (["profiles", "show", "qwen"], "did you mean 'qwen2.5-32b'"),
    ],
)
def test_errors_are_one_line_exit_2(args, needle):
    p = run(*args)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0]
    assert lines[0].startswith("dpmodel: error:")


def test_bad_profile_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[node\n')
    p = run("plan", "--cluster", str(bad))
    assert p.returncode == 2 and "not valid TOML" in p.stderr and "bad.toml" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_profiles_list_and_show(capsys):
    assert main(["profiles", "list", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "dualpath-hopper" in {r["name"] for r in d["cluster"]}
    assert main(["profiles", "show", "deepseek-v3.2", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["kind"] == "model" and s["derived"]["kv_bytes_per_token"] == 48068
    assert s["provenance"]["fields"]["attention.sparse_top_k_tokens"].startswith("config:")
    assert main(["profiles", "show", "h20"]) == 0
    text = capsys.readouterr().out
    assert "node.cnic_Gbps" in text and "datasheet:" in text
    assert main(["profiles", "list"]) == 0
    assert "agentic-64k" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2


# ---- workload commands ---------------------------------------------------------------------

DATA = __import__("pathlib").Path(__file__).parent / "data"


def test_workload_list_and_show(capsys):
    assert main(["workload", "list"]) == 0
    assert "agentic-64k" in capsys.readouterr().out
    assert main(["workload", "show", "agentic-32k", "--agents", "100", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"requests", "rate_per_s", "hit_ratio_tokens", "input_tokens", "output_tokens"} <= set(d)
    assert {"mean", "p50", "p99"} <= set(d["input_tokens"]) and {"mean", "p50", "p99"} <= set(d["output_tokens"])
    assert d["hit_ratio_tokens"] > 0.9


def test_workload_show_trace(capsys):
    assert main(["workload", "show", "--trace", str(DATA / "mooncake_small.jsonl"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["requests"] == 5 and d["hit_ratio_tokens"] == pytest.approx(4096 / 5700)
    assert d["rate_per_s"] == pytest.approx(1.0)
    assert main(["workload", "show", "--trace", str(DATA / "mooncake_small.jsonl"), "--cache-GiB", "0"]) == 0
    assert "hit ratio (tokens)   0.0000" in capsys.readouterr().out


def test_workload_synth_roundtrip(tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    assert main(["workload", "synth", "agentic-64k", "--agents", "20", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote 20 trajectories" in capsys.readouterr().out
    assert main(["workload", "show", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["sessions"] == 20
    assert main(["plan", "--workload", str(out), "--classes", "4", "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert p["scenario"]["request_classes"] == 4


def test_plan_with_trace(capsys):
    assert main(["plan", "--trace", str(DATA / "mooncake_small.jsonl"), "--classes", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["scenario"]["workload"] == "mooncake_small" and d["scenario"]["request_classes"] == 2


@pytest.mark.parametrize(
    "args,needle",
    [
        (["workload", "show"], "give a workload NAME or --trace PATH"),
        (["workload", "show", "--trace", str(DATA / "mooncake_bad.jsonl")], "mooncake_bad.jsonl:2:"),
        (["workload", "synth", "agentic-64k", "--agents", "0", "--out", "/tmp/x.jsonl"], "--agents: '0' must be >= 1"),
        (["plan", "--trace", "nope.jsonl"], "does not exist"),
    ],
)
def test_workload_errors_one_line(args, needle):
    p = run(*args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr


def test_workload_show_lenient(capsys):
    assert main(["workload", "show", "--trace", str(DATA / "mooncake_bad.jsonl"), "--lenient"]) == 0
    assert "skipped 4 malformed lines" in capsys.readouterr().out


# ---- queueing commands ---------------------------------------------------------------------


def test_offline_online_capacity_json(capsys):
    assert (
        main(["offline", "--agents", "64", "--mode", "basic", "--model", "ds-27b", "--prefill-nodes", "1", "--decode-nodes", "1", "--json"])
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert {"mode", "agents", "jct_s", "turns_per_s"} <= set(d) and d["agents"] == 64 and d["jct_s"] > 0
    assert main(["online", "--aps", "0.3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"mode", "aps", "ttft_s", "ttst_s", "tpot_s", "utilization"} <= set(d)
    assert {"mean", "p50", "p90", "p99"} <= set(d["ttft_s"])
    assert main(["capacity", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for m in ("basic", "dualpath", "oracle"):
        assert d["modes"][m]["max_aps"] > 0
    assert d["modes"]["dualpath"]["max_aps"] >= d["modes"]["basic"]["max_aps"]
    assert main(["capacity", "--slo-ttft-s", "0.0001", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["modes"]["dualpath"]["feasible"] is False


def test_calibrated_option(capsys):
    """The default on the paper's testbed: the roofline with the model's bounded Oracle-only fit
    (--calibrated says so explicitly); --uncalibrated: the raw roofline; a flat knob: the flat physics."""
    from dpmodel.fig7 import load_roofline_fit

    runs = {}
    for opts in ([], ["--calibrated"], ["--uncalibrated"], ["--prefill-efficiency", "0.3"]):
        assert main(["plan", *opts, "--json"]) == 0
        runs[tuple(opts)] = json.loads(capsys.readouterr().out)["scenario"]
    default, cal, raw, flat = runs.values()
    assert default["fingerprint"] == cal["fingerprint"] and cal["cluster"] == "dualpath-hopper+roofline-oracle"
    assert raw["cluster"] == "dualpath-hopper" and raw["fingerprint"] != cal["fingerprint"]
    assert cal["deployment"]["physics"] == raw["deployment"]["physics"] == "roofline" and flat["deployment"]["physics"] == "flat"
    sc = scenario_from_args(build_parser().parse_args(["plan"]))
    for k, v in load_roofline_fit()["deepseek-v3.2"].items():  # the fitted knobs, each with the fit as its source
        assert getattr(sc.cluster.kernels, k) == v and "bounded Oracle-only fit" in sc.cluster.provenance.fields[f"kernels.{k}"]
    assert main(["plan", "--uncalibrated"]) == 0 and "roofline, uncalibrated" in capsys.readouterr().out
    assert main(["plan"]) == 0 and "roofline, calibrated" in capsys.readouterr().out
    p = run("plan", "--calibrated", "--model", "gpt-oss-120b")
    assert p.returncode == 2 and "no Fig. 7 roofline fit" in p.stderr
    p = run("plan", "--calibrated", "--prefill-efficiency", "0.3")
    assert p.returncode == 2 and "flat physics" in p.stderr


@pytest.mark.parametrize(
    "args,needle", [(["online", "--aps", "0"], "--aps: '0' must be >= 1e-09"), (["offline", "--agents", "0"], "--agents: '0' must be >= 1")]
)
def test_queueing_bad_input_one_line(args, needle):
    p = run(*args)
    assert p.returncode == 2 and "Traceback" not in p.stderr and needle in p.stderr


def test_offline_replays_a_trajectory_file(tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    assert main(["workload", "synth", "agentic-32k", "--agents", "30", "--seed", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    args = ["offline", "--workload", str(out), "--model", "ds-27b", "--prefill-nodes", "1", "--decode-nodes", "1", "--json"]
    assert main([*args, "--agents", "30"]) == 0
    d = json.loads(capsys.readouterr().out)
    from dpmodel.workload import read_trajectories

    assert d["turns_total"] == read_trajectories(out).turns_count
    assert main([*args, "--agents", "40"]) == 0  # more agents than the file: the paper's extra-agent knob
    assert json.loads(capsys.readouterr().out)["agents"] == 40
    p = run("offline", "--agents", "5", "--trace", str(DATA / "mooncake_small.jsonl"))
    assert p.returncode == 2 and "no agents to replay" in p.stderr


def test_simulate_cli(capsys):
    assert main(["simulate", "--agents", "16", "--model", "ds-27b", "--prefill-nodes", "1", "--decode-nodes", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"jct_s", "turns_per_s", "ttft_s", "decode_side_read_frac", "snic_balance_max_over_avg", "events"} <= set(d)
    assert d["jct_s"] > 0 and d["events"] > 0
