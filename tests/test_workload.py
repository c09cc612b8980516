"""Workloads: trajectories, synthesis vs Table 2, knobs, classes, trace readers, arrivals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpmodel.errors import WorkloadError
from dpmodel.plan import analyse_mode
from dpmodel.profiles import load_model, load_workload
from dpmodel.scenario import Scenario
from dpmodel.workload import (
    InfiniteCache,
    LRUCache,
    MooncakeReader,
    TrajectorySet,
    arrival_stats,
    classes_from_turns,
    open_trace,
    poisson_arrivals,
    read_trajectories,
    replay_arrivals,
    summarize,
    synthesize_workload,
    write_trajectories,
)

DATA = Path(__file__).parent / "data"
TRACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"
needs_traces = pytest.mark.skipif(
    not TRACES.is_dir(), reason=f"public traces not found at {TRACES} (third-party data is not copied into the project)"
)


# ---- trajectories ---------------------------------------------------------------------------


def test_context_is_everything_before_the_turn():
    ts = TrajectorySet.from_lists([[100, 10, 20], [5]], [[1, 2, 3], [7]], 10_000)
    assert ts.context_tokens().tolist() == [0, 101, 113, 0]
    assert ts.total_tokens().tolist() == [136, 12]


def test_truncation_at_mal_keeps_first_turn():
    ts = TrajectorySet.from_lists([[100, 10, 20, 5], [500, 1]], [[1, 2, 3, 1], [1, 1]], 120)
    # trajectory 0: ends 101, 113, 136 > 120 -> keeps 2 turns; trajectory 1: first turn over MAL, kept alone
    assert ts.turns_per_trajectory().tolist() == [2, 1]
    assert ts.total_tokens()[0] <= 120


@pytest.mark.parametrize("name", ["agentic-32k", "agentic-48k", "agentic-64k"])
def test_synthesized_sets_match_table2(name):
    """Fresh seed (the fit used seed 0): Append and Gen within 5 %, Context within 10 %."""
    w = load_workload(name)
    st = synthesize_workload(w, agents=4000, seed=12345).stats()
    t = w.trajectory
    assert st["append_tokens_per_turn"] == pytest.approx(t.mean_append_tokens, rel=0.05)
    assert st["generated_tokens_per_turn"] == pytest.approx(t.mean_generated_tokens, rel=0.05)
    assert st["context_tokens_per_turn"] == pytest.approx(t.mean_context_tokens, rel=0.10)
    # the Table 2 weighting: Turns is turn-weighted, Total per trajectory; both come out too
    assert st["turns_turn_weighted"] == pytest.approx(t.mean_turns_count, rel=0.10)
    assert st["total_tokens_mean"] == pytest.approx(t.mean_total_tokens, rel=0.10)
    # and the plain per-trajectory turn mean is the one Total / (Append + Gen) implies
    assert st["turns_mean"] == pytest.approx(t.mean_total_tokens / (t.mean_append_tokens + t.mean_generated_tokens), rel=0.10)


def test_synthesis_is_deterministic_and_respects_mal():
    w = load_workload("agentic-32k")
    a = synthesize_workload(w, agents=200, seed=7)
    b = synthesize_workload(w, agents=200, seed=7)
    c = synthesize_workload(w, agents=200, seed=8)
    assert np.array_equal(a.append_tokens, b.append_tokens) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.append_tokens, c.append_tokens)
    first = np.zeros(a.turns_count, bool)
    first[a.offsets[:-1]] = True
    ends = a.context_tokens() + a.append_tokens + a.generated_tokens
    assert np.all(ends[~first] <= w.trajectory.max_agent_length_tokens)


def test_scaling_knob_retruncates():
    w = load_workload("agentic-64k")
    ts = synthesize_workload(w, agents=300, seed=1)
    big = ts.scaled(append_factor=2.0)
    assert big.stats()["append_tokens_per_turn"] > 1.5 * ts.stats()["append_tokens_per_turn"]
    assert big.turns_count < ts.turns_count  # longer appends reach MAL sooner
    ends = big.context_tokens() + big.append_tokens + big.generated_tokens
    first = np.zeros(big.turns_count, bool)
    first[big.offsets[:-1]] = True
    assert np.all(ends[~first] <= w.trajectory.max_agent_length_tokens)
    gen = ts.scaled(generated_factor=0.5)
    assert gen.stats()["generated_tokens_per_turn"] < ts.stats()["generated_tokens_per_turn"]
    with pytest.raises(WorkloadError):
        ts.scaled(append_factor=0)


def test_extra_agents_knob():
    ts = TrajectorySet.from_lists([[100, 10], [50]], [[5, 5], [5]], 10_000)
    more = ts.with_extra_agents(3, seed=0)
    assert more.agents_count == 5
    for j in range(2, 5):
        a, g = more.trajectory(j)
        assert g[0] == 1  # the prepended random round generates one token
        assert len(a) in (3, 2)
    assert np.array_equal(more.trajectory(0)[0], ts.trajectory(0)[0])
    one = ts.with_extra_agents(3, seed=0, first_round_tokens=1)
    for j in range(2, 5):
        a, g = one.trajectory(j)
        assert a[0] == 1 and g[0] == 1 and np.array_equal(a[1:], more.trajectory(j)[0][1:])
    for bad in (0, 1.5, True):
        with pytest.raises(WorkloadError, match="first_round_tokens"):
            ts.with_extra_agents(1, first_round_tokens=bad)


def test_trajectory_file_roundtrip(tmp_path):
    ts = synthesize_workload(load_workload("agentic-32k"), agents=40, seed=3)
    path = write_trajectories(tmp_path / "t.jsonl", ts, meta={"seed": 3})
    back = read_trajectories(path)
    assert np.array_equal(back.offsets, ts.offsets)
    assert np.array_equal(back.append_tokens, ts.append_tokens)
    assert np.array_equal(back.generated_tokens, ts.generated_tokens)
    assert back.max_agent_length_tokens == ts.max_agent_length_tokens
    assert json.loads(path.read_text().splitlines()[0])["format"] == "dpmodel.trajectories"
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file


def test_trajectory_file_errors(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"format": "dpmodel.trajectories", "version": 1, "max_agent_length_tokens": 100}\n'
        '{"agent": 0, "append_tokens": [1, 2], "generated_tokens": [1, 2]}\n'
        '{"agent": 1, "append_tokens": [1], "generated_tokens": [1, 2]}\n'
        "oops\n"
    )
    with pytest.raises(WorkloadError, match=r"bad\.jsonl:3: append_tokens and generated_tokens"):
        read_trajectories(p)
    assert read_trajectories(p, lenient=True).agents_count == 1
    q = tmp_path / "other.jsonl"
    q.write_text('{"format": "something-else"}\n')
    with pytest.raises(WorkloadError, match=r"other\.jsonl:1: not a dpmodel trajectory file"):
        read_trajectories(q)


# ---- request classes ------------------------------------------------------------------------


def test_classes_preserve_token_and_flop_totals():
    model = load_model("deepseek-v3.2")
    ts = synthesize_workload(load_workload("agentic-64k"), agents=300, seed=2)
    ctx = ts.context_tokens()
    flops = model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens)
    for count in (1, 3, 8):
        ks = classes_from_turns(ctx, ts.append_tokens, ts.generated_tokens, count=count, model=model)
        assert sum(k.weight_frac for k in ks) == pytest.approx(1.0)
        assert sum(k.weight_frac * k.hit_tokens for k in ks) == pytest.approx(ctx.mean(), rel=1e-12)
        assert sum(k.weight_frac * k.append_tokens for k in ks) == pytest.approx(ts.append_tokens.mean(), rel=1e-12)
        assert sum(k.weight_frac * k.generated_tokens for k in ks) == pytest.approx(ts.generated_tokens.mean(), rel=1e-12)
        assert sum(k.weight_frac * k.prefill_flops for k in ks) == pytest.approx(flops.mean(), rel=1e-12)


def test_more_classes_converge():
    """FLOPs are not linear in tokens: evaluated at class-mean tokens they approach the exact mean
    as classes are added, and successive refinements settle (Cauchy). Classes therefore also carry
    their members' mean FLOPs, which makes FLOP totals exact at any count."""
    model = load_model("deepseek-v3")  # dense attention: FLOPs grow with context
    ts = synthesize_workload(load_workload("agentic-64k"), agents=400, seed=4)
    ctx = ts.context_tokens()
    exact = model.prefill_flops(context_tokens=ctx, append_tokens=ts.append_tokens).mean()
    approx = {}
    for count in (1, 3, 9, 17, 33):
        ks = classes_from_turns(ctx, ts.append_tokens, ts.generated_tokens, count=count)
        approx[count] = sum(
            k.weight_frac * float(model.prefill_flops(context_tokens=k.hit_tokens, append_tokens=k.append_tokens)) for k in ks
        )
    err = {k: abs(v - exact) / exact for k, v in approx.items()}
    assert err[1] > 0.05  # one class is visibly off
    assert err[17] < err[1] / 5 and err[33] < 0.02
    assert abs(approx[33] - approx[17]) / exact < abs(approx[3] - approx[1]) / exact / 20


