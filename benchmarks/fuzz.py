"""Long fuzz run (issue 18): N fuzzed profiles and N fuzzed trace lines through the oracles of
tests/test_fuzz.py ("a valid result with finite non-negative numbers, or our error"); writes the
counts to benchmarks/results/fuzz.md.  Usage: python benchmarks/fuzz.py [--profiles N] [--lines N]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
spec = importlib.util.spec_from_file_location("dpmodel_fuzz", ROOT / "tests" / "test_fuzz.py")
fz = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fz)


def run(n: int, strategy, check) -> dict:
    counts = {"ok": 0, "error": 0, "crash": 0}
    crashes: list[str] = []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def body(x):
        try:
            counts[check(x)] += 1
        except Exception:  # a crash: anything but our error, or a non-finite result
            counts["crash"] += 1
            crashes.append(traceback.format_exc(limit=3).splitlines()[-1])

    body()
    return {**counts, "examples": sum(counts.values()), "crashes": crashes[:5]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=10_000)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz.md"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dpmodel-fuzz-"))
    t0 = time.perf_counter()
    prof = run(a.profiles, fz.profile_docs(), lambda kd: fz.check_profile(*kd))
    t1 = time.perf_counter()
    # one line per example: a valid line, then the fuzzed one (so the reader sees a mixture)
    good = b'{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}'
    lines = run(a.lines, fz.trace_lines(), lambda ln: fz.check_trace([good, ln], tmp))
    t2 = time.perf_counter()
    row_p = (
        "| profiles (cluster, model, workload, cost; 1-3 values replaced by any float, huge int, wrong type or noise, "
        f"or a key dropped/renamed) | {prof['examples']:,} | {prof['ok']:,} | {prof['error']:,} | {prof['crash']} | {t1 - t0:.0f} s |"
    )
    row_l = (
        "| Mooncake trace lines (fields replaced, binary noise, 1-3000 nested brackets, 1-6000-digit integers), strict and lenient "
        f"| {lines['examples']:,} | {lines['ok']:,} | {lines['error']:,} | {lines['crash']} | {t2 - t1:.0f} s |"
    )
    text = f"""# Fuzz run (issue 18)

`python benchmarks/fuzz.py --profiles {a.profiles} --lines {a.lines}` (hypothesis, random seed each run;
oracle: a valid result with finite non-negative numbers, or a DpmodelError). Machine: 2 shared cores.

| input | examples run | valid | our error | crashes | time |
|---|---:|---:|---:|---:|---:|
{row_p}
{row_l}

Hypothesis stops early when it has exhausted a strategy's distinct examples; "examples run" is what ran.
"""
    for name, r in (("profiles", prof), ("trace lines", lines)):
        for c in r["crashes"]:
            text += f"\n- crash in {name}: `{c}`"
    Path(a.out).write_text(text + "\n")
    print(text)
    return 1 if prof["crash"] or lines["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
