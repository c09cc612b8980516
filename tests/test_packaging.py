"""A plain (non-editable) install carries hardware_profiles/ and the catalog, and finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    (whl,) = out.glob("dpmodel-*.whl")
    return whl


def test_wheel_contains_profiles(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("dualpath-hopper", "h100-sxm", "h200-sxm", "h20", "dualpath-hopper-2snic"):
        assert f"dpmodel/hardware_profiles/{f}.toml" in names
    assert "dpmodel/catalog/models/deepseek-v3.2.toml" in names
    assert "dpmodel/catalog/workloads/agentic-64k.toml" in names


def test_installed_wheel_finds_profiles(wheel, tmp_path):
    target = tmp_path / "site"
    p = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    code = (
        "import dpmodel, dpmodel.profiles as pr; "
        f"assert dpmodel.__file__.startswith({str(target)!r}), dpmodel.__file__; "
        "print(pr.hardware_dir()); print(pr.load_cluster('dualpath-hopper').name)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert lines[0].startswith(str(target)) and lines[1] == "dualpath-hopper"
