"""Fit the trajectory synthesizer of agentic-32k/48k/64k to the paper's Table 2 and record it.

    .venv/bin/python benchmarks/fit_workloads.py --out benchmarks/results/workload_fit.md

Prints each workload's [synthesis] TOML table (pasted into dpmodel/catalog/workloads/) and checks
the fitted parameters on a fresh seed with more agents.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from _common import emit

from dpmodel.profiles import load_workload
from dpmodel.workload.synth import TABLE2_TARGETS, fit_synthesis, synthesize, table2_targets


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--agents", type=int, default=4000)
    args = ap.parse_args()
    lines = [
        "# Trajectory synthesizer fitted to the paper's Table 2",
        "",
        f"Command: `python {' '.join(sys.argv)}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}.",
        f"Fit: Nelder-Mead on {args.agents} agents, seed 0; check: 4000 agents, seed 12345 (fresh draws).",
        "Turns, Append, Gen and Context are turn-weighted (pooled over all turns); Total is per trajectory.",
        "",
    ]
    toml = []
    for name in ("agentic-32k", "agentic-48k", "agentic-64k"):
        w = load_workload(name)
        t0 = time.perf_counter()
        spec, _ = fit_synthesis(table2_targets(w), max_agent_length_tokens=w.trajectory.max_agent_length_tokens, agents=args.agents)
        took = time.perf_counter() - t0
        check = synthesize(spec, agents=4000, max_agent_length_tokens=w.trajectory.max_agent_length_tokens, seed=12345).stats()
        tg = table2_targets(w)
        lines += [f"## {name} (fit {took:.0f} s)", "", "| column | Table 2 | synthesized | error |", "|---|---|---|---|"]
        for k in TABLE2_TARGETS:
            lines.append(f"| {k} | {tg[k]:,.0f} | {check[k]:,.0f} | {check[k] / tg[k] - 1:+.1%} |")
        lines.append(f"| plain mean turns per trajectory | - | {check['turns_mean']:.1f} | - |")
        lines.append("")
        toml += [f"# {name}", "[synthesis]"]
        for f, v in vars(spec).items():
            toml.append(f"{f} = {float(v):.6g}")
        toml.append("")
    lines += ["## Fitted tables", "", "```toml", *toml, "```"]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
