"""Plain-text rendering of results (no model logic here)."""

from __future__ import annotations

import math

from .plan import PlanResult


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "inf"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g}" if abs(x) < 100 else f"{x:.1f}"


def format_plan_text(res: PlanResult) -> str:
    """The ``dpmodel plan`` report: per-mode throughput, split, speedups, resources, P/D window."""
    sc = res.scenario
    dep = sc["deployment"]
    lines = [
        "dpmodel plan: saturated throughput (offline upper bound)",
        f"scenario   cluster={sc['cluster']}  model={sc['model']}  workload={sc['workload']}  "
        f"{sc['prefill_nodes']}P{sc['decode_nodes']}D  (fingerprint {sc['fingerprint']})",
        f"KV         {sc['kv_bytes_per_token']:,.0f} bytes/token; prefill efficiency {dep['prefill_efficiency_frac']:.2f} of peak; "
        f"decode batch {res.decode['batch_seqs_per_gpu']:.1f} seqs/GPU, step {res.decode['step_s'] * 1e3:.1f} ms",
        "",
        f"{'mode':<10} {'turns/s':>9} {'prompt tok/s':>13} {'gen tok/s':>10} {'DE split':>9}  bottleneck",
    ]
    for m in res.modes.values():
        split = f"{m.split_de_frac:.3f}" if m.mode == "dualpath" else "-"
        lines.append(
            f"{m.mode:<10} {m.turns_per_s:>9.2f} {m.prompt_tokens_per_s:>13.4g} {m.generated_tokens_per_s:>10.4g} {split:>9}  {m.bottleneck}"
        )
    dp = res.modes["dualpath"]
    lines += [
        "",
        f"dual-path split: read {dp.split_de_frac:.1%} of hit-KV bytes through decode-node storage NICs",
        f"speedup: dualpath / basic = {res.speedup_dualpath_vs_basic:.2f}x, dualpath / layerwise = "
        f"{res.speedup_dualpath_vs_layerwise:.2f}x, dualpath reaches {res.dualpath_vs_oracle_frac:.1%} of oracle",
        "",
        "resources in the dualpath solution (capacity is cluster-wide; shadow price = turns/s gained per unit more):",
        f"  {'resource':<15} {'capacity':>10} {'unit':<9} {'util':>6} {'shadow price':>13}  unit",
    ]
    for r in sorted(dp.resources, key=lambda r: -r.utilization_frac):
        mark = " *" if r.name in dp.binding else "  "
        lines.append(
            f"{mark}{r.name:<15} {_fmt(r.capacity):>10} {r.unit:<9} {r.utilization_frac:>6.1%} {_fmt(r.shadow_price):>13}  {r.shadow_price_unit}"
        )
    w = res.pd_ratio_window
    ratio = sc["prefill_nodes"] / sc["decode_nodes"]
    inside = "inside" if w["min"] <= ratio <= w["max"] else "OUTSIDE"
    lines += [
        "  (* = binding)",
        "",
        f"bottleneck-free P/D window (paper eq. 9): {_fmt(w['min'])} <= P/D <= {_fmt(w['max'])}; this scenario's "
        f"P/D = {ratio:.3g} is {inside}",
        f"  bounds: PE CNIC write >= {_fmt(w['eq3_pe_cnic_write_min'])}, DE CNIC read <= {_fmt(w['eq5_de_cnic_read_max'])}, "
        f"DE CNIC write <= {_fmt(w['eq7_de_cnic_write_max'])}, DE DRAM <= {_fmt(w['eq8_de_dram_max'])}",
    ]
    if res.notes:
        lines += ["", *[f"note: {n}" for n in res.notes]]
    return "\n".join(lines)