def test_lp_throughput_is_invariant_to_class_count():
    """With byte and FLOP totals preserved, every LP demand is linear in class totals."""
    base = Scenario.load()
    ts = synthesize_workload(base.workload, agents=300, seed=4)
    ctx = ts.context_tokens()
    out = []
    for count in (1, 4, 16):
        ks = classes_from_turns(ctx, ts.append_tokens, ts.generated_tokens, count=count, model=base.model)
        sc = base.__class__(base.cluster, base.model, base.workload, base.deployment, ks)
        out.append(analyse_mode(sc, "dualpath").turns_per_s)
    assert out[1] == pytest.approx(out[0], rel=1e-6) and out[2] == pytest.approx(out[0], rel=1e-6)


def test_classes_reject_bad_input():
    with pytest.raises(WorkloadError):
        classes_from_turns([1, 2], [1], [1, 2])
    with pytest.raises(WorkloadError):
        classes_from_turns([1], [1], [1], count=0)


# ---- trace readers (hand-made data exercising every branch) ----------------------------------


def test_mooncake_small_infinite_cache_and_sessions():
    reqs = list(MooncakeReader(DATA / "mooncake_small.jsonl"))
    assert [r.hit_tokens for r in reqs] == [0, 1536, 512, 0, 2048]
    assert [r.session for r in reqs] == [0, 0, 1, 2, 0]
    assert [r.turn for r in reqs] == [1, 2, 1, 1, 3]
    assert [r.arrival_s for r in reqs] == [0.0, 1.0, 2.0, 2.5, 4.0]
    s = summarize(MooncakeReader(DATA / "mooncake_small.jsonl"))
    assert s.hit_ratio_tokens == pytest.approx(4096 / 5700)
    assert s.sessions == 3 and s.turns_per_session["max"] == 3
    assert s.rate_per_s == pytest.approx(4 / 4.0)


