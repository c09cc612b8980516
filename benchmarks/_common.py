"""Shared by the benchmark scripts: the command line that made a record, and writing it."""

from __future__ import annotations

import sys

from dpmodel.fileio import atomic_write_text


def command_line() -> str:
    return "python " + " ".join(sys.argv)


def emit(lines: list[str], out: str | None) -> int:
    """Print the record and, with ``out``, write it atomically."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        atomic_write_text(out, text)
    return 0
