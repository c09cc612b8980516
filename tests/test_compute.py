"""Compute model: KV bytes per token, parameters and FLOPs derived from architecture fields."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpmodel import compute
from dpmodel.profiles import load_model

# KV bytes per token (all layers): derived from public configs (reference brief, section 14.3)
KV_BYTES = {
    "deepseek-v3.2": 61 * (656 + 132),  # FP8 latent 512 + 4 fp32 scales + 64 bf16 RoPE; indexer key 128 FP8 + fp32 scale
    "deepseek-v3": 61 * 656,
    "qwen2.5-32b": 64 * 8 * 128 * 2 * 2,  # FP16 K and V
    "qwen3-235b-a22b": 94 * 4 * 128 * 2,  # FP8
    "gpt-oss-120b": 18 * 8 * 64 * 2,  # only the 18 full-attention layers grow with context
    "ds-27b": 30 * (656 + 68),  # its indexer key: 64 FP8 + fp32 scale
}


@pytest.mark.parametrize("name,expected", KV_BYTES.items())
def test_kv_bytes_per_token(name, expected):
    assert load_model(name).kv_bytes_per_token == expected


# published parameter counts (model cards): total, active [billions]; active here counts the
# LM head but not the input-embedding lookup, which costs no FLOPs
PARAMS = {
    "deepseek-v3": (671, 37),
    "deepseek-v3.2": (671, 37),
    "qwen2.5-32b": (32.8, None),
    "qwen3-235b-a22b": (235, 22),
    "gpt-oss-120b": (117, 5.1),
    "ds-27b": (27, None),
}


@pytest.mark.parametrize("name,pub", PARAMS.items())
def test_parameter_counts_match_model_cards(name, pub):
    m = load_model(name)
    total, active = pub
    assert m.total_params / 1e9 == pytest.approx(total, rel=0.03)
    if active:
        assert m.active_params / 1e9 == pytest.approx(active, rel=0.03)


# The paper's Table 1: cache-compute ratio [GB/PFLOP] at append 429, contexts 16K and 64K.
TABLE1 = {
    "qwen2.5-32b": (117, 267),
    "gpt-oss-120b": (47, 95),
    "qwen3-235b-a22b": (39, 60),
    "deepseek-v3.2": (13, 36),
    "deepseek-v3": (4.8, 5.8),
}
CASES = [(m, ctx, ref) for m, (lo, hi) in TABLE1.items() for ctx, ref in ((16 * 1024, lo), (64 * 1024, hi))]
# Known disagreement, investigated (docs/model.md, "Known disagreements"): with absorbed-MLA attention
# (2h(d_c + d_r) + 2h d_c FLOP per query-key pair), DeepSeek-V3 comes out 10.5 % / 11.4 % low.
# Fitting the paper's two V3 numbers gives N_active = 36.6 B (the model card's 37 B) and 245 k FLOP
# per query-key pair per layer, 12 % below the absorbed form's 278.5 k; no attention form derived
# from the architecture gives that number, so the cells stay marked rather than tuned.
KNOWN_V3 = {("deepseek-v3", 16 * 1024), ("deepseek-v3", 64 * 1024)}


@pytest.mark.parametrize(
    "model,context,ref",
    [
        pytest.param(m, c, r, marks=pytest.mark.xfail(strict=True, reason="known DeepSeek-V3 disagreement, see docs/model.md"))
        if (m, c) in KNOWN_V3
        else (m, c, r)
        for m, c, r in CASES
    ],
)
def test_table1_cache_compute_ratio_within_10pct(model, context, ref):
    r = float(load_model(model).cache_compute_ratio_GB_per_PFLOP(context_tokens=context, append_tokens=429))
    assert r == pytest.approx(ref, rel=0.10)


@pytest.mark.parametrize("context,ref", [(16 * 1024, 4.8), (64 * 1024, 5.8)])
def test_deepseek_v3_disagreement_is_bounded(context, ref):
    """The V3 gap is what docs/model.md documents (10-12 % low), not something larger."""
    r = float(load_model("deepseek-v3").cache_compute_ratio_GB_per_PFLOP(context_tokens=context, append_tokens=429))
    assert 0.87 < r / ref < 0.91


def test_worked_example_deepseek_v32():
    """architecture.md section 11: ~1.31 GB hit attention KV (1.57 GB with the indexer keys, which
    are stored and loaded too: compute-references.md section 0), ~6e13 FLOP, ~21.5 GB/PFLOP per
    mean 64k turn (the paper's ratio counts the attention cache only)."""
    m = load_model("deepseek-v3.2")
    assert 32721 * m.attention_kv_bytes_per_token_layer * m.kv_layers_count == pytest.approx(1.31e9, rel=0.01)
    assert 32721 * m.kv_bytes_per_token == pytest.approx(1.57e9, rel=0.01)
    flops = float(m.prefill_flops(context_tokens=32721, append_tokens=429))
    assert flops == pytest.approx(6e13, rel=0.05)
    assert float(m.cache_compute_ratio_GB_per_PFLOP(context_tokens=32721, append_tokens=429)) == pytest.approx(22, rel=0.05)


def test_sparse_attention_caps_compute_growth():
    """Sparse top-k: attention stops growing with context except for the indexer."""
    v32, v3 = load_model("deepseek-v3.2"), load_model("deepseek-v3")
    grow32 = float(v32.prefill_flops(context_tokens=65536, append_tokens=429) / v32.prefill_flops(context_tokens=16384, append_tokens=429))
    grow3 = float(v3.prefill_flops(context_tokens=65536, append_tokens=429) / v3.prefill_flops(context_tokens=16384, append_tokens=429))
    assert grow32 < grow3
    assert v32.cache_compute_ratio_GB_per_PFLOP(context_tokens=32721, append_tokens=429) > v3.cache_compute_ratio_GB_per_PFLOP(
        context_tokens=32721, append_tokens=429
    )


@given(st.integers(0, 5000), st.integers(0, 600), st.one_of(st.just(np.inf), st.integers(1, 6000)))
def test_sum_min_positions_matches_brute_force(c, a, k):
    brute = sum(min(c + i, k) for i in range(1, a + 1))
    got = float(compute.sum_min_positions(context_tokens=c, new_tokens=a, cap_tokens=k))
    assert got == pytest.approx(brute, rel=1e-12, abs=1e-9)


def test_prefill_flops_vectorizes():
    m = load_model("qwen3-235b-a22b")
    ctx = np.array([1e3, 1e4, 1e5])
    vec = m.prefill_flops(context_tokens=ctx, append_tokens=429)
    one = [float(m.prefill_flops(context_tokens=c, append_tokens=429)) for c in ctx]
    assert vec.shape == (3,)
    np.testing.assert_allclose(vec, one)
    assert np.all(np.diff(vec) > 0)


def test_decode_step_and_batch():
    kw = dict(seq_kv_bytes=1e9, weight_bytes_per_gpu=2e10, hbm_Bps=3e12, hbm_efficiency_frac=1.0, step_overhead_s=0.005)
    # HBM-limited batch
    b = compute.decode_batch_max(hbm_kv_bytes_per_gpu=4e10, **kw)
    assert float(b) == pytest.approx(40)
    # TPOT-limited: step(n) = 0.005 + (2e10 + n 1e9)/3e12 <= 0.02  ->  n = 25
    b = compute.decode_batch_max(hbm_kv_bytes_per_gpu=4e10, tpot_max_s=0.02, **kw)
    assert float(b) == pytest.approx(25)
    assert float(compute.decode_step_s(batch_seqs=b, **kw)) == pytest.approx(0.02)
    # a TPOT below the weight-read time admits nothing
    assert float(compute.decode_batch_max(hbm_kv_bytes_per_gpu=4e10, tpot_max_s=0.006, **kw)) == 0.0
