"""The simulator's speed on the issue's reference run: DeepSeek-V3.2, 2 prefill + 4 decode nodes,
agentic-64k, 2048 agents, offline, the paper's scheduler (target < 60 s on the 2-core machine).

    .venv/bin/python benchmarks/sim_speed.py --out benchmarks/results/sim_speed.md

Run it on an otherwise idle machine: it records wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime

from _common import command_line, emit

from dpmodel.scenario import Scenario
from dpmodel.serving import simulate_offline


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--agents", type=int, default=2048)
    ap.add_argument("--policy", default="dualpath-paper")
    ap.add_argument("--repeat", type=int, default=3, help="runs (the wall time on a shared 2-core VM varies by +-15 %%)")
    args = ap.parse_args()
    sc = Scenario.load()
    walls = []
    for _ in range(max(args.repeat, 1)):
        t = time.perf_counter()
        r = simulate_offline(sc, args.policy, args.agents, seed=0)
        walls.append(time.perf_counter() - t)
    el = statistics.median(walls)
    lines = ["# Simulator speed", "",
             f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}.", "",
             "| scenario | agents | policy | wall [s], median | each run [s] | events | events/s | turns | simulated JCT [s] |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| deepseek-v3.2 2P4D agentic-64k | {args.agents} | {args.policy} | {el:.1f} | {', '.join(f'{w:.1f}' for w in walls)} | "
             f"{r.events:,} | {r.events / el:,.0f} | {r.turns_measured:,} | {r.jct_s_sim:,.0f} |", "",
             f"Target: < 60 s wall (median of {len(walls)} runs). {'Met' if el < 60 else 'Not met'}."]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
