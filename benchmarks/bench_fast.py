"""Speed where users wait (issue 19 items 3-4): one scenario's plan in all four modes, the policy
lookups, `capacity` for one scenario and `size --target-aps 2`. Each figure is the median of
``--repeat`` runs (``--size-repeat`` for sizing), in wall seconds and in CPU seconds of this process
(on a shared machine the CPU seconds measure the work; the wall seconds also measure the others).

    .venv/bin/python benchmarks/bench_fast.py --out benchmarks/results/fast.md
    # before/after side by side: the same script with PYTHONPATH pointing at another checkout
    PYTHONPATH=/tmp/fastbefore .venv/bin/python benchmarks/bench_fast.py --label before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from _common import command_line, emit


def timed(fn, repeat: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None, help="also write the raw figures here")
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size-repeat", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated: plan,policy,capacity,size")
    args = ap.parse_args()
    skip = set(args.skip.split(",")) - {""}

    import dpmodel
    from dpmodel.plan import analyse
    from dpmodel.scenario import Scenario

    med = statistics.median
    rows, raw = [], {"label": args.label, "dpmodel": os.path.dirname(dpmodel.__file__), "load_avg_1min": os.getloadavg()[0]}
    sc = Scenario.load()
    if "plan" not in skip:
        analyse(sc)  # warm-up (the LP path compiles its problems once)
        wall, cpu = timed(lambda: analyse(sc), 10 * args.repeat)
        raw["plan_ms"] = med(wall) * 1e3
        rows.append(
            f"| one scenario, all four modes (`analyse`), median of {len(wall)} after warm-up | < 5 ms | "
            f"{med(wall) * 1e3:.2f} ms | {med(cpu) * 1e3:.2f} ms |"
        )
        import dataclasses

        fresh = [dataclasses.replace(sc) for _ in range(10 * args.repeat)]  # equal scenarios, nothing memoized
        it = iter(fresh)
        wall, cpu = timed(lambda: analyse(next(it)), len(fresh))
        raw["plan_fresh_ms"] = med(wall) * 1e3
        rows.append(
            f"| the same, a new (equal) scenario object each call: its composition redone, median of {len(wall)} | "
            f"< 5 ms | {med(wall) * 1e3:.2f} ms | {med(cpu) * 1e3:.2f} ms |"
        )
    if "policy" not in skip:
        from dpmodel import PolicyTable

        table = PolicyTable.generate(
            sc, hit_tokens=np.geomspace(1e3, 2e5, 40), pe_backlog_s=np.linspace(0, 5, 50), de_backlog_s=np.linspace(0, 5, 50)
        )
        rng = np.random.default_rng(0)
        qs = [(float(rng.uniform(1e3, 2e5)), float(rng.uniform(0, 5)), float(rng.uniform(0, 5))) for _ in range(2000)]
        fn = getattr(table, "lookup_scalar", None)
        if fn is None:  # before issue 19: the keyword path is the only scalar one

            def fn(h, p, d):
                return table.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=d)

        def scalar():
            for h, p, d in qs:
                fn(h, p, d)

        wall, cpu = timed(scalar, 10 * args.repeat)
        raw["scalar_us"] = med(wall) / len(qs) * 1e6
        rows.append(
            f"| one scalar lookup (`lookup_scalar(h, p, d)`; before: `lookup(...)`), median of {len(wall)} x 2,000 | "
            f"< 1 us | {med(wall) / len(qs) * 1e6:.3f} us | {med(cpu) / len(qs) * 1e6:.3f} us |"
        )
        big = [rng.uniform(1e3, 2e5, 10**6), rng.uniform(0, 5, 10**6), rng.uniform(0, 5, 10**6)]
        wall, cpu = timed(lambda: table.lookup(hit_tokens=big[0], pe_backlog_s=big[1], de_backlog_s=big[2]), args.repeat)
        raw["vector_per_s"] = 1e6 / med(wall)
        rows.append(
            f"| vectorized lookups, 10^6 states per call, median of {len(wall)} | >= 1e7/s | {1e6 / med(wall):.3g}/s | "
            f"{1e6 / med(cpu):.3g}/s |"
        )
    if "capacity" not in skip:
        from dpmodel.queueing.online import slo_capacity

        def capacity():
            s = Scenario.load()  # a fresh scenario: nothing kept from an earlier run
            return [slo_capacity(s, m).max_aps for m in ("basic", "layerwise", "dualpath", "oracle")]

        raw["capacity_aps"] = capacity()
        wall, cpu = timed(capacity, args.repeat)
        raw["capacity_s"] = med(wall)
        rows.append(
            f"| `capacity`: SLO capacity of one scenario in all four modes, median of {len(wall)} | < 1 s | "
            f"{med(wall):.2f} s | {med(cpu):.2f} s |"
        )
    if "size" not in skip:
        from dpmodel.profiles import load_cost
        from dpmodel.sizing import size_cluster

        cost = load_cost("cloud-hopper")
        results = []
        wall, cpu = timed(lambda: results.append(size_cluster(Scenario.load(), cost, target_aps=2.0)), args.size_repeat)
        r = results[-1]
        raw["size_s"] = med(wall)
        raw["size_result"] = {k: v for k, v in r.to_dict().items() if k != "sensitivities"}
        rows.append(f"| `size --target-aps 2`, median of {len(wall)} | < 15 s | {med(wall):.1f} s | {med(cpu):.1f} s |")
    lines = [
        f"## {args.label}",
        "",
        f"Command: `{command_line()}`; dpmodel from `{raw['dpmodel']}`; 1-minute load average at the start "
        f"{raw['load_avg_1min']:.1f} on {os.cpu_count()} cores.",
        "",
        "| what | target | wall (median) | CPU (median) |",
        "|---|---|---|---|",
        *rows,
    ]
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(raw, fh, indent=1, default=float)
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
