"""The simulator's speed on the issue's reference run: DeepSeek-V3.2, 2 prefill + 4 decode nodes,
agentic-64k, 2048 agents, offline, the paper's scheduler (target < 60 s on the 2-core machine).

    .venv/bin/python benchmarks/sim_speed.py --out benchmarks/results/sim_speed.md

Run it on an otherwise idle machine: it records wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime

from _common import command_line, emit

from dpmodel.scenario import Scenario
from dpmodel.sim import simulate_offline


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--agents", type=int, default=2048)
    ap.add_argument("--policy", default="dualpath-paper")
    args = ap.parse_args()
    sc = Scenario.load()
    t = time.perf_counter()
    r = simulate_offline(sc, args.policy, args.agents, seed=0)
    el = time.perf_counter() - t
    lines = ["# Simulator speed", "",
             f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}.", "",
             "| scenario | agents | policy | wall [s] | events | events/s | turns | simulated JCT [s] |", "|---|---|---|---|---|---|---|---|",
             f"| deepseek-v3.2 2P4D agentic-64k | {args.agents} | {args.policy} | {el:.1f} | {r.events:,} | {r.events / el:,.0f} | "
             f"{r.turns_measured:,} | {r.jct_s_sim:,.0f} |", "",
             f"Target: < 60 s wall. {'Met' if el < 60 else 'Not met'}."]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
