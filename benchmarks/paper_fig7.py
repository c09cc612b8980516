"""Fig. 7 of the DualPath paper, predicted vs reported.

    .venv/bin/python benchmarks/paper_fig7.py --calibrate --seeds 1,2 --out benchmarks/results/paper_fig7.md

``--calibrate`` refits the two compute knobs per model on the Oracle bars only and rewrites
dpmodel/catalog/calibration/fig7-oracle.toml; without it the committed calibration is used.
Basic and DualPath are predicted, never fitted. ``--seeds`` adds a section that repeats the whole
calibrate-and-predict with other synthesized trajectory sets (seeds), with the agents built as the
paper builds them and as independent draws.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime

from _common import emit

from dpmodel.fig7 import (
    AGENTS_FROM,
    CALIBRATION_FILE,
    calibrate_oracle,
    load_calibration,
    paper_trajectories,
    predict,
    scenario_for,
    speedup_errors,
)
from dpmodel.fileio import atomic_write_text
from dpmodel.reference import (
    FIG7_JCT_S,
    FIG7_SOURCE,
    PAPER_TPOT_S,
    PAPER_TPOT_SOURCE,
    PAPER_TRAJECTORIES_SOURCE,
)
from dpmodel.serving import offline_jct_many


def write_calibration(knobs: dict[str, dict[str, float]], rms: dict[str, float]) -> None:
    lines = [
        "# Compute knobs calibrated on the Oracle bars of the DualPath paper's Fig. 7 (no KV I/O).",
        "# Written by: python benchmarks/paper_fig7.py --calibrate --out benchmarks/results/paper_fig7.md",
        "",
        "[provenance]",
        f'source = "derived: least squares on log JCT of the Fig. 7 Oracle cells per model ({FIG7_SOURCE})"',
        f'date = "{datetime.now(UTC):%Y-%m-%d}"',
        'notes = "Only prefill efficiency and decode step overhead are fitted; Basic and DualPath are predicted."',
        "",
    ]
    for m, k in knobs.items():
        lines += [
            f'[models."{m}"]',
            f"prefill_efficiency_frac = {k['prefill_efficiency_frac']:.6g}",
            f"decode_step_overhead_s = {k['decode_step_overhead_s']:.6g}",
            f"# rms log error on Oracle: {rms[m]:.4f}",
            "",
        ]
    atomic_write_text(CALIBRATION_FILE, "\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--seeds", default="", help="comma-separated trajectory seeds for the robustness section (e.g. 1,2)")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    t0 = time.perf_counter()
    if args.calibrate:
        knobs, rms = {}, {}
        for m in FIG7_JCT_S:
            knobs[m], rms[m] = calibrate_oracle(m)
            print(m, knobs[m], rms[m], flush=True)
        write_calibration(knobs, rms)
    cal = load_calibration()
    lines = [
        "# DualPath Fig. 7: offline JCT, predicted vs paper",
        "",
        f"Command: `python {' '.join(sys.argv)}`; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}.",
        f"Paper values: {FIG7_SOURCE}. Cluster `dualpath-hopper`; trajectories synthesized from the",
        "Table 2-fitted workloads, seed 0. A run's agents are built as the paper builds them "
        f"({PAPER_TRAJECTORIES_SOURCE}): one set of 500 trajectories, whose first n make a run of n <= 500; beyond, "
        "copies of randomly drawn ones with a first round prepended (the trajectory's own first-append length, one "
        "generated token; the paper does not give that round's length).",
        "",
        "Calibrated on the **Oracle** bars only (per model; `dpmodel/catalog/calibration/fig7-oracle.toml`):",
        "",
        "| model | prefill efficiency | decode step overhead |",
        "|---|---|---|",
    ]
    for m, k in cal.items():
        lines.append(f"| {m} | {k['prefill_efficiency_frac']:.3f} | {k['decode_step_overhead_s'] * 1e3:.1f} ms |")
    all_sp = []
    for m in FIG7_JCT_S:
        cells = predict(m, cal.get(m))
        sp = speedup_errors(cells)
        all_sp += sp
        by = {(c.workload, c.agents, c.mode): c for c in cells}
        lines += [
            "",
            f"## {m} ({FIG7_JCT_S[m]['prefill_nodes']}P{FIG7_JCT_S[m]['decode_nodes']}D)",
            "",
            "| MAL | agents | Oracle pred / paper (err) | DualPath pred / paper (err) | Basic pred / paper (err) | speedup pred / paper (err) |",
            "|---|---|---|---|---|---|",
        ]
        for s in sp:
            wl, n = s["workload"], s["agents"]
            cellstr = []
            for mode in ("oracle", "dualpath", "basic"):
                c = by[(wl, n, mode)]
                cellstr.append(f"{c.jct_s_pred:,.0f} / {c.jct_s_paper:,.0f} ({c.error_frac:+.0%})")
            lines.append(
                f"| {wl.split('-')[1]} | {n} | "
                + " | ".join(cellstr)
                + f" | {s['speedup_pred']:.2f} / {s['speedup_paper']:.2f} ({s['error_frac']:+.0%}) |"
            )
        med = statistics.median(abs(s["error_frac"]) for s in sp)
        jerr = {mode: statistics.median(abs(c.error_frac) for c in cells if c.mode == mode) for mode in ("oracle", "dualpath", "basic")}
        lines += [
            "",
            f"Median |error|: speedup {med:.1%}; JCT Oracle {jerr['oracle']:.1%}, DualPath {jerr['dualpath']:.1%}, Basic {jerr['basic']:.1%}.",
        ]
    lines += [
        "",
        "## What the paper's Basic and DualPath JCTs imply about storage reads",
        "",
        "Hit-KV bytes of the batch (the synthesized trajectories, this model's KV bytes per token) over the paper's JCT,",
        "per storage NIC in use (P for Basic, P + D for DualPath): the read rate each NIC would have to sustain *if* the run",
        "were read-bound. The profile's line rate is 50 GB/s per node. Not a fit: a diagnostic.",
        "",
        "| model | KV bytes/token | Basic: median GB/s per prefill SNIC (range) | DualPath: median GB/s per SNIC (range) |",
        "|---|---|---|---|",
    ]
    for m, spec in FIG7_JCT_S.items():
        sc = scenario_for(m, next(iter(spec["cells"])))
        b = sc.model.kv_bytes_per_token
        rates = {"basic": [], "dualpath": []}
        for wl, cell in spec["cells"].items():
            ts = paper_trajectories(scenario_for(m, wl), max(cell["agents"]), seed=0)
            ctx, idx = ts.context_tokens(), ts.trajectory_index()
            for i, n in enumerate(cell["agents"]):
                H = float(ctx[idx < n].sum()) * b
                rates["basic"].append(H / cell["basic"][i] / spec["prefill_nodes"] / 1e9)
                rates["dualpath"].append(H / cell["dualpath"][i] / (spec["prefill_nodes"] + spec["decode_nodes"]) / 1e9)
        bs, ds = rates["basic"], rates["dualpath"]
        lines.append(
            f"| {m} | {b:,.0f} | {statistics.median(bs):.1f} ({min(bs):.1f}-{max(bs):.1f}) | "
            f"{statistics.median(ds):.1f} ({min(ds):.1f}-{max(ds):.1f}) |"
        )
    # the Oracle calibration against the one decode number the paper measured (not a fit)
    lines += [
        "",
        "## The calibrated decode step against the paper's measured TPOT",
        "",
        f"The Oracle fit sets the decode step overhead; the paper measured TPOT ({PAPER_TPOT_SOURCE}). "
        "The model's TPOT over the Oracle cells (at each batch's full population):",
        "",
        "| model | decode step overhead | model TPOT over the Oracle cells | paper's measured TPOT |",
        "|---|---|---|---|",
    ]
    for m, spec in FIG7_JCT_S.items():
        tp = []
        for wl, cell in spec["cells"].items():
            sc = scenario_for(m, wl, cal.get(m))
            ts = paper_trajectories(sc, max(cell["agents"]), seed=0)
            tp += [r.decode_tpot_s for r in offline_jct_many(sc, "oracle", cell["agents"], trajectories=ts)]
        paper = PAPER_TPOT_S.get(m)
        lines.append(
            f"| {m} | {cal[m]['decode_step_overhead_s'] * 1e3:.1f} ms | {min(tp) * 1e3:.0f}-{max(tp) * 1e3:.0f} ms | "
            + (f"{paper[0] * 1e3:.0f}-{paper[1] * 1e3:.0f} ms |" if paper else "not reported |")
        )
    lines += [
        "",
        "Where the model's TPOT sits above the paper's range, the Oracle fit has put into decoding time that the "
        "paper's runs spend elsewhere (or its agents generate more tokens than the synthesized ones); the Basic and "
        "DualPath predictions inherit that split. See docs/calibration-and-validation.md.",
    ]
    med_all = statistics.median(abs(s["error_frac"]) for s in all_sp)
    # sensitivity to the one storage number the paper states only qualitatively ("3FS can saturate
    # the 400 Gbps SNIC"): not a fit -- the profile keeps the paper's statement
    sens = [
        "",
        "## Sensitivity: the storage NIC's achievable share of line rate",
        "",
        "The profile takes the paper's word that 3FS saturates the 400 Gb/s storage NIC (100 %). 3FS's own published "
        "measurements are lower: a KVCache client peaks at 86 % of line, the cluster-wide read at 81 % per storage node "
        "(deepseek-ai/3FS README; shared/reference/hardware-references.md, which suggests 0.85 as a central value). "
        "The median |speedup error| over that range, with nothing else changed (the Oracle calibration has no KV I/O, so it "
        "does not move):",
        "",
        "| storage NIC efficiency | median abs. speedup error, all 33 cells | ds-27b | deepseek-v3.2 | qwen2.5-32b |",
        "|---|---|---|---|---|",
    ]
    for eff in (0.81, 0.86, 0.90, 1.0):
        per, every = {}, []
        for m in FIG7_JCT_S:
            sp_e = speedup_errors(predict(m, cal.get(m), snic_payload_frac=eff))
            per[m] = statistics.median(abs(s["error_frac"]) for s in sp_e)
            every += sp_e
        sens.append(
            f"| {eff:.2f} | {statistics.median(abs(s['error_frac']) for s in every):.1%} | "
            + " | ".join(f"{per[m]:.1%}" for m in ("ds-27b", "deepseek-v3.2", "qwen2.5-32b"))
            + " |"
        )
    lines += [
        "",
        f"**All {len(all_sp)} cells: median |speedup error| = {med_all:.1%}** (target <= 15 %); "
        f"max {max(abs(s['error_frac']) for s in all_sp):.0%}.",
    ]
    lines += sens
    if seeds:
        lines += [
            "",
            "## Robustness: other synthesized trajectory sets, and how a run's agents are built",
            "",
            "The whole calibrate-then-predict repeated per seed of the synthesized trajectories (each row its own Oracle "
            "fit). `paper`: as above; `paper-1-token-round`: the same with a one-token prepended round (the paper does "
            "not give its length; the default takes the trajectory's first-append length, about 7-8 K tokens, which "
            "re-truncation at MAL shortens the copies by 6-13 % of their turns); `independent`: a run of n agents is n "
            "independent draws from the workload (what this report used before), so a large run's longest trajectories "
            "are longer than any of 500.",
            "",
            "| seed | agents built | median abs. speedup error, all 33 cells | ds-27b | deepseek-v3.2 | qwen2.5-32b | "
            "fitted prefill efficiency (ds-27b / v3.2 / qwen) |",
            "|---|---|---|---|---|---|---|",
        ]
        for sd in [0, *seeds]:
            for how in AGENTS_FROM:
                per, every, effs = {}, [], []
                for m in FIG7_JCT_S:
                    k, _ = (cal[m], None) if (sd == 0 and how == "paper") else calibrate_oracle(m, seed=sd, agents_from=how)
                    sp_s = speedup_errors(predict(m, k, seed=sd, agents_from=how))
                    per[m] = statistics.median(abs(s["error_frac"]) for s in sp_s)
                    every += sp_s
                    effs.append(f"{k['prefill_efficiency_frac']:.3f}")
                lines.append(
                    f"| {sd} | {how} | {statistics.median(abs(s['error_frac']) for s in every):.1%} | "
                    + " | ".join(f"{per[m]:.1%}" for m in ("ds-27b", "deepseek-v3.2", "qwen2.5-32b"))
                    + f" | {' / '.join(effs)} |"
                )
                print(lines[-1], flush=True)
    lines += ["", f"Run time {time.perf_counter() - t0:.0f} s.", ""]
    return emit(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
