"""Every `dpmodel` command shown in a fenced shell block of README.md or docs/*.md runs, in the order
shown, in a scratch folder (in-process through :func:`dpmodel.cli.main`), and every subcommand has
such an example somewhere.

A command is a line of a ```sh / ```bash / ```console block (or an unlabelled one) that starts with
``dpmodel``, ``.venv/bin/dpmodel`` or ``$ dpmodel``; a trailing ``\\`` continues it and ``#`` starts a
comment. Each page runs in its own folder beside a link ``../shared`` to the real shared folder (the
docs' trace paths) and links to ``calibration_data`` and ``tests`` (the files the examples read).
The few examples that are long on purpose are listed in :data:`LONG` with the reason and the test
that runs the same code; they are checked to parse (``--help`` of the subcommand) and skipped.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT.parent / "shared"
PREFIXES = ("$ dpmodel ", ".venv/bin/dpmodel ", "dpmodel ")

#: examples that take long on purpose (a prefix of the command, after `dpmodel`): the reason, and where the same path is tested
LONG = {
    "capacity": "four SLO-capacity bisections of the online model (~7 s of CPU); tests/test_cli.py and tests/test_limits.py run capacity",
    "size": "a MILP per storage-NIC count, each verified by the online model (~7 s of CPU); tests/test_sizing.py runs size_cluster",
    "plan --report": "the report's TTFT curves need four saturation bisections (~13 s of CPU); tests/test_report_browser.py writes and renders it",
    "search --nodes 8 --front-capacity 0 --report": "the top configuration's report (as plan --report); tests/test_report_browser.py",
}


def commands(page: Path) -> list[str]:
    """The `dpmodel` commands of ``page``'s fenced shell blocks, arguments only (without `dpmodel`)."""
    out = []
    for lang, block in re.findall(r"^```(\w*)\n(.*?)^```", page.read_text(), flags=re.S | re.M):
        if lang not in ("", "sh", "bash", "console", "shell"):
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            prefix = next((p for p in PREFIXES if line.startswith(p)), None)
            if prefix is None:
                continue
            line = line[len(prefix) :].split(" #", 1)[0]
            out.append(" ".join(line.split()))
    return out


def long_reason(cmd: str) -> str | None:
    return next((why for prefix, why in LONG.items() if cmd == prefix or cmd.startswith(prefix + " ")), None)


ALL = [(p, c) for p in PAGES for c in commands(p)]


def test_the_docs_show_commands():
    assert len(ALL) >= 20, ALL
    assert {p.name for p, _ in ALL} >= {"README.md", "cli-and-json.md", "workloads-and-traces.md"}


def test_every_subcommand_has_a_runnable_example():
    from dpmodel.cli import build_parser

    parser = build_parser()
    subs = []
    for action in parser._subparsers._group_actions:  # the top-level subcommands and theirs
        for name, sp in action.choices.items():
            inner = [a for a in sp._actions if a.__class__.__name__ == "_SubParsersAction"]
            subs += [f"{name} {n}" for a in inner for n in a.choices] if inner else [name]
    shown = [c for _, c in ALL]  # a long example counts: it is shown, and parsed by the test below
    missing = [s for s in subs if not any(c == s or c.startswith(s + " ") for c in shown)]
    assert not missing, f"subcommands with no fast example in README.md or docs/*.md: {missing}"


def test_long_examples_are_still_shown_and_parse():
    from dpmodel.cli import build_parser

    shown = [c for _, c in ALL]
    for prefix in LONG:
        matching = [c for c in shown if c == prefix or c.startswith(prefix + " ")]
        assert matching, f"LONG lists {prefix!r}, which no page shows any more: drop it"
        for c in matching:
            build_parser().parse_args(shlex.split(c))  # the arguments are valid (no SystemExit)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("docs")
    if SHARED.is_dir():
        (base / "shared").symlink_to(SHARED, target_is_directory=True)
    made = {}
    for page in PAGES:
        d = base / page.stem
        d.mkdir()
        for name in ("calibration_data", "tests"):
            (d / name).symlink_to(ROOT / name, target_is_directory=True)
        made[page] = d
    return made


@pytest.mark.parametrize("page", [p for p in PAGES if commands(p)], ids=lambda p: p.name)
def test_every_shown_command_runs(page, folders, monkeypatch, capsys):
    from dpmodel.cli import main

    monkeypatch.chdir(folders[page])
    ran = 0
    for cmd in commands(page):
        if long_reason(cmd):
            continue
        if "../shared/" in cmd and not SHARED.is_dir():
            continue  # the public traces are not on this machine (third-party data, never copied)
        rc = main(shlex.split(cmd))
        out, err = capsys.readouterr()
        assert rc == 0, f"{page.name}: dpmodel {cmd}\n{err}"
        assert "Traceback" not in err and (out.strip() or "wrote" in err), f"{page.name}: dpmodel {cmd}: no output"
        _check(cmd, out, folders[page])
        ran += 1
    assert ran, f"{page.name}: every command was skipped"


def _check(cmd: str, out: str, cwd: Path) -> None:
    """What the README promises of its own commands."""
    if cmd.startswith("profiles new"):
        assert (cwd / shlex.split(cmd)[-1]).is_file()
    if cmd.startswith("profiles show my-cluster.toml"):
        assert "extends h200-sxm" in out
    if "--set workload.trajectory.mean_append_tokens=1200" in cmd:
        assert "config     command line: workload.trajectory.mean_append_tokens = 1200" in out
    if cmd.startswith("search") and "--nodes 16" in cmd:
        assert "evaluated 540 configurations" in out and "Pareto front" in out
