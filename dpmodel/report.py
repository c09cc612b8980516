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


def si(x: float, digits: int = 3) -> str:
    """``x`` with an SI prefix (k, M, G, T) and ``digits`` significant digits: 7.54e6 -> '7.54 M'."""
    if x is None or not math.isfinite(x):
        return "-"
    for scale, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g} {p}"
    return f"{x:.{digits}g}"


def _storage_line(st: dict[str, float]) -> list[str]:
    """The Full-Block read model's effective storage-NIC rate (dpmodel.storage), one line."""
    if not st:
        return []
    return [
        f"storage    effective read {st['read_Bps_per_node'] / 1e9:.1f} GB/s per node ({st['read_frac_of_line']:.1%} of line): "
        f"Full Blocks of {st['full_block_bytes'] / 1e6:.2f} MB, {st['reads_in_flight']:.0f} reads in flight per NIC; "
        f"write {st['write_Bps_per_node'] / 1e9:.1f} GB/s; Layer Blocks of {st['layer_block_bytes'] / 1e3:.1f} kB, one work request "
        f"each, would cap layerwise loads at {st['layer_block_load_Bps_per_gpu'] / 1e9:.1f} GB/s per GPU (reported, not applied)"
    ]


def format_plan_text(res: PlanResult) -> str:
    """The ``dpmodel plan`` report: per-mode throughput, split, speedups, resources, P/D window."""
    sc = res.scenario
    dep = sc["deployment"]
    lines = [
        "dpmodel plan: saturated throughput (offline upper bound)",
        f"scenario   cluster={sc['cluster']}  model={sc['model']}  workload={sc['workload']}  "
        f"{sc['prefill_nodes']}P{sc['decode_nodes']}D  (fingerprint {sc['fingerprint']})",
        *([("config     command line: " + ", ".join(f"{k} = {v}" for k, v in sc["config_command_line"].items()))]
          if sc.get("config_command_line") else []),
        f"KV         {sc['kv_bytes_per_token']:,.0f} bytes/token; prefill efficiency {dep['prefill_efficiency_frac']:.2f} of peak; "
        f"decode batch {res.decode['batch_seqs_per_gpu']:.1f} seqs/GPU, step {res.decode['step_s'] * 1e3:.1f} ms",
        *_storage_line(res.storage_reads),
        "",
        f"{'mode':<10} {'turns/s':>9} {'prompt tok/s':>13} {'uncached':>10} {'gen tok/s':>10} {'tok/s/GPU':>10} "
        f"{'tok/s/user':>10} {'DE split':>9}  bottleneck",
    ]
    for m in res.modes.values():
        split = f"{m.split_de_frac:.3f}" if m.mode == "dualpath" else "-"
        lines.append(
            f"{m.mode:<10} {m.turns_per_s:>9.2f} {si(m.prompt_tokens_per_s):>13} {si(m.uncached_prompt_tokens_per_s):>10} "
            f"{si(m.generated_tokens_per_s):>10} {m.tokens_per_s_per_gpu:>10,.1f} {m.tokens_per_s_per_user:>10,.1f} {split:>9}  {m.bottleneck}"
        )
    lines.append("  (prompt tok/s counts cached hits; uncached = appended tokens prefill computes; tok/s/GPU = generated "
                 "tokens over all P + D GPUs; tok/s/user = 1 / TPOT at the decode batch this throughput needs)")
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
        mark = " *" if r.name in dp.bottlenecks else "  "
        lines.append(
            f"{mark}{r.name:<15} {r.capacity:>10,.1f} {r.unit:<9} {r.utilization_frac:>6.1%} {_fmt(r.shadow_price):>13}  {r.shadow_price_unit}"
        )
    w = res.pd_ratio_window
    ratio = sc["prefill_nodes"] / sc["decode_nodes"]
    inside = "inside" if w["min"] <= ratio <= w["max"] else "OUTSIDE"
    lines += [
        "  (* = at capacity)",
        "",
        (f"bottleneck-free P/D window (paper eq. 9): {_fmt(w['min'])} <= P/D <= {_fmt(w['max'])}; this scenario's "
         if 0 <= w["min"] <= w["max"] else "bottleneck-free P/D window (paper eq. 9): empty (the bounds below conflict); this scenario's ")
        + f"P/D = {ratio:.3g} is {inside}",
        f"  bounds: PE CNIC write >= {_fmt(w['eq3_pe_cnic_write_min'])}, DE CNIC read <= {_fmt(w['eq5_de_cnic_read_max'])}, "
        f"DE CNIC write <= {_fmt(w['eq7_de_cnic_write_max'])}, DE DRAM <= {_fmt(w['eq8_de_dram_max'])}",
    ]
    if res.notes:
        lines += ["", *[f"note: {n}" for n in res.notes]]
    return "\n".join(lines)


