"""Speed of the core: one scenario in all four modes (target < 50 ms) and a 10^5-scenario sweep
of dual-path throughput (target < 1 s). Writes a markdown record with the command that made it.

    .venv/bin/python benchmarks/bench_plan.py --out benchmarks/results/plan.md
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
from _common import emit

from dpmodel import __version__
from dpmodel.plan import analyse
from dpmodel.scenario import Scenario
from dpmodel.sweep import sweep_throughput


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()

    sc = Scenario.load()
    t0 = time.perf_counter()
    analyse(sc)  # first call compiles the LPs (cvxpy canonicalization)
    first = time.perf_counter() - t0
    plan_s = timed(lambda: analyse(sc), args.repeat)
    # a fresh scenario each time (different P/D) still reuses the compiled problems
    other = [Scenario.load(prefill_nodes=p, decode_nodes=d) for p, d in ((1, 2), (2, 2), (3, 6), (4, 8))]
    varied_s = [timed(lambda s=s: analyse(s), 1)[0] for s in other * 5]

    rng = np.random.default_rng(0)
    n = args.n
    axes = dict(
        prefill_nodes=rng.integers(1, 9, n),
        decode_nodes=rng.integers(2, 17, n),
        context_tokens=rng.uniform(1e3, 1.3e5, n),
        snic_Gbps=rng.uniform(100, 800, n),
        cnic_Gbps=rng.uniform(100, 800, n),
    )
    t0 = time.perf_counter()
    sweep_throughput(sc, "dualpath", **axes)
    sweep_first = time.perf_counter() - t0
    sweep_s = timed(lambda: sweep_throughput(sc, "dualpath", **axes), 5)

    med = statistics.median
    lines = [
        "# Core speed benchmark",
        "",
        f"Command: `{' '.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}` (from the repository root, in `.venv`)",
        f"Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; dpmodel {__version__}; Python {platform.python_version()}; "
        f"{platform.machine()}, {platform.processor() or 'cpu'}; numpy {np.__version__}",
        "",
        "| what | target | median | min | max | first call |",
        "|---|---|---|---|---|---|",
        f"| one scenario, all four modes (LP + split balancing), {args.repeat} runs | < 50 ms | {med(plan_s) * 1e3:.1f} ms | "
        f"{min(plan_s) * 1e3:.1f} ms | {max(plan_s) * 1e3:.1f} ms | {first * 1e3:.0f} ms (compiles the LPs once) |",
        f"| one new scenario (other P/D), all four modes, 20 runs | < 50 ms | {med(varied_s) * 1e3:.1f} ms | "
        f"{min(varied_s) * 1e3:.1f} ms | {max(varied_s) * 1e3:.1f} ms | - |",
        f"| dual-path throughput sweep, {n:,} scenarios (P, D, context, SNIC, CNIC), 5 runs | < 1 s | {med(sweep_s):.3f} s | "
        f"{min(sweep_s):.3f} s | {max(sweep_s):.3f} s | {sweep_first:.3f} s |",
        "",
        "The first call of a process pays cvxpy's one-time canonicalization; every later solve only",
        "updates `cp.Parameter` values (DPP). Loading profiles from TOML is outside the timed region.",
    ]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
