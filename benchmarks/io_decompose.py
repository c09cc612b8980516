"""Take the Fig. 7 cells apart: where the KV I/O time goes, in the paper's bars and in the model.

    .venv/bin/python benchmarks/io_decompose.py --out benchmarks/results/io_decompose.md

For every Fig. 7 cell (model, workload, agents) this prints

* the hit-KV volume the run reads, ``V`` = sum over every turn of its hit tokens x KV bytes per
  token, for the trajectory set the model uses, under both readings of Table 2 (``turn-weighted``:
  the synthesized cumulative-context trajectories; ``plain``: every agent takes Table 2's Turns
  turns of Table 2's Context);
* the storage read rate per storage NIC the paper's bars imply under two limiting structures,
  ``N`` = the storage NICs that read (Basic: the P prefill nodes'; DualPath: all P + D):
  *overlapped* ``V / (N x JCT)`` (I/O hidden behind everything else: the least rate that could
  produce the bar) and *additive* ``V / (N x (JCT - JCT_oracle))`` (I/O in series with the
  Oracle's work: what the rate must be if none of it overlaps);
* the model's side: its effective read rate per node (the Full-Block read model,
  :meth:`dpmodel.scenario.Scenario.storage_reads`), its JCT per mode, and the share of the
  Basic-Oracle gap it reproduces.

Nothing here is fitted: the Oracle calibration (``dpmodel/catalog/calibration/fig7-oracle.toml``)
is the only fitted input, and the Basic and DualPath bars are only compared against.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import command_line, emit  # noqa: E402

MODES = ("oracle", "basic", "dualpath")
ROOFLINE_FIT = HERE.parent / "dpmodel" / "catalog" / "calibration" / "roofline-oracle.toml"


FLAT_FILE: list[Path] = []  # --flat-file: another flat Oracle fit (same format as fig7-oracle.toml)


def scenario(model: str, wl: str, calibration: str):
    """The Fig. 7 scenario under ``calibration``: 'flat' (the committed flat Oracle fit, or the
    ``--flat-file`` one) or 'roofline' (the committed bounded roofline fit, ``roofline-oracle.toml``)."""
    from dpmodel import fig7

    if calibration == "flat":
        cal = fig7.load_calibration(*FLAT_FILE[:1])
        return fig7.scenario_for(model, wl, cal.get(model))
    import tomllib

    fit = tomllib.loads(ROOFLINE_FIT.read_text()).get("models", {}).get(model, {})
    kern = {k: float(v) for k, v in fit.items() if k in fig7.ROOFLINE_KNOB_RANGES} or None
    return fig7.scenario_for(model, wl, kernels=kern)


def _volume_bytes(sc, ts, agents: int, reading: str) -> float:
    """Hit-KV bytes the first ``agents`` agents read over the run."""
    b = sc.model.kv_bytes_per_token
    if reading == "plain":
        t = sc.workload.trajectory
        return float(agents * t.mean_turns_count * t.mean_context_tokens * b)
    end = int(ts.offsets[agents])
    return float(ts.context_tokens()[:end].sum() * b)


def decompose(model: str, reading: str, calibration: str = "flat", seed: int = 0) -> list[dict]:
    from dpmodel import fig7
    from dpmodel.reference import FIG7_JCT_S
    from dpmodel.serving import offline_jct_many

    spec = FIG7_JCT_S[model]
    P, D = spec["prefill_nodes"], spec["decode_nodes"]
    rows = []
    for wl, ref in spec["cells"].items():
        sc = scenario(model, wl, calibration)
        ts = fig7.run_trajectories_cached(sc, model, wl, max(ref["agents"]), seed, "paper")
        pred = {
            m: [r.jct_s for r in offline_jct_many(sc, m, ref["agents"], seed=seed, turns_reading=reading, trajectories=ts)] for m in MODES
        }
        st = sc.storage_reads()
        snics = sc.cluster.node.snic_count
        for i, n in enumerate(ref["agents"]):
            V = _volume_bytes(sc, ts, n, reading)
            paper = {m: float(ref[m][i]) for m in MODES}
            row = {
                "model": model,
                "workload": wl,
                "agents": n,
                "V_TB": V / 1e12,
                "model_read_GBps_per_nic": st["read_Bps_per_node"] / snics / 1e9,
                "read_frac_of_line": st["read_frac_of_line"],
                "reads_in_flight": st["reads_in_flight"],
            }
            for m, nodes in (("basic", P), ("dualpath", P + D)):
                N = nodes * snics
                row[f"{m}_overlap_GBps"] = V / (N * paper[m]) / 1e9
                gap = paper[m] - paper["oracle"]
                row[f"{m}_additive_GBps"] = V / (N * gap) / 1e9 if gap > 0.02 * paper[m] else float("nan")
                # what the model's own read rate would give if the I/O were wholly additive
                row[f"{m}_additive_pred_s"] = paper["oracle"] + V / (N * st["read_Bps_per_node"] / snics)
            for m in MODES:
                row[f"{m}_paper_s"] = paper[m]
                row[f"{m}_model_s"] = pred[m][i]
            pg = paper["basic"] - paper["oracle"]
            row["basic_gap_share"] = (pred["basic"][i] - pred["oracle"][i]) / pg if pg > 0 else float("nan")
            dg = paper["dualpath"] - paper["oracle"]
            row["dualpath_gap_share"] = (pred["dualpath"][i] - pred["oracle"][i]) / dg if dg > 0.1 * paper["oracle"] else float("nan")
            rows.append(row)
    return rows


def structure(model: str, reading: str, calibration: str = "flat") -> list[dict]:
    """Per workload, the model's structure behind the Oracle and the I/O: the LP's Oracle bottleneck and
    the prefill-GPU share at its optimum, the modelled TPOT, and the candidate I/O structures' sizes
    (DRAM-buffer window, Basic's HBM-resident requests, the PE -> DE hand-off, the write-back)."""
    import dataclasses as dc

    from dpmodel import fig7
    from dpmodel.plan import analyse_mode
    from dpmodel.reference import FIG7_JCT_S
    from dpmodel.workload.classes import classes_from_turns

    out = []
    for wl, ref in FIG7_JCT_S[model]["cells"].items():
        sc = scenario(model, wl, calibration)
        if reading == "plain":
            sc = dc.replace(sc, request_classes=())
        else:
            ts = fig7.run_trajectories_cached(sc, model, wl, max(ref["agents"]), 0, "paper")
            sc = dc.replace(
                sc,
                request_classes=classes_from_turns(ts.context_tokens(), ts.append_tokens, ts.generated_tokens, count=1, model=sc.model),
            )
        c, a, o = sc._mean_turn()
        b = sc.model.kv_bytes_per_token
        cl, dep = sc.cluster, sc.deployment
        orc = analyse_mode(sc, "oracle")
        dp = analyse_mode(sc, "dualpath")
        t0, per_seq = sc.decode_affine_s()
        dec = sc.decode_capacity()
        hbm_free = cl.hbm_bytes_per_gpu * (1.0 - dep.hbm_reserve_frac) - sc._prefill_weight_bytes_per_gpu(sc.prefill_ep_gpus)
        buf = cl.node.dram_kv_buffer_GiB * 2**30
        out.append(
            {
                "workload": wl,
                "oracle_bottleneck": orc.bottleneck,
                "oracle_pe_util": orc.resource("pe.gpu.time").utilization_frac,
                "dualpath_bottleneck": dp.bottleneck,
                "dualpath_pe_snic_util": dp.resource("pe.snic.read").utilization_frac,
                "tpot_ms": 1e3 * dec["step_s"],
                "turn_hit_GB": c * b / 1e9,
                "buffer_turns_per_node": buf / (c * b + (a + o) * b),
                "basic_hbm_turns_per_gpu": hbm_free / ((c + a) * b),
                "handoff_ms_per_gpu": 1e3 * (c + a) * b / cl.cnic_line_Bps_per_gpu,
                "writeback_frac": (a + o) / c,
            }
        )
    return out


def _f(x: float, fmt: str) -> str:
    return "-" if x != x else format(x, fmt)


def report(readings: tuple[str, ...], models: tuple[str, ...], calibration: str = "flat") -> list[str]:
    t0 = time.time()
    lines = [
        "# Fig. 7 taken apart: the KV I/O behind the Basic and DualPath bars",
        "",
        f"Written by `{command_line()}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Nothing is fitted here; the Oracle "
        f"calibration in the tree is the only fitted input (here: the {calibration} one"
        + (
            f", `{FLAT_FILE[0] if FLAT_FILE else 'dpmodel/catalog/calibration/fig7-oracle.toml'}`)."
            if calibration == "flat"
            else ", `dpmodel/catalog/calibration/roofline-oracle.toml`)."
        )
        + " A row read the other way than its calibration was fitted is a volume check, not a prediction.",
        "",
        "Columns: `V` hit-KV bytes the run reads; paper-implied read rate per storage NIC if the I/O were *overlapped* "
        "(`V / (N JCT)`) or *additive* to the Oracle's work (`V / (N (JCT - Oracle))`), N = P NICs for Basic, P + D for "
        "DualPath; `add. pred.` = paper Oracle + V / (N x the model's read rate); the model's JCTs; `gap share` = "
        "(model mode - model Oracle) / (paper mode - paper Oracle): the share of the paper's I/O cost the model reproduces.",
    ]
    summary = []
    for reading in readings:
        for model in models:
            rows = decompose(model, reading, calibration)
            r0 = rows[0]
            srows = structure(model, reading, calibration)
            lines += [
                "",
                f"## {model}, Table 2 read `{reading}`",
                "",
                f"model read rate {r0['model_read_GBps_per_nic']:.1f} GB/s per storage NIC ({r0['read_frac_of_line']:.1%} of line), "
                f"{r0['reads_in_flight']:.0f} reads in flight per NIC",
            ]
            lines += [
                "",
                "| workload | Oracle LP bottleneck (pe.gpu.time util) | DualPath LP bottleneck (its pe.snic.read util) | TPOT at the HBM batch ms "
                "| hit KV per turn GB | DRAM-buffer window, turns per node | Basic: turns' KV that fit in a prefill GPU's free HBM "
                "| PE -> DE hand-off per turn on one CNIC ms | write-back / read bytes |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for r in srows:
                lines.append(
                    f"| {r['workload']} | {r['oracle_bottleneck']} ({r['oracle_pe_util']:.0%}) | {r['dualpath_bottleneck']} "
                    f"({r['dualpath_pe_snic_util']:.0%}) | {r['tpot_ms']:.1f} | {r['turn_hit_GB']:.2f} | {r['buffer_turns_per_node']:.0f} "
                    f"| {r['basic_hbm_turns_per_gpu']:.1f} | {r['handoff_ms_per_gpu']:.1f} | {r['writeback_frac']:.1%} |"
                )
            lines += ["", "Cells:", ""]
            lines += [
                "| workload | agents | V TB | Basic: overlap / additive GB/s | add. pred. / paper / model s | Basic gap share "
                "| DualPath: overlap / additive GB/s | add. pred. / paper / model s | DualPath gap share | Oracle paper / model s |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for r in rows:
                lines.append(
                    f"| {r['workload']} | {r['agents']} | {r['V_TB']:.1f} | {r['basic_overlap_GBps']:.1f} / {_f(r['basic_additive_GBps'], '.1f')} "
                    f"| {r['basic_additive_pred_s']:.0f} / {r['basic_paper_s']:.0f} / {r['basic_model_s']:.0f} | {_f(r['basic_gap_share'], '.2f')} "
                    f"| {r['dualpath_overlap_GBps']:.1f} / {_f(r['dualpath_additive_GBps'], '.1f')} "
                    f"| {r['dualpath_additive_pred_s']:.0f} / {r['dualpath_paper_s']:.0f} / {r['dualpath_model_s']:.0f} "
                    f"| {_f(r['dualpath_gap_share'], '.2f')} | {r['oracle_paper_s']:.0f} / {r['oracle_model_s']:.0f} |"
                )

            def med(key, rows=rows):
                v = [r[key] for r in rows if r[key] == r[key]]
                return statistics.median(v) if v else float("nan")

            def med_err(key, rows=rows):
                return statistics.median(r[f"{key}_model_s"] / r[f"{key}_paper_s"] - 1 for r in rows)

            def med_add(key, rows=rows):
                return statistics.median(r[f"{key}_additive_pred_s"] / r[f"{key}_paper_s"] - 1 for r in rows)

            ov = med("basic_overlap_GBps") / med("dualpath_overlap_GBps")
            ad = med("basic_additive_GBps") / med("dualpath_additive_GBps")
            summary.append(
                f"| {model} | {reading} | {ov:.2f} / {_f(ad, '.2f')} | {med('basic_overlap_GBps'):.1f} / {med('basic_additive_GBps'):.1f} "
                f"| {med('dualpath_overlap_GBps'):.1f} / {_f(med('dualpath_additive_GBps'), '.1f')} "
                f"| {med_add('basic'):+.1%} / {med_add('dualpath'):+.1%} | {med_err('basic'):+.1%} / {med_err('dualpath'):+.1%} "
                f"| {med('basic_gap_share'):.2f} / {_f(med('dualpath_gap_share'), '.2f')} |"
            )
    lines += [
        "",
        "## Summary (medians over each model's cells)",
        "",
        "One storage NIC has one read rate: the structure whose implied rate is the same for Basic and DualPath (ratio near 1) "
        "and near what 3FS publishes (KVCache client peak 40 GiB/s = 43 GB/s, 86 % of line) is the one the bars support.",
        "",
        "| model | reading | Basic / DualPath implied rate, overlapped / additive | paper Basic rate, overlap / additive GB/s per NIC "
        "| DualPath, overlap / additive | additive predictor's error, Basic / DualPath | model's error, Basic / DualPath "
        "| model's gap share, Basic / DualPath |",
        "|---|---|---|---|---|---|---|---|",
        *summary,
        "",
        f"Generated in {time.time() - t0:.0f} s.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="write the record here (atomically)")
    ap.add_argument("--reading", choices=("turn-weighted", "plain", "both"), default="both")
    ap.add_argument("--model", action="append", help="only these models (default: all three)")
    ap.add_argument("--calibration", choices=("flat", "roofline"), default="flat", help="the committed Oracle fit to use")
    ap.add_argument("--flat-file", type=Path, help="a flat Oracle fit in fig7-oracle.toml's format (default: the committed one)")
    a = ap.parse_args(argv)
    from dpmodel.reference import FIG7_JCT_S

    if a.flat_file:
        FLAT_FILE.append(a.flat_file)
    readings = ("turn-weighted", "plain") if a.reading == "both" else (a.reading,)
    models = tuple(a.model or FIG7_JCT_S)
    return emit(report(readings, models, a.calibration), a.out)


if __name__ == "__main__":
    raise SystemExit(main())