def test_mooncake_small_lru_evicts():
    cache = LRUCache(capacity_bytes=4 * 1000.0, block_bytes=1000.0)
    reqs = list(MooncakeReader(DATA / "mooncake_small.jsonl", cache=cache))
    assert [r.hit_tokens for r in reqs] == [0, 1536, 512, 0, 512]
    assert cache.evictions >= 2
    # sessions do not depend on the cache policy
    assert [r.session for r in reqs] == [0, 0, 1, 2, 0]
    big = list(MooncakeReader(DATA / "mooncake_small.jsonl", cache=LRUCache(1e12, 1000.0)))
    assert [r.hit_tokens for r in big] == [r.hit_tokens for r in MooncakeReader(DATA / "mooncake_small.jsonl", cache=InfiniteCache())]


def test_mooncake_malformed_lines():
    with pytest.raises(WorkloadError, match=r"mooncake_bad\.jsonl:2: hash_ids has 3 blocks; input_length 1600 needs 4"):
        list(MooncakeReader(DATA / "mooncake_bad.jsonl"))
    rd = MooncakeReader(DATA / "mooncake_bad.jsonl", lenient=True)
    reqs = list(rd)
    assert len(reqs) == 2 and rd.skipped_lines == 4
    assert summarize(MooncakeReader(DATA / "mooncake_bad.jsonl", lenient=True)).skipped_lines == 4


