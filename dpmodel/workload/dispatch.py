"""Open a request trace by its format (the one dispatch over every reader): ``.jsonl`` Mooncake,
AIPerf multi-turn sessions or WekaTrace, recognised by content; ``.csv`` Azure."""

from __future__ import annotations

from pathlib import Path

from ..errors import WorkloadError
from .agentic import AIPerfReader, WekaReader, sniff_jsonl
from .traces import AzureReader, InfiniteCache, LRUCache, MooncakeReader, _Reader


def open_trace(path: str | Path, *, cache: InfiniteCache | LRUCache | None = None, lenient: bool = False) -> _Reader:
    """A reader for ``path`` by its format: ``.jsonl`` Mooncake / AIPerf sessions / WekaTrace, ``.csv`` Azure."""
    p = Path(path)
    if p.suffix == ".jsonl":
        kind = sniff_jsonl(p)  # by content: Weka sessions, AIPerf multi-turn, else Mooncake
        if kind == "weka":
            return WekaReader(p, cache=cache, lenient=lenient)
        if kind == "aiperf":
            return AIPerfReader(p, cache=cache, lenient=lenient)
        return MooncakeReader(p, cache=cache, lenient=lenient)
    if p.suffix == ".csv":
        if cache is not None:
            raise WorkloadError(f"{p}: Azure traces carry no prefix hashes, so a cache cannot be simulated")
        return AzureReader(p, lenient=lenient)
    raise WorkloadError(f"trace {str(path)!r}: unknown format; use a Mooncake .jsonl or an Azure .csv")
