"""Progress bars (dpmodel/progress.py) on the commands that take seconds, off with --quiet and
--json and when stderr is not a terminal; Ctrl-C ends a command with one line, exit 130, and no
partial or temporary file."""

from __future__ import annotations

import io
import sys

import pytest

from dpmodel.cli import main


class _Tty(io.StringIO):
    """A stderr that says it is a terminal (tqdm shows bars only on one)."""

    def isatty(self) -> bool:
        return True


def _run_on_tty(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    rc = main(argv)
    capsys.readouterr()
    return rc, tty.getvalue()


def test_tick_outside_a_bar_is_silent_and_inside_counts():
    from dpmodel.progress import progress_bar, tick

    tick(5)  # no bar open: nothing happens
    with progress_bar("x", total=3, force=True) as bar:
        tick(1)
        tick(2, "note")
    assert bar.n == 3
    with progress_bar("x", enabled=False) as off:
        tick(1)
    assert off is None


def test_parallel_sweep_ticks_per_point():
    from dpmodel.progress import progress_bar
    from dpmodel.sweep import parallel_sweep

    with progress_bar("sweep", total=4, force=True) as bar:
        out = parallel_sweep(_square, [{"x": i} for i in range(4)], workers=1)
    assert [r["y"] for r in out] == [0, 1, 4, 9] and bar.n == 4


def _square(*, x: int) -> dict:
    return {"y": x * x}


def test_each_measurement_ticks():
    from dpmodel.bench.measure import time_it
    from dpmodel.progress import progress_bar

    with progress_bar("bench", force=True) as bar:
        time_it(lambda: None, reps=3)
        time_it(lambda: None, reps=2)
    assert bar.n == 2


@pytest.mark.parametrize(
    "argv,desc",
    [
        (["sweep", "--axis", "decode_nodes=2,4,8"], "sweep"),
        (["simulate", "--agents", "8", "--seed", "1"], "turn"),
    ],
)
def test_bar_on_a_terminal_and_off_with_quiet_or_json(monkeypatch, capsys, argv, desc):
    rc, err = _run_on_tty(monkeypatch, capsys, argv)
    assert rc == 0 and desc in err and "%|" in err  # a tqdm bar was drawn
    for extra in (["--quiet"], ["--json"]):
        rc, err = _run_on_tty(monkeypatch, capsys, argv + extra)
        assert rc == 0 and "%|" not in err and "it/s" not in err, (extra, err)


def test_bench_run_shows_measurements_and_quiet_hides_them(monkeypatch, capsys, tmp_path):
    import dpmodel.bench.host as host
    from dpmodel.bench import read_csv
    from dpmodel.bench.measure import time_it
    from tests.test_bench import RECORDED_CSV

    rows = read_csv(RECORDED_CSV)[0]

    def fake_run_host(*, quick):  # three measurements, the recorded rows (no real transfers in this test)
        for _ in range(3):
            time_it(lambda: None, reps=1)
        return rows

    monkeypatch.setattr(host, "run_host", fake_run_host)
    rc, err = _run_on_tty(monkeypatch, capsys, ["bench", "run", "--quick", "--out", str(tmp_path / "a.csv")])
    assert rc == 0 and "bench: host transfers" in err and "measurement" in err  # the bar (its ticks: test_each_measurement_ticks)
    rc, err = _run_on_tty(monkeypatch, capsys, ["bench", "run", "--quick", "--quiet", "--out", str(tmp_path / "b.csv")])
    assert rc == 0 and "bench: host transfers" not in err


# ---- Ctrl-C -----------------------------------------------------------------------------------

WRITERS = {
    "sweep --csv": lambda t: ["sweep", "--axis", "decode_nodes=2,4", "--csv", t],
    "policy export": lambda t: ["policy", "export", "--out", t],
    "workload synth": lambda t: ["workload", "synth", "agentic-32k", "--agents", "2", "--out", t],
    "profiles new": lambda t: ["profiles", "new", "mine", "--from", "h200-sxm", "--set", "cluster.node.snic_count=2", "--out", t],
}


@pytest.mark.parametrize("old", [False, True], ids=["new file", "over an old file"])
@pytest.mark.parametrize("which", list(WRITERS))
def test_ctrl_c_while_writing_leaves_no_partial_file(monkeypatch, capsys, tmp_path, which, old):
    """Ctrl-C after the data went into the temporary file but before the rename: exit 130, one line,
    the target absent (or the old file intact) and no temporary file left."""
    import dpmodel.fileio as fileio

    target = tmp_path / "out.file"
    if old:
        target.write_text("old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.os, "fsync", interrupted)
    assert main(WRITERS[which](str(target))) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "no partial output" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out.file"] if old else [])
    if old:
        assert target.read_text() == "old"
