"""Roofline prefill and decode (issue 14): kernel properties and independent checks against
published figures (compute-references.md), none of them fitted."""

import dataclasses

import numpy as np
import pytest

from dpmodel import compute
from dpmodel.reference import FIG7_JCT_S, PAPER_TPOT_S
from dpmodel.scenario import RequestClass, Scenario


def _fig7(model):
    sp = FIG7_JCT_S[model]
    return Scenario.load(model=model, prefill_nodes=sp["prefill_nodes"], decode_nodes=sp["decode_nodes"], physics="roofline")


def test_gemm_efficiency_matches_deepgemm_table():
    # DeepGEMM README (compute-references.md 2a): m=64 -> 206-336 TF, m=128 -> 352-645 TF, m=4096 -> 1009-1426 TF of 1979
    eff = compute.gemm_efficiency_frac(rows=np.array([64, 128, 4096]), eff_max_frac=0.70, half_rows=200.0)
    for e, (lo, hi) in zip(eff, [(206, 336), (352, 645), (1009, 1426)], strict=True):
        assert lo / 1979 <= e <= hi / 1979


def test_forward_is_the_max_of_compute_and_memory_plus_exposed_comm():
    kw = dict(
        tokens_per_gpu=np.array([1.0, 1e4]),
        dense_flops_per_token=1e9,
        expert_flops_per_token=0.0,
        expert_rows=0.0,
        attention_flops_per_gpu=0.0,
        weight_bytes_per_gpu=1e10,
        kv_read_bytes_per_gpu=0.0,
        gemm_peak_flops_per_s=1e15,
        gemm_eff_max_frac=1.0,
        gemm_half_rows_count=1e-9,
        attention_flops_per_s=1e15,
        hbm_Bps=1e12,
        hbm_efficiency_frac=1.0,
        comm_calls=10,
        comm_bytes_per_gpu=0.0,
        comm_Bps=1e9,
        comm_latency_s=1e-3,
        comm_overlap_frac=0.0,
        layers_count=10,
        layer_fixed_s=1e-4,
    )
    p = compute.forward_parts_s(**kw)
    # one token: memory-bound (10 ms of weights); 10K tokens: compute-bound (10 ms of GEMMs at 1e15)
    assert float(p["memory_s"]) == pytest.approx(0.01) and p["compute_s"][1] == pytest.approx(0.01)
    assert p["total_s"] == pytest.approx(0.01 + 0.01 + 1e-3)
    hidden = compute.forward_parts_s(**{**kw, "comm_overlap_frac": 1.0})
    assert hidden["total_s"] == pytest.approx(0.01 + 1e-3)


@pytest.mark.parametrize("ctx,published_us", [(16384, 195.0), (32768, 214.0), (65536, 254.0)])
def test_v32_prefill_cost_per_token_matches_deepseek_cost_curve(ctx, published_us):
    # DeepSeek-V3.2-Exp cost curve on H800 (compute-references.md 1 and 6): GPU-us per appended token;
    # benchmark-grade batching (the profile trace's 16K tokens per GPU), one node's EP8 engine.
    sc = Scenario.load(model="deepseek-v3.2", workload="agentic-64k", prefill_quota_s=3600.0, physics="roofline")
    parts = sc.prefill_forward_parts(sc.prefill_batch_turns(), context_tokens=float(ctx), append_tokens=512.0)
    n = sc.prefill_batch_turns()
    us = sc.prefill_engine_gpus * float(parts["total_s"]) / (n * 512.0) * 1e6
    assert us == pytest.approx(published_us, rel=0.25)


@pytest.mark.parametrize("model", sorted(PAPER_TPOT_S))
def test_tpot_inside_the_paper_measured_range(model):
    # the paper's measured TPOT (DS 660B 2P4D 31-49 ms, DS 27B 11-25 ms) at the HBM-capacity batch
    lo, hi = PAPER_TPOT_S[model]
    d = _fig7(model).decode_capacity()
    assert lo <= d["step_s"] <= hi


