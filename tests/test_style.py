"""The style the project keeps (pyproject.toml, [tool.ruff]): `ruff check` clean, E501 included
(code wrapped at 140 columns, every line at most 160), and `ruff format` applied."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["dpmodel", "tests", "benchmarks"]


def _ruff() -> str:
    exe = Path(sys.executable).with_name("ruff")
    found = str(exe) if exe.exists() else shutil.which("ruff")
    if not found:
        pytest.skip("ruff is not installed (it is in requirements.lock: `make test` installs it)")
    return found


@pytest.mark.parametrize("args", [["check", "--no-cache"], ["format", "--check", "--no-cache"]], ids=["check", "format"])
def test_ruff(args):
    r = subprocess.run([_ruff(), *args, *PATHS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
