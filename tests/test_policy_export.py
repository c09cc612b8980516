"""policy export --target vllm-bidirectional: the recompute-vs-pull break-even as NixlConnector config."""

from __future__ import annotations

import json

import numpy as np

from dpmodel.cli import main
from dpmodel.policy.export import break_even_tokens
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


def test_cli_writes_vllm_snippet(tmp_path, capsys):
    out = tmp_path / "kv.json"
    assert main(["policy", "export", "--target", "vllm-bidirectional", "--model", "deepseek-v3.2", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    x = d["kv_connector_extra_config"]
    assert d["kv_connector"] == "NixlConnector" and x["bidirectional_kv_xfer"] is True
    sc = Scenario.load(model="deepseek-v3.2")
    c = float(np.sum([k.weight_frac * k.hit_tokens for k in sc.classes()]))
    assert x["kv_recompute_threshold"] == break_even_tokens(sc, context_tokens=c)
    assert x["dpmodel"]["fingerprint"] == sc.fingerprint()


def test_dynamo_target_refused(tmp_path, capsys):
    out = tmp_path / "d.txt"
    assert main(["policy", "export", "--target", "dynamo-conditional", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "dynamo-conditional: not implemented" in err and err.count("\n") == 1 and not out.exists()
