"""plotly figures. Every function takes results the models computed and returns a figure; no
model logic lives here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def bottleneck_map(grid: dict) -> go.Figure:
    """Binding resource over P/D ratio x context length (from :func:`dpmodel.sweep.bottleneck_grid`)."""
    names = sorted(set(grid["bottleneck"].ravel()))
    code = np.vectorize(names.index)(grid["bottleneck"])
    text = np.char.add(grid["bottleneck"].astype(str), np.char.mod("<br>%.0f turns/s", grid["turns_per_s"]))
    fig = go.Figure(
        go.Heatmap(
            x=grid["pd_ratio"], y=grid["context_tokens"], z=code, text=text, hoverinfo="text+x+y",
            colorscale="Viridis", showscale=True,
            colorbar={"tickvals": list(range(len(names))), "ticktext": names, "title": "bottleneck"},
        )
    )
    fig.update_layout(title="Binding resource (dual path, saturated)", xaxis_title="P/D ratio", yaxis_title="context (hit) tokens per turn", **_LAYOUT)
    return fig


def throughput_vs_split(curve: dict, split_opt: float | None = None) -> go.Figure:
    """Each resource's throughput limit and the achievable throughput as the split varies."""
    fig = go.Figure()
    f = curve["split_de_frac"]
    top = float(np.nanmax(curve["turns_per_s"][np.isfinite(curve["turns_per_s"])])) * 3
    for name, lim in curve["limits"].items():
        if np.all(~np.isfinite(lim)) or np.nanmin(lim) > top:
            continue
        fig.add_scatter(x=f, y=np.minimum(lim, top), name=name, mode="lines", line={"dash": "dot", "width": 1})
    fig.add_scatter(x=f, y=curve["turns_per_s"], name="achievable", mode="lines", line={"width": 3, "color": "black"})
    if split_opt is not None:
        fig.add_vline(x=split_opt, line_dash="dash", annotation_text=f"optimal split {split_opt:.2f}")
    fig.update_layout(title="Throughput vs share of hit KV read through decode nodes", xaxis_title="split f (decode-node share)",
                      yaxis_title="turns/s (cluster)", **_LAYOUT)
    return fig


def speedup_vs_agents(agents, jct_by_mode: dict[str, list[float]], baseline: str = "basic") -> go.Figure:
    """Offline speedup of every mode over ``baseline`` against batch size."""
    fig = go.Figure()
    base = np.asarray(jct_by_mode[baseline], float)
    for mode, jct in jct_by_mode.items():
        if mode != baseline:
            fig.add_scatter(x=agents, y=base / np.asarray(jct, float), name=f"{mode} vs {baseline}", mode="lines+markers")
    fig.update_layout(title="Offline speedup vs agents", xaxis_title="agents", yaxis_title="JCT speedup", xaxis_type="log", **_LAYOUT)
    return fig


def ttft_vs_aps(aps, ttft_by_mode: dict[str, dict[str, list[float]]], slo_ttft_s: float | None = 4.0) -> go.Figure:
    """TTFT percentiles vs agent arrival rate, with the SLO line."""
    fig = go.Figure()
    for mode, pct in ttft_by_mode.items():
        for q, dash in (("mean", "solid"), ("p90", "dash"), ("p99", "dot")):
            if q in pct:
                fig.add_scatter(x=aps, y=pct[q], name=f"{mode} {q}", mode="lines", line={"dash": dash})
    if slo_ttft_s:
        fig.add_hline(y=slo_ttft_s, line_color="red", annotation_text=f"SLO {slo_ttft_s} s")
    fig.update_layout(title="TTFT vs load", xaxis_title="agents per second", yaxis_title="TTFT [s]", yaxis_type="log", **_LAYOUT)
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
    fig.add_scatter(x=[p["cost_per_hour"] for p in pts], y=[p["max_aps"] for p in pts], mode="markers", name="candidates",
                    text=[p["label"] for p in pts], marker={"color": "lightgray"})
    fig.add_scatter(x=[p["cost_per_hour"] for p in front], y=[p["max_aps"] for p in front], mode="lines+markers", name="Pareto front",
                    text=[p["label"] for p in front])
    fig.update_layout(title="Cost vs capacity", xaxis_title="cost per hour", yaxis_title="max agents/s under SLO", **_LAYOUT)
    return fig


def mode_bars(plan_result) -> go.Figure:
    """Saturated turns/s per mode with the bottleneck as hover text."""
    modes = list(plan_result.modes.values())
    fig = go.Figure(go.Bar(x=[m.mode for m in modes], y=[m.turns_per_s for m in modes], text=[m.bottleneck for m in modes], textposition="outside"))
    fig.update_layout(title="Saturated throughput by mode (label: bottleneck)", yaxis_title="turns/s (cluster)", **_LAYOUT)
    return fig


def policy_heatmap(table, *, hit_tokens: float) -> go.Figure:
    """Decode-side share over (prefill-side backlog, decode-side backlog) at the hit-token row
    nearest ``hit_tokens`` of a :class:`dpmodel.PolicyTable`."""
    h, p, d = table.axes
    i = int(np.argmin(np.abs(np.log(h) - np.log(hit_tokens))))
    fig = go.Figure(go.Heatmap(x=d, y=p, z=table.values[i], colorscale="RdBu", zmin=0, zmax=1, colorbar={"title": "DE share"}))
    fig.update_layout(title=f"Read split at {h[i]:,.0f} hit tokens", xaxis_title="decode-side read backlog [s]",
                      yaxis_title="prefill-side read backlog [s]", **_LAYOUT)
    return fig
