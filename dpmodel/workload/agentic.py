"""Agentic (multi-turn) traces: AIPerf's Mooncake-trace JSONL with sessions, and the WekaTrace format.

Both stream one request at a time into :class:`~dpmodel.workload.traces.TraceRequest`, like the
Mooncake and Azure readers, with the same ``lenient`` behaviour (a malformed line raises
:class:`~dpmodel.errors.WorkloadError` naming file and line; lenient skips and counts it).

* **AIPerf ``mooncake_trace``** (docs/benchmark-modes/trace-replay.md of ai-dynamo/aiperf):
  one request per line, ``input_length``, ``output_length``, optional ``hash_ids`` (512-token
  blocks, AIPerf's default ``--block-size``), ``session_id`` grouping turns, and either
  ``timestamp`` [ms, absolute] or ``delay`` [ms after the session's previous turn]. A delayed
  turn's arrival is taken as the previous turn's arrival plus the delay (a lower bound: AIPerf
  waits for the previous response, whose duration the trace does not hold). Hits come from
  ``hash_ids`` through the cache when present; without them, a follow-up turn hits its session's
  previous input (the replayed context).
* **WekaTrace agentic**: one session per line, ``{"session_id": ..., "requests": [{"t", "type",
  "in", "out", "hash_ids"}]}``; ``t`` in seconds, ``hash_ids`` over 64-token blocks *scoped per
  session* (the same id in two sessions is two blocks). Field names from the dpmodel issue text
  (no public specification was found); see docs/formats.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

from .traces import (
    MOONCAKE_BLOCK_TOKENS,
    TraceRequest,
    _int_field,
    _Reader,
    loads_bounded,
)

AIPERF_BLOCK_TOKENS = MOONCAKE_BLOCK_TOKENS  # aiperf analyze-trace --block-size default 512
WEKA_BLOCK_TOKENS = 64


def _num_ms(obj: dict, key: str) -> float:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise ValueError(f"field {key!r} = {v!r}: must be a number >= 0 (ms)")
    return float(v)


def _blocks(obj: dict, key: str = "hash_ids") -> list | None:
    b = obj.get(key)
    if b is None:
        return None
    if not isinstance(b, list) or not all(isinstance(x, int | str) and not isinstance(x, bool) for x in b):
        raise ValueError(f"field {key!r} must be a list of integer (or string) block ids")
    return b


class AIPerfReader(_Reader):
    """AIPerf ``mooncake_trace`` JSONL with ``session_id`` and ``delay`` (multi-turn sessions)."""

    BLOCK_TOKENS = AIPERF_BLOCK_TOKENS

    def __iter__(self) -> Iterator[TraceRequest]:
        sess_ids: dict[str, int] = {}
        last: dict[int, tuple[float, int, int]] = {}  # session -> (arrival_s, input, turn)
        idx = 0
        bt = self.block_tokens
        for lineno, line in self._lines():  # UTF-8, length-bounded lines (malformed: our error or counted)
            try:
                obj = loads_bounded(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                n_in = _int_field(obj, "input_length", 1)
                n_out = _int_field(obj, "output_length", 0)
                sid = obj.get("session_id", f"__line{lineno}")
                if not isinstance(sid, str | int) or isinstance(sid, bool):
                    raise ValueError(f"field 'session_id' = {sid!r}: must be a string or integer")
                session = sess_ids.setdefault(str(sid), len(sess_ids))
                prev = last.get(session)
                if "timestamp" in obj:
                    arrival = _num_ms(obj, "timestamp") / 1000.0
                elif "delay" in obj:
                    if prev is None:
                        raise ValueError(f"field 'delay' on the first turn of session {sid!r}: the first turn needs 'timestamp'")
                    arrival = prev[0] + _num_ms(obj, "delay") / 1000.0
                elif prev is None:
                    arrival = 0.0
                else:
                    raise ValueError("field 'timestamp' or 'delay' is missing on a follow-up turn")
                blocks = _blocks(obj)
                if blocks is not None and len(blocks) != -(-n_in // bt):
                    raise ValueError(f"hash_ids has {len(blocks)} blocks; input_length {n_in} needs {-(-n_in // bt)} of {bt} tokens")
            except (ValueError, TypeError) as exc:
                self._bad(lineno, str(exc))
                continue
            if blocks is not None:
                hit = min(self.cache.lookup_and_insert(blocks) * bt, n_in)
            else:
                hit = min(prev[1], n_in - 1) if prev is not None else 0
            turn = prev[2] + 1 if prev is not None else 1
            last[session] = (arrival, n_in, turn)
            yield TraceRequest(idx, arrival, n_in, n_out, hit, session, turn)
            idx += 1


class WekaReader(_Reader):
    """WekaTrace agentic JSONL: one session per line with ``requests[]`` of ``t``, ``type``, ``in``, ``out``, ``hash_ids``."""

    BLOCK_TOKENS = WEKA_BLOCK_TOKENS

    def __iter__(self) -> Iterator[TraceRequest]:
        idx = 0
        session = 0
        bt = self.block_tokens
        for lineno, line in self._lines():  # UTF-8, length-bounded lines (malformed: our error or counted)
            try:
                obj = loads_bounded(line)
                if not isinstance(obj, dict) or not isinstance(obj.get("requests"), list):
                    raise ValueError("field 'requests' must be a list (one session per line)")
                sid = obj.get("session_id", session)
                parsed = []
                for j, r in enumerate(obj["requests"]):
                    if not isinstance(r, dict):
                        raise ValueError(f"requests[{j}] is not an object")
                    t = r.get("t")
                    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
                        raise ValueError(f"requests[{j}] field 't' = {t!r}: must be a number >= 0 (s)")
                    try:
                        n_in, n_out = _int_field(r, "in", 1), _int_field(r, "out", 0)
                        blocks = _blocks(r)
                    except ValueError as exc:
                        raise ValueError(f"requests[{j}] {exc}") from None
                    if blocks is None:
                        raise ValueError(f"requests[{j}] field 'hash_ids' is missing")
                    if len(blocks) != -(-n_in // bt):
                        raise ValueError(
                            f"requests[{j}] hash_ids has {len(blocks)} blocks; in = {n_in} needs {-(-n_in // bt)} of {bt} tokens"
                        )
                    parsed.append((float(t), n_in, n_out, blocks, str(r.get("type", ""))))
            except (ValueError, TypeError) as exc:
                self._bad(lineno, str(exc))
                continue
            # only now, with the whole session valid, touch the cache and yield (nothing partial)
            for turn, (t, n_in, n_out, blocks, _type) in enumerate(parsed, 1):
                scoped = [(sid, b) for b in blocks]  # hash ids are scoped per session
                hit = min(self.cache.lookup_and_insert(scoped) * bt, n_in)
                yield TraceRequest(idx, t, n_in, n_out, hit, session, turn)
                idx += 1
            session += 1


def sniff_jsonl(path: str | Path) -> str:
    """'weka', 'aiperf' or 'mooncake' from the first non-blank line (content, not the name)."""
    try:
        with open(path, "rb") as fh:  # bytes: a bad UTF-8 line is the reader's to report, by line
            for raw in fh:
                if raw.strip():
                    try:
                        obj = json.loads(raw.decode("utf-8"))
                    except ValueError:  # UnicodeDecodeError included
                        return "mooncake"  # let the Mooncake reader report the line
                    if isinstance(obj, dict) and "requests" in obj:
                        return "weka"
                    if isinstance(obj, dict) and ("session_id" in obj or "delay" in obj):
                        return "aiperf"
                    return "mooncake"
    except OSError:
        return "mooncake"
    return "mooncake"


def block_tokens(path: str | Path) -> int:
    """Tokens per hashed block of the trace at ``path`` (64 for WekaTrace, else Mooncake's 512)."""
    return WEKA_BLOCK_TOKENS if str(path).endswith(".jsonl") and sniff_jsonl(path) == "weka" else MOONCAKE_BLOCK_TOKENS
