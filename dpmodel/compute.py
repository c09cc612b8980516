"""Compute kernels: KV bytes per token, parameter counts, prefill FLOPs, decode step time.

Pure, vectorized functions of explicit keyword arguments (scalars or numpy arrays in, arrays of
the broadcast shape out). :class:`~dpmodel.profiles.model.ModelSpec` composes them.

Notes
-----
Attention FLOPs count one multiply-add as 2 FLOP. For a query at position ``c + i`` (``c`` cached
tokens, ``i``-th new token) the keys visited are ``min(c + i, k)`` where ``k`` is the sparse top-k
or the sliding window (``inf`` for dense attention). Per (query, key) pair and per layer:

* MLA in absorbed form (the form used when a short append attends a long cached latent):
  ``2 h (d_c + d_r)`` for QK plus ``2 h d_c`` for AV (``d_c`` latent rank, ``d_r`` RoPE dim);
* GQA / MHA: ``4 h d`` (QK and AV over head dim ``d``);
* a sparse-attention indexer (DSA) adds ``2 h_I d_I`` over *every* visible key.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .units import DTYPE_BYTES


def sum_min_positions(*, context_tokens: ArrayLike, new_tokens: ArrayLike, cap_tokens: ArrayLike) -> np.ndarray:
    """Exact ``sum_{i=1..a} min(c + i, k)``: keys visited by ``a`` new tokens after ``c`` cached ones.

    ``cap_tokens`` may be ``np.inf`` (no cap).
    """
    c = np.asarray(context_tokens, dtype=float)
    a = np.asarray(new_tokens, dtype=float)
    k = np.asarray(cap_tokens, dtype=float)
    # number of new tokens whose window is still below the cap: c + i < k  <=>  i < k - c
    below = np.clip(np.where(np.isinf(k), a, k - c), 0.0, a)
    below = np.floor(below)
    uncapped = below * c + below * (below + 1.0) / 2.0
    capped = (a - below) * np.where(np.isinf(k), 0.0, k)
    return uncapped + capped


def mla_kv_bytes_per_token_layer(
    *, kv_lora_rank_dim: ArrayLike, qk_rope_head_dim: ArrayLike, kv_dtype: str, rope_dtype: str, scale_group_dim: int
) -> np.ndarray:
    """Bytes one token's MLA cache entry takes in one layer: latent + scales + RoPE key.

    DeepSeek's FP8 layout: 512 B latent + 4 x 4 B scales (one per 128) + 64 x 2 B RoPE = 656 B.
    """
    latent = np.asarray(kv_lora_rank_dim, dtype=float)
    scales = 4.0 * latent / scale_group_dim if scale_group_dim else 0.0
    return latent * DTYPE_BYTES[kv_dtype] + scales + np.asarray(qk_rope_head_dim, float) * DTYPE_BYTES[rope_dtype]


def gqa_kv_bytes_per_token_layer(*, kv_heads_count: ArrayLike, head_dim: ArrayLike, kv_dtype: str, scale_group_dim: int) -> np.ndarray:
    """Bytes one token's K and V take in one layer of grouped-query attention."""
    elems = 2.0 * np.asarray(kv_heads_count, float) * np.asarray(head_dim, float)
    scales = 4.0 * elems / scale_group_dim if scale_group_dim else 0.0
    return elems * DTYPE_BYTES[kv_dtype] + scales


def attention_pair_flops(
    *,
    kind: str,
    heads_count: ArrayLike,
    head_dim: ArrayLike = 0,
    kv_lora_rank_dim: ArrayLike = 0,
    qk_rope_head_dim: ArrayLike = 0,
) -> np.ndarray:
    """FLOPs per (query, key) pair per layer for the attention core (QK and AV)."""
    h = np.asarray(heads_count, float)
    if kind == "mla":
        dc = np.asarray(kv_lora_rank_dim, float)
        dr = np.asarray(qk_rope_head_dim, float)
        return 2.0 * h * (dc + dr) + 2.0 * h * dc
    if kind == "gqa":
        return 4.0 * h * np.asarray(head_dim, float)
    raise ValueError(f"unknown attention kind {kind!r}")


