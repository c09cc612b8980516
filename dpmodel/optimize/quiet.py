"""Keep solver output off stdout: HiGHS prints a banner from C++ that Python cannot redirect."""

from __future__ import annotations

import os
import sys


class QuietStdout:
    """Silence file descriptor 1 while a solver runs (so `--json` output stays valid JSON)."""

    def __enter__(self):
        try:
            sys.stdout.flush()
        except (OSError, ValueError):  # pragma: no cover - closed or broken stdout
            pass
        self.saved = os.dup(1)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 1)
        return self

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        os.close(self.null)
        return False
