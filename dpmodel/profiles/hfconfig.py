"""Model specs from a Hugging Face ``config.json``.

Field names follow the transformers configuration classes of each architecture
(``configuration_deepseek_v3.py``, ``configuration_qwen2.py``, ``configuration_qwen3(_moe).py``,
``configuration_gpt_oss.py``, ``configuration_llama.py``) and DeepSeek-V3.2-Exp's ``config.json``
(``index_n_heads``, ``index_head_dim``, ``index_topk``); see docs/formats.md.

Every derived number's provenance reads ``config: <file> field <name>``. A missing field or an
unknown ``model_type`` is one :class:`~dpmodel.errors.ProfileError` naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ProfileError
from ..units import DTYPE_BYTES
from .loader import apply_overrides, from_mapping, load_profile
from .model import ModelSpec

_MLA = ("deepseek_v3", "deepseek_v32")
_GQA_DENSE = ("qwen2", "qwen3", "llama")
_GQA_MOE = ("qwen3_moe", "gpt_oss")
MODEL_TYPES = _MLA + _GQA_DENSE + _GQA_MOE

_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
_QUANT = {"fp8": "fp8", "mxfp4": "mxfp4"}


def is_hf_config(name_or_path: str | Path) -> bool:
    """A ``.json`` path, or a folder holding ``config.json``."""
    p = Path(str(name_or_path)).expanduser()
    return str(name_or_path).endswith(".json") or (p.is_dir() and (p / "config.json").is_file())


def config_path(name_or_path: str | Path) -> Path:
    p = Path(str(name_or_path)).expanduser()
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise ProfileError(f"model config {str(name_or_path)!r} does not exist: give a config.json path or a folder holding one")
    return p


class _Cfg:
    """The parsed config with provenance-recording reads."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data, self.path, self.file = data, path, path.name
        self.ctx = f"model config {path}"

    def src(self, *names: str) -> str:
        return f"config: {self.file} field {' / '.join(names)}"

    def get(self, name: str, kind: type | tuple = int) -> Any:
        if name not in self.data or self.data[name] is None:
            raise ProfileError(f"{self.ctx}: missing field {name!r} (model_type {self.data.get('model_type')!r} needs it)")
        v = self.data[name]
        if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise ProfileError(f"{self.ctx} field {name} = {v!r}: must be an integer")
        if kind is not int and not isinstance(v, kind):
            raise ProfileError(f"{self.ctx} field {name} = {v!r}: wrong type")
        return v

    def opt(self, name: str, default: Any) -> Any:
        v = self.data.get(name)
        return default if v is None else v


def _dtype(cfg: _Cfg, prov: dict[str, str]) -> tuple[str, str, str]:
    """(weight dtype, compute dtype, source) from quantization_config or torch_dtype."""
    q = cfg.data.get("quantization_config")
    if isinstance(q, dict) and q.get("quant_method") is not None:
        m = q["quant_method"]
        if m not in _QUANT:
            raise ProfileError(f"{cfg.ctx} field quantization_config.quant_method = {m!r}: supported {', '.join(_QUANT)}")
        w = _QUANT[m]
        return w, ("fp8" if w == "fp8" else "bf16"), cfg.src("quantization_config.quant_method")
    t = cfg.data.get("torch_dtype", cfg.data.get("dtype"))
    if t is None:
        raise ProfileError(f"{cfg.ctx}: missing field 'torch_dtype' (or quantization_config): the weight dtype; or pass weight_dtype")
    if t not in _TORCH_DTYPES:
        raise ProfileError(f"{cfg.ctx} field torch_dtype = {t!r}: supported {', '.join(_TORCH_DTYPES)}")
    return _TORCH_DTYPES[t], "bf16", cfg.src("torch_dtype")


