"""plotly figures. Every function takes results the models computed and returns a figure; no
model logic lives here.

House style (a design review reads these): every axis carries its unit; bars carry value labels;
what binds is in colour and the rest in grey; categories get discrete colours and a named legend;
one colour per mode across figures (:data:`MODE_COLORS`).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

_LAYOUT = {"template": "plotly_white", "margin": {"l": 70, "r": 30, "t": 60, "b": 60}}

#: one colour per mode in every figure (Okabe-Ito, colour-blind safe); the recommended mode is the blue
MODE_COLORS = {"oracle": "#555555", "layerwise": "#009E73", "basic": "#E69F00", "dualpath": "#0072B2"}
MODE_ORDER = ("oracle", "layerwise", "basic", "dualpath")
HIGHLIGHT = "#D55E00"  # the binding resource
GREY = "#C8C8C8"
#: discrete colours for categories (resource names) in the bottleneck map; assigned in sorted-name order
CATEGORY_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
)


def _mode_color(mode: str) -> str:
    return MODE_COLORS.get(mode, "#333333")


def bottleneck_map(grid: dict, *, scenario_point: tuple[float, float] | None = None) -> go.Figure:
    """Binding resource over P/D ratio x context length (from :func:`dpmodel.sweep.bottleneck_grid`):
    one discrete colour per resource with its name in the legend; ``scenario_point`` = (P/D, hit
    tokens per turn) is marked."""
    names = sorted(set(grid["bottleneck"].ravel().tolist()))
    x = np.asarray(grid["pd_ratio"], float)
    y = np.asarray(grid["context_tokens"], float)
    tps = np.asarray(grid["turns_per_s"], float)
    fig = go.Figure()
    for i, name in enumerate(names):
        color = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
        mask = grid["bottleneck"] == name
        z = np.where(mask, 1.0, np.nan)
        text = np.where(mask, np.char.mod(f"{name}<br>%.2f turns/s", tps), "")
        fig.add_trace(
            go.Heatmap(
                x=x,
                y=y,
                z=z,
                text=text,
                hoverinfo="text+x+y",
                colorscale=[[0, color], [1, color]],
                showscale=False,
                name=name,
                legendgroup=name,
                xgap=1,
                ygap=1,
            )
        )
        # a legend entry for the category (heatmaps have no legend swatch of their own)
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"symbol": "square", "size": 14, "color": color},
                name=name,
                legendgroup=name,
                showlegend=True,
            )
        )
    if scenario_point is not None:
        px, py = scenario_point
        fig.add_trace(
            go.Scatter(
                x=[px],
                y=[py],
                mode="markers+text",
                name="this scenario",
                marker={"symbol": "star", "size": 18, "color": "white", "line": {"color": "black", "width": 2}},
                text=["this scenario"],
                textposition="top center",
                textfont={"color": "black"},
                hovertemplate="this scenario<br>P/D %{x:.3g}<br>%{y:,.0f} hit tokens/turn<extra></extra>",
            )
        )
    fig.update_layout(
        title="Binding resource (dual path, saturated) over P/D ratio and context length",
        xaxis_title="P/D ratio [prefill nodes per decode node]",
        yaxis_title="context (hit) tokens per turn [tokens]",
        yaxis_type="log",
        legend_title_text="binding resource",
        **_LAYOUT,
    )
    return fig


def throughput_vs_split(curve: dict, split_opt: float | None = None, *, tol_frac: float = 1e-6) -> go.Figure:
    """The achievable throughput as the split varies and the resource limits that bind somewhere on
    [0, 1] (in colour, named); the resources that never bind are one grey group, clipped to the plot."""
    fig = go.Figure()
    f = np.asarray(curve["split_de_frac"], float)
    ach = np.asarray(curve["turns_per_s"], float)
    finite = ach[np.isfinite(ach)]
    top = float(np.max(finite)) * 1.6 if finite.size else 1.0
    binding, slack = [], []
    for name, lim in curve["limits"].items():
        lim = np.asarray(lim, float)
        if np.all(~np.isfinite(lim)):
            continue
        (binding if np.any(np.isclose(lim, ach, rtol=tol_frac, atol=0)) else slack).append((name, lim))
    first = True
    for name, lim in slack:
        if np.nanmin(lim) > top:
            continue
        fig.add_scatter(
            x=f,
            y=np.where(lim <= top, lim, np.nan),
            name="other limits (never bind here)",
            legendgroup="slack",
            showlegend=first,
            mode="lines",
            line={"color": GREY, "width": 1},
            hovertemplate=f"{name}: %{{y:.3g}} turns/s at f = %{{x:.2f}}<extra></extra>",
        )
        first = False
    for i, (name, lim) in enumerate(binding):
        fig.add_scatter(
            x=f,
            y=np.where(lim <= top, lim, np.nan),
            name=f"limit: {name}",
            mode="lines",
            line={"color": CATEGORY_COLORS[(i + 1) % len(CATEGORY_COLORS)], "width": 2, "dash": "dash"},
            hovertemplate=f"{name}: %{{y:.3g}} turns/s at f = %{{x:.2f}}<extra></extra>",
        )
    fig.add_scatter(
        x=f,
        y=ach,
        name="achievable (min of the limits)",
        mode="lines",
        line={"width": 4, "color": "black"},
        hovertemplate="%{y:.3g} turns/s at f = %{x:.2f}<extra></extra>",
    )
    if split_opt is not None:
        y_opt = float(np.interp(split_opt, f, ach))
        fig.add_scatter(
            x=[split_opt],
            y=[y_opt],
            mode="markers+text",
            name="optimal split",
            marker={"size": 12, "color": HIGHLIGHT},
            text=[f"optimum f = {split_opt:.2f}: {y_opt:.2f} turns/s"],
            textposition="top center",
            hovertemplate="optimum f = %{x:.3f}: %{y:.3g} turns/s<extra></extra>",
        )
    fig.update_layout(
        title="Throughput vs share of hit KV read through decode nodes (dual path)",
        xaxis_title="split f [fraction of hit-KV bytes read via decode nodes]",
        yaxis_title="throughput [turns/s, cluster]",
        yaxis_range=[0, top],
        xaxis_range=[0, 1],
        **_LAYOUT,
    )
    return fig


def speedup_vs_agents(agents, jct_by_mode: dict[str, list[float]], baseline: str = "basic") -> go.Figure:
    """Offline speedup of every mode over ``baseline`` against batch size."""
    fig = go.Figure()
    base = np.asarray(jct_by_mode[baseline], float)
    for mode, jct in jct_by_mode.items():
        if mode != baseline:
            fig.add_scatter(
                x=agents,
                y=base / np.asarray(jct, float),
                name=f"{mode} vs {baseline}",
                mode="lines+markers",
                line={"color": _mode_color(mode)},
            )
    fig.update_layout(
        title="Offline speedup vs agents",
        xaxis_title="agents [count]",
        yaxis_title=f"JCT speedup over {baseline} [x]",
        xaxis_type="log",
        **_LAYOUT,
    )
    return fig


def ttft_vs_aps(
    aps,
    ttft_by_mode: dict[str, dict[str, list[float]]],
    slo_ttft_s: float | None = 4.0,
    *,
    saturation_aps: dict[str, float] | None = None,
    y_max_s: float | None = None,
) -> go.Figure:
    """TTFT percentiles vs agent arrival rate per mode, the SLO line, and each mode's saturation
    (a dotted vertical line in the mode's colour). ``aps`` is one array for every mode or a dict of
    arrays by mode. The TTFT axis is clipped to ``y_max_s`` (default 10 x the SLO, at least 3 x the
    largest finite TTFT below it): near saturation TTFT grows without bound."""
    fig = go.Figure()
    ys = []
    order = [m for m in MODE_ORDER if m in ttft_by_mode] + [m for m in ttft_by_mode if m not in MODE_ORDER]
    for mode in order:
        pct = ttft_by_mode[mode]
        x = aps[mode] if isinstance(aps, dict) else aps
        for q, dash in (("mean", "solid"), ("p90", "dash"), ("p99", "dot")):
            if q in pct:
                y = np.asarray(pct[q], float)
                ys.append(y[np.isfinite(y)])
                fig.add_scatter(
                    x=x,
                    y=y,
                    name=f"{mode} {q}",
                    legendgroup=mode,
                    mode="lines",
                    line={"dash": dash, "color": _mode_color(mode), "width": 2.5 if q == "mean" else 1.5},
                    hovertemplate=f"{mode} {q}: %{{y:.3g}} s at %{{x:.3g}} agents/s<extra></extra>",
                )
    allv = np.concatenate(ys) if ys else np.array([1.0])
    allv = allv[allv > 0]
    lo = float(np.min(allv)) / 2 if allv.size else 1e-3
    if y_max_s is None:
        y_max_s = 10 * slo_ttft_s if slo_ttft_s else float(np.max(allv)) * 3
    if slo_ttft_s:
        fig.add_hline(y=slo_ttft_s, line_color="red", line_width=2)
        # placed by hand: add_hline's own annotation lands off the chart on a log axis
        fig.add_annotation(
            x=0,
            xref="paper",
            y=math.log10(slo_ttft_s),
            yref="y",
            text=f"TTFT SLO {slo_ttft_s:g} s",
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"color": "red"},
        )
    x_max = 0.0
    for mode, sat in (saturation_aps or {}).items():
        if sat is None or not math.isfinite(sat) or sat <= 0:
            continue
        x_max = max(x_max, sat)
        fig.add_vline(x=sat, line_color=_mode_color(mode), line_dash="dot", line_width=2)
        fig.add_annotation(
            x=sat,
            y=0,
            yref="paper",
            text=f"{mode} saturates at {sat:.3g} agents/s",
            textangle=-90,
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font={"color": _mode_color(mode), "size": 11},
            bgcolor="rgba(255,255,255,0.75)",
        )
    layout = dict(
        title="TTFT vs load, every mode (dotted verticals: saturation)",
        xaxis_title="load [agents/s]",
        yaxis_title="TTFT [s] (log)",
        yaxis_type="log",
        yaxis_range=[math.log10(lo), math.log10(y_max_s)],
        **_LAYOUT,
    )
    if x_max > 0:
        layout["xaxis_range"] = [0, x_max * 1.05]
    fig.update_layout(**layout)
    return fig


def cost_capacity_front(points: list[dict]) -> go.Figure:
    """Cost vs capacity of candidate clusters, with the Pareto front (``points``: cost_per_hour,
    max_aps, label)."""
    pts = sorted(points, key=lambda p: (p["cost_per_hour"], -p["max_aps"]))
    front, best = [], -np.inf
    for p in pts:
        if p["max_aps"] > best:
            front.append(p)
            best = p["max_aps"]
    fig = go.Figure()
    fig.add_scatter(
        x=[p["cost_per_hour"] for p in pts],
        y=[p["max_aps"] for p in pts],
        mode="markers",
        name="candidates",
        text=[p["label"] for p in pts],
        marker={"color": GREY, "size": 9},
    )
    fig.add_scatter(
        x=[p["cost_per_hour"] for p in front],
        y=[p["max_aps"] for p in front],
        mode="lines+markers+text",
        name="Pareto front",
        text=[p["label"] for p in front],
        textposition="top left",
        marker={"color": MODE_COLORS["dualpath"], "size": 10},
    )
    fig.update_layout(title="Cost vs capacity", xaxis_title="cost [per hour]", yaxis_title="max load under SLO [agents/s]", **_LAYOUT)
    return fig


def mode_bars(plan_result, *, highlight: str = "dualpath") -> go.Figure:
    """Saturated turns/s per mode, value-labelled; ``highlight`` in its colour, the others grey (the
    zero-I/O oracle as an outlined bar: an upper bound, not a choice). The binding resource is under
    each bar's name."""
    modes = [plan_result.modes[m] for m in MODE_ORDER if m in plan_result.modes]
    modes += [m for k, m in plan_result.modes.items() if k not in MODE_ORDER]
    colors = [_mode_color(m.mode) if m.mode == highlight else ("white" if m.mode == "oracle" else GREY) for m in modes]
    lines = [_mode_color(m.mode) if m.mode in (highlight, "oracle") else "#888888" for m in modes]
    fig = go.Figure(
        go.Bar(
            x=[f"<b>{m.mode}</b><br><span style='font-size:10px'>bound by {m.bottleneck}</span>" for m in modes],
            y=[m.turns_per_s for m in modes],
            text=[f"{m.turns_per_s:.2f} turns/s" for m in modes],
            textposition="outside",
            marker={"color": colors, "line": {"color": lines, "width": 2}},
            cliponaxis=False,
            hovertemplate="%{y:.3g} turns/s<extra></extra>",
        )
    )
    ymax = max(m.turns_per_s for m in modes)
    fig.update_layout(
        title=f"Saturated throughput by mode ({highlight} highlighted; oracle = zero-I/O upper bound)",
        yaxis_title="throughput [turns/s, cluster]",
        yaxis_range=[0, ymax * 1.18],
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def resource_utilization(mode_result) -> go.Figure:
    """Each resource's utilization at the optimum of one mode (horizontal bars, value-labelled):
    the binding resources highlighted, the others grey; shadow prices on hover."""
    rs = sorted(mode_result.resources, key=lambda r: r.utilization_frac)
    colors = [HIGHLIGHT if r.name in mode_result.bottlenecks else GREY for r in rs]
    fig = go.Figure(
        go.Bar(
            y=[r.name for r in rs],
            x=[100 * r.utilization_frac for r in rs],
            orientation="h",
            text=[f"{100 * r.utilization_frac:.1f} %" + (" (binding)" if r.name in mode_result.bottlenecks else "") for r in rs],
            textposition="outside",
            cliponaxis=False,
            marker={"color": colors},
            customdata=[[f"{r.capacity:,.4g} {r.unit}", f"{r.shadow_price:.3g} {r.shadow_price_unit}"] for r in rs],
            hovertemplate="%{y}: %{x:.1f} % of %{customdata[0]}<br>shadow price %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Resource utilization in the {mode_result.mode} solution (binding highlighted)",
        xaxis_title="utilization [% of capacity]",
        xaxis_range=[0, 125],
        yaxis_title="resource",
        height=max(320, 28 * len(rs) + 120),
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def pareto_front(rows: list[dict], front: list[dict], *, current: dict | None = None) -> go.Figure:
    """A configuration search (:func:`dpmodel.search.search`): tokens/s per GPU vs per user of every
    feasible configuration (grey) and the Pareto front (coloured by read mode); ``current`` (a row)
    is marked."""

    def label(r: dict) -> str:
        return (
            f"{r['prefill_nodes']}P{r['decode_nodes']}D, {r['snics_per_node']} SNIC/node, engine {r['prefill_engine_gpus']} GPUs, "
            f"{r['mode']}: {r['turns_per_s']:.3g} turns/s, bound by {r['bottleneck']}"
        )

    ok = [r for r in rows if r.get("fits") and r.get("turns_per_s", 0) > 0]
    fig = go.Figure()
    fig.add_scatter(
        x=[r["tokens_per_s_per_gpu"] for r in ok],
        y=[r["tokens_per_s_per_user"] for r in ok],
        mode="markers",
        name=f"all feasible configurations ({len(ok)})",
        marker={"color": GREY, "size": 6},
        text=[label(r) for r in ok],
        hovertemplate="%{text}<br>%{x:.3g} tok/s/GPU, %{y:.3g} tok/s/user<extra></extra>",
    )
    fr = sorted(front, key=lambda r: r["tokens_per_s_per_gpu"])
    fig.add_scatter(
        x=[r["tokens_per_s_per_gpu"] for r in fr],
        y=[r["tokens_per_s_per_user"] for r in fr],
        mode="lines",
        name="Pareto front",
        line={"color": "black", "width": 1.5},
        hoverinfo="skip",
    )
    for mode in [m for m in MODE_ORDER if any(r["mode"] == m for r in fr)]:
        sel = [r for r in fr if r["mode"] == mode]
        fig.add_scatter(
            x=[r["tokens_per_s_per_gpu"] for r in sel],
            y=[r["tokens_per_s_per_user"] for r in sel],
            mode="markers",
            name=f"front: {mode}",
            marker={"color": _mode_color(mode), "size": 11, "line": {"color": "black", "width": 1}},
            text=[label(r) for r in sel],
            hovertemplate="%{text}<br>%{x:.3g} tok/s/GPU, %{y:.3g} tok/s/user<extra></extra>",
        )
    if current is not None:
        fig.add_scatter(
            x=[current["tokens_per_s_per_gpu"]],
            y=[current["tokens_per_s_per_user"]],
            mode="markers+text",
            name="this scenario",
            text=["this scenario"],
            textposition="bottom center",
            marker={"symbol": "star", "size": 18, "color": "white", "line": {"color": "black", "width": 2}},
            hovertemplate=label(current) + "<extra></extra>",
        )
    fig.update_layout(
        title="Configuration search: throughput per GPU vs per-user speed (Pareto front in colour)",
        xaxis_title="generated tokens/s per GPU [tokens/s]",
        yaxis_title="decode speed per user [tokens/s]",
        **_LAYOUT,
    )
    return fig


def policy_heatmap(table, *, hit_tokens: float) -> go.Figure:
    """Decode-side share over (prefill-side backlog, decode-side backlog) at the hit-token row
    nearest ``hit_tokens`` of a :class:`dpmodel.PolicyTable`."""
    h, p, d = table.axes
    i = int(np.argmin(np.abs(np.log(h) - np.log(hit_tokens))))
    fig = go.Figure(go.Heatmap(x=d, y=p, z=table.values[i], colorscale="RdBu", zmin=0, zmax=1, colorbar={"title": "DE share [frac]"}))
    fig.update_layout(
        title=f"Read split at {h[i]:,.0f} hit tokens",
        xaxis_title="decode-side read backlog [s]",
        yaxis_title="prefill-side read backlog [s]",
        **_LAYOUT,
    )
    return fig


#: the plotly renderer :func:`use_offline_notebook_renderer` registers
NOTEBOOK_RENDERER = "dpmodel_offline"


def use_offline_notebook_renderer() -> str:
    """Show plotly figures in notebooks as self-contained HTML that also works in a static export.

    plotly's ``notebook_connected`` renderer loads plotly.js from a CDN, and its ``notebook``
    renderer adds a MathJax CDN script to every figure: both fail offline. This renderer embeds
    plotly.js once (on activation) and gives each figure a ``text/html`` that uses it, with no
    outside script (classic Notebook, JupyterLab, VS Code and nbconvert's HTML all show it).
    Returns the renderer's name (also made the default)."""
    import plotly.io as pio
    from plotly.io._base_renderers import NotebookRenderer

    class _OfflineNotebookRenderer(NotebookRenderer):
        def to_mimebundle(self, fig_dict):
            html = pio.to_html(
                fig_dict,
                config=self.config,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    if NOTEBOOK_RENDERER not in pio.renderers:
        pio.renderers[NOTEBOOK_RENDERER] = _OfflineNotebookRenderer(connected=False)
    pio.renderers.default = NOTEBOOK_RENDERER
    return NOTEBOOK_RENDERER
