"""The simulator gives exactly the numbers it gave before its speed-up (issue 19): every field of
every result, for runs covering each policy and each kind of run, against values recorded once
from the code before the change (``benchmarks/sim_golden.py --record``: first on commit 0d76c6f on
the simulator branch, then again on the merged tree before the speed-up landed, commit 842de5e,
whose physics and resource names had moved; the speed-up reproduced both). Re-recorded on the
simspeed branch (issue 19, second round) when the utilizations became the topology's list and
``events`` came to count the fluid network's completion instants (no SimPy timer each): every
other number was identical to the previous record. The 2048-agent reference run is compared the
same way by ``benchmarks/sim_speed.py``."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import sim_golden  # noqa: E402

WANT = json.loads((ROOT / "tests" / "data" / "sim_golden.json").read_text())
CASES = dict(sim_golden._cases(big=False))


def test_every_case_recorded():
    assert set(CASES) == set(WANT)


@pytest.mark.parametrize("name", sorted(CASES))
def test_identical_to_recorded(name):
    got = json.loads(json.dumps(sim_golden._plain(CASES[name]().to_dict())))
    want = WANT[name]
    assert got.keys() == want.keys()
    diff = {k: (got[k], want[k]) for k in got if got[k] != want[k]}
    assert not diff, f"{name}: {diff}"