def prefill_flops(
    *,
    context_tokens: ArrayLike,
    append_tokens: ArrayLike,
    active_params: ArrayLike,
    pair_flops: ArrayLike,
    full_layers_count: ArrayLike,
    top_k_tokens: ArrayLike = np.inf,
    sliding_layers_count: ArrayLike = 0,
    sliding_window_tokens: ArrayLike = np.inf,
    indexer_pair_flops: ArrayLike = 0.0,
) -> np.ndarray:
    """FLOPs to prefill ``append_tokens`` new tokens after ``context_tokens`` cached ones.

    ``2 N a`` for the weights (N = active parameters that do FLOPs: every layer's active
    weights plus the LM head) plus attention over the visible keys of every layer.
    """
    c = np.asarray(context_tokens, float)
    a = np.asarray(append_tokens, float)
    weights = 2.0 * np.asarray(active_params, float) * a
    full_keys = sum_min_positions(context_tokens=c, new_tokens=a, cap_tokens=top_k_tokens)
    all_keys = sum_min_positions(context_tokens=c, new_tokens=a, cap_tokens=np.inf)
    win_keys = sum_min_positions(context_tokens=c, new_tokens=a, cap_tokens=sliding_window_tokens)
    attn = np.asarray(full_layers_count, float) * (
        np.asarray(pair_flops, float) * full_keys + np.asarray(indexer_pair_flops, float) * all_keys
    )
    attn = attn + np.asarray(sliding_layers_count, float) * np.asarray(pair_flops, float) * win_keys
    return weights + attn


def decode_step_s(
    *,
    batch_seqs: ArrayLike,
    seq_kv_bytes: ArrayLike,
    weight_bytes_per_gpu: ArrayLike,
    hbm_Bps: ArrayLike,
    hbm_efficiency_frac: ArrayLike,
    step_overhead_s: ArrayLike,
) -> np.ndarray:
    """Time of one decode step on one GPU: fixed overhead + (weights + batch KV) / HBM bandwidth.

    Decode is memory-bound: each step reads the GPU's weight shard once and every admitted
    sequence's KV once.
    """
    n = np.asarray(batch_seqs, float)
    read = np.asarray(weight_bytes_per_gpu, float) + n * np.asarray(seq_kv_bytes, float)
    return np.asarray(step_overhead_s, float) + read / (np.asarray(hbm_Bps, float) * np.asarray(hbm_efficiency_frac, float))


def decode_batch_max(
    *,
    hbm_kv_bytes_per_gpu: ArrayLike,
    seq_kv_bytes: ArrayLike,
    weight_bytes_per_gpu: ArrayLike,
    hbm_Bps: ArrayLike,
    hbm_efficiency_frac: ArrayLike,
    step_overhead_s: ArrayLike,
    tpot_max_s: ArrayLike = np.inf,
) -> np.ndarray:
    """Largest decode batch per GPU (sequences, continuous) under HBM capacity and a TPOT cap."""
    by_hbm = np.maximum(np.asarray(hbm_kv_bytes_per_gpu, float), 0.0) / np.asarray(seq_kv_bytes, float)
    bw = np.asarray(hbm_Bps, float) * np.asarray(hbm_efficiency_frac, float)
    slack = np.asarray(tpot_max_s, float) - np.asarray(step_overhead_s, float) - np.asarray(weight_bytes_per_gpu, float) / bw
    with np.errstate(invalid="ignore"):
        by_tpot = np.where(np.isinf(slack), np.inf, np.maximum(slack, 0.0) * bw / np.asarray(seq_kv_bytes, float))
    return np.minimum(by_hbm, by_tpot)


def decode_tokens_per_s_per_gpu(
    *,
    hbm_kv_bytes_per_gpu: ArrayLike,
    seq_kv_bytes: ArrayLike,
    weight_bytes_per_gpu: ArrayLike,
    hbm_Bps: ArrayLike,
    hbm_efficiency_frac: ArrayLike,
    step_overhead_s: ArrayLike,
    tpot_max_s: ArrayLike = np.inf,
) -> dict[str, np.ndarray]:
    """Decode capacity of one GPU at its largest admissible batch: batch, step time, tokens/s."""
    common = dict(
        seq_kv_bytes=seq_kv_bytes,
        weight_bytes_per_gpu=weight_bytes_per_gpu,
        hbm_Bps=hbm_Bps,
        hbm_efficiency_frac=hbm_efficiency_frac,
        step_overhead_s=step_overhead_s,
    )
    batch = decode_batch_max(hbm_kv_bytes_per_gpu=hbm_kv_bytes_per_gpu, tpot_max_s=tpot_max_s, **common)
    step = decode_step_s(batch_seqs=batch, **common)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(step > 0, batch / step, 0.0)
    return {"batch_seqs_per_gpu": batch, "step_s": step, "tokens_per_s_per_gpu": rate}


