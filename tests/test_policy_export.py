"""policy export --target vllm-bidirectional: the recompute-vs-pull break-even as NixlConnector config."""

from __future__ import annotations

import json

import numpy as np

from dpmodel.cli import main
from dpmodel.policy.export import break_even_tokens, dynamo_thresholds
from dpmodel.scenario import Scenario
from tests.helpers import override


def _costs(sc, c, n):
    m, cl, e = sc.model, sc.cluster, sc.prefill_engine_gpus
    rate = cl.peak_flops_per_s_per_gpu(m.numerics.compute_dtype) * sc.deployment.prefill_efficiency_frac * e
    rc = float(m.prefill_flops(context_tokens=c, append_tokens=n)) / rate
    pull = cl.network.rdma_wr_us * 1e-6 * m.architecture.layers_count + n * m.kv_bytes_per_token / (e * cl.cnic_kv_Bps_per_gpu)
    return pull, rc


def test_break_even_is_the_crossing():
    # a costly pull set-up (1 ms per RDMA work request) moves the crossing up from 1 token
    sc = override(Scenario.load(model="qwen2.5-32b"), network={"rdma_wr_us": 1000.0})
    n = break_even_tokens(sc, context_tokens=1000.0)
    assert 1 < n <= 1 << 20
    pull, rc = _costs(sc, 1000.0, n)
    assert pull < rc
    pull, rc = _costs(sc, 1000.0, n - 1)
    assert pull >= rc
    # a slower NIC -> pulling pays later; far slower than compute -> never (n_max + 1)
    assert break_even_tokens(override(sc, node={"cnic_Gbps": 40.0}), context_tokens=1000.0) > n
    assert break_even_tokens(override(sc, node={"cnic_Gbps": 0.4}), context_tokens=1000.0, n_max=4096) == 4097


def _cli_scenario():
    from dpmodel.cli import build_parser, scenario_from_args

    return scenario_from_args(build_parser().parse_args(["plan", "--model", "deepseek-v3.2"]))


def test_cli_writes_vllm_snippet(tmp_path, capsys):
    out = tmp_path / "kv.json"
    assert main(["policy", "export", "--target", "vllm-bidirectional", "--model", "deepseek-v3.2", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    x = d["kv_connector_extra_config"]
    assert d["kv_connector"] == "NixlConnector" and x["bidirectional_kv_xfer"] is True
    sc = _cli_scenario()  # as the CLI builds it (on the testbed: the calibrated roofline)
    c = float(np.sum([k.weight_frac * k.hit_tokens for k in sc.classes()]))
    assert x["kv_recompute_threshold"] == break_even_tokens(sc, context_tokens=c)
    assert x["dpmodel"]["fingerprint"] == sc.fingerprint()


# the config keys and type rules of Dynamo's --router-conditional-disagg-config (v1.6.x,
# components/src/dynamo/common/configuration/groups/kv_router_args.py: _CONDITIONAL_DISAGG_CONFIG_FIELDS,
# _parse_conditional_disagg_config, FrontendConfig.validate)
DYNAMO_KEYS = {"policy", "eff_isl_threshold", "eff_isl_ratio_threshold", "prefill_busy_threshold", "decode_busy_threshold"}


def _dynamo_config(text):
    line = next(ln for ln in text.splitlines() if "--router-conditional-disagg-config" in ln)
    return json.loads(line.split("'")[1])


def test_cli_writes_dynamo_flags(tmp_path):
    out = tmp_path / "dynamo.sh"
    assert main(["policy", "export", "--target", "dynamo-conditional", "--model", "deepseek-v3.2", "--out", str(out)]) == 0
    text = out.read_text()
    sc = _cli_scenario()  # as the CLI builds it (on the testbed: the calibrated roofline)
    assert f"fingerprint: {sc.fingerprint()}" in text and "assumptions:" in text
    flags = [ln.strip().rstrip(" \\") for ln in text.splitlines() if not ln.startswith("#")]
    assert flags[0] == "python -m dynamo.frontend"
    assert {"--router-mode kv", "--router-kv-events", "--router-conditional-disagg"} <= set(flags)
    cfg = _dynamo_config(text)
    assert set(cfg) <= DYNAMO_KEYS and cfg["policy"] in ("isl_bounding", "prefill_load", "isl_or_load")
    assert isinstance(cfg["eff_isl_threshold"], int) and not isinstance(cfg["eff_isl_threshold"], bool) and cfg["eff_isl_threshold"] >= 0
    assert 0.0 <= cfg["eff_isl_ratio_threshold"] <= 1.0
    c = float(np.sum([k.weight_frac * k.hit_tokens for k in sc.classes()]))
    th = dynamo_thresholds(sc, context_tokens=c)
    assert cfg["eff_isl_threshold"] == th["eff_isl_threshold"] and cfg["eff_isl_ratio_threshold"] == th["eff_isl_ratio_threshold"]


def _local_and_move(sc, c, n):
    m, cl, e = sc.model, sc.cluster, sc.prefill_engine_gpus
    local = _costs(sc, c, n)[1]
    b = m.kv_bytes_per_token
    move = (
        c * b / (sc.snic_read_Bps_per_node * e / cl.gpus_per_node)
        + cl.network.rdma_wr_us * 1e-6 * m.architecture.layers_count
        + n * b / (e * cl.cnic_kv_Bps_per_gpu)
    )
    return local, move


def test_dynamo_thresholds_are_the_crossings():
    sc = Scenario.load(model="qwen2.5-32b")
    c = 20000.0
    th = dynamo_thresholds(sc, context_tokens=c)
    n, ns = th["eff_isl_threshold"], th["n_star_tokens"]
    assert 1 <= n < 1 << 20 and 1 <= ns < 1 << 20
    # the absolute threshold: the last n whose local prefill fits one step (no TPOT cap)
    assert th["budget_s"] == sc.decode_capacity()["step_s"]
    assert _costs(sc, c, n)[1] <= th["budget_s"] < _costs(sc, c, n + 1)[1]
    # the ratio: the first n where computing costs at least the data a remote prefill moves
    lo, mv = _local_and_move(sc, c, ns)
    assert lo >= mv
    lo, mv = _local_and_move(sc, c, ns - 1)
    assert lo < mv
    assert abs(th["eff_isl_ratio_threshold"] - ns / (c + ns)) < 1e-4
    # a TPOT cap tighter than two steps shrinks the stall budget, so the absolute threshold falls
    step = th["decode_step_s"]
    capped = dynamo_thresholds(sc.with_deployment(tpot_max_s=step * 1.5), context_tokens=c)
    assert capped["eff_isl_threshold"] < n
    # slower storage reads make the remote prefix read dearer: more requests stay local
    slow = dynamo_thresholds(override(sc, node={"snic_Gbps": 40.0}), context_tokens=c)
    assert slow["eff_isl_ratio_threshold"] > th["eff_isl_ratio_threshold"]


def test_dynamo_unknown_target_refused(tmp_path, capsys):
    out = tmp_path / "d.txt"
    assert main(["policy", "export", "--target", "sglang", "--out", str(out)]) == 2
    assert not out.exists()
