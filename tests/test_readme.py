"""Every command the README shows runs, in the order shown, on a scratch folder (a newcomer's run)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SLOW = ("dpmodel search", "dpmodel capacity")  # the online model's bisection: seconds each


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def readme_commands() -> list[str]:
    cmds = []
    for block in _blocks("sh"):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip() if not line.strip().startswith("#") else ""
            if line:
                cmds.append(" ".join(line.split()))
    return cmds


def test_readme_is_short_and_shows_the_commands():
    assert len(README.splitlines()) <= 150
    cmds = readme_commands()
    assert cmds[:2] == ["make run", "make test"]
    assert any(c.startswith("dpmodel search") for c in cmds) and any("extends" in README for _ in [0])
    assert any(c.startswith("dpmodel profiles new") for c in cmds) and any("--set" in c for c in cmds)


def test_make_run_is_dpmodel_plan():
    # `make run` (the Quickstart) runs `dpmodel plan` from the venv; `make test` runs this suite
    mk = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: .*\n\t\$\(BIN\)/dpmodel plan$", mk, flags=re.M)
    assert re.search(r"^test: .*\n\t\$\(BIN\)/python -m pytest -q$", mk, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_links_resolve():
    own = ["docs/model.md", "docs/queueing.md", "docs/simulator.md", "docs/calibration-and-validation.md",
           "docs/workloads-and-traces.md", "docs/profiles.md", "docs/policy-tables.md", "docs/cli-and-json.md",
           "docs/units.md", "docs/development.md", "CHANGELOG.md"]
    for link in re.findall(r"\]\(([^)]+)\)", README):
        if link in own:
            assert (ROOT / link).is_file(), link
    # docs/validation.md and docs/formats.md come from other branches; linked, not required here


def _run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(cmd)
    assert argv[0] == "dpmodel", cmd
    return subprocess.run([sys.executable, "-m", "dpmodel", *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    env_cmds = [c for c in readme_commands() if not c.startswith("make ")]
    assert len(env_cmds) >= 8
    for cmd in env_cmds:
        p = _run(cmd, tmp_path)
        assert p.returncode == 0, f"{cmd}: {p.stderr}"
        assert "Traceback" not in p.stderr and p.stdout.strip(), cmd
        if cmd.startswith("dpmodel profiles new"):
            assert (tmp_path / "my-cluster.toml").is_file()
        if cmd.startswith("dpmodel profiles show"):
            assert "extends h200-sxm" in p.stdout
        if "--set workload" in cmd:
            assert "config     command line: workload.trajectory.mean_append_tokens = 1200" in p.stdout
        if cmd.startswith("dpmodel search"):
            assert "evaluated 540 configurations" in p.stdout and "Pareto front" in p.stdout


def test_readme_python_example_runs():
    (code,) = _blocks("python")
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - our own README
    assert ns["best"]["turns_per_s"] > 0 and ns["res"].modes["dualpath"].split_de_frac > 0


def test_readme_sample_output_matches_plan():
    # the annotated sample is the real output of `dpmodel plan` (the rows shown, digit for digit)
    p = subprocess.run([sys.executable, "-m", "dpmodel", "plan"], capture_output=True, text=True, timeout=120)
    (sample,) = _blocks("text")
    for line in sample.splitlines():
        assert line in p.stdout.splitlines(), line