def build_mapping(
    data: dict[str, Any], path: Path, *, name: str | None = None, kv_dtype: str | None = None, weight_dtype: str | None = None
) -> dict[str, Any]:
    """The model-profile mapping (as a TOML spec would hold it) with its provenance."""
    cfg = _Cfg(data, path)
    mt = data.get("model_type")
    if mt is None:
        raise ProfileError(f"{cfg.ctx}: missing field 'model_type' (supported: {', '.join(MODEL_TYPES)})")
    if mt not in MODEL_TYPES:
        raise ProfileError(f"{cfg.ctx} field model_type = {mt!r}: unsupported (supported: {', '.join(MODEL_TYPES)})")
    for opt, val in (("kv_dtype", kv_dtype), ("weight_dtype", weight_dtype)):
        if val is not None and val not in DTYPE_BYTES:
            raise ProfileError(f"{opt} = {val!r}: use one of {', '.join(DTYPE_BYTES)}")
    prov: dict[str, str] = {}
    g = cfg.get
    L = g("num_hidden_layers")
    arch: dict[str, Any] = {
        "layers_count": L,
        "hidden_dim": g("hidden_size"),
        "vocab_count": g("vocab_size"),
        "tied_embeddings": bool(cfg.opt("tie_word_embeddings", False)),
    }
    prov |= {
        "architecture.layers_count": cfg.src("num_hidden_layers"),
        "architecture.hidden_dim": cfg.src("hidden_size"),
        "architecture.vocab_count": cfg.src("vocab_size"),
    }
    heads = g("num_attention_heads")
    att: dict[str, Any] = {"heads_count": heads}
    prov["attention.heads_count"] = cfg.src("num_attention_heads")
    w_dt, c_dt, w_src = _dtype(cfg, prov)
    if weight_dtype is not None:
        w_dt, w_src = weight_dtype, "assumption: weight_dtype option"
    kv: dict[str, Any] = {}
    kv_src = ""
    if mt in _MLA:
        att["kind"] = "mla"
        for k, f in (
            ("q_lora_rank_dim", "q_lora_rank"),
            ("kv_lora_rank_dim", "kv_lora_rank"),
            ("qk_nope_head_dim", "qk_nope_head_dim"),
            ("qk_rope_head_dim", "qk_rope_head_dim"),
            ("v_head_dim", "v_head_dim"),
        ):
            att[k] = cfg.opt(f, 0) if f == "q_lora_rank" else g(f)
            prov[f"attention.{k}"] = cfg.src(f)
        if mt == "deepseek_v32":
            for k, f in (
                ("sparse_top_k_tokens", "index_topk"),
                ("indexer_heads_count", "index_n_heads"),
                ("indexer_head_dim", "index_head_dim"),
            ):
                att[k] = g(f)
                prov[f"attention.{k}"] = cfg.src(f)
        dense = g("first_k_dense_replace")
        if cfg.opt("moe_layer_freq", 1) != 1:
            raise ProfileError(
                f"{cfg.ctx} field moe_layer_freq = {data['moe_layer_freq']!r}: only 1 (every layer after first_k_dense_replace is MoE) is supported"
            )
        arch |= {
            "dense_layers_count": dense,
            "dense_intermediate_dim": g("intermediate_size"),
            "moe_intermediate_dim": g("moe_intermediate_size"),
            "routed_experts_count": g("n_routed_experts"),
            "active_experts_count": g("num_experts_per_tok"),
            "shared_experts_count": cfg.opt("n_shared_experts", 0),
        }
        prov |= {
            "architecture.dense_layers_count": cfg.src("first_k_dense_replace"),
            "architecture.dense_intermediate_dim": cfg.src("intermediate_size"),
            "architecture.moe_intermediate_dim": cfg.src("moe_intermediate_size"),
            "architecture.routed_experts_count": cfg.src("n_routed_experts"),
            "architecture.active_experts_count": cfg.src("num_experts_per_tok"),
            "architecture.shared_experts_count": cfg.src("n_shared_experts"),
        }
        if kv_dtype is None and w_dt == "fp8":
            # DeepSeek serves its FP8 checkpoints with the FlashMLA FP8 KV layout (latent in fp8,
            # one fp32 scale per 128 elements, the RoPE part in bf16), as the packaged specs do.
            kv = {"dtype": "fp8", "scale_group_dim": 128, "rope_dtype": "bf16"}
            kv_src = "assumption: FlashMLA FP8 KV layout for an fp8 checkpoint (quantization_config.quant_method = fp8)"
            prov["kv_cache.scale_group_dim"] = kv_src
    else:
        att["kind"] = "gqa"
        att["kv_heads_count"] = g("num_key_value_heads")
        prov["attention.kv_heads_count"] = cfg.src("num_key_value_heads")
        if data.get("head_dim") is not None:
            att["head_dim"] = g("head_dim")
            prov["attention.head_dim"] = cfg.src("head_dim")
        else:
            h = arch["hidden_dim"]
            if h % heads:
                raise ProfileError(
                    f"{cfg.ctx}: missing field 'head_dim' and hidden_size {h} is not a multiple of num_attention_heads {heads}"
                )
            att["head_dim"] = h // heads
            prov["attention.head_dim"] = cfg.src("hidden_size", "num_attention_heads")
        if mt in _GQA_DENSE:
            arch |= {"dense_layers_count": L, "dense_intermediate_dim": g("intermediate_size")}
            prov |= {
                "architecture.dense_layers_count": cfg.src("num_hidden_layers") + " (dense: every layer has an MLP)",
                "architecture.dense_intermediate_dim": cfg.src("intermediate_size"),
            }
        else:
            if mt == "qwen3_moe":
                if cfg.opt("decoder_sparse_step", 1) != 1 or cfg.opt("mlp_only_layers", []):
                    raise ProfileError(
                        f"{cfg.ctx} field decoder_sparse_step / mlp_only_layers: only all-MoE layers (step 1, no mlp_only_layers) are supported"
                    )
                e_field, moe_dim_field = "num_experts", "moe_intermediate_size"
            else:
                e_field, moe_dim_field = "num_local_experts", "intermediate_size"
            arch |= {
                "dense_layers_count": 0,
                "dense_intermediate_dim": 0,
                "moe_intermediate_dim": g(moe_dim_field),
                "routed_experts_count": g(e_field),
                "active_experts_count": g("num_experts_per_tok"),
            }
            prov |= {
                "architecture.dense_layers_count": cfg.src(e_field) + " (every layer is MoE)",
                "architecture.dense_intermediate_dim": cfg.src(e_field) + " (no dense MLP)",
                "architecture.moe_intermediate_dim": cfg.src(moe_dim_field),
                "architecture.routed_experts_count": cfg.src(e_field),
                "architecture.active_experts_count": cfg.src("num_experts_per_tok"),
            }
        # sliding-window layers
        sliding = 0
        if mt == "gpt_oss":
            types = cfg.get("layer_types", list)
            if len(types) != L:
                raise ProfileError(f"{cfg.ctx} field layer_types: {len(types)} entries for num_hidden_layers = {L}")
            sliding = sum(t == "sliding_attention" for t in types)
            src_sl = cfg.src("layer_types")
        elif mt in ("qwen2", "qwen3", "qwen3_moe") and cfg.opt("use_sliding_window", False):
            sliding = L - min(L, g("max_window_layers"))
            src_sl = cfg.src("use_sliding_window", "max_window_layers")
        if sliding:
            att["sliding_layers_count"] = sliding
            att["sliding_window_tokens"] = g("sliding_window")
            prov["attention.sliding_layers_count"] = src_sl
            prov["attention.sliding_window_tokens"] = cfg.src("sliding_window")
    if not kv:
        kv = {"dtype": kv_dtype or (w_dt if w_dt in ("bf16", "fp16", "fp32") else "bf16")}
        kv_src = "assumption: kv_dtype option" if kv_dtype else f"{cfg.src('torch_dtype')} (KV held in the activation dtype)"
        if att["kind"] == "mla":
            kv["rope_dtype"] = "bf16"
    model_name = name or (path.parent.name if path.name == "config.json" else path.stem)
    return {
        "name": model_name,
        "description": f"{data.get('architectures', [mt])[0]} from {path} (model_type {mt}; KV {kv['dtype']}, weights {w_dt})",
        "architecture": arch,
        "attention": att,
        "kv_cache": kv,
        "numerics": {"weight_dtype": w_dt, "compute_dtype": c_dt if weight_dtype is None else ("fp8" if w_dt == "fp8" else "bf16")},
        "provenance": {
            "source": f"Hugging Face config {path}; KV dtype: {kv_src}; weights: {w_src}",
            "date": "from config",
            "fields": prov,
        },
    }


