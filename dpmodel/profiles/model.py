"""Model specs: architecture fields -> KV bytes per token, parameter counts, prefill FLOPs.

Nothing here is typed in as a magic constant: KV bytes and FLOPs are derived from the
architecture (layers, attention kind and dims, KV dtype), as in the public model configs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike

from .. import compute
from ..units import DTYPE_BYTES
from .schema import Provenance, fld

_DTYPES = tuple(DTYPE_BYTES)
_ABSENT = "structural: 0 means the feature is absent"


@dataclasses.dataclass(frozen=True)
class ArchitectureSpec:
    layers_count: int = fld("transformer layers", gt=0, le=10_000)
    hidden_dim: int = fld("model (residual) width", gt=0, le=1_000_000)
    vocab_count: int = fld("vocabulary size (LM head rows)", gt=0, le=100_000_000)
    dense_layers_count: int = fld("layers with a dense MLP (all of them for a dense model)", ge=0, le=10_000)
    dense_intermediate_dim: int = fld("dense MLP intermediate width", ge=0, le=10_000_000)
    moe_intermediate_dim: int = fld("MoE expert intermediate width", ge=0, le=10_000_000, default=0, source=_ABSENT)
    routed_experts_count: int = fld("routed experts per MoE layer", ge=0, le=100_000, default=0, source=_ABSENT)
    active_experts_count: int = fld("routed experts activated per token", ge=0, le=100_000, default=0, source=_ABSENT)
    shared_experts_count: int = fld("always-on shared experts per MoE layer", ge=0, le=100_000, default=0, source=_ABSENT)
    tied_embeddings: bool = fld("input embedding and LM head share weights", default=False)


@dataclasses.dataclass(frozen=True)
class AttentionSpec:
    kind: str = fld("attention kind", choices=("mla", "gqa"))
    heads_count: int = fld("query heads", gt=0, le=100_000)
    kv_heads_count: int = fld("KV heads (gqa)", ge=0, le=100_000, default=0, source=_ABSENT)
    head_dim: int = fld("head dimension (gqa)", ge=0, le=100_000, default=0, source=_ABSENT)
    q_lora_rank_dim: int = fld("query low-rank compression (mla; 0 = none)", ge=0, le=1_000_000, default=0, source=_ABSENT)
    kv_lora_rank_dim: int = fld("KV latent rank d_c (mla)", ge=0, le=1_000_000, default=0, source=_ABSENT)
    qk_nope_head_dim: int = fld("non-RoPE query/key head dim (mla)", ge=0, le=100_000, default=0, source=_ABSENT)
    qk_rope_head_dim: int = fld("RoPE key dim d_r (mla)", ge=0, le=100_000, default=0, source=_ABSENT)
    v_head_dim: int = fld("value head dim (mla)", ge=0, le=100_000, default=0, source=_ABSENT)
    sparse_top_k_tokens: int = fld(
        "sparse attention: keys attended per query (0 = dense)", ge=0, le=1_000_000_000, default=0, source=_ABSENT
    )
    indexer_heads_count: int = fld("sparse-attention indexer heads", ge=0, le=100_000, default=0, source=_ABSENT)
    indexer_head_dim: int = fld("sparse-attention indexer head dim", ge=0, le=100_000, default=0, source=_ABSENT)
    sliding_layers_count: int = fld("layers with sliding-window attention", ge=0, le=10_000, default=0, source=_ABSENT)
    sliding_window_tokens: int = fld("sliding window length", ge=0, le=1_000_000_000, default=0, source=_ABSENT)


@dataclasses.dataclass(frozen=True)
class KvCacheSpec:
    dtype: str = fld("KV cache element dtype", choices=_DTYPES)
    scale_group_dim: int = fld("elements per fp32 scale (0 = no scales)", ge=0, le=1_000_000, default=0, source=_ABSENT)
    rope_dtype: str = fld("dtype of the cached RoPE key part (mla)", choices=_DTYPES, default="bf16")


@dataclasses.dataclass(frozen=True)
class NumericsSpec:
    weight_dtype: str = fld("dtype of stored weights (sets decode weight reads and HBM use)", choices=_DTYPES)
    compute_dtype: str = fld("dtype of prefill GEMMs (selects the GPU peak)", choices=("bf16", "fp8"))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """An LLM's architecture, with derived KV bytes, parameters and FLOPs (base units)."""

    name: str = fld("model name")
    description: str = fld("one line describing the model")
    architecture: ArchitectureSpec = fld("architecture")
    attention: AttentionSpec = fld("attention")
    kv_cache: KvCacheSpec = fld("KV cache layout")
    numerics: NumericsSpec = fld("numerics")
    provenance: Provenance = fld("sources")

    def check(self, ctx: str) -> None:
        """Cross-field checks the per-field ranges cannot express."""
        from ..errors import ProfileError

        a, arch = self.attention, self.architecture
        if a.kind == "gqa":
            for f in ("kv_heads_count", "head_dim"):
                if getattr(a, f) <= 0:
                    raise ProfileError(f"{ctx} field attention.{f} = 0: must be > 0 for kind = 'gqa'")
            if a.heads_count % a.kv_heads_count:
                raise ProfileError(f"{ctx} field attention.kv_heads_count = {a.kv_heads_count}: must divide heads_count")
        else:
            for f in ("kv_lora_rank_dim", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                if getattr(a, f) <= 0:
                    raise ProfileError(f"{ctx} field attention.{f} = 0: must be > 0 for kind = 'mla'")
        if a.sparse_top_k_tokens and (a.indexer_heads_count <= 0 or a.indexer_head_dim <= 0):
            raise ProfileError(f"{ctx} field attention.indexer_heads_count: sparse top-k attention needs an indexer (heads and dim > 0)")
        if a.sliding_layers_count > arch.layers_count:
            raise ProfileError(f"{ctx} field attention.sliding_layers_count = {a.sliding_layers_count}: must be <= layers_count")
        if a.sliding_layers_count and not a.sliding_window_tokens:
            raise ProfileError(f"{ctx} field attention.sliding_window_tokens = 0: must be > 0 when sliding_layers_count > 0")
        if arch.dense_layers_count > arch.layers_count:
            raise ProfileError(f"{ctx} field architecture.dense_layers_count: must be <= layers_count")
        moe_layers = arch.layers_count - arch.dense_layers_count
        if moe_layers and (arch.routed_experts_count <= 0 or arch.active_experts_count <= 0 or arch.moe_intermediate_dim <= 0):
            raise ProfileError(
                f"{ctx} field architecture.routed_experts_count: {moe_layers} MoE layers need "
                "routed_experts_count, active_experts_count and moe_intermediate_dim > 0 (or dense_layers_count = layers_count)"
            )
        if arch.active_experts_count > arch.routed_experts_count:
            raise ProfileError(f"{ctx} field architecture.active_experts_count: must be <= routed_experts_count")
        if self.kv_cache.scale_group_dim:
            width = a.kv_lora_rank_dim if a.kind == "mla" else a.head_dim
            if width % self.kv_cache.scale_group_dim:
                raise ProfileError(f"{ctx} field kv_cache.scale_group_dim = {self.kv_cache.scale_group_dim}: must divide {width}")

    # ---- KV ------------------------------------------------------------------------------
    @property
    def kv_layers_count(self) -> int:
        """Layers whose KV grows with the context (sliding-window layers hold a bounded window)."""
        return self.architecture.layers_count - self.attention.sliding_layers_count

    @property
    def indexer_key_bytes_per_token_layer(self) -> float:
        """Bytes of one token's cached sparse-attention indexer key in one layer (0 without an indexer).

        DeepSeek-V3.2 keeps its lightning indexer's keys in the cache next to the MLA latent: 128
        FP8 elements + one fp32 scale = 132 B per token and layer (compute-references.md section 0);
        a later turn's indexer scores every cached key, so they are stored and loaded with the KV.
        """
        a, kv = self.attention, self.kv_cache
        if not a.sparse_top_k_tokens:
            return 0.0
        return float(a.indexer_head_dim * DTYPE_BYTES[kv.dtype] + (4.0 if kv.scale_group_dim else 0.0))

    @property
    def kv_bytes_per_token_layer(self) -> float:
        """Cached bytes per token and layer: the attention cache plus the indexer key (if any)."""
        return self.attention_kv_bytes_per_token_layer + self.indexer_key_bytes_per_token_layer

    @property
    def attention_kv_bytes_per_token_layer(self) -> float:
        """The attention cache's bytes per token and layer (MLA latent + scales + RoPE key, or GQA K and V)."""
        a, kv = self.attention, self.kv_cache
        if a.kind == "mla":
            per = compute.mla_kv_bytes_per_token_layer(
                kv_lora_rank_dim=a.kv_lora_rank_dim,
                qk_rope_head_dim=a.qk_rope_head_dim,
                kv_dtype=kv.dtype,
                rope_dtype=kv.rope_dtype,
                scale_group_dim=kv.scale_group_dim,
            )
        else:
            per = compute.gqa_kv_bytes_per_token_layer(
                kv_heads_count=a.kv_heads_count, head_dim=a.head_dim, kv_dtype=kv.dtype, scale_group_dim=kv.scale_group_dim
            )
        return float(per)

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes per token over all context-growing layers (b in the paper's notation)."""
        return self.kv_bytes_per_token_layer * self.kv_layers_count

    # ---- parameters ----------------------------------------------------------------------
    def _attention_params_per_layer(self) -> float:
        a, h = self.attention, self.architecture.hidden_dim
        if a.kind == "mla":
            qk = a.qk_nope_head_dim + a.qk_rope_head_dim
            q = (h * a.q_lora_rank_dim + a.q_lora_rank_dim * a.heads_count * qk) if a.q_lora_rank_dim else h * a.heads_count * qk
            kv = h * (a.kv_lora_rank_dim + a.qk_rope_head_dim) + a.kv_lora_rank_dim * a.heads_count * (a.qk_nope_head_dim + a.v_head_dim)
            o = a.heads_count * a.v_head_dim * h
            params = q + kv + o
        else:
            params = h * a.heads_count * a.head_dim + 2 * h * a.kv_heads_count * a.head_dim + a.heads_count * a.head_dim * h
        if a.sparse_top_k_tokens:
            q_in = a.q_lora_rank_dim or h
            params += q_in * a.indexer_heads_count * a.indexer_head_dim + h * a.indexer_head_dim + h * a.indexer_heads_count
        return float(params)

    def _mlp_params(self, *, active: bool) -> float:
        arch = self.architecture
        dense = arch.dense_layers_count * 3.0 * arch.hidden_dim * arch.dense_intermediate_dim
        moe_layers = arch.layers_count - arch.dense_layers_count
        experts = (arch.active_experts_count if active else arch.routed_experts_count) + arch.shared_experts_count
        expert = 3.0 * arch.hidden_dim * arch.moe_intermediate_dim
        router = arch.hidden_dim * arch.routed_experts_count
        return dense + moe_layers * (experts * expert + router)

    @property
    def embedding_params(self) -> float:
        return float(self.architecture.vocab_count * self.architecture.hidden_dim)

    @property
    def total_params(self) -> float:
        """All weights (embedding and LM head counted once each unless tied)."""
        layers = self.architecture.layers_count * self._attention_params_per_layer() + self._mlp_params(active=False)
        emb = self.embedding_params * (1 if self.architecture.tied_embeddings else 2)
        return layers + emb

    @property
    def active_params(self) -> float:
        """Parameters that do FLOPs per token: active layer weights plus the LM head.

        The input embedding is a lookup and costs no FLOPs, so it is left out.
        """
        layers = self.architecture.layers_count * self._attention_params_per_layer() + self._mlp_params(active=True)
        return layers + self.embedding_params

    @property
    def weight_bytes(self) -> float:
        return self.total_params * DTYPE_BYTES[self.numerics.weight_dtype]

    # ---- FLOPs ---------------------------------------------------------------------------
    @property
    def attention_pair_flops(self) -> float:
        a = self.attention
        return float(
            compute.attention_pair_flops(
                kind=a.kind,
                heads_count=a.heads_count,
                head_dim=a.head_dim,
                kv_lora_rank_dim=a.kv_lora_rank_dim,
                qk_rope_head_dim=a.qk_rope_head_dim,
            )
        )

    def prefill_flops(self, *, context_tokens: ArrayLike, append_tokens: ArrayLike) -> np.ndarray:
        """FLOPs to prefill a turn: ``append_tokens`` new tokens after ``context_tokens`` cached."""
        a = self.attention
        return compute.prefill_flops(
            context_tokens=context_tokens,
            append_tokens=append_tokens,
            active_params=self.active_params,
            pair_flops=self.attention_pair_flops,
            full_layers_count=self.kv_layers_count,
            top_k_tokens=a.sparse_top_k_tokens or math.inf,
            sliding_layers_count=a.sliding_layers_count,
            sliding_window_tokens=a.sliding_window_tokens or math.inf,
            indexer_pair_flops=2.0 * a.indexer_heads_count * a.indexer_head_dim if a.sparse_top_k_tokens else 0.0,
        )

    def cache_compute_ratio_GB_per_PFLOP(self, *, context_tokens: ArrayLike, append_tokens: ArrayLike) -> np.ndarray:
        """The paper's cache-compute ratio: hit KV bytes to load / prefill FLOPs, in GB per PFLOP.

        As the paper's Table 1 counts it: the attention cache only (its V3.2 row, "about 22" at
        32.7K, implies 40,016 B per token, without the indexer's 132 B per layer).
        """
        hit_bytes = np.asarray(context_tokens, float) * self.attention_kv_bytes_per_token_layer * self.kv_layers_count
        return (hit_bytes / 1e9) / (self.prefill_flops(context_tokens=context_tokens, append_tokens=append_tokens) / 1e15)
