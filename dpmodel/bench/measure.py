"""Measurement harness shared by every backend: warm-up, repetitions, median and spread."""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

CSV_COLUMNS = (
    "backend",
    "link",
    "experiment",
    "bytes",
    "flows",
    "chunk_bytes",
    "reps",
    "median_s",
    "p10_s",
    "p90_s",
    "min_s",
    "cache_bypass",
)


@dataclass(frozen=True)
class Row:
    """One measured point. ``bytes`` is per flow; times are wall-clock seconds of one repetition."""

    backend: str
    link: str
    experiment: str
    bytes: int
    flows: int
    chunk_bytes: int
    reps: int
    median_s: float
    p10_s: float
    p90_s: float
    min_s: float
    cache_bypass: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def time_it(fn: Callable[[], None], *, reps: int, warmup: int = 1, setup: Callable[[], None] | None = None) -> list[float]:
    """Run ``fn`` ``warmup`` times unmeasured, then ``reps`` times measured (``setup`` before each)."""
    for _ in range(warmup):
        if setup:
            setup()
        fn()
    out = []
    for _ in range(reps):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    from ..progress import tick

    tick(1)  # one measurement done (a progress bar, if the command opened one)
    return out


def summarize_times(times: list[float]) -> dict[str, float]:
    a = np.asarray(times, float)
    return {
        "median_s": float(statistics.median(times)),
        "p10_s": float(np.percentile(a, 10)),
        "p90_s": float(np.percentile(a, 90)),
        "min_s": float(a.min()),
    }


def machine_description() -> dict[str, str]:
    """What the measurements were taken on."""
    info = {
        "hostname_sha256": hashlib.sha256(platform.node().encode()).hexdigest()[:12],
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "system": f"{platform.system()} {platform.release()}",
    }
    try:
        with open("/proc/meminfo") as fh:
            info["mem_total"] = fh.readline().split(":", 1)[1].strip()
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info
