"""Trace reading speed: the 12,031-request Mooncake conversation trace with an LRU cache
simulation (target < 2 s). Reads ../shared/data/traces (third-party data, never copied here).

    .venv/bin/python benchmarks/bench_traces.py --out benchmarks/results/traces.md
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import emit

from dpmodel.profiles import load_model
from dpmodel.workload import LRUCache, open_trace, summarize

TRACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    path = TRACES / "conversation_trace.jsonl"
    if not path.is_file():
        print(f"trace not found at {path}", file=sys.stderr)
        return 2
    block = 512 * load_model("deepseek-v3.2").kv_bytes_per_token
    rows = []
    for label, gib in (("infinite cache", None), ("LRU 100 GiB", 100.0), ("LRU 1000 GiB", 1000.0)):
        times, hit = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            s = summarize(open_trace(path, cache=None if gib is None else LRUCache(gib * 2**30, block)))
            times.append(time.perf_counter() - t)
            hit = s.hit_ratio_tokens
        rows.append(
            f"| {label} | {s.requests:,} | {hit:.4f} | {statistics.median(times):.3f} s | {min(times):.3f} s | {max(times):.3f} s |"
        )
    lines = [
        "# Trace reading speed",
        "",
        f"Command: `python {' '.join(sys.argv)}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; Python {platform.python_version()}, {platform.machine()}.",
        "Streaming read of `conversation_trace.jsonl` (12,031 requests, 3.0 MB), hit simulation (DeepSeek-V3.2 KV, 512-token blocks),",
        f"session reconstruction and summary statistics; {args.repeat} runs each. Target: < 2 s with the LRU simulation.",
        "",
        "| cache | requests | token hit ratio | median | min | max |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
