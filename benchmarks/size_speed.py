"""`dpmodel size` speed (issue 19, item 4): this tree against another checkout, side by side.

    .venv/bin/python benchmarks/size_speed.py --before /tmp/stopo-before --runs 5 [--target-aps 2]

Runs ``dpmodel size --target-aps T --quiet`` (the CLI, imports included) alternately in the
``--before`` tree and in this one, ``--runs`` times each, and prints the median CPU seconds (user +
system of the child process) and wall seconds of each, their ratio and whether both trees printed
the same answer. CPU time is the figure to read on a shared machine: wall time includes waiting
for the cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(tree: Path, target: float) -> tuple[float, float, str]:
    """(CPU s, wall s, stdout) of one ``dpmodel size`` run with ``tree`` on the import path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "dpmodel", "size", "--target-aps", f"{target:g}", "--quiet"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the previous commit (git worktree add)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target-aps", type=float, default=2.0)
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    res: dict[str, list[tuple[float, float, str]]] = {k: [] for k in trees}
    for i in range(args.runs):
        for name, tree in trees.items():
            res[name].append(run_once(tree, args.target_aps))
            cpu, wall, _ = res[name][-1]
            print(f"run {i + 1} {name:<6} cpu {cpu:6.2f} s  wall {wall:6.2f} s", flush=True)
    med = {k: (statistics.median(c for c, _, _ in v), statistics.median(w for _, w, _ in v)) for k, v in res.items()}
    print(f"\ndpmodel size --target-aps {args.target_aps:g} --quiet, median of {args.runs} runs each, alternating:")
    print("| tree | CPU s (median) | wall s (median) | CPU s (all runs) |")
    print("|---|---|---|---|")
    for k, v in res.items():
        print(f"| {k} | {med[k][0]:.2f} | {med[k][1]:.2f} | {', '.join(f'{c:.2f}' for c, _, _ in v)} |")
    print(f"\nCPU ratio before/after: {med['before'][0] / med['after'][0]:.2f}x; wall ratio {med['before'][1] / med['after'][1]:.2f}x")
    same = {v[0][2] for v in res.values()}
    print("same answer (stdout) in both trees:", "yes" if len(same) == 1 else "no")
    if len(same) > 1:
        for k, v in res.items():
            print(f"--- {k}\n{v[0][2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