def decode_weight_nodes(*, decode_nodes: ArrayLike, weight_nodes: ArrayLike, moe: bool) -> np.ndarray:
    """Decode nodes one replica spans: ``weight_nodes``, or 0 = auto (every decode node for an MoE
    model, expert parallel; one node for a dense model), never more than there are."""
    D = np.asarray(decode_nodes, float)
    n = np.asarray(weight_nodes, float)
    auto = D if moe else np.ones_like(D)
    return np.minimum(np.where(n > 0, n, auto), D)


def decode_weight_bytes_per_gpu(
    *,
    weight_bytes: ArrayLike,
    gpus_per_node: ArrayLike,
    decode_nodes: ArrayLike,
    weight_nodes: ArrayLike,
    moe: bool,
    replicated_bytes: ArrayLike = 0.0,
) -> np.ndarray:
    """Weight bytes each decode GPU holds and reads per step.

    A replica spans :func:`decode_weight_nodes`. A dense replica is tensor parallel: every weight
    split over its GPUs. An MoE replica runs attention data parallel and routed experts expert
    parallel (DeepSeek's decode: EP144 / DP144, MLA and the shared expert on every GPU; SGLang's
    large-scale EP the same; compute-references.md 1, 3a): ``replicated_bytes`` (the non-routed
    weights) sit on every GPU, the rest spread over the replica's GPUs.
    """
    nodes = decode_weight_nodes(decode_nodes=decode_nodes, weight_nodes=weight_nodes, moe=moe)
    rep = np.asarray(replicated_bytes, float) if moe else 0.0
    return rep + (np.asarray(weight_bytes, float) - rep) / (np.asarray(gpus_per_node, float) * nodes)


# ---- roofline forward pass (prefill batch and decode step) ----------------------------------


def gemm_efficiency_frac(*, rows: ArrayLike, eff_max_frac: ArrayLike, half_rows: ArrayLike) -> np.ndarray:
    """Achieved share of the tensor peak of a GEMM with ``rows`` rows (tokens per GPU, or per
    expert for a grouped MoE GEMM): the saturating curve ``eff_max m / (m + m_half)``.

    Constants from DeepGEMM's published table (compute-references.md 2a): ~0.17 of the FP8 peak at
    m = 64, ~0.27 at 128, ~0.68 at 4096 (grouped contiguous 1346 TFLOPS of 1979).
    """
    m = np.maximum(np.asarray(rows, float), 0.0)
    return np.asarray(eff_max_frac, float) * m / (m + np.asarray(half_rows, float))


def ep_copies_per_token(*, ep_gpus: ArrayLike, gpus_per_node: ArrayLike, active_experts: ArrayLike) -> dict[str, np.ndarray]:
    """Expected copies of one token an expert-parallel normal-mode dispatch (DeepEP's hierarchical
    kernels) sends: ``rdma`` = other nodes holding at least one of its ``active_experts`` (one
    RDMA send each), ``nvlink`` = other GPUs holding one, reached over NVLink inside a node.

    Experts are placed uniformly: a GPU (node) holds none of a token's k experts with probability
    ``(1 - 1/n)^k`` for n GPUs (nodes).
    """
    ep = np.asarray(ep_gpus, float)
    g = np.minimum(np.asarray(gpus_per_node, float), ep)
    k = np.asarray(active_experts, float)
    nodes = np.maximum(ep / g, 1.0)
    gpus_hit = ep * (1.0 - (1.0 - 1.0 / ep) ** k)
    nodes_hit = nodes * (1.0 - (1.0 - 1.0 / nodes) ** k)
    rdma = np.where(nodes > 1, nodes_hit * (nodes - 1.0) / nodes, 0.0)
    nvlink = gpus_hit * (g - 1.0) / g
    return {"rdma": rdma, "nvlink": nvlink}


