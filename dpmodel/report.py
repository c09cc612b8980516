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


def _physics_label(sc: dict) -> str:
    """The plan header's physics line, from the scenario's dict (physics and the cluster's name)."""
    from .reference import CALIBRATED_SUFFIX

    if sc["deployment"].get("physics") == "flat":
        return "flat (prefill FLOPs at one efficiency, decode weights + KV over HBM plus a step overhead)"
    if str(sc["cluster"]).endswith(CALIBRATED_SUFFIX):
        return "roofline, calibrated (bounded Oracle-only Fig. 7 fit of the kernel knobs; --uncalibrated: the raw roofline)"
    return "roofline, uncalibrated (published kernel figures only, nothing fitted)"


def format_plan_text(res: PlanResult) -> str:
    """The ``dpmodel plan`` report: per-mode throughput, split, speedups, resources, P/D window."""
    sc = res.scenario
    dep = sc["deployment"]
    lines = [
        "dpmodel plan: saturated throughput (offline upper bound)",
        f"scenario   cluster={sc['cluster']}  model={sc['model']}  workload={sc['workload']}  "
        f"{sc['prefill_nodes']}P{sc['decode_nodes']}D  (fingerprint {sc['fingerprint']})",
        *(
            [("config     command line: " + ", ".join(f"{k} = {v}" for k, v in sc["config_command_line"].items()))]
            if sc.get("config_command_line")
            else []
        ),
        f"physics    {_physics_label(sc)}",
        f"KV         {sc['kv_bytes_per_token']:,.0f} bytes/token; "
        + (f"prefill efficiency {dep['prefill_efficiency_frac']:.2f} of peak; " if dep.get("physics") == "flat" else "")
        + f"decode batch {res.decode['batch_seqs_per_gpu']:.1f} seqs/GPU, step {res.decode['step_s'] * 1e3:.1f} ms",
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
    lines.append(
        "  (prompt tok/s counts cached hits; uncached = appended tokens prefill computes; tok/s/GPU = generated "
        "tokens over all P + D GPUs; tok/s/user = 1 / TPOT at the decode batch this throughput needs)"
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
        (
            f"bottleneck-free P/D window (paper eq. 9): {_fmt(w['min'])} <= P/D <= {_fmt(w['max'])}; this scenario's "
            if 0 <= w["min"] <= w["max"]
            else "bottleneck-free P/D window (paper eq. 9): empty (the bounds below conflict); this scenario's "
        )
        + f"P/D = {ratio:.3g} is {inside}",
        f"  bounds: PE CNIC write >= {_fmt(w['eq3_pe_cnic_write_min'])}, DE CNIC read <= {_fmt(w['eq5_de_cnic_read_max'])}, "
        f"DE CNIC write <= {_fmt(w['eq7_de_cnic_write_max'])}, DE DRAM <= {_fmt(w['eq8_de_dram_max'])}",
    ]
    if res.notes:
        lines += ["", *[f"note: {n}" for n in res.notes]]
    return "\n".join(lines)


#: the report's TTFT-vs-load points per mode (denser towards saturation) and the saturation bisection's tolerance
TTFT_POINTS = 14
SATURATION_TOL_FRAC = 1e-2


def _online_curves(scenario) -> tuple[dict, dict, dict]:
    """Each mode's saturation load (the online model's stability limit, by :func:`slo_capacity` with
    no SLO) and its TTFT mean/p99 on a grid up to 98 % of it."""
    import numpy as np

    from .plots import MODE_ORDER
    from .progress import tick
    from .serving import online_metrics, slo_capacity

    sat, aps, ttft = {}, {}, {}
    for m in MODE_ORDER:
        cap = slo_capacity(scenario, m, slo_ttft_s=1e9, slo_tpot_s=1e9, tol_frac=SATURATION_TOL_FRAC)
        sat[m] = cap.max_aps
        if not cap.max_aps > 0:
            continue
        aps[m] = cap.max_aps * (1 - np.geomspace(0.98, 0.02, TTFT_POINTS))
        rs = []
        for a in aps[m]:
            rs.append(online_metrics(scenario, m, float(a)))
            tick(1, f"TTFT {m}")
        ttft[m] = {q: [r.ttft_s[q] if r.stable else float("nan") for r in rs] for q in ("mean", "p99")}
    return sat, aps, ttft


def _current_row(scenario, search_result):
    """The search row of this scenario's own configuration (dual path), if the search covered it."""
    if search_result is None:
        return None
    dep = scenario.deployment
    key = (dep.prefill_nodes_count, dep.decode_nodes_count, scenario.cluster.node.snic_count, scenario.prefill_engine_gpus, "dualpath")
    for r in search_result.rows:
        if (r["prefill_nodes"], r["decode_nodes"], r["snics_per_node"], r["prefill_engine_gpus"], r["mode"]) == key:
            return r
    return None


def _figures(scenario, res, *, search_result=None, online=None) -> list:
    """The report's figures, from the models' own functions (no computation here)."""
    import numpy as np

    from . import plots
    from .sweep import bottleneck_grid, split_curve

    dp = res.modes["dualpath"]
    figs = [
        ("throughput", plots.mode_bars(res)),
        ("resources", plots.resource_utilization(dp)),
        ("split", plots.throughput_vs_split(split_curve(scenario), dp.split_de_frac)),
    ]
    if len(scenario.classes()) == 1:
        (k,) = scenario.classes()
        dep = scenario.deployment
        grid = bottleneck_grid(
            scenario, pd_ratios=np.linspace(0.125, 4, 24), contexts_tokens=np.geomspace(4e3, 1.3e5, 16), decode_nodes=dep.decode_nodes_count
        )
        figs.append(
            ("bottleneck_map", plots.bottleneck_map(grid, scenario_point=(dep.prefill_nodes_count / dep.decode_nodes_count, k.hit_tokens)))
        )
    sat, aps, ttft = online if online is not None else _online_curves(scenario)
    figs.append(("ttft_vs_aps", plots.ttft_vs_aps(aps, ttft, saturation_aps=sat)))
    if search_result is not None:
        figs.append(
            ("pareto_front", plots.pareto_front(search_result.rows, search_result.front, current=_current_row(scenario, search_result)))
        )
    return figs


_CAPTIONS = {
    "throughput": "Saturated (offline upper bound) throughput of each read mode; under each bar the resource that binds it.",
    "resources": "How busy each resource is at the dual-path optimum. The highlighted bars bind: more of them raises throughput "
    "(shadow price on hover); the grey ones have slack.",
    "split": "Throughput as the share f of hit-KV bytes read through decode-node storage NICs varies. The limits that bind "
    "somewhere on [0, 1] are named; the rest are grey. The optimum is where the binding limits cross.",
    "bottleneck_map": "Which resource binds the dual path as the P/D ratio and the context length vary (the decode node count "
    "fixed at this scenario's); the star is this scenario.",
    "ttft_vs_aps": "Mean (solid) and p99 (dotted) TTFT from the online queueing model as the load grows, per mode; the red line "
    "is the TTFT SLO, each dotted vertical the load at which that mode saturates (TTFT grows without bound there).",
    "pareto_front": "Every configuration the search evaluated, for the same number of nodes: throughput per GPU against decode "
    "speed per user. The coloured points are the Pareto front; the star is this scenario's own configuration.",
}

_CSS = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}.rec{border-left:6px solid #0072B2;background:#eef5fb;padding:.6em 1.2em;margin:1em 0}.rec li{margin:.3em 0}
.fig{margin:1.5em 0 2.5em}.cap{color:#555;font-size:.92em;margin:.2em 0}.bind{color:#D55E00;font-weight:600}.muted{color:#777}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}"""


def _recommendation(res, sat: dict, search_result, current) -> list[str]:
    """The recommendation, one bullet a finding (HTML)."""
    import html

    dp = res.modes["dualpath"]
    esc = html.escape
    sc = res.scenario
    items = [
        f"Run <b>dual path</b>, reading <b>{dp.split_de_frac:.1%}</b> of hit-KV bytes through decode-node storage NICs: "
        f"<b>{dp.turns_per_s:.2f} turns/s</b> saturated ({si(dp.generated_tokens_per_s)} generated tokens/s, "
        f"{dp.tokens_per_s_per_gpu:,.1f} tokens/s per GPU), <b>{res.speedup_dualpath_vs_basic:.2f}x</b> basic and "
        f"{res.speedup_dualpath_vs_layerwise:.2f}x layerwise; {res.dualpath_vs_oracle_frac:.0%} of the zero-I/O oracle."
    ]
    binding = [r for r in dp.resources if r.name in dp.bottlenecks]
    if binding:
        b = max(binding, key=lambda r: r.shadow_price)
        items.append(
            f"What limits it: <span class='bind'>{esc(', '.join(dp.bottlenecks))}</span> (shadow price of {esc(b.name)}: "
            f"{b.shadow_price:.3g} {esc(b.shadow_price_unit)}, what one more unit of it would add)."
        )
        slack = sorted((r for r in dp.resources if r.name not in dp.bottlenecks), key=lambda r: -r.utilization_frac)
        if slack:
            items.append(f"Next resource to bind: {esc(slack[0].name)} at {slack[0].utilization_frac:.0%}.")
    w = res.pd_ratio_window
    ratio = sc["prefill_nodes"] / sc["decode_nodes"]
    if 0 <= w["min"] <= w["max"]:
        where = "inside" if w["min"] <= ratio <= w["max"] else "<b>outside</b>"
        items.append(f"P/D = {ratio:.3g} is {where} the bottleneck-free window {w['min']:.3g} &le; P/D &le; {w['max']:.3g} (paper eq. 9).")
    else:
        items.append("The bottleneck-free P/D window (paper eq. 9) is empty for this scenario: some link binds at every ratio.")
    if sat:
        parts = ", ".join(f"{m} {v:.3g}" for m, v in sat.items() if v > 0)
        items.append(
            f"Online (Poisson arrivals): saturation at {parts} agents/s; plan below these with the TTFT and TPOT SLOs "
            f"(<code>dpmodel capacity</code>)."
        )
    if search_result is not None and search_result.rows:
        best = search_result.rows[0]
        txt = (
            f"Search over {search_result.evaluated:,} configurations of {search_result.nodes} nodes: best by "
            f"{esc(search_result.rank_by)} is <b>{best['prefill_nodes']}P{best['decode_nodes']}D, {best['snics_per_node']} storage "
            f"NIC(s)/node, {best['mode']}</b> at {best['turns_per_s']:.2f} turns/s ({best['tokens_per_s_per_gpu']:,.1f} tokens/s per GPU)"
        )
        if current is not None:
            import math

            from .search import RANK_KEYS

            key, desc = RANK_KEYS[search_result.rank_by]
            v = current.get(key)
            better = sum(
                1
                for r in search_result.rows
                if v is not None
                and r.get(key) is not None
                and not math.isclose(r[key], v, rel_tol=1e-9)
                and ((r[key] > v) if desc else (r[key] < v))
            )
            on = any(
                math.isclose(f["tokens_per_s_per_gpu"], current["tokens_per_s_per_gpu"], rel_tol=1e-9)
                and math.isclose(f["tokens_per_s_per_user"], current["tokens_per_s_per_user"], rel_tol=1e-9)
                for f in search_result.front
            )
            tied = "tied, " if better == 0 and current is not best else ""
            txt += (
                f"; this scenario's configuration ranks {better + 1:,} ({tied}{current['turns_per_s']:.2f} turns/s) and is "
                + ("on" if on else "off")
                + " the Pareto front"
            )
        items.append(txt + ".")
    return items


def write_html_report(scenario, res, path, *, plots_dir=None, search_result=None) -> list[str]:
    """One self-contained HTML file for a design review: the recommendation first, then the figures
    (plotly.js embedded once, so the page opens offline). With ``search_result`` (a
    :class:`dpmodel.search.SearchResult` for the same cluster) also the search's Pareto front. With
    ``plots_dir`` also PNGs when static export (kaleido) is available; returns notes on what was or
    was not written."""
    import html
    from pathlib import Path

    from plotly.offline import get_plotlyjs

    from .fileio import atomic_write_text

    notes = []
    online = _online_curves(scenario)
    sat = online[0]
    figs = _figures(scenario, res, search_result=search_result, online=online)
    current = _current_row(scenario, search_result)
    esc = html.escape
    parts = []
    for name, fig in figs:
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{name}", config={"displaylogo": False, "responsive": True})
        parts.append(f"<div class='fig'><p class='cap'>{esc(_CAPTIONS.get(name, ''))}</p>{div}</div>")
    dp = res.modes["dualpath"]
    rows = "".join(
        f"<tr><td{' class=bind' if r.name in dp.bottlenecks else ''}>{esc(r.name)}</td><td>{esc(r.description)}</td>"
        f"<td class=n>{r.capacity:,.4g} {esc(r.unit)}</td><td class=n>{r.utilization_frac:.1%}</td>"
        f"<td class=n>{r.shadow_price:.3g} {esc(r.shadow_price_unit)}</td></tr>"
        for r in sorted(dp.resources, key=lambda r: -r.utilization_frac)
    )
    modes = "".join(
        f"<tr><td><b>{m.mode}</b></td><td class=n>{m.turns_per_s:.2f}</td><td class=n>{si(m.generated_tokens_per_s)}</td>"
        f"<td class=n>{si(m.uncached_prompt_tokens_per_s)}</td><td class=n>{m.tokens_per_s_per_gpu:,.1f}</td>"
        f"<td class=n>{m.tokens_per_s_per_user:,.1f}</td>"
        f"<td class=n>{(f'{m.split_de_frac:.1%}' if m.mode == 'dualpath' else '-')}</td>"
        f"<td class=n>{(f'{sat[m.mode]:.3g}' if sat.get(m.mode) else '-')}</td><td>{esc(m.bottleneck)}</td></tr>"
        for m in res.modes.values()
    )
    sc = res.scenario
    cfg = sc.get("config_command_line") or {}
    cfg_line = (
        ("<p>Command-line settings: " + ", ".join(f"<code>{esc(k)} = {esc(str(v))}</code>" for k, v in cfg.items()) + "</p>") if cfg else ""
    )
    rec = "".join(f"<li>{t}</li>" for t in _recommendation(res, sat, search_result, current))
    title = f"{sc['cluster']} / {sc['model']} / {sc['workload']}, {sc['prefill_nodes']}P{sc['decode_nodes']}D"
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dpmodel design review: {esc(title)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>dpmodel design review</h1>
<p class=muted>{esc(title)} (fingerprint {esc(str(sc["fingerprint"]))})</p>
<h2 id="recommendation">Recommendation</h2>
<div class="rec"><ul>{rec}</ul></div>
<h2>Modes</h2>
<table><tr><th>mode</th><th>throughput [turns/s]</th><th>generated [tokens/s]</th><th>uncached prompt [tokens/s]</th>
<th>per GPU [tokens/s]</th><th>per user [tokens/s]</th><th>DE split</th><th>saturation [agents/s]</th><th>binding resource</th></tr>{modes}</table>
<p class=muted>Throughput is the saturated (offline) upper bound of the flow LP; saturation is the online model's load at which
queues grow without bound. Per GPU: generated tokens over all P + D GPUs; per user: 1 / TPOT at the decode batch the throughput needs.</p>
<h2>Figures</h2>{"".join(parts)}
<h2>Resources in the dual-path solution</h2>
<table><tr><th>resource</th><th>what</th><th>capacity (cluster)</th><th>utilization</th><th>shadow price</th></tr>{rows}</table>
<h2>Scenario</h2>
<p>Cluster <b>{esc(sc["cluster"])}</b>, model <b>{esc(sc["model"])}</b>, workload <b>{esc(sc["workload"])}</b>,
{sc["prefill_nodes"]} prefill + {sc["decode_nodes"]} decode nodes; KV {sc["kv_bytes_per_token"]:,.0f} bytes/token.</p>{cfg_line}
<h2>Notes</h2><ul>{"".join(f"<li>{esc(n)}</li>" for n in res.notes) or "<li>none</li>"}</ul>
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
