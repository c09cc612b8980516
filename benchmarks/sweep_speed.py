"""Points per second of the vectorized dual-path throughput sweep over five varied axes
(P, D, context, storage and compute NIC rates), random points, one request class
(issue 19's target: >= 3 x 10^6 points/s for the two-path sweep).

    .venv/bin/python benchmarks/sweep_speed.py --out benchmarks/results/sweep_speed.md
    .venv/bin/python benchmarks/sweep_speed.py --before /tmp/before-worktree --out ...

With ``--before DIR`` it also times the same sweep with the code checked out in ``DIR`` (a
``git worktree`` of the previous commit), in a subprocess of the same sitting, so the ratio is
side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np


def measure(n: int, repeat: int, topology: str | None = None) -> dict:
    from dpmodel.scenario import Scenario
    from dpmodel.sweep import sweep_throughput

    sc = Scenario.load() if topology is None else Scenario.load(topology=topology)
    rng = np.random.default_rng(0)
    axes = dict(
        prefill_nodes=rng.integers(1, 9, n),
        decode_nodes=rng.integers(2, 17, n),
        context_tokens=rng.uniform(1e3, 1.3e5, n),
        snic_Gbps=rng.uniform(100, 800, n),
        cnic_Gbps=rng.uniform(100, 800, n),
    )
    sweep_throughput(sc, "dualpath", **axes)  # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = sweep_throughput(sc, "dualpath", **axes)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    X = np.asarray(out["turns_per_s"], float)
    return {
        "n": n,
        "walls_s": walls,
        "cpus_s": cpus,
        "median_s": statistics.median(walls),
        "median_cpu_s": statistics.median(cpus),
        "checksum": float(np.sum(X[np.isfinite(X)])),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", default=None, help="a checkout of the previous commit to time side by side")
    ap.add_argument("--topology", default=None, help="a packaged topology (default: dualpath, two paths)")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the two checkouts this many times (medians over all)")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.n, args.repeat, args.topology)))
        return 0
    runs: dict[str, dict] = {}
    sides = [("after (this checkout)", os.getcwd())] + ([("before", args.before)] if args.before else [])
    for _ in range(args.rounds):
        for label, root in sides:
            # one BLAS thread, as the CLI runs (a second thread only spins on a shared 2-core machine)
            env = dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            cmd = [sys.executable, os.path.abspath(__file__), "--measure-only", "--n", str(args.n), "--repeat", str(args.repeat)]
            cmd += ["--topology", args.topology] if args.topology else []
            res = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            if label in runs:
                for k in ("walls_s", "cpus_s"):
                    runs[label][k] += r[k]
            else:
                runs[label] = r
    for r in runs.values():
        r["median_s"], r["median_cpu_s"] = statistics.median(r["walls_s"]), statistics.median(r["cpus_s"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _common import command_line, emit

    lines = [
        f"## Sweep speed, topology {args.topology or 'dualpath'}",
        "",
        f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other work; 1-minute load average {os.getloadavg()[0]:.1f} at the end); numpy {np.__version__}",
        "",
        f"One sweep of {args.n:,} random points (P 1-8, D 2-16, context 1k-130k tokens, storage NIC 100-800 Gbps, compute NIC "
        "100-800 Gbps), DeepSeek-V3.2 on dualpath-hopper, agentic-64k, mode dualpath; median of "
        f"{args.repeat} runs after a warm-up, x {args.rounds} alternating rounds.",
        "",
        "| code | wall median | CPU median | CPU min | points/s (wall median) | points/s (CPU median) | checksum (sum of turns/s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in runs.items():
        lines.append(
            f"| {label} | {r['median_s']:.3f} s | {r['median_cpu_s']:.3f} s | {min(r['cpus_s']):.3f} s | "
            f"{args.n / r['median_s']:.3g} | {args.n / r['median_cpu_s']:.3g} | {r['checksum']:.9g} |"
        )
    if len(runs) == 2:
        a, b = runs.values()
        lines += ["", f"Speed-up after / before (CPU medians): {b['median_cpu_s'] / a['median_cpu_s']:.2f}x."]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