def forward_parts_s(
    *,
    tokens_per_gpu: ArrayLike,
    dense_flops_per_token: ArrayLike,
    expert_flops_per_token: ArrayLike,
    expert_rows: ArrayLike,
    attention_flops_per_gpu: ArrayLike,
    weight_bytes_per_gpu: ArrayLike,
    kv_read_bytes_per_gpu: ArrayLike,
    gemm_peak_flops_per_s: ArrayLike,
    gemm_eff_max_frac: ArrayLike,
    gemm_half_rows_count: ArrayLike,
    attention_flops_per_s: ArrayLike,
    hbm_Bps: ArrayLike,
    hbm_efficiency_frac: ArrayLike,
    comm_calls: ArrayLike,
    comm_bytes_per_gpu: ArrayLike,
    comm_Bps: ArrayLike,
    comm_latency_s: ArrayLike,
    comm_overlap_frac: ArrayLike,
    layers_count: ArrayLike,
    layer_fixed_s: ArrayLike,
    micro_batches_count: ArrayLike = 1,
) -> dict[str, np.ndarray]:
    """One forward pass of an engine whose GPUs run in lock step, as a roofline (per GPU).

    * compute = dense GEMMs (attention projections, shared experts, dense MLPs, LM head) at the
      GEMM efficiency of ``tokens_per_gpu`` rows + routed-expert GEMMs at the efficiency of
      ``expert_rows`` rows per expert + attention FLOPs at the attention kernel's achieved rate;
    * memory = the GPU's weight shard read once + the cached KV attention reads, at the achieved
      HBM rate; a layer takes the larger of the two (summed over homogeneous layers, the same);
    * communication (expert-parallel dispatch + combine, or tensor-parallel all-reduces):
      ``comm_calls`` per forward, each with a latency floor, plus the bytes at the link rate; a
      share ``comm_overlap_frac`` of it hides behind the roofline time (two micro-batches);
    * a fixed cost per layer (kernel launches, synchronisation).

    With ``micro_batches_count`` = m > 1 the batch runs as m micro-batches (DeepSeek's and SGLang's
    two-batch overlap): each GEMM sees 1/m of the rows (lower efficiency), the weights are read m
    times, every communication call and every layer's fixed cost is paid m times; only then does
    ``comm_overlap_frac`` of the smaller of roofline and communication hide. With m = 1 nothing
    hides (pass ``comm_overlap_frac`` = 0 for a single micro-batch engine).

    Returns each part and ``total_s``.
    """
    t = np.asarray(tokens_per_gpu, float)
    mb = np.asarray(micro_batches_count, float)
    peak = np.asarray(gemm_peak_flops_per_s, float)
    eff_d = gemm_efficiency_frac(rows=t / mb, eff_max_frac=gemm_eff_max_frac, half_rows=gemm_half_rows_count)
    eff_e = gemm_efficiency_frac(rows=np.asarray(expert_rows, float) / mb, eff_max_frac=gemm_eff_max_frac, half_rows=gemm_half_rows_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        dense_s = np.where(t > 0, np.asarray(dense_flops_per_token, float) * t / (peak * eff_d), 0.0)
        ex = np.asarray(expert_flops_per_token, float) * t
        expert_s = np.where(ex > 0, ex / (peak * eff_e), 0.0)
    attn_s = np.asarray(attention_flops_per_gpu, float) / np.asarray(attention_flops_per_s, float)
    compute_s = dense_s + expert_s + attn_s
    bw = np.asarray(hbm_Bps, float) * np.asarray(hbm_efficiency_frac, float)
    memory_s = (mb * np.asarray(weight_bytes_per_gpu, float) + np.asarray(kv_read_bytes_per_gpu, float)) / bw
    roof_s = np.maximum(compute_s, memory_s)
    comm_s = mb * np.asarray(comm_calls, float) * np.asarray(comm_latency_s, float) + np.asarray(comm_bytes_per_gpu, float) / np.asarray(
        comm_Bps, float
    )
    exposed_s = comm_s - np.asarray(comm_overlap_frac, float) * np.minimum(comm_s, roof_s)
    fixed_s = mb * np.asarray(layers_count, float) * np.asarray(layer_fixed_s, float)
    total = roof_s + exposed_s + fixed_s
    return {
        "dense_gemm_s": dense_s,
        "expert_gemm_s": expert_s,
        "attention_s": attn_s,
        "compute_s": compute_s,
        "memory_s": memory_s,
        "comm_s": comm_s,
        "comm_exposed_s": exposed_s,
        "fixed_s": fixed_s,
        "total_s": total,
    }


def forward_s(**kw) -> np.ndarray:
    """Total time of :func:`forward_parts_s`."""
    return forward_parts_s(**kw)["total_s"]


def best_micro_batching_parts_s(**kw) -> dict[str, np.ndarray]:
    """:func:`forward_parts_s` of an engine that runs each batch as one micro-batch (nothing
    overlapped) or as two overlapped ones, whichever is faster at that batch (SGLang enables
    two-batch overlap where it pays: it loses 27 % at 32 tokens per device and gains 25 % at 256).

    ``comm_overlap_frac`` is the overlap of the two-micro-batch run. Adds ``micro_batches``.
    """
    one = forward_parts_s(**{**kw, "micro_batches_count": 1, "comm_overlap_frac": 0.0})
    two = forward_parts_s(**{**kw, "micro_batches_count": 2})
    pick = two["total_s"] < one["total_s"]
    out = {k: np.where(pick, two[k], one[k]) for k in one}
    out["micro_batches"] = np.where(pick, 2.0, 1.0)
    return out
