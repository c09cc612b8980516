"""Every command the README shows runs, in the order shown, on a scratch folder (a newcomer's run)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


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
    assert re.search(r"^test: .*\n\t\$\(BIN\)/python -m pytest -q -n 2 --dist loadgroup$", mk, flags=re.M)  # two pytest-xdist workers
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_links_resolve():
    own = [
        "docs/model.md",
        "docs/queueing.md",
        "docs/simulator.md",
        "docs/calibration-and-validation.md",
        "docs/workloads-and-traces.md",
        "docs/profiles.md",
        "docs/policy-tables.md",
        "docs/cli-and-json.md",
        "docs/units.md",
        "docs/development.md",
        "CHANGELOG.md",
    ]
    for link in re.findall(r"\]\(([^)]+)\)", README):
        if link in own:
            assert (ROOT / link).is_file(), link
    # docs/validation.md and docs/formats.md come from other branches; linked, not required here


# every command the README shows is run by tests/test_docs_commands.py (with the docs' commands)
