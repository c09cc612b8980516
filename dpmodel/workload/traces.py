"""Streaming readers for public request traces (Mooncake JSONL, Azure CSV) and our trajectory JSONL.

Readers never hold a whole file: they yield one request at a time. A malformed line raises
:class:`~dpmodel.errors.WorkloadError` naming the file and line; with ``lenient=True`` it is skipped
and counted in ``reader.skipped_lines``.
"""

from __future__ import annotations

import csv
import json
import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import WorkloadError
from ..fileio import atomic_write_text
from .trajectory import TrajectorySet

MOONCAKE_BLOCK_TOKENS = 512


@dataclass(frozen=True)
class TraceRequest:
    """One request of a trace: arrival, lengths, cache hit, and its reconstructed session."""

    index: int
    arrival_s: float
    input_tokens: int
    output_tokens: int
    hit_tokens: int
    session: int
    turn: int  # 1 = first turn of its session


# ---- caches --------------------------------------------------------------------------------


class InfiniteCache:
    """Every block ever seen stays cached."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def lookup_and_insert(self, blocks: list[int]) -> int:
        """Number of leading blocks already cached; then all blocks are cached."""
        hit = 0
        for b in blocks:
            if b in self._seen:
                hit += 1
            else:
                break
        self._seen.update(blocks)
        return hit


class LRUCache:
    """Least-recently-used cache of KV blocks with a capacity in bytes."""

    def __init__(self, capacity_bytes: float, block_bytes: float) -> None:
        if capacity_bytes < 0 or block_bytes <= 0:
            raise WorkloadError("cache capacity must be >= 0 and block bytes > 0")
        self.capacity_blocks = int(capacity_bytes // block_bytes)
        self._lru: OrderedDict[int, None] = OrderedDict()
        self.evictions = 0

    def lookup_and_insert(self, blocks: list[int]) -> int:
        lru = self._lru
        hit = 0
        for b in blocks:
            if b in lru:
                hit += 1
            else:
                break
        for b in blocks:
            if b in lru:
                lru.move_to_end(b)
            else:
                lru[b] = None
        while len(lru) > self.capacity_blocks:
            lru.popitem(last=False)
            self.evictions += 1
        return hit


# ---- readers -------------------------------------------------------------------------------


class _Reader:
    """Shared state of every trace reader: the file, ``lenient``, the skipped-line count, and, for
    the formats with hashed blocks, the prefix ``cache`` (infinite by default) and the tokens per
    block (``block_tokens``, else the format's own :attr:`BLOCK_TOKENS`)."""

    BLOCK_TOKENS = MOONCAKE_BLOCK_TOKENS

    def __init__(
        self, path: str | Path, lenient: bool = False, *, cache: InfiniteCache | LRUCache | None = None, block_tokens: int | None = None
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise WorkloadError(f"trace file {str(path)!r} does not exist")
        self.lenient = lenient
        self.skipped_lines = 0
        self.cache = cache if cache is not None else InfiniteCache()
        bt = self.BLOCK_TOKENS if block_tokens is None else block_tokens
        if isinstance(bt, bool) or not isinstance(bt, int) or bt < 1:
            raise WorkloadError(f"block_tokens = {bt!r}: must be an integer >= 1 (tokens per hashed block)")
        self.block_tokens = bt

    def _bad(self, lineno: int, what: str) -> None:
        if self.lenient:
            self.skipped_lines += 1
            return
        raise WorkloadError(f"{self.path}:{lineno}: {what}; fix the line or read with lenient=True to skip it")

    def _lines(self) -> Iterator[tuple[int, str]]:
        """Non-blank lines as text: each decoded as UTF-8 and at most MAX_LINE_BYTES long, else a
        malformed line (an error, or skipped and counted with lenient)."""
        try:
            fh = open(self.path, "rb")
        except OSError as exc:
            raise WorkloadError(f"{self.path}: cannot read file: {exc.strerror}") from None
        with fh:
            lineno = 0
            while True:
                raw = fh.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                lineno += 1
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    while raw and not raw.endswith(b"\n"):  # skip the rest of the over-long line
                        raw = fh.readline(MAX_LINE_BYTES + 1)
                    self._bad(lineno, f"line longer than {MAX_LINE_BYTES:,} bytes")
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._bad(lineno, f"not UTF-8 text (byte {exc.start})")
                    continue
                if line.strip():
                    yield lineno, line


#: bounds of every reader: a line (a Mooncake request has ~256 block ids), an integer literal, a
#: token count (no context reaches 10^9 tokens), a JSON nesting depth (our formats nest 2 deep)
MAX_LINE_BYTES = 1 << 20
MAX_INT_DIGITS = 19
MAX_TOKENS = 10**9
MAX_JSON_DEPTH = 8
MAX_TIMESTAMP_MS = 1e15  # ~31,000 years


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text)} digits: too large")
    return int(text)