def load_hf_model(
    name_or_path: str | Path, *, name: str | None = None, kv_dtype: str | None = None, weight_dtype: str | None = None, overrides=None
):
    """A :class:`~dpmodel.profiles.model.ModelSpec` from a ``config.json`` (or a folder holding one).

    ``overrides`` (``--set model.SECTION.KEY=VALUE``) apply to the built mapping as for a TOML spec.
    """
    path = config_path(name_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProfileError(f"model config {path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except OSError as exc:
        raise ProfileError(f"model config {path}: cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"model config {path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise ProfileError(f"model config {path}: top level must be a JSON object")
    mapping = build_mapping(data, path, name=name, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
    if overrides:
        mapping = apply_overrides("model", mapping, overrides, ctx=f"model config {path}")
    return from_mapping("model", mapping, ctx=f"model config {path}")


def with_kv_dtype(model: str | Path, kv_dtype: str):
    """``--kv-dtype``: the config-built spec with that KV dtype (only for a config.json model)."""
    if not is_hf_config(model):
        raise ProfileError(
            f"--kv-dtype {kv_dtype}: only applies to a Hugging Face config.json --model (got {str(model)!r}); edit the TOML spec's kv_cache.dtype instead"
        )
    return load_hf_model(model, kv_dtype=kv_dtype)


def load_model(name_or_path: str | Path | ModelSpec, overrides: Mapping[str, Any] | None = None) -> ModelSpec:
    """A packaged name, a TOML spec, a Hugging Face ``config.json`` (or its folder), or a built spec
    (here, beside the config reader, so that the TOML loader needs nothing from it)."""
    if isinstance(name_or_path, ModelSpec):
        if overrides:
            raise ProfileError(
                "--set model.*: cannot be combined with --kv-dtype; give the KV dtype with --set model.kv_cache.dtype=... instead"
            )
        return name_or_path
    if is_hf_config(name_or_path):
        return load_hf_model(name_or_path, overrides=overrides)
    return load_profile("model", name_or_path, overrides)
