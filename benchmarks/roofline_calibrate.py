"""Bounded calibration of the roofline on the Oracle bars of Fig. 7 (issue 14, item 5).

Fits, per model, the roofline's kernel knobs the paper does not report, each inside its sourced
range (``dpmodel.fig7.ROOFLINE_KNOB_RANGES``), on the Oracle cells only (no KV I/O);
Basic and DualPath are never fitted. Writes the fitted values beside their ranges, with any knob
at a bound flagged, to ``dpmodel/catalog/calibration/roofline-oracle.toml`` (read by
``benchmarks/validation.py``). A few minutes (each evaluation is a full Oracle prediction).

Run: PYTHONPATH=$PWD python benchmarks/roofline_calibrate.py [--reading plain|turn-weighted] [--axes one|prefill-decode]
[--shared] [--out FILE]

``--axes``: every knob on one axis, or the prefill and the decode kernels on two (``fig7.ROOFLINE_AXES``);
``--shared``: one set of knobs for all three models (one hardware, one set of kernel efficiencies)
instead of one per model; each model's own rms log error is still reported.

``--reading`` says how Table 2 is read (``offline_jct_many``'s turns_reading; default plain: under it the
raw roofline's Oracle error is about half the turn-weighted one, benchmarks/results/roofline_fig7.md);
the file records it and ``benchmarks/validation.py`` predicts with it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from dpmodel.fig7 import ROOFLINE_AXES, ROOFLINE_KNOB_RANGES, calibrate_roofline, predict
from dpmodel.fileio import atomic_write_text
from dpmodel.reference import FIG7_JCT_S, FIG7_SOURCE

OUT = Path(__file__).resolve().parents[1] / "dpmodel" / "catalog" / "calibration" / "roofline-oracle.toml"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reading", default="plain", choices=("plain", "turn-weighted"), help="how Table 2 is read")
    ap.add_argument("--axes", default="one", choices=tuple(ROOFLINE_AXES), help="the fit's axes")
    ap.add_argument("--shared", action="store_true", help="one set of knobs shared by every model")
    ap.add_argument("--out", default=str(OUT), help="where to write the fit (default: the committed file)")
    args = ap.parse_args()
    lines = [
        "# Bounded roofline calibration on the Oracle bars of the DualPath paper's Fig. 7 (no KV I/O).",
        "# Written by: python benchmarks/roofline_calibrate.py. Every knob stays inside its sourced range;",
        "# 'at_bound' lists the knobs the fit pushed to an end of it (then the structure, not the knob, is missing).",
        "",
        "[provenance]",
        f'source = "derived: bounded least squares on log JCT of the Fig. 7 Oracle cells per model ({FIG7_SOURCE})"',
        f'date = "{datetime.now(UTC):%Y-%m-%d}"',
        f'notes = "Axes {args.axes}: each knob moves from its [kernels] default towards the slow end of its range, the knobs '
        f'of one axis together{"; one set shared by every model" if args.shared else ""}."',
        "",
        "[fit]",
        f'reading = "{args.reading}"',
        f'axes = "{args.axes}"',
        f"shared = {str(args.shared).lower()}",
        "",
        "[ranges]",
    ]
    for k, (lo, hi, src) in ROOFLINE_KNOB_RANGES.items():
        lines.append(f'{k} = {{ low = {lo:g}, high = {hi:g}, source = "{src}" }}')
    fits = {}
    if args.shared:
        t = time.perf_counter()
        r = calibrate_roofline(tuple(FIG7_JCT_S), reading=args.reading, axes=args.axes)
        print(f"shared: {r['evaluations']} evaluations, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        for m in FIG7_JCT_S:  # each model's own error at the shared knobs
            cells = predict(m, modes=("oracle",), kernels=r["knobs"], reading=args.reading)
            own = math.sqrt(sum(math.log(c.jct_s_pred / c.jct_s_paper) ** 2 for c in cells) / len(cells))
            fits[m] = {**r, "rms_log_error": own, "rms_log_error_all": r["rms_log_error"]}
    else:
        for m in FIG7_JCT_S:
            t = time.perf_counter()
            fits[m] = calibrate_roofline(m, reading=args.reading, axes=args.axes)
            print(f"{m}: {fits[m]['evaluations']} evaluations, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    for m, r in fits.items():
        s_txt = f"{r['s']:.4f}" if isinstance(r["s"], float) else "{ " + ", ".join(f"{a} = {v:.4f}" for a, v in r["s"].items()) + " }"
        print(
            f"{m}: s = {s_txt}, rms log error {r['rms_log_error']:.3f}, at bound: {sorted(r['at_bound'])}",
            file=sys.stderr,
            flush=True,
        )
        lines += ["", f'[models."{m}"]']
        lines += [f"{k} = {v:.6g}" for k, v in r["knobs"].items()]
        lines += [
            f"s = {s_txt}",
            f"rms_log_error = {r['rms_log_error']:.4f}",
            "at_bound = [" + ", ".join(f'"{k}:{v}"' for k, v in sorted(r["at_bound"].items())) + "]",
            f"still_fast_at_slow_corner = {str(r['still_fast_at_slow_corner']).lower()}",
        ]
    atomic_write_text(Path(args.out), "\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
