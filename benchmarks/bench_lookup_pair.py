"""Scalar policy lookups, before and after in one process: the old PolicyTable class is executed
from a checkout of main (``--before``, default /tmp/fastbefore) beside this one; CPU time, min over
15 repeats of 5 x 1,000 random states, three rounds.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_lookup_pair.py
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np

import dpmodel.policy.table as new


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="/tmp/fastbefore")
    args = ap.parse_args()
    src = Path(args.before, "dpmodel/policy/table.py").read_text()
    for rel, absolute in (
        ("from .. import", "from dpmodel import"),
        ("from ..errors", "from dpmodel.errors"),
        ("from ..fileio", "from dpmodel.fileio"),
        ("from .split", "from dpmodel.policy.split"),
    ):
        src = src.replace(rel, absolute)
    old: dict = {}
    exec(compile(src, "before_table", "exec"), old)  # noqa: S102 - our own file from another checkout
    axes = (np.geomspace(1e3, 2e5, 40), np.linspace(0, 5, 50), np.linspace(0, 5, 50))
    rng = np.random.default_rng(1)
    V = rng.uniform(0, 1, (40, 50, 50))
    before, after = old["PolicyTable"](axes, V, {}), new.PolicyTable(axes, V, {})
    qs = [(float(rng.uniform(1e3, 2e5)), float(rng.uniform(0, 5)), float(rng.uniform(0, 5))) for _ in range(1000)]
    after.lookup_scalar(*qs[0])
    fast = after.lookup_scalar

    def before_kw():
        for h, p, d in qs:
            before.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=d)

    def after_kw():
        for h, p, d in qs:
            after.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=d)

    def after_pos():
        for h, p, d in qs:
            fast(h, p, d)

    for _ in range(3):
        r = [min(timeit.repeat(f, number=5, repeat=15, timer=time.process_time)) / 5000 * 1e6 for f in (before_kw, after_kw, after_pos)]
        print(f"before lookup(...) {r[0]:.3f} us | after lookup(...) {r[1]:.3f} us | after lookup_scalar {r[2]:.3f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
