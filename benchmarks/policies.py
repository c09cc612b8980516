"""Read policies measured in the simulator: offline batches (JCT, TTFT tail, decode-side share,
storage-NIC balance) and online serving (p99 TTFT at a fixed agent arrival rate).

    .venv/bin/python benchmarks/policies.py --out benchmarks/results/policies.md
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from _common import command_line, emit

from dpmodel import PolicyTable
from dpmodel.plan import analyse_mode, lp_split
from dpmodel.queueing.turn_sample import turns_per_agent
from dpmodel.scenario import Scenario
from dpmodel.sim.fanout import compare_policies

SCENARIOS = {
    "deepseek-v3.2 2P4D agentic-64k, 512 agents": (Scenario.load(), 512),
    "ds-27b 1P1D agentic-64k, 512 agents": (Scenario.load(model="ds-27b", workload="agentic-64k", prefill_nodes=1, decode_nodes=1), 512),
    "qwen2.5-32b 1P2D agentic-32k, 256 agents": (
        Scenario.load(model="qwen2.5-32b", workload="agentic-32k", prefill_nodes=1, decode_nodes=2),
        256,
    ),
}
POLICIES = ("basic", "layerwise", "dualpath", "dualpath-paper", "dualpath-queue", "dualpath-split", "dualpath-table", "oracle")
ONLINE_POLICIES = ("dualpath", "dualpath-paper", "dualpath-queue", "dualpath-split", "dualpath-table", "oracle")
ONLINE_SCENARIOS = ("deepseek-v3.2 2P4D agentic-64k, 512 agents", "qwen2.5-32b 1P2D agentic-32k, 256 agents")
ONLINE_LOAD = 0.75  # turn rate / the LP's dual-path saturated throughput
SEEDS = (0, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--workers", type=int, default=None, help="local processes (default one per CPU; 1: here, in turn)")
    ap.add_argument("--scheduler", default=None, help="an existing Dask cluster's scheduler address")
    args = ap.parse_args()
    fan = {"workers": args.workers, "scheduler": args.scheduler}
    lines = [
        "# Read policies in the simulator (offline and online)",
        "",
        f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; seeds {', '.join(map(str, SEEDS))} (mean shown).",
        "Policies: `dualpath` draws each request's side with the throughput LP's static split; `dualpath-queue` reads the whole",
        "request on the side with the shorter storage read queue (the paper's rule, without its engine classes);",
        "`dualpath-split` splits each request to equalize both sides' finish times; `dualpath-table` looks that split up in",
        "a policy table exported for the scenario; `dualpath-paper` is the paper's scheduler (PE classes by read queue and",
        "token cap, DE two-phase assignment, whole request on the shorter read queue). Default (uncalibrated) compute knobs.",
        "",
    ]
    summary = []
    tables = {}
    for name, (sc, n) in SCENARIOS.items():
        table = tables[name] = PolicyTable.generate(sc)
        jct = {}
        lines += [
            f"## {name}",
            "",
            "| policy | JCT [s] | TTFT p99 [s] | decode-side reads | storage-NIC max/avg |",
            "|---|---|---|---|---|",
        ]
        runs = compare_policies(sc, POLICIES, agents=n, seeds=SEEDS, policy_table=table, lp_split=lp_split, **fan)  # all runs at once
        for pol in POLICIES:
            rs = runs[pol]

            def m(f, rs=rs):
                return sum(f(r) for r in rs) / len(rs)

            jct[pol] = m(lambda r: r.jct_s_sim)
            lines.append(
                f"| {pol} | {m(lambda r: r.jct_s_sim):,.0f} | {m(lambda r: r.ttft_s_sim['p99']):.3f} | "
                f"{m(lambda r: r.decode_side_read_frac_sim):.1%} | {m(lambda r: r.snic_balance_max_over_avg_sim):.3f} |"
            )
        lines.append("")
        summary.append(
            f"- {name}: per-request split vs static split {jct['dualpath-split'] / jct['dualpath'] - 1:+.1%} JCT, "
            f"vs shortest queue {jct['dualpath-split'] / jct['dualpath-queue'] - 1:+.1%}; table vs split "
            f"{jct['dualpath-table'] / jct['dualpath-split'] - 1:+.1%}; best dual path vs oracle "
            f"{min(jct[p] for p in POLICIES if p.startswith('dualpath')) / jct['oracle'] - 1:+.1%}."
        )
    online = []
    for name in ONLINE_SCENARIOS:
        sc, _n = SCENARIOS[name]
        table = tables[name]
        aps = ONLINE_LOAD * analyse_mode(sc, "dualpath").turns_per_s / turns_per_agent(sc)
        lines += [
            f"## Online: {name.split(',')[0]} at {aps:.3f} agents/s ({ONLINE_LOAD:.0%} of the dual-path saturated throughput)",
            "",
            "Poisson agents, warm start, 300 s measured after 150 s.",
            "",
            "| policy | TTFT mean [s] | TTFT p90 [s] | TTFT p99 [s] | TPOT mean [ms] | decode-side reads |",
            "|---|---|---|---|---|---|",
        ]
        lam = aps * turns_per_agent(sc)
        for pol in ("basic", "layerwise"):
            cap = analyse_mode(sc, pol).turns_per_s
            lines.append(
                f"| {pol} | overloaded: saturated throughput {cap:.1f} turns/s (LP) < offered {lam:.1f} turns/s; "
                "queues grow without bound | | | | |"
            )
        p99 = {}
        runs = compare_policies(
            sc, ONLINE_POLICIES, aps=aps, duration_s=300.0, warmup_s=150.0, seeds=SEEDS, policy_table=table, lp_split=lp_split, **fan
        )
        for pol in ONLINE_POLICIES:
            rs = runs[pol]

            def m(f, rs=rs):
                return sum(f(r) for r in rs) / len(rs)

            p99[pol] = m(lambda r: r.ttft_s_sim["p99"])
            lines.append(
                f"| {pol} | {m(lambda r: r.ttft_s_sim['mean']):.3f} | {m(lambda r: r.ttft_s_sim['p90']):.3f} | {p99[pol]:.3f} | "
                f"{m(lambda r: r.tpot_s_sim['mean']) * 1e3:.1f} | {m(lambda r: r.decode_side_read_frac_sim):.1%} |"
            )
            print(lines[-1], flush=True)
        lines.append("")
        online.append(
            f"- {name.split(',')[0]}: p99 TTFT, per-request split {p99['dualpath-split']:.3f} s vs static {p99['dualpath']:.3f} s "
            f"({p99['dualpath-split'] / p99['dualpath'] - 1:+.0%}), vs the paper's scheduler {p99['dualpath-paper']:.3f} s "
            f"({p99['dualpath-split'] / p99['dualpath-paper'] - 1:+.0%}); table {p99['dualpath-table']:.3f} s."
        )
    lines += [
        "## Does splitting one request across both sides pay?",
        "",
        "Offline JCT:",
        "",
        *summary,
        "",
        "Online p99 TTFT:",
        "",
        *online,
        "",
        "Read together with the tables above: see docs/policy-tables.md for what this says about when splitting pays.",
    ]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
