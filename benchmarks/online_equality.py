"""The online and offline models' numbers on this checkout against another (the previous commit's):
capacities, TTFT / TPOT / TTST, splits and utilizations at four loads, saturated resources and
offline JCTs, for three scenarios in every mode; the largest relative difference.

    .venv/bin/python benchmarks/online_equality.py --before /tmp/before

Each side runs in a subprocess with its own checkout on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys


def values() -> dict:
    from dpmodel import serving
    from dpmodel.scenario import Scenario

    out: dict = {}
    base = Scenario.load()
    scenarios = {
        "default": base,
        "snic-25": Scenario.load(overrides={"cluster": {"node.snic_Gbps": 25}}),
        "2P5D": Scenario.load(decode_nodes=5),
    }
    for name, sc in scenarios.items():
        for m in ("basic", "layerwise", "dualpath", "oracle"):
            r = serving.slo_capacity(sc, m)
            at = r.at_max
            out[f"{name}/{m}/capacity"] = [r.max_aps, r.reason, at.ttft_s["mean"] if at else None, at.split_de_frac if at else None]
            for aps in (0.2, 0.5, 1.0, 1.8):
                o = serving.online_metrics(sc, m, aps)
                out[f"{name}/{m}/online {aps}"] = [o.ttft_s, o.tpot_s, o.ttst_s, o.split_de_frac, o.stable, o.utilization]
            out[f"{name}/{m}/saturated"] = list(serving.saturated_resource(sc, m, 3.0))
            j = serving.offline_jct(sc, m, 64)
            out[f"{name}/{m}/offline"] = [j.jct_s, j.split_de_frac]
    r = serving.slo_capacity(base, "dualpath", slo_ttft_s=0.3)
    out["tight TTFT SLO"] = [r.max_aps, r.reason]
    return out


def compare(a, b, path: str = "") -> tuple[int, float, list[str]]:
    """(numbers compared, largest relative difference, paths that differ otherwise)."""
    if isinstance(a, dict):
        n, worst, bad = 0, 0.0, []
        for k in a:
            if k not in b:
                bad.append(f"{path}/{k} missing")
                continue
            n1, w1, b1 = compare(a[k], b[k], f"{path}/{k}")
            n, worst, bad = n + n1, max(worst, w1), bad + b1
        return n, worst, bad
    if isinstance(a, list):
        n, worst, bad = 0, 0.0, []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            n1, w1, b1 = compare(x, y, f"{path}[{i}]")
            n, worst, bad = n + n1, max(worst, w1), bad + b1
        return n, worst, bad
    if isinstance(a, int | float) and not isinstance(a, bool) and a is not None:
        if a == b or (isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            return 1, 0.0, []
        return 1, abs(a - b) / max(abs(a), abs(b), 1e-300), []
    return 0, 0.0, [] if a == b else [f"{path}: {a!r} != {b!r}"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="a checkout of the previous commit")
    ap.add_argument("--values-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.values_only:
        print(json.dumps(values(), default=str))
        return 0
    got = {}
    for label, root in (("after", os.getcwd()), ("before", os.path.abspath(args.before))):
        env = dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1")
        cmd = [sys.executable, os.path.abspath(__file__), "--before", args.before, "--values-only"]
        res = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=True)
        got[label] = json.loads(res.stdout.strip().splitlines()[-1])
    n, worst, bad = compare(got["before"], got["after"])
    print(f"{n} numbers compared; largest relative difference {worst:.3g}; {len(bad)} other differences")
    for line in bad[:20]:
        print("  " + line)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