def _at_context(sc, ctx):
    return dataclasses.replace(sc, request_classes=(RequestClass(1.0, float(ctx), 0.0, 0.0),))


def test_decode_step_matches_deepseek_profile():
    # DeepSeek profile-data decode trace (compute-references.md 1): V3/R1, EP128, 128 requests per
    # GPU at 4K KV, MTP on (2 query tokens per request), two micro-batches: ~96 ms per step
    sc = _at_context(Scenario.load(model="deepseek-v3", prefill_nodes=1, decode_nodes=16, physics="roofline"), 4096)
    p = sc.decode_step_parts(256.0)
    assert float(p["micro_batches"]) == 2.0
    assert float(p["total_s"]) == pytest.approx(0.096, rel=0.25)


def test_decode_runs_small_batches_as_one_micro_batch_and_grows_with_the_batch():
    # two-batch overlap loses at small batches (SGLang: -27 % at 32 tokens per device) and wins at large ones
    sc = _fig7("deepseek-v3.2")
    b = np.array([1.0, 8.0, 32.0, 64.0, 128.0, 256.0, 512.0])
    p = sc.decode_step_parts(b)
    assert p["micro_batches"][0] == 1.0 and p["micro_batches"][-1] == 2.0
    assert np.all(np.diff(p["total_s"]) > 0)
    # the all-to-all is exposed at one micro-batch: its latency floors set the small-batch TPOT
    assert p["comm_exposed_s"][0] == pytest.approx(p["comm_s"][0])


def test_v32_kv_bytes_count_the_indexer_keys():
    # compute-references.md section 0: 656 B MLA latent + 132 B indexer key per token and layer, 61 layers
    m = Scenario.load(model="deepseek-v3.2").model
    assert m.kv_bytes_per_token == 61 * 788 and m.indexer_key_bytes_per_token_layer == 132


def test_prefill_throughput_per_node_matches_deepseek_profile():
    # DeepSeek profile-data prefill trace (compute-references.md 1): V3/R1, 4K-token prompts, 16K tokens
    # per GPU, two micro-batches -> 62,713 tokens/s per node (SGLang's reading of prefill.json)
    sc = Scenario.load(model="deepseek-v3", prefill_nodes=4, physics="roofline")
    e = sc.prefill_engine_gpus
    p = sc.prefill_forward_parts(16384.0 * e / 4096.0, context_tokens=0.0, append_tokens=4096.0)
    assert float(p["micro_batches"]) == 2.0
    assert sc.cluster.gpus_per_node * 16384.0 / float(p["total_s"]) == pytest.approx(62713.0, rel=0.25)


def test_decode_throughput_per_node_matches_deepseek_profile():
    # the same profile's decode: 18,598 tokens/s per node at 128 requests per GPU, 4K KV, MTP on
    # (about 1.8 tokens per step: DeepSeek-V3 report, compute-references.md 1)
    sc = _at_context(Scenario.load(model="deepseek-v3", prefill_nodes=1, decode_nodes=16, physics="roofline"), 4096)
    step = float(sc.decode_step_parts(256.0)["total_s"])
    assert sc.cluster.gpus_per_node * 128 * 1.8 / step == pytest.approx(18598.0, rel=0.25)


def test_default_scenario_is_feasible_under_the_paper_slo():
    # the paper serves its V3.2 2P4D testbed online under TTFT <= 4 s and TPOT <= 50 ms (section 7.4);
    # dpmodel capacity's bisection for Basic (the slowest mode; ~4 s); every mode shares its zero-load TPOT
    from dpmodel.queueing.online import slo_capacity

    sc = Scenario.load(physics="roofline")
    r = slo_capacity(sc, "basic", slo_ttft_s=4.0, slo_tpot_s=0.05)
    assert r.feasible and r.max_aps > 0
    assert sum(sc.decode_affine_s()) < 0.05