def loads_bounded(line: str):
    """``json.loads`` with integer size and nesting depth bounded (ValueError otherwise)."""
    depth = 0
    in_str = esc = False
    for ch in line:  # a cheap bracket-depth scan, outside strings
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
    return json.loads(line, parse_int=_parse_int)


def _int_field(obj: dict, key: str, lo: int, hi: int = MAX_TOKENS) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v != int(v) or not lo <= v <= hi:
        raise ValueError(f"field {key!r} = {v!r}: must be an integer in [{lo}, {hi:,}]")
    return int(v)


class MooncakeReader(_Reader):
    """Mooncake FAST'25 JSONL: ``timestamp`` [ms], ``input_length``, ``output_length``, ``hash_ids``.

    Per request: hit tokens under ``cache`` (infinite by default, or :class:`LRUCache`), counted as
    the leading run of cached 512-token blocks (``min(L * 512, input)``), and its session,
    reconstructed as in ``shared/data/traces/README.md``: with ``L`` the leading run of blocks ever
    seen, the parent is the latest request holding block ``hash_ids[L-1]``; the request is a
    follow-up turn when it reuses all the parent's full blocks, the parent has one, and it is longer.
    """

    def __iter__(self) -> Iterator[TraceRequest]:
        seen_last: dict[int, int] = {}  # block -> index of the latest request holding it
        inputs: list[int] = []
        sessions: list[int] = []
        turns: list[int] = []
        n_sessions = 0
        bt = self.block_tokens
        last_ts = 0.0
        for lineno, line in self._lines():
            try:
                obj = loads_bounded(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                ts = obj.get("timestamp")
                if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts) or not 0 <= ts <= MAX_TIMESTAMP_MS:
                    raise ValueError(f"field 'timestamp' = {ts!r}: must be a number in [0, {MAX_TIMESTAMP_MS:g}] (ms)")
                if ts < last_ts:
                    raise ValueError(
                        f"field 'timestamp' = {ts!r} is before the previous request's {last_ts!r}: "
                        "requests must be in time order (sort the trace by timestamp)"
                    )
                n_in = _int_field(obj, "input_length", 1)
                n_out = _int_field(obj, "output_length", 0)
                blocks = obj.get("hash_ids")
                if not isinstance(blocks, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in blocks):
                    raise ValueError("field 'hash_ids' must be a list of integers")
                if len(blocks) != -(-n_in // bt):
                    raise ValueError(f"hash_ids has {len(blocks)} blocks; input_length {n_in} needs {-(-n_in // bt)}")
            except (ValueError, TypeError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
                self._bad(lineno, str(exc))
                continue
            last_ts = float(ts)
            idx = len(inputs)
            # session reconstruction on the infinite 'seen' history
            lead = 0
            for b in blocks:
                if b in seen_last:
                    lead += 1
                else:
                    break
            session, turn = -1, 1
            if lead:
                parent = seen_last[blocks[lead - 1]]
                full = inputs[parent] // bt
                if full >= 1 and lead >= full and n_in > inputs[parent]:
                    session, turn = sessions[parent], turns[parent] + 1
            if session < 0:
                session = n_sessions
                n_sessions += 1
            hit_blocks = self.cache.lookup_and_insert(blocks)
            for b in blocks:
                seen_last[b] = idx
            inputs.append(n_in)
            sessions.append(session)
            turns.append(turn)
            yield TraceRequest(idx, float(ts) / 1000.0, n_in, n_out, min(hit_blocks * bt, n_in), session, turn)


class AzureReader(_Reader):
    """Azure LLM inference CSV: ``TIMESTAMP,ContextTokens,GeneratedTokens`` (no prefix information)."""

    def __iter__(self) -> Iterator[TraceRequest]:
        t0 = None
        idx = 0
        last_t = None
        header_seen = False
        for lineno, line in self._lines():
            try:
                row = next(csv.reader([line]), [])
            except csv.Error as exc:
                row = None
                err = f"not CSV ({exc})"
            if not header_seen:
                if row is None or [h.strip() for h in row] != ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]:
                    raise WorkloadError(f"{self.path}:{lineno}: header must be TIMESTAMP,ContextTokens,GeneratedTokens")
                header_seen = True
                continue
            try:
                if row is None:
                    raise ValueError(err)
                if len(row) != 3:
                    raise ValueError(f"expected 3 columns, got {len(row)}")
                ts = datetime.fromisoformat(row[0].strip()[:26])
                c1, c2 = row[1].strip(), row[2].strip()
                if len(c1) > MAX_INT_DIGITS or len(c2) > MAX_INT_DIGITS:
                    raise ValueError("token count too large")
                n_in, n_out = int(c1), int(c2)
                if not (1 <= n_in <= MAX_TOKENS and 0 <= n_out <= MAX_TOKENS):
                    raise ValueError(f"ContextTokens must be in [1, {MAX_TOKENS:,}] and GeneratedTokens in [0, {MAX_TOKENS:,}]")
                t = ts.timestamp()
                if last_t is not None and t < last_t:
                    raise ValueError(
                        f"TIMESTAMP {row[0].strip()} is before the previous request's: requests must be in "
                        "time order (sort the trace by TIMESTAMP)"
                    )
            except (ValueError, OverflowError, OSError) as exc:
                self._bad(lineno, str(exc))
                continue
            last_t = t
            t0 = t if t0 is None else t0
            yield TraceRequest(idx, t - t0, n_in, n_out, 0, idx, 1)
            idx += 1
        if not header_seen:
            raise WorkloadError(f"{self.path}:1: header must be TIMESTAMP,ContextTokens,GeneratedTokens")


# ---- summaries -----------------------------------------------------------------------------


def percentiles(x) -> dict[str, float]:
    """Mean, p50, p90, p99 and max of a sample (zeros when empty)."""
    x = np.asarray(x, float)
    if not len(x):
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "mean": float(x.mean()),
        "p50": float(np.percentile(x, 50)),
        "p90": float(np.percentile(x, 90)),
        "p99": float(np.percentile(x, 99)),
        "max": float(x.max()),
    }


