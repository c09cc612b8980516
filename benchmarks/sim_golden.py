"""Record (or check) the simulator's full results on a fixed set of small runs, so that a speed
change can be shown to leave every number unchanged for the same seed.

    .venv/bin/python benchmarks/sim_golden.py --record tests/data/sim_golden.json   # on the old code
    .venv/bin/python benchmarks/sim_golden.py --check tests/data/sim_golden.json    # on the new code

``--big`` adds the 2048-agent reference run (DeepSeek-V3.2 2P4D, dualpath-paper, seed 0; about a
minute) under the key ``ref2048``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from dpmodel.scenario import Scenario
from dpmodel.serving import simulate_offline, simulate_online, simulate_saturated, simulate_trace


def _cases(big: bool):
    from dpmodel import PolicyTable

    small = Scenario.load(model="ds-27b", workload="agentic-32k", prefill_nodes=1, decode_nodes=1)
    v32 = Scenario.load()
    table = PolicyTable.generate(small)
    for pol in (
        "basic",
        "layerwise",
        "dualpath",
        "dualpath-static",
        "dualpath-paper",
        "dualpath-queue",
        "dualpath-split",
        "dualpath-table",
        "oracle",
    ):
        yield (
            f"offline/ds27b-1P1D/{pol}/48/s2",
            lambda pol=pol: simulate_offline(small, pol, 48, seed=2, policy_table=table if pol == "dualpath-table" else None),
        )
    for pol, n in (("basic", 32), ("dualpath-paper", 96), ("dualpath-static", 32)):
        yield f"offline/v32-2P4D/{pol}/{n}/s1", lambda pol=pol, n=n: simulate_offline(v32, pol, n, seed=1)
    yield "online/ds27b-1P1D/dualpath-paper", lambda: simulate_online(small, "dualpath-paper", aps=0.5, duration_s=40, seed=3)
    yield "online/v32-2P4D/basic", lambda: simulate_online(v32, "basic", aps=0.5, duration_s=30, seed=1)
    yield "saturated/ds27b-1P1D/layerwise", lambda: simulate_saturated(small, "layerwise", agents=24, horizon_s=60.0, seed=3)
    yield (
        "saturated/ds27b-1P1D/basic-workload",
        lambda: simulate_saturated(small, "basic", agents=16, horizon_s=60.0, seed=3, turns="workload"),
    )

    def trace():
        from dpmodel.workload.traces import TraceRequest

        reqs = [
            TraceRequest(
                index=i,
                arrival_s=0.05 * i,
                input_tokens=2000 + 37 * (i % 50),
                output_tokens=50 + (i % 7) * 20,
                hit_tokens=1500 + 30 * (i % 50),
                session=i,
                turn=1,
            )
            for i in range(300)
        ]
        return simulate_trace(small, "dualpath-queue", reqs, seed=0)

    yield "trace/ds27b-1P1D/dualpath-queue", trace
    if big:
        yield "ref2048", lambda: simulate_offline(v32, "dualpath-paper", 2048, seed=0)


def _plain(d):
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, float) and not math.isfinite(d):
        return repr(d)
    return d


def record(big: bool) -> dict:
    # through JSON, so that a fresh record compares equal to a stored one (floats round-trip exactly)
    return json.loads(json.dumps({name: _plain(fn().to_dict()) for name, fn in _cases(big)}))


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record")
    g.add_argument("--check")
    ap.add_argument("--big", action="store_true")
    args = ap.parse_args()
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(record(args.big), fh, indent=1, sort_keys=True)
        return 0
    want = json.load(open(args.check))
    got = record(args.big)
    bad = [k for k in got if got[k] != want.get(k)]
    print("identical" if not bad else f"DIFFERENT: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
