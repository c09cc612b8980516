"""Units: the closed glossary of name suffixes, and the conversions done once at load time.

Every quantity's name ends in its unit. Profiles use the units vendors quote (``_GBps``,
``_Gbps``, ``_GiB``, ``_TFLOPS``); kernels compute in base units (bytes, seconds, FLOP).

Glossary (name suffix -> meaning)
---------------------------------
``_bytes``   bytes (base unit of size)
``_B``       bytes per element or per token-layer (small sizes in architecture tables)
``_GB``      10**9 bytes
``_GiB``     2**30 bytes
``_Bps``     bytes per second (base unit of bandwidth)
``_GBps``    10**9 bytes per second (as vendors quote memory and PCIe bandwidth)
``_Gbps``    10**9 bits per second (as vendors quote NIC line rates)
``_s``, ``_ms``, ``_us``  seconds, milliseconds, microseconds
``_tokens``  a count of tokens
``_per_s``   a rate, per second (``turns_per_s``, ``tokens_per_s``)
``_flops``   floating-point operations (a count, not a rate)
``_flops_per_s``  FLOP per second (base unit of compute rate)
``_TFLOPS``  10**12 FLOP per second (as vendors quote peak compute)
``_frac``    a dimensionless share in [0, 1]
``_factor``  a dimensionless multiplier (>= 1 unless stated)
``_count``   a count of things (GPUs, NICs, layers, heads, experts)
``_dim``     an architecture dimension (elements along one axis of a tensor)
``_params``  a count of model parameters
``_sigma``   the standard deviation of a log-normal's logarithm (dimensionless)
``_per_hour``  a price per hour, in the cost profile's currency
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    "_bytes": "bytes",
    "_B": "bytes (per element or per token-layer)",
    "_GB": "1e9 bytes",
    "_GiB": "2**30 bytes",
    "_Bps": "bytes per second",
    "_GBps": "1e9 bytes per second",
    "_Gbps": "1e9 bits per second",
    "_s": "seconds",
    "_ms": "milliseconds",
    "_us": "microseconds",
    "_tokens": "tokens",
    "_per_s": "per second",
    "_flops": "floating-point operations",
    "_flops_per_s": "FLOP per second",
    "_TFLOPS": "1e12 FLOP per second",
    "_frac": "fraction in [0, 1]",
    "_factor": "dimensionless multiplier",
    "_count": "count",
    "_dim": "tensor dimension (elements)",
    "_params": "model parameters",
    "_sigma": "log-normal log standard deviation",
    "_per_hour": "currency units per hour",
}

GB = 1e9
GiB = float(2**30)
TB = 1e12
GBps = 1e9  # bytes per second in one GB/s
Gbps = 1e9 / 8.0  # bytes per second in one Gb/s
TFLOPS = 1e12
PFLOP = 1e15
ms = 1e-3
us = 1e-6

#: bytes per element of the dtypes the model specs may name
DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "fp4": 0.5,
    "mxfp4": 0.53125,  # 4-bit values + one 8-bit scale per 32 values
}


def unit_suffix(name: str) -> str | None:
    """Return the glossary suffix that ``name`` ends in (longest match), or None."""
    best = None
    for suffix in GLOSSARY:
        if name.endswith(suffix) and (best is None or len(suffix) > len(best)):
            best = suffix
    return best


def gbps_to_Bps(value_Gbps: float) -> float:
    """Line rate in Gb/s -> bytes per second."""
    return value_Gbps * Gbps


def GBps_to_Bps(value_GBps: float) -> float:
    """GB/s -> bytes per second."""
    return value_GBps * GBps


def GiB_to_bytes(value_GiB: float) -> float:
    """GiB -> bytes."""
    return value_GiB * GiB