@dataclass(frozen=True)
class TraceSummary:
    """Statistics of a trace: counts, arrivals, lengths, cache hits, sessions."""

    source: str
    requests: int
    span_s: float
    rate_per_s: float
    interarrival_cv: float
    input_tokens: dict[str, float]
    output_tokens: dict[str, float]
    hit_ratio_tokens: float
    sessions: int
    turns_per_session: dict[str, float]
    skipped_lines: int
    arrival_s: np.ndarray
    hit_tokens: np.ndarray
    miss_tokens: np.ndarray
    output_tokens_each: np.ndarray

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "requests": self.requests,
            "span_s": self.span_s,
            # undefined (fewer than 2 or 3 arrivals, or all at one instant): None, never NaN
            "rate_per_s": self.rate_per_s if math.isfinite(self.rate_per_s) else None,
            "interarrival_cv": self.interarrival_cv if math.isfinite(self.interarrival_cv) else None,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "hit_ratio_tokens": self.hit_ratio_tokens,
            "sessions": self.sessions,
            "turns_per_session": self.turns_per_session,
            "skipped_lines": self.skipped_lines,
        }


def interarrival_cv(arrival_s: np.ndarray) -> float:
    """std/mean of the gaps between consecutive arrivals (1 for a Poisson process)."""
    gaps = np.diff(np.sort(np.asarray(arrival_s, float)))
    if len(gaps) < 2 or gaps.mean() <= 0:
        return float("nan")
    return float(gaps.std() / gaps.mean())


def summarize(reader: _Reader) -> TraceSummary:
    """Stream a trace once and summarize it."""
    arr, inp, out, hit, ses = [], [], [], [], []
    for r in reader:
        arr.append(r.arrival_s)
        inp.append(r.input_tokens)
        out.append(r.output_tokens)
        hit.append(r.hit_tokens)
        ses.append(r.session)
    a = np.asarray(arr, float)
    i = np.asarray(inp, np.int64)
    o = np.asarray(out, np.int64)
    h = np.asarray(hit, np.int64)
    if not len(a):
        raise WorkloadError(f"{reader.path}: no valid requests")
    span = float(a.max() - a.min())
    per_session = np.bincount(np.asarray(ses, np.int64))
    per_session = per_session[per_session > 0]
    return TraceSummary(
        source=str(reader.path),
        requests=int(len(a)),
        span_s=span,
        rate_per_s=float((len(a) - 1) / span) if span > 0 else float("nan"),
        interarrival_cv=interarrival_cv(a),
        input_tokens=percentiles(i),
        output_tokens=percentiles(o),
        hit_ratio_tokens=float(h.sum() / i.sum()),
        sessions=int(len(per_session)),
        turns_per_session=percentiles(per_session.astype(float)),
        skipped_lines=reader.skipped_lines,
        arrival_s=a,
        hit_tokens=h,
        miss_tokens=i - h,
        output_tokens_each=o,
    )


