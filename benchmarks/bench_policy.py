"""Policy tables: generating a 10^5-cell table (target < 3 s) and one scalar lookup (target < 5 us).

.venv/bin/python benchmarks/bench_policy.py --out benchmarks/results/policy.md
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime

import numpy as np
from _common import command_line, emit

from dpmodel import PolicyTable
from dpmodel.plan import analyse_mode
from dpmodel.scenario import Scenario


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    sc = Scenario.load()
    analyse_mode(sc, "dualpath")  # compile the LP once (the static split), as a long-lived exporter would
    axes = dict(hit_tokens=np.geomspace(1e3, 2e5, 40), pe_backlog_s=np.linspace(0, 5, 50), de_backlog_s=np.linspace(0, 5, 50))
    gen = []
    for _ in range(5):
        t = time.perf_counter()
        table = PolicyTable.generate(sc, **axes)
        gen.append(time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        path = table.save(f"{d}/t.json")
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        loaded = PolicyTable.load(path)
        load_s = time.perf_counter() - t
    rng = np.random.default_rng(0)
    qs = [(float(rng.uniform(1e3, 2e5)), float(rng.uniform(0, 5)), float(rng.uniform(0, 5))) for _ in range(1000)]
    per = []
    for _ in range(7):
        n = 0
        t = time.perf_counter()
        for h, p, dd in qs * 20:
            loaded.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=dd)
            n += 1
        per.append((time.perf_counter() - t) / n * 1e6)
    scalar = getattr(loaded, "lookup_scalar", None)  # the positional scalar path (absent before issue 19)
    pos = []
    for _ in range(7 if scalar is not None else 0):
        t = time.perf_counter()
        for h, p, dd in qs * 20:
            scalar(h, p, dd)
        pos.append((time.perf_counter() - t) / (20 * len(qs)) * 1e6)
    big = [rng.uniform(1e3, 2e5, 10**6), rng.uniform(0, 5, 10**6), rng.uniform(0, 5, 10**6)]
    per_big = []
    for _ in range(5):
        t = time.perf_counter()
        loaded.lookup(hit_tokens=big[0], pe_backlog_s=big[1], de_backlog_s=big[2])
        per_big.append(10**6 / (time.perf_counter() - t))
    vec = (
        timeit.timeit(
            lambda: loaded.lookup(
                hit_tokens=np.array([q[0] for q in qs]),
                pe_backlog_s=np.array([q[1] for q in qs]),
                de_backlog_s=np.array([q[2] for q in qs]),
            ),
            number=20,
        )
        / 20
        / len(qs)
        * 1e6
    )
    lines = [
        "# Policy table speed",
        "",
        f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; Python {platform.python_version()}, {platform.machine()}.",
        "",
        "| what | target | median | min | max |",
        "|---|---|---|---|---|",
        f"| generate a {table.values.size:,}-cell table (40 x 50 x 50), 5 runs | < 3 s | {statistics.median(gen):.4f} s | "
        f"{min(gen):.4f} s | {max(gen):.4f} s |",
        f"| one scalar lookup (trilinear), 7 x 20,000 random states | < 5 us | {statistics.median(per):.2f} us | {min(per):.2f} us | {max(per):.2f} us |",
        (
            f"| one scalar lookup, positional `lookup_scalar(h, p, d)`, 7 x 20,000 states | < 1 us | {statistics.median(pos):.2f} us | "
            f"{min(pos):.2f} us | {max(pos):.2f} us |"
            if pos
            else "| one scalar lookup, positional `lookup_scalar(h, p, d)` | < 1 us | - (absent) | - | - |"
        ),
        f"| vectorized lookup, per state (batches of 1,000) | - | {vec:.3f} us | - | - |",
        f"| vectorized lookup, states/s (batches of 10^6), 5 runs | >= 1e7/s | {statistics.median(per_big):.3g}/s | "
        f"{min(per_big):.3g}/s | {max(per_big):.3g}/s |",
        f"| save JSON / load + validate | - | {save_s:.3f} s / {load_s:.3f} s | - | - |",
        "",
        "The static split comes from the throughput LP, compiled once per process before timing.",
    ]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
