"""Progress on stderr for commands that take seconds: a tqdm bar that library code ticks without
knowing who listens.

``with progress_bar("size", unit="check"):`` opens a bar (off when stderr is not a terminal or when
``enabled`` is False); inside it, :func:`tick` (called by, e.g., every SLO-capacity bisection)
advances it. Outside any bar :func:`tick` does nothing, so library calls stay silent.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import Any

_CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("dpmodel_progress", default=None)


@contextlib.contextmanager
def progress_bar(desc: str, *, total: int | None = None, unit: str = "step", enabled: bool = True, force: bool = False) -> Iterator[Any]:
    """A tqdm bar on stderr for the duration of the block (None when disabled; shown only on a
    terminal unless ``force``)."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, disable=False if force else None, mininterval=0.3)
    token = _CURRENT.set(bar)
    try:
        yield bar
    finally:
        _CURRENT.reset(token)
        bar.close()


def tick(n: int = 1, note: str | None = None) -> None:
    """Advance the active bar, if any."""
    bar = _CURRENT.get()
    if bar is not None:
        if note:
            bar.set_postfix_str(note, refresh=False)
        bar.update(n)
