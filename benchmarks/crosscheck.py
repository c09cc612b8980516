"""Analytic models vs the simulator: saturated throughput (LP), offline JCT (MVA) and online TTFT /
TPOT (open network) incl. tails and near saturation, three scenarios; plus the simulator's speed on
the issue's reference run.

    .venv/bin/python benchmarks/crosscheck.py --out benchmarks/results/crosscheck.md
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

import numpy as np
from _common import command_line, emit

from dpmodel.plan import analyse_mode
from dpmodel.queueing import build_network, mva_dpmodel
from dpmodel.queueing.turn_sample import turns_per_agent
from dpmodel.scenario import Scenario
from dpmodel.serving import (
    offline_jct,
    online_metrics,
    replicate_online,
    simulate_offline,
    simulate_saturated,
)

SCENARIOS = {
    "deepseek-v3.2 2P4D agentic-64k": Scenario.load(),
    "ds-27b 1P1D agentic-32k": Scenario.load(model="ds-27b", workload="agentic-32k", prefill_nodes=1, decode_nodes=1),
    "qwen2.5-32b 1P2D agentic-32k": Scenario.load(model="qwen2.5-32b", workload="agentic-32k", prefill_nodes=1, decode_nodes=2),
}
MODES = ("basic", "layerwise", "dualpath", "oracle")
#: online: replications until the simulated mean TTFT's standard error is REL_SE of it
REL_SE, MIN_REPS, MAX_REPS = 0.04, 6, 20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    lines = [
        "# Analytic models vs the discrete-event simulator",
        "",
        f"Command: `{command_line()}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}. Seeds: 3 (saturated), 0 (offline).",
        "",
        "## Saturated throughput: LP vs simulation (agents = 2x the MVA's saturating population)",
        "",
        "| scenario | mode | LP turns/s | simulated | error | Little's law error (decode slots) |",
        "|---|---|---|---|---|---|",
    ]
    for name, sc in SCENARIOS.items():
        for mode in MODES:
            lp = analyse_mode(sc, mode)
            st, fn, hold = build_network(sc, mode, lp.split_de_frac)
            mva = mva_dpmodel(st, 6000, hold_frac=hold, decode_service_s=fn)
            X = mva["throughput_per_s"]
            n_sat = int(np.argmax(X >= 0.97 * min(lp.turns_per_s, X.max()))) + 1
            turns = "workload" if mode == "basic" else "classes"  # as in tests/test_sim.py
            r = simulate_saturated(
                sc, mode, agents=2 * n_sat, horizon_s=max(200.0, 40 * float(mva["cycle_s"][n_sat - 1])), seed=3, turns=turns
            )
            lines.append(
                f"| {name} | {mode} | {lp.turns_per_s:.2f} | {r.turns_per_s_sim:.2f} | {r.turns_per_s_sim / lp.turns_per_s - 1:+.1%} | "
                f"{r.littles_law['rel_error_frac']:.2%} |"
            )
    lines += [
        "",
        "## Offline JCT: MVA vs simulation (per-turn tokens in the simulator, mean turns in the MVA)",
        "",
        "| scenario | agents | mode | MVA JCT [s] | simulated [s] | error |",
        "|---|---|---|---|---|---|",
    ]
    for name, sc in SCENARIOS.items():
        for n in (128, 512):
            for mode in ("basic", "dualpath", "oracle"):
                a = offline_jct(
                    sc, mode, n, seed=0, turns_reading="turn-weighted"
                ).jct_s  # the simulator replays the trajectories as they are
                s = simulate_offline(sc, mode, n, seed=0).jct_s_sim
                lines.append(f"| {name} | {n} | {mode} | {a:,.0f} | {s:,.0f} | {a / s - 1:+.1%} |")
    lines += [
        "",
        "## Online: open-network model vs simulation (Poisson agents, warm start, 400 s measured after 200 s warm-up)",
        "",
        "Both sides use the throughput LP's split (`dualpath` = `dualpath-static` in the simulator).",
        "",
        f"Simulated values are means over independent replications (seeds 1, 2, ...; `replicate_online`) run until the mean "
        f"TTFT's standard error is {REL_SE:.0%} of it ({MIN_REPS}-{MAX_REPS} replications; reps = how many, se = that standard "
        "error); the p99 is the mean of the replications' p99s.",
        "",
        "Load = turn rate over the LP's saturated throughput. Max util = the model's largest utilization "
        "(the TTFT test applies where it is <= 0.8).",
        "",
        "| scenario | mode | load | max util | TTFT mean model / sim (err) | sim reps (se) | p99 model / sim | TPOT model / sim [ms] | "
        "read [s] | wait for batch [s] | own batch [s] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, sc in SCENARIOS.items():
        for mode in ("basic", "layerwise", "dualpath"):
            lp = analyse_mode(sc, mode).turns_per_s
            for load in (0.3, 0.6, 0.8, 0.95):
                aps = load * lp / turns_per_agent(sc)
                f = analyse_mode(sc, mode).split_de_frac  # the static split, the same in both
                a = online_metrics(sc, mode, aps, split_de_frac=f)
                r = replicate_online(
                    sc,
                    "dualpath-static" if mode == "dualpath" else mode,
                    aps=aps,
                    duration_s=400.0,
                    warmup_s=200.0,
                    split_de_frac=f if mode == "dualpath" else None,
                    rel_se=REL_SE,
                    min_reps=MIN_REPS,
                    max_reps=MAX_REPS,
                )
                um = max(a.utilization.values())
                ra = r.averaged()  # every simulated number the mean over the replications
                am, sm = a.ttft_s["mean"], ra.ttft_s_sim["mean"]
                cm, cs = a.components_s, ra.ttft_components_s_sim
                lines.append(
                    f"| {name} | {mode} | {load:.2f} | {um:.2f}{' (low confidence)' if a.low_confidence else ''} | "
                    f"{am:.3f} / {sm:.3f} ({am / sm - 1:+.0%}) | {len(r.results)} ({r.ttft_mean_se_s / sm:.1%}) | "
                    f"{a.ttft_s['p99']:.3f} / {ra.ttft_s_sim['p99']:.3f} | "
                    f"{a.tpot_s * 1e3:.1f} / {ra.tpot_s_sim['mean'] * 1e3:.1f} | {cm['load']:.3f} / {cs['read']:.3f} | "
                    f"{cm['wait_batch']:.3f} / {cs['prefill_wait']:.3f} | {cm['prefill_batch']:.3f} / {cs['prefill_batch']:.3f} |"
                )
                print(lines[-1], flush=True)
    if not args.skip_speed:
        sc = SCENARIOS["deepseek-v3.2 2P4D agentic-64k"]
        t = time.perf_counter()
        r = simulate_offline(sc, "dualpath-paper", 2048, seed=0)
        el = time.perf_counter() - t
        lines += [
            "",
            "## Speed",
            "",
            f"DeepSeek-V3.2, 2P4D, agentic-64k, 2048 agents, offline, `dualpath-paper`: {el:.1f} s wall, {r.events:,} events, "
            f"{r.events / el:,.0f} events/s, {r.turns_measured:,} turns, JCT {r.jct_s_sim:,.0f} s simulated (target < 60 s wall).",
        ]
    lines += ["", "Where they disagree, and why, is discussed in docs/simulator.md."]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
