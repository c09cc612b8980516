"""Where a Fig. 7 Oracle turn's time goes under the uncalibrated roofline (issue 14, item 1).

For one cell per model: the prefill forward (turns per forward, tokens per GPU, its parts), the
decode step (TPOT at one sequence and at the HBM-capacity batch, its parts), the MVA's per-turn
residences (prefill, decode) at the cell's population, and the model's saturated throughput; then
what the paper's JCT implies: the throughput it needs (turns / JCT, a lower bound) and the per-GPU
prefill and decode rates that throughput means, beside DeepSeek's published per-GPU rates
(shared/reference/compute-references.md sections 1, 3a, 6).

Run: PYTHONPATH=$PWD python benchmarks/roofline_decompose.py   (record: benchmarks/results/roofline_fig7.md)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dpmodel.fig7 import run_trajectories, scenario_for
from dpmodel.queueing.mva import mva_dpmodel
from dpmodel.queueing.offline import build_network, offline_jct_many
from dpmodel.reference import FIG7_JCT_S
from dpmodel.workload.classes import classes_from_turns

CELLS = (
    ("deepseek-v3.2", "agentic-64k", 2048),
    ("deepseek-v3.2", "agentic-64k", 512),
    ("ds-27b", "agentic-64k", 2048),
    ("qwen2.5-32b", "agentic-48k", 256),
)


def _ms(
    d: dict, keys=("dense_gemm_s", "expert_gemm_s", "attention_s", "memory_s", "comm_s", "comm_exposed_s", "fixed_s", "total_s")
) -> str:
    return " ".join(f"{k.removesuffix('_s')} {1e3 * float(np.asarray(d[k]).ravel()[0]):.1f}" for k in keys)


def decompose(model: str, workload: str, agents: int) -> None:
    sc0 = scenario_for(model, workload, None)
    ref = FIG7_JCT_S[model]["cells"][workload]
    paper = ref["oracle"][ref["agents"].index(agents)]
    ts = run_trajectories(sc0, max(ref["agents"]))
    classes = classes_from_turns(ts.context_tokens(), ts.append_tokens, ts.generated_tokens, count=1, model=sc0.model)
    sc = dataclasses.replace(sc0, request_classes=classes)
    c, a, o = sc._mean_turn()
    cl, dep = sc.cluster, sc.deployment
    P, D, g, e = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node, sc.prefill_engine_gpus
    turns = ts.turns_per_trajectory()[:agents]
    print(f"### {model} {P}P{D}D {workload}, {agents} agents (Oracle)\n")
    print(
        f"- turns per agent: mean {turns.mean():.1f}, max {turns.max()}; mean turn: context {c:,.0f}, append {a:.0f}, generated {o:.0f} tokens"
    )
    n = sc.prefill_batch_turns()
    pp = sc.prefill_forward_parts(n)
    gpu_s = e * float(pp["total_s"]) / n
    flops = float(sc.model.prefill_flops(context_tokens=c, append_tokens=a))
    print(
        f"- prefill forward: {n:.0f} turns on an engine of {e} GPUs ({n * a / e:,.0f} new tokens per GPU), "
        f"{int(pp['micro_batches'])} micro-batch(es); ms: {_ms(pp)}"
    )
    print(
        f"- prefill per turn: {gpu_s:.3f} GPU-s, {a / gpu_s:,.0f} new tokens/s per GPU, {flops / a / 1e9:.0f} GFLOP per token, "
        f"{flops / gpu_s / 1e12:.0f} TFLOP/s effective"
    )
    dc = sc.decode_capacity()
    dp = sc.decode_step_parts(np.array([1.0, dc["batch_seqs_per_gpu"]]))
    print(
        f"- decode: HBM cap {dc['batch_seqs_per_gpu']:.1f} sequences per GPU ({dc['seq_kv_bytes'] / 1e9:.2f} GB each); "
        f"TPOT {1e3 * float(dp['total_s'][0]):.1f} ms at 1 sequence, {1e3 * dc['step_s']:.1f} ms at the cap "
        f"({dc['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU)"
    )
    print(f"  - at 1 sequence, ms: {_ms({k: v[0] for k, v in dp.items()})}")
    print(f"  - at the cap, ms: {_ms({k: v[1] for k, v in dp.items()})}")
    (r,) = offline_jct_many(sc0, "oracle", [agents], trajectories=ts)
    stations, dec_fn, hold = build_network(sc, "oracle", 0.0)
    res = mva_dpmodel(stations, agents, hold_frac=hold, decode_service_s=dec_fn)
    X = float(res["throughput_per_s"][-1])
    resid = {s.name: float(q) / X for s, q in zip(stations, res["queue"][-1], strict=True)}
    print(
        f"- MVA at {agents} agents: {X:.1f} turns/s (saturated {r.saturated_turns_per_s:.1f}); per-turn residence "
        + ", ".join(f"{k} {v:.2f} s" for k, v in resid.items())
        + f"; TPOT {1e3 * r.decode_tpot_s:.1f} ms"
    )
    need = r.turns_total / paper
    new_tok = need * a
    print(f"- JCT: model {r.jct_s:,.0f} s, paper {paper:,} s ({100 * (r.jct_s / paper - 1):+.0f} %)")
    print(
        f"- the paper's JCT needs >= {need:.1f} turns/s: {new_tok / (P * g):,.0f} new tokens/s per prefill GPU "
        f"({new_tok * flops / a / (P * g) / 1e12:.0f} TFLOP/s, {100 * new_tok * flops / a / (P * g) / cl.peak_flops_per_s_per_gpu('fp8'):.1f} % of FP8 peak) "
        f"and {need * o / (D * g):,.0f} tokens/s per decode GPU, i.e. {agents / need:.1f} s per turn per agent "
        f"against the model's {agents / X:.1f} s\n"
    )


LOAD_CELLS = (("ds-27b", "agentic-48k"), ("deepseek-v3.2", "agentic-48k"), ("qwen2.5-32b", "agentic-48k"))


def load_scaling(model: str, workload: str, mode: str = "oracle") -> None:
    """Issue 14 finding 1: where one agent's turn goes at the lightest vs the heaviest Fig. 7 load.

    For each population: the MVA's per-turn residence per station (s), each station's utilization
    (throughput x demand / servers), the per-agent cycle (agents / throughput) beside the one the
    paper's JCT implies (agents x JCT / turns), and the zero-load cycle (the sum of the demands)."""
    sc0 = scenario_for(model, workload, None)
    ref = FIG7_JCT_S[model]["cells"][workload]
    lo, hi = min(ref["agents"]), max(ref["agents"])
    ts = run_trajectories(sc0, hi)
    classes = classes_from_turns(ts.context_tokens(), ts.append_tokens, ts.generated_tokens, count=1, model=sc0.model)
    sc = dataclasses.replace(sc0, request_classes=classes)
    stations, dec_fn, hold = build_network(sc, mode, 0.0 if mode == "oracle" else None)
    print(f"### {model} {workload} {mode}: load {lo} vs {hi} agents\n")
    names = [s.name for s in stations]
    print(
        "| agents | model JCT s | paper s | err | X turns/s | cycle model s | cycle paper s | "
        + " | ".join(names)
        + " | util "
        + " / ".join(names)
        + " |"
    )
    print("|" + "---|" * (7 + len(stations) + 1))
    zero = sum(s.service_s for s in stations)
    for n in (lo, hi):
        (r,) = offline_jct_many(sc0, mode, [n], trajectories=ts)
        res = mva_dpmodel(stations, n, hold_frac=hold, decode_service_s=dec_fn)
        X = float(res["throughput_per_s"][-1])
        resid = [float(q) / X for q in res["queue"][-1]]
        util = [X * s.service_s / s.servers for s in stations]
        paper = ref[mode][ref["agents"].index(n)]
        print(
            f"| {n} | {r.jct_s:,.0f} | {paper:,} | {100 * (r.jct_s / paper - 1):+.0f} % | {X:.2f} | {n / X:.2f} | "
            f"{n * paper / r.turns_total:.2f} | "
            + " | ".join(f"{v:.2f}" for v in resid)
            + " | "
            + " / ".join(f"{u:.2f}" for u in util)
            + " |"
        )
    print(
        f"\nzero-load cycle (sum of demands at batch 1 decode): {zero:.2f} s; prefill batch {sc.prefill_batch_turns():.0f} turns per forward\n"
    )


def main() -> None:
    import sys

    if "--load" in sys.argv:
        for cell in LOAD_CELLS:
            load_scaling(*cell)
        return
    for cell in CELLS:
        decompose(*cell)
    print(
        "Published per-GPU rates (compute-references.md): V3.2 prefill cost curve on H800 5.1k / 4.7k / 3.9k new tokens/s at "
        "16K / 32K / 64K positions (section 1, 6); DeepSeek production 4.0k computed prefill tokens/s and 1.85k decode tokens/s per "
        "H800 (section 1); SGLang decode 2.8k tokens/s per H100 at 256 sequences (3a)."
    )


if __name__ == "__main__":
    main()
