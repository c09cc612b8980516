"""Export the model's recompute-vs-transfer break-even as a real engine's configuration.

Target ``vllm-bidirectional``: vLLM's NixlConnector ``kv_connector_extra_config`` keys
``bidirectional_kv_xfer``, ``kv_recompute_threshold`` (default 64: the minimum number of new remote
tokens for a D->P pull; below it P recomputes locally) and ``decoder_kv_blocks_ttl`` (480 s), as
documented for the NixlConnector (vllm docs/features/nixl_connector_usage.md) and read in
``vllm/distributed/kv_transfer/kv_connector/v1/nixl/`` via ``get_from_extra_config``.

The break-even: pulling ``n`` new tokens over the prefill engine's compute NICs costs
``alpha + n b / (e B_kv)`` (``b`` KV bytes/token, ``e`` GPUs per engine, ``B_kv`` the KV share of
one compute NIC, ``alpha`` one RDMA work request per layer); recomputing them after a local hit of
``c`` tokens costs ``FLOPs(c, n) / (e * peak * efficiency)``. The threshold is the smallest ``n``
for which the pull is faster, at the workload's mean context ``c``.

Target ``dynamo-conditional`` is not exported: the thresholds' exact semantics (effective ISL,
ratio, busy thresholds) could not be tied to a cost model in this change; see docs/formats.md.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import ScenarioError

TARGETS = ("vllm-bidirectional", "dynamo-conditional")
VLLM_TTL_DEFAULT_S = 480  # NixlConnector decoder_kv_blocks_ttl default


def break_even_tokens(scenario, *, context_tokens: float, n_max: int = 1 << 20) -> int:
    """Smallest new-token count whose KV pull beats recomputing it (n_max + 1 when never)."""
    m, cl = scenario.model, scenario.cluster
    e = scenario.prefill_engine_gpus
    n = np.arange(1, n_max + 1, dtype=float)
    rate = cl.peak_flops_per_s_per_gpu(m.numerics.compute_dtype) * scenario.deployment.prefill_efficiency_frac * e
    recompute_s = m.prefill_flops(context_tokens=np.full_like(n, context_tokens), append_tokens=n) / rate
    alpha_s = cl.network.rdma_wr_us * 1e-6 * m.architecture.layers_count
    pull_s = alpha_s + n * m.kv_bytes_per_token / (e * cl.cnic_kv_Bps_per_gpu)
    wins = np.nonzero(pull_s < recompute_s)[0]
    return int(n[wins[0]]) if len(wins) else n_max + 1


def export_text(scenario, target: str) -> str:
    if target not in TARGETS:
        raise ScenarioError(f"--target {target!r}: use one of {', '.join(TARGETS)}")
    if target == "dynamo-conditional":
        raise ScenarioError("--target dynamo-conditional: not implemented in this release (threshold semantics unverified); use vllm-bidirectional")
    c = float(sum(k.weight_frac * k.hit_tokens for k in scenario.classes()))
    thr = break_even_tokens(scenario, context_tokens=c)
    thr0 = break_even_tokens(scenario, context_tokens=0.0)
    cfg = {
        "kv_connector": "NixlConnector",
        "kv_role": "kv_both",
        "kv_connector_extra_config": {
            "bidirectional_kv_xfer": True,
            "kv_recompute_threshold": thr,
            "decoder_kv_blocks_ttl": VLLM_TTL_DEFAULT_S,
            "dpmodel": {
                "fingerprint": scenario.fingerprint(),
                "model": scenario.model.name,
                "cluster": scenario.cluster.name,
                "mean_context_tokens": c,
                "threshold_at_zero_context_tokens": thr0,
                "assumptions": "pull = one RDMA WR per layer + bytes over the engine's compute-NIC KV share; "
                               "recompute = prefill FLOPs after the local hit at the scenario's prefill efficiency",
                "target": "vLLM NixlConnector kv_connector_extra_config (bidirectional_kv_xfer, kv_recompute_threshold, decoder_kv_blocks_ttl)",
            },
        },
    }
    if thr > 1 << 20:
        cfg["kv_connector_extra_config"]["dpmodel"]["note"] = "recompute is faster than a pull for every n <= 2^20 tokens"
    return json.dumps(cfg, indent=2) + "\n"