# ---- our trajectory format -----------------------------------------------------------------

TRAJECTORY_FORMAT = "dpmodel.trajectories"
TRAJECTORY_VERSION = 1


def write_trajectories(path: str | Path, ts: TrajectorySet, *, meta: dict | None = None) -> Path:
    """Write a trajectory set as JSONL, atomically.

    Line 1: ``{"format": "dpmodel.trajectories", "version": 1, "max_agent_length_tokens": N,
    "agents": M, "meta": {...}}``; then one line per trajectory:
    ``{"agent": j, "append_tokens": [...], "generated_tokens": [...]}``.
    """
    head = {
        "format": TRAJECTORY_FORMAT,
        "version": TRAJECTORY_VERSION,
        "max_agent_length_tokens": ts.max_agent_length_tokens,
        "agents": ts.agents_count,
        "meta": meta or {},
    }
    lines = [json.dumps(head, sort_keys=True)]
    for j in range(ts.agents_count):
        a, g = ts.trajectory(j)
        lines.append(json.dumps({"agent": j, "append_tokens": a.tolist(), "generated_tokens": g.tolist()}))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_trajectories(path: str | Path, *, lenient: bool = False) -> TrajectorySet:
    """Read our trajectory JSONL (streaming, validated line by line)."""
    rd = _Reader(path, lenient)
    appends, gens = [], []
    mal = None
    first = True
    for lineno, line in rd._lines():
        if first and lineno != 1:  # the header line was malformed (skipped under lenient)
            raise WorkloadError(f"{rd.path}:1: not a dpmodel trajectory file (the header line is not UTF-8 or too long)")
        first = False
        try:
            obj = loads_bounded(line)
        except (ValueError, RecursionError) as exc:
            if lineno == 1:
                raise WorkloadError(f"{rd.path}:1: not a dpmodel trajectory file ({exc})") from None
            rd._bad(lineno, f"not JSON ({exc})")
            continue
        if lineno == 1:
            if not isinstance(obj, dict) or obj.get("format") != TRAJECTORY_FORMAT:
                raise WorkloadError(f"{rd.path}:1: not a dpmodel trajectory file (format must be {TRAJECTORY_FORMAT!r})")
            if obj.get("version") != TRAJECTORY_VERSION:
                raise WorkloadError(f"{rd.path}:1: version {obj.get('version')!r} unsupported (this dpmodel reads {TRAJECTORY_VERSION})")
            mal = obj.get("max_agent_length_tokens")
            if not isinstance(mal, int) or isinstance(mal, bool) or not 1 <= mal <= MAX_TOKENS:
                raise WorkloadError(f"{rd.path}:1: max_agent_length_tokens must be an integer in [1, {MAX_TOKENS:,}]")
            continue
        try:
            a, g = obj.get("append_tokens"), obj.get("generated_tokens")
            ok = isinstance(a, list) and isinstance(g, list) and a and len(a) == len(g)
            ok = ok and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_TOKENS for x in a + g)
            if not ok:
                raise ValueError(
                    f"append_tokens and generated_tokens must be equal-length, non-empty lists of integers in [0, {MAX_TOKENS:,}]"
                )
            if len(a) > 1 and sum(a) + sum(g) > mal:  # the first turn may exceed MAL (it always stays)
                raise ValueError(f"trajectory of {sum(a) + sum(g):,} tokens is longer than the file's max_agent_length_tokens {mal:,}")
        except (ValueError, AttributeError) as exc:
            rd._bad(lineno, str(exc))
            continue
        appends.append(a)
        gens.append(g)
    if mal is None:
        raise WorkloadError(f"{rd.path}: empty trajectory file")
    if not appends:
        raise WorkloadError(f"{rd.path}: no valid trajectories")
    return TrajectorySet.from_lists(appends, gens, mal, truncate=False)