def test_azure_small_and_malformed():
    s = summarize(open_trace(DATA / "azure_small.csv"))
    assert s.requests == 3 and s.rate_per_s == pytest.approx(1.0)
    assert s.input_tokens["max"] == 1000 and s.hit_ratio_tokens == 0
    with pytest.raises(WorkloadError, match=r"azure_bad\.csv:3: "):
        list(open_trace(DATA / "azure_bad.csv"))
    rd = open_trace(DATA / "azure_bad.csv", lenient=True)
    assert len(list(rd)) == 2 and rd.skipped_lines == 2


def test_trace_format_and_path_errors(tmp_path):
    with pytest.raises(WorkloadError, match="unknown format"):
        open_trace(tmp_path / "x.parquet")
    with pytest.raises(WorkloadError, match="does not exist"):
        open_trace(tmp_path / "missing.jsonl")
    with pytest.raises(WorkloadError, match="no prefix hashes"):
        open_trace(DATA / "azure_small.csv", cache=InfiniteCache())
    bad = tmp_path / "h.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(WorkloadError, match=r"h\.csv:1: header"):
        list(open_trace(bad))


def test_scenario_from_trace_file():
    sc = Scenario.load(trace=DATA / "mooncake_small.jsonl", classes_count=2)
    assert len(sc.classes()) == 2
    assert sum(k.weight_frac * k.hit_tokens for k in sc.classes()) == pytest.approx(4096 / 5)
    assert analyse_mode(sc, "dualpath").turns_per_s > 0


# ---- arrivals -------------------------------------------------------------------------------


def test_poisson_arrivals_rate_and_cv():
    a = poisson_arrivals(rate_per_s=5.0, duration_s=4000, seed=1)
    st = arrival_stats(a)
    assert st["rate_per_s"] == pytest.approx(5.0, rel=0.03)
    assert st["interarrival_cv"] == pytest.approx(1.0, abs=0.03)
    r = replay_arrivals([10.0, 12.0, 11.0], speedup_factor=2.0)
    assert r.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(WorkloadError):
        poisson_arrivals(rate_per_s=0, duration_s=1)


# ---- the public traces (read from ../shared, never copied) ------------------------------------


@needs_traces
@pytest.mark.parametrize(
    "name,requests,hit,inp,out,sessions,cv",
    [
        ("conversation_trace.jsonl", 12031, 0.3736, 12035, 343, 7467, 3.03),
        ("synthetic_trace.jsonl", 3993, 0.6512, 15325, 149, 3379, 1.01),
    ],
)
def test_mooncake_public_traces(name, requests, hit, inp, out, sessions, cv):
    s = summarize(open_trace(TRACES / name))
    assert s.requests == requests
    assert s.hit_ratio_tokens == pytest.approx(hit, abs=0.005)
    assert s.input_tokens["mean"] == pytest.approx(inp, abs=1)
    assert s.output_tokens["mean"] == pytest.approx(out, abs=1)
    assert s.sessions == sessions
    assert s.interarrival_cv == pytest.approx(cv, abs=0.01)


@needs_traces
@pytest.mark.parametrize(
    "name,requests,inp,out,rate,cv",
    [("AzureLLMInferenceTrace_conv.csv", 19366, 1155, 211, 5.53, 1.09), ("AzureLLMInferenceTrace_code.csv", 8819, 2048, 28, 2.57, 13.15)],
)
def test_azure_public_traces(name, requests, inp, out, rate, cv):
    s = summarize(open_trace(TRACES / name))
    assert s.requests == requests
    assert s.input_tokens["mean"] == pytest.approx(inp, abs=1)
    assert s.output_tokens["mean"] == pytest.approx(out, abs=1)
    assert s.rate_per_s == pytest.approx(rate, abs=0.01)
    assert s.interarrival_cv == pytest.approx(cv, abs=0.01)


@needs_traces
def test_lru_cache_lowers_hits_monotonically():
    model = load_model("deepseek-v3.2")
    block = 512 * model.kv_bytes_per_token
    hits = [
        summarize(open_trace(TRACES / "synthetic_trace.jsonl", cache=LRUCache(gib * 2**30, block))).hit_ratio_tokens
        for gib in (50, 200, 1000)
    ]
    infinite = summarize(open_trace(TRACES / "synthetic_trace.jsonl")).hit_ratio_tokens
    assert hits[0] < hits[1] <= hits[2] <= infinite + 1e-12
