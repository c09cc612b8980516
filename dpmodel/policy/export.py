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

Target ``dynamo-conditional``: the frontend flags of Dynamo's conditional disaggregation
(``--router-conditional-disagg`` and ``--router-conditional-disagg-config '{JSON}'``, Dynamo v1.6.x;
``lib/kv-router/src/conditional_disagg.rs`` and
``components/src/dynamo/common/configuration/groups/kv_router_args.py``; docs/formats.md pins the
commits). Its ``isl_bounding`` policy runs a request's prefill locally on the chosen decode worker
(bypass) when ``eff_isl < eff_isl_threshold`` and ``eff_isl / prompt < eff_isl_ratio_threshold``,
``eff_isl`` being the prompt less the decode worker's cached prefix. From the scenario:

* ``eff_isl_threshold``: the largest ``n`` whose local prefill after the mean context ``c`` stalls
  the decode batch by at most one decode-step budget ``S`` (``tpot_max_s - step_s`` when the
  deployment caps TPOT, else one step ``step_s``: a bypass at most doubles one inter-token gap);
* ``eff_isl_ratio_threshold``: ``n* / (c + n*)`` at the crossing ``n*`` where computing the new
  tokens (``FLOPs(c, n) / (e peak eff)``) costs as much as the data a remote prefill moves instead
  (the ``c``-token prefix read into the prefill engine at its storage-read share, plus one RDMA WR
  per layer and the ``n`` new tokens' KV back over its compute NICs): below it, a request is more
  data movement than compute and stays local.

``prefill_busy_threshold`` (a multiple of the engine's ``max_num_batched_tokens``, for the
load-aware policies) and ``decode_busy_threshold`` (a KV-capacity fraction guard) are not written:
dpmodel has no per-worker queue signal in those units, and a bypass does not change the decode
side's KV footprint (the KV lands there either way), so the model gives them no value.
"""

from __future__ import annotations

import json
import math

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


def _prefill_s(scenario, context_tokens: float, n: np.ndarray) -> np.ndarray:
    """Seconds to prefill ``n`` new tokens after ``context_tokens`` on one engine (peak x efficiency)."""
    m, cl = scenario.model, scenario.cluster
    rate = (
        cl.peak_flops_per_s_per_gpu(m.numerics.compute_dtype) * scenario.deployment.prefill_efficiency_frac * scenario.prefill_engine_gpus
    )
    return m.prefill_flops(context_tokens=np.full_like(n, context_tokens), append_tokens=n) / rate


def dynamo_thresholds(scenario, *, context_tokens: float, n_max: int = 1 << 20) -> dict:
    """``eff_isl_threshold`` [tokens], ``eff_isl_ratio_threshold`` and the quantities behind them."""
    m, cl, dep = scenario.model, scenario.cluster, scenario.deployment
    e = scenario.prefill_engine_gpus
    n = np.arange(1, n_max + 1, dtype=float)
    local_s = _prefill_s(scenario, context_tokens, n)
    cap = scenario.decode_capacity()
    step_s = cap["step_s"]
    budget_s = dep.tpot_max_s - step_s if math.isfinite(dep.tpot_max_s) and dep.tpot_max_s > step_s else step_s
    fits = np.nonzero(local_s <= budget_s)[0]
    eff_isl = int(n[fits[-1]]) if len(fits) else 0
    b = m.kv_bytes_per_token
    load_Bps = scenario.snic_read_Bps_per_node * e / cl.gpus_per_node
    alpha_s = cl.network.rdma_wr_us * 1e-6 * m.architecture.layers_count
    move_s = context_tokens * b / load_Bps + alpha_s + n * b / (e * cl.cnic_kv_Bps_per_gpu)
    over = np.nonzero(local_s >= move_s)[0]  # compute >= data movement from here on (both rise in n)
    if not len(over):
        n_star, ratio = n_max, 1.0  # compute stays below the data movement: every ratio stays local
    elif over[0] == 0:
        n_star, ratio = 0, 0.0  # even one new token computes slower than the prefix moves
    else:
        n_star = int(n[over[0]])
        ratio = n_star / (context_tokens + n_star)
    return {
        "eff_isl_threshold": eff_isl,
        "eff_isl_ratio_threshold": round(float(ratio), 4),
        "n_star_tokens": n_star,
        "budget_s": float(budget_s),
        "decode_step_s": float(step_s),
        "prefix_load_s": float(context_tokens * b / load_Bps),
    }


def _dynamo_text(scenario, c: float) -> str:
    th = dynamo_thresholds(scenario, context_tokens=c)
    cfg = {"policy": "isl_bounding", "eff_isl_threshold": th["eff_isl_threshold"], "eff_isl_ratio_threshold": th["eff_isl_ratio_threshold"]}
    lines = [
        "# dpmodel policy export --target dynamo-conditional",
        f"# scenario fingerprint: {scenario.fingerprint()}  model: {scenario.model.name}  cluster: {scenario.cluster.name}",
        f"# mean decode-side cached prefix c = {c:.0f} tokens; one decode step {th['decode_step_s'] * 1e3:.2f} ms; "
        f"stall budget {th['budget_s'] * 1e3:.2f} ms; prefix read into a prefill engine {th['prefix_load_s'] * 1e3:.2f} ms",
        "# eff_isl_threshold: largest n whose local prefill after c fits the stall budget (tpot_max_s - step, else one step)",
        f"# eff_isl_ratio_threshold: n*/(c+n*), n* = {th['n_star_tokens']} where prefill compute = prefix read + KV transfer of n",
        "# assumptions: prefill at the scenario's efficiency on an engine of the same GPUs; the prefill side holds no prefix",
        "#   (reads it from storage); prefill_busy_threshold / decode_busy_threshold left unset (no model value; see docs/formats.md)",
        "# option names: ai-dynamo/dynamo v1.6.x (lib/kv-router/src/conditional_disagg.rs; kv_router_args.py)",
        "python -m dynamo.frontend \\",
        "    --router-mode kv \\",
        "    --router-kv-events \\",
        "    --router-conditional-disagg \\",
        f"    --router-conditional-disagg-config '{json.dumps(cfg, separators=(',', ':'))}'",
    ]
    return "\n".join(lines) + "\n"


def export_text(scenario, target: str) -> str:
    if target not in TARGETS:
        raise ScenarioError(f"--target {target!r}: use one of {', '.join(TARGETS)}")
    c = float(sum(k.weight_frac * k.hit_tokens for k in scenario.classes()))
    if target == "dynamo-conditional":
        return _dynamo_text(scenario, c)
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