def _figures(scenario, res) -> list:
    """The report's figures, from the models' own functions (no computation here)."""
    import numpy as np

    from . import plots
    from .serving import online_metrics, slo_capacity
    from .sweep import bottleneck_grid, split_curve

    figs = [("throughput", plots.mode_bars(res)),
            ("split", plots.throughput_vs_split(split_curve(scenario), res.modes["dualpath"].split_de_frac))]
    if len(scenario.classes()) == 1:
        grid = bottleneck_grid(scenario, pd_ratios=np.linspace(0.125, 4, 24), contexts_tokens=np.geomspace(4e3, 1.3e5, 16),
                               decode_nodes=scenario.deployment.decode_nodes_count)
        figs.append(("bottleneck_map", plots.bottleneck_map(grid)))
    cap = max(slo_capacity(scenario, m, slo_ttft_s=1e9, slo_tpot_s=1e9).max_aps for m in ("basic", "dualpath"))
    aps = np.linspace(cap * 0.02, cap * 0.98, 25)
    ttft = {}
    for m in ("basic", "dualpath"):
        rs = [online_metrics(scenario, m, float(a)) for a in aps]
        ttft[m] = {q: [r.ttft_s[q] for r in rs] for q in ("mean", "p99")}
    figs.append(("ttft_vs_aps", plots.ttft_vs_aps(aps, ttft)))
    return figs


def write_html_report(scenario, res, path, *, plots_dir=None) -> list[str]:
    """One self-contained HTML file (plotly inlined, opens offline). With ``plots_dir`` also PNGs
    when static export (kaleido) is available; returns notes on what was or was not written."""
    import html
    from pathlib import Path

    from .fileio import atomic_write_text

    notes = []
    figs = _figures(scenario, res)
    parts = []
    for i, (_, fig) in enumerate(figs):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    dp = res.modes["dualpath"]
    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.capacity:.4g} {r.unit}</td><td>{r.utilization_frac:.1%}</td>"
        f"<td>{r.shadow_price:.4g} {html.escape(r.shadow_price_unit)}</td></tr>"
        for r in sorted(dp.resources, key=lambda r: -r.utilization_frac)
    )
    modes = "".join(
        f"<tr><td>{m.mode}</td><td>{m.turns_per_s:.2f}</td><td>{html.escape(m.bottleneck)}</td></tr>" for m in res.modes.values()
    )
    sc = res.scenario
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>dpmodel report: {html.escape(sc['cluster'])} / {html.escape(sc['model'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head><body>
<h1>dpmodel report</h1>
<p>Scenario: cluster <b>{html.escape(sc['cluster'])}</b>, model <b>{html.escape(sc['model'])}</b>, workload <b>{html.escape(sc['workload'])}</b>,
{sc['prefill_nodes']} prefill + {sc['decode_nodes']} decode nodes (fingerprint {sc['fingerprint']}).</p>
<h2>Recommendation</h2>
<p>Read <b>{dp.split_de_frac:.1%}</b> of hit-KV bytes through decode-node storage NICs. Dual path reaches {dp.turns_per_s:.1f} turns/s,
{res.speedup_dualpath_vs_basic:.2f}x basic, {res.dualpath_vs_oracle_frac:.0%} of the zero-I/O oracle; it is bound by <b>{html.escape(dp.bottleneck)}</b>.</p>
<h2>Modes</h2><table><tr><th>mode</th><th>turns/s</th><th>bottleneck</th></tr>{modes}</table>
<h2>Resources (dual-path solution)</h2><table><tr><th>resource</th><th>capacity</th><th>utilization</th><th>shadow price</th></tr>{rows}</table>
<p>Bottleneck-free P/D window (paper eq. 9): {res.pd_ratio_window['min']:.3g} &le; P/D &le; {res.pd_ratio_window['max']:.3g}.</p>
<h2>Figures</h2>{''.join(parts)}
<h2>Notes</h2><ul>{''.join(f'<li>{html.escape(n)}</li>' for n in res.notes)}</ul>
</body></html>"""
    atomic_write_text(path, doc)
    if plots_dir is not None:
        out = Path(plots_dir)
        out.mkdir(parents=True, exist_ok=True)
        try:
            import kaleido  # noqa: F401
        except ImportError:
            notes.append("PNG export needs the optional package kaleido (pip install kaleido); the HTML report has every figure")
            return notes
        for name, fig in figs:  # pragma: no cover - needs kaleido and a browser
            fig.write_image(str(out / f"{name}.png"))
        notes.append(f"wrote {len(figs)} PNGs to {out}")
    return notes
