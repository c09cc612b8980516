"""Agentic traces: AIPerf mooncake_trace sessions (session_id, delay) and WekaTrace (requests[], 64-token blocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpmodel.errors import WorkloadError
from dpmodel.workload import open_trace
from dpmodel.workload.agentic import AIPerfReader, WekaReader, block_tokens
from dpmodel.workload.traces import LRUCache, MooncakeReader, summarize

DATA = Path(__file__).parent / "data"


def test_aiperf_fixture_sessions_and_delays():
    r = open_trace(DATA / "aiperf_sessions.jsonl")
    assert isinstance(r, AIPerfReader)
    reqs = list(r)
    assert [(q.session, q.turn) for q in reqs] == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3)]
    # delay [ms] after the session's previous turn
    assert [q.arrival_s for q in reqs] == [0.0, 0.5, 2.0, 1.5, 2.5]
    # hash_ids (512-token blocks): turn 2 of sess-a reuses blocks 0, 1; without hash_ids the previous input
    assert [q.hit_tokens for q in reqs] == [0, 0, 1024, 600, 1536]


def test_weka_fixture_scoped_blocks():
    r = open_trace(DATA / "weka_agentic.jsonl")
    assert isinstance(r, WekaReader) and block_tokens(DATA / "weka_agentic.jsonl") == 64
    reqs = list(r)
    assert [(q.session, q.turn, q.arrival_s) for q in reqs] == [(0, 1, 0.0), (0, 2, 4.5), (1, 1, 1.0), (1, 2, 2.0)]
    # agent-2's block id 1 is not agent-1's block 1 (ids are scoped per session): first turn misses
    assert [q.hit_tokens for q in reqs] == [0, 192, 0, 64]


def test_cross_check_against_mooncake_reader(tmp_path):
    """An AIPerf file with absolute timestamps and hash_ids hits exactly as the Mooncake reader does."""
    src = [json.loads(x) for x in (DATA / "mooncake_small.jsonl").read_text().splitlines() if x.strip()]
    p = tmp_path / "a.jsonl"
    p.write_text("".join(json.dumps({"session_id": f"s{i}", **o}) + "\n" for i, o in enumerate(src)))
    a, m = list(AIPerfReader(p)), list(MooncakeReader(DATA / "mooncake_small.jsonl"))
    assert [(x.arrival_s, x.input_tokens, x.output_tokens, x.hit_tokens) for x in a] == [
        (x.arrival_s, x.input_tokens, x.output_tokens, x.hit_tokens) for x in m
    ]
    # the summaries the CLI prints see the sessions and hits of the agentic readers
    s = summarize(open_trace(DATA / "weka_agentic.jsonl"))
    assert (s.requests, s.sessions) == (4, 2)
    assert s.hit_ratio_tokens == pytest.approx((192 + 64) / (130 + 200 + 64 + 150))


def test_lru_cache_uses_format_block_size():
    c = LRUCache(2 * 64 * 100.0, 64 * 100.0)  # room for two 64-token blocks
    reqs = list(WekaReader(DATA / "weka_agentic.jsonl", cache=c))
    assert reqs[1].hit_tokens < 192  # the LRU evicts what the infinite cache would keep
    assert c.evictions > 0


@pytest.mark.parametrize(
    "fname,line,needle",
    [
        (
            "a.jsonl",
            '{"session_id": "x", "delay": 5, "input_length": 10, "output_length": 1}',
            "field 'delay' on the first turn of session 'x'",
        ),
        ("a.jsonl", '{"session_id": "x", "timestamp": 0, "input_length": 0, "output_length": 1}', "field 'input_length' = 0"),
        (
            "a.jsonl",
            '{"session_id": "x", "timestamp": 0, "input_length": 1000, "output_length": 1, "hash_ids": [1]}',
            "hash_ids has 1 blocks; input_length 1000 needs 2",
        ),
        (
            "w.jsonl",
            '{"requests": [{"t": 0, "type": "llm", "in": 100, "out": 1, "hash_ids": [1, 2]}, {"t": -1, "in": 1, "out": 1, "hash_ids": [1]}]}',
            "requests[1] field 't' = -1",
        ),
        (
            "w.jsonl",
            '{"requests": [{"t": 0, "in": 100, "out": 1, "hash_ids": [1]}]}',
            "requests[0] hash_ids has 1 blocks; in = 100 needs 2 of 64",
        ),
    ],
)
def test_malformed_one_line_error_and_lenient(tmp_path, fname, line, needle):
    good = (
        '{"session_id": "ok", "timestamp": 0, "input_length": 10, "output_length": 1}'
        if fname == "a.jsonl"
        else '{"requests": [{"t": 0, "in": 10, "out": 1, "hash_ids": [5]}]}'
    )
    p = tmp_path / fname
    p.write_text(good + "\n" + line + "\n")
    with pytest.raises(WorkloadError) as e:
        list(open_trace(p))
    assert needle in str(e.value) and f"{p}:2:" in str(e.value) and "\n" not in str(e.value)
    r = open_trace(p, lenient=True)
    got = list(r)
    assert len(got) == 1 and r.skipped_lines == 1  # nothing of the bad session is yielded


@pytest.mark.parametrize(
    "reader,good",
    [
        (AIPerfReader, b'{"session_id": "ok", "timestamp": 0, "input_length": 10, "output_length": 1}'),
        (WekaReader, b'{"requests": [{"t": 0, "in": 10, "out": 1, "hash_ids": [5]}]}'),
    ],
)
def test_non_utf8_line_is_one_line_error_and_counted_when_lenient(tmp_path, reader, good):
    p = tmp_path / "t.jsonl"
    p.write_bytes(good + b"\n" + good[:-1] + b" \xff}\n" + good + b"\n")
    with pytest.raises(WorkloadError, match=rf"{p.name}:2: not UTF-8 text") as e:
        list(reader(p))
    assert "\n" not in str(e.value)
    r = reader(p, lenient=True)
    assert len(list(r)) == 2 and r.skipped_lines == 1


def test_one_reader_init_serves_every_format():
    # the cache / block_tokens set-up lives once, in the shared _Reader base
    from dpmodel.workload.traces import InfiniteCache, _Reader

    for cls in (MooncakeReader, AIPerfReader, WekaReader):
        assert "__init__" not in cls.__dict__
    assert MooncakeReader(DATA / "mooncake_small.jsonl").block_tokens == 512
    assert AIPerfReader(DATA / "aiperf_sessions.jsonl").block_tokens == 512
    assert WekaReader(DATA / "weka_agentic.jsonl").block_tokens == 64
    assert isinstance(WekaReader(DATA / "weka_agentic.jsonl").cache, InfiniteCache)
    # an explicit block size is used: Mooncake lines of 512-token blocks no longer match 256
    with pytest.raises(WorkloadError, match="hash_ids has"):
        list(MooncakeReader(DATA / "mooncake_small.jsonl", block_tokens=256))
    with pytest.raises(WorkloadError, match="block_tokens = 0: must be an integer >= 1"):
        _Reader(DATA / "mooncake_small.jsonl", block_tokens=0)
