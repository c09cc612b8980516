"""Model specs from Hugging Face config.json: parity with the packaged TOML specs, errors, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpmodel.cli import main
from dpmodel.errors import ProfileError
from dpmodel.profiles import load_model
from dpmodel.profiles.hfconfig import load_hf_model

DATA = Path(__file__).parent / "data" / "hf"
# The packaged specs' KV dtype where the config does not carry it (a deployment choice).
KV = {"deepseek-v3": None, "deepseek-v3.2": None, "qwen2.5-32b": None, "qwen3-235b-a22b": "fp8", "gpt-oss-120b": "fp8"}


def _cfg(name: str) -> Path:
    return DATA / f"{name}-config.json"


@pytest.mark.parametrize("name", list(KV))
def test_config_matches_packaged_spec(name):
    ref, got = load_model(name), load_hf_model(_cfg(name), kv_dtype=KV[name])
    assert got.kv_bytes_per_token == ref.kv_bytes_per_token
    assert got.total_params == ref.total_params
    assert got.active_params == ref.active_params
    assert got.weight_bytes == ref.weight_bytes
    assert got.numerics == ref.numerics
    # every architecture value is identical, so the derived quantities cannot drift
    assert got.architecture == ref.architecture
    assert got.attention == ref.attention
    for ctx in (16 * 1024, 64 * 1024):
        a = float(ref.cache_compute_ratio_GB_per_PFLOP(context_tokens=ctx, append_tokens=429))
        b = float(got.cache_compute_ratio_GB_per_PFLOP(context_tokens=ctx, append_tokens=429))
        assert b == pytest.approx(a, rel=1e-12)


def test_provenance_names_file_and_field():
    m = load_hf_model(_cfg("deepseek-v3.2"))
    f = m.provenance.fields
    assert f["attention.kv_lora_rank_dim"] == "config: deepseek-v3.2-config.json field kv_lora_rank"
    assert f["attention.sparse_top_k_tokens"] == "config: deepseek-v3.2-config.json field index_topk"
    assert f["architecture.dense_layers_count"] == "config: deepseek-v3.2-config.json field first_k_dense_replace"
    g = load_hf_model(_cfg("gpt-oss-120b")).provenance.fields
    assert g["attention.sliding_layers_count"] == "config: gpt-oss-120b-config.json field layer_types"


def test_dtypes_from_quantization_fields():
    assert load_hf_model(_cfg("gpt-oss-120b")).numerics.weight_dtype == "mxfp4"  # quantization_config.quant_method
    ds = load_hf_model(_cfg("deepseek-v3"))
    assert (ds.numerics.weight_dtype, ds.numerics.compute_dtype, ds.kv_cache.dtype) == ("fp8", "fp8", "fp8")
    q = load_hf_model(_cfg("qwen2.5-32b"))
    assert (q.numerics.weight_dtype, q.kv_cache.dtype) == ("bf16", "bf16")  # torch_dtype
    assert load_hf_model(_cfg("qwen2.5-32b"), kv_dtype="fp8").kv_bytes_per_token == q.kv_bytes_per_token / 2


def test_llama_folder_dense_gqa():
    m = load_model(DATA / "llama-dir")  # a folder holding config.json
    assert m.name == "llama-dir"
    assert m.attention.head_dim == 128 and m.architecture.dense_layers_count == 32
    assert m.total_params / 1e9 == pytest.approx(8.03, rel=0.01)  # Llama-3.1-8B model card: 8.03 B
    assert m.kv_bytes_per_token == 2 * 8 * 128 * 2 * 32


def _write(tmp_path, **changes):
    d = json.loads(_cfg("qwen3-235b-a22b").read_text())
    for k, v in changes.items():
        if v is None:
            d.pop(k)
        else:
            d[k] = v
    p = tmp_path / "config.json"
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"model_type": "mamba"}, "field model_type = 'mamba': unsupported"),
        ({"num_key_value_heads": None}, "missing field 'num_key_value_heads'"),
        ({"num_experts": None}, "missing field 'num_experts'"),
        ({"num_hidden_layers": "94"}, "field num_hidden_layers = '94': must be an integer"),
        ({"model_type": None}, "missing field 'model_type'"),
        ({"num_key_value_heads": 5}, "kv_heads_count = 5: must divide heads_count"),
    ],
)
def test_malformed_config_one_line_error(tmp_path, changes, needle):
    with pytest.raises(ProfileError) as e:
        load_hf_model(_write(tmp_path, **changes))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_not_json(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{ not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_model(p)


def _plan_json(capsys, *args):
    assert main(["plan", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_from_config_equals_packaged(capsys):
    """`dpmodel plan --model <qwen2.5-32b config>` prints the packaged spec's KV bytes/token and turns/s."""
    # both on the raw roofline: the Fig. 7 fit (the CLI's default on the testbed) is keyed by the packaged name
    assert main(["plan", "--uncalibrated", "--model", str(_cfg("qwen2.5-32b"))]) == 0
    a = capsys.readouterr().out
    assert main(["plan", "--uncalibrated", "--model", "qwen2.5-32b"]) == 0
    b = capsys.readouterr().out
    kv = [ln for ln in b.splitlines() if ln.startswith("KV ")]
    assert kv and "262,144 bytes/token" in kv[0] and kv[0] in a.splitlines()
    rows = [ln for ln in b.splitlines() if ln.split()[:1] and ln.split()[0] in ("basic", "layerwise", "dualpath", "oracle")]
    assert len(rows) == 4 and all(r in a.splitlines() for r in rows)


def test_cli_kv_dtype_option(capsys):
    assert main(["plan", "--model", str(_cfg("gpt-oss-120b")), "--kv-dtype", "fp8"]) == 0
    assert "18,432 bytes/token" in capsys.readouterr().out
    assert main(["plan", "--model", "qwen2.5-32b", "--kv-dtype", "fp8"]) == 2
    err = capsys.readouterr().err
    assert "--kv-dtype fp8: only applies" in err and err.count("\n") == 1


def test_cli_missing_field_exit_2(tmp_path, capsys):
    assert main(["plan", "--model", str(_write(tmp_path, hidden_size=None))]) == 2
    err = capsys.readouterr().err
    assert "missing field 'hidden_size'" in err and err.count("\n") == 1
