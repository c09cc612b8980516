"""Uncalibrated roofline against every Fig. 7 bar (issue 14): per-mode median |error|.

Run: PYTHONPATH=$PWD python benchmarks/roofline_fig7_check.py [turn-weighted]  (record: benchmarks/results/roofline_fig7.md);
Table 2's columns are read as plain per-trajectory means (the default, offline_jct_many's turns_reading);
``turn-weighted`` reads them as the synthesized trajectories' pooled per-turn means instead.
"""

import statistics
import sys

from dpmodel.fig7 import predict, speedup_errors
from dpmodel.reference import FIG7_JCT_S

MODES = ("oracle", "dualpath", "basic")
allc, allsp = [], []
for m in FIG7_JCT_S:
    reading = "turn-weighted" if sys.argv[1:] == ["turn-weighted"] else "plain"
    cells = predict(m, None, reading=reading)  # no knobs: the raw roofline (published kernel figures only)
    sp = speedup_errors(cells)
    allc += cells
    allsp += sp
    for mode in MODES:
        e = [c.error_frac for c in cells if c.mode == mode]
        med = 100 * statistics.median(abs(x) for x in e)
        print(m, mode, f"median|err| {med:.1f}%", " ".join(f"{100 * x:+.0f}" for x in e), flush=True)
    print(m, f"speedup median|err| {100 * statistics.median(abs(s['error_frac']) for s in sp):.1f}%")
for mode in MODES:
    print("ALL", mode, f"{100 * statistics.median(abs(c.error_frac) for c in allc if c.mode == mode):.1f}%")
print(f"ALL speedup {100 * statistics.median(abs(s['error_frac']) for s in allsp):.1f}%")
by = {(c.model, c.workload, c.agents, c.mode): c for c in allc}
n_ok = n_tot = 0
for (m, w, a, mode), c in by.items():
    if mode != "dualpath":
        continue
    o = by[(m, w, a, "oracle")]
    if c.jct_s_paper > 1.1 * o.jct_s_paper:
        n_tot += 1
        n_ok += c.jct_s_pred > o.jct_s_pred + 1e-9
print(f"dualpath>oracle where paper >10% above: {n_ok}/{n_tot}")
