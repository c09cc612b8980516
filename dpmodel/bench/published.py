"""Published transfer measurements to fit the alpha-beta model against (second validation source).

Mooncake Transfer Engine PD KV transfers, shared/reference/hardware-references.md section 2:
vLLM + MooncakeConnector on 2 x 8 H800 with 8 x CX7 RoCE per node; SGLang + Mooncake on 2 x 8
H20-3e with 4 x CX7 400GbE per node. Sizes are as published (MB/GB = 1e6/1e9 bytes).
"""

from __future__ import annotations

from .fit import LinkFit, fit_alpha_beta

MOONCAKE_TABLES: dict[str, dict] = {
    "mooncake-h800-8xcx7": {
        "source": "kvcache-ai/Mooncake docs/source/performance/vllm/vllm-v1-pd-performance.md (via hardware-references.md)",
        "bytes": [20e6, 146e6, 578e6, 1.13e9, 4.50e9],
        "seconds": [0.54e-3, 1.50e-3, 4.75e-3, 8.84e-3, 31.65e-3],
    },
    "mooncake-h20-4xcx7": {
        "source": "kvcache-ai/Mooncake docs/source/performance/sglang/sglang-benchmark-results-v1.md (via hardware-references.md)",
        "bytes": [49e6, 394e6, 1.58e9, 12.62e9],
        "seconds": [2.07e-3, 3.96e-3, 10.95e-3, 76.78e-3],
    },
}


def fit_published() -> dict[str, LinkFit]:
    return {k: fit_alpha_beta(v["bytes"], v["seconds"], link=k) for k, v in MOONCAKE_TABLES.items()}
