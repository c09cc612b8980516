"""The package layers (pyproject.toml, [tool.importlinter]) hold: no import from a lower layer to
a higher one, lazy or not, and no import cycle inside a package (docs/development.md, "Layers")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run(
        [*cmd, "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    return r.stdout


def test_import_contracts_are_kept():
    out = _lint_imports()
    assert "Layers follow the data flow KEPT" in out and "No import cycles" in out and "0 broken" in out


def _layers_contract():
    import tomllib

    from importlinter.contracts.layers import LayersContract

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (c,) = [c for c in cfg["contracts"] if c["type"] == "layers"]
    opts = {k: (v if isinstance(v, list) else str(v)) for k, v in c.items() if k not in ("name", "type")}
    return LayersContract(name=c["name"], session_options={"root_packages": ["dpmodel"]}, contract_options=opts)


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("dpmodel.queueing.open_model", "dpmodel.plan"),  # a model fetching the LP's split from above
        ("dpmodel.scenario", "dpmodel.queueing"),
        ("dpmodel.flows", "dpmodel.scenario"),
    ],
)
def test_an_upward_import_breaks_the_layers(importer, imported):
    """The same contract, on the package's graph with one upward import added (as a function-local
    import would add it), is broken; without it, kept."""
    import grimp

    contract = _layers_contract()
    graph = grimp.build_graph("dpmodel", cache_dir=None)
    assert contract.check(graph, verbose=False).kept
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert not contract.check(graph, verbose=False).kept


def test_models_take_the_lp_split_as_an_argument():
    """A model that needs the throughput LP's split and is given none says how to give it; given
    dpmodel.plan.lp_split (as dpmodel.serving does) it uses that split among its candidates."""
    from dpmodel.errors import ScenarioError
    from dpmodel.plan import lp_split
    from dpmodel.queueing.offline import offline_jct
    from dpmodel.queueing.open_model import online_metrics
    from dpmodel.scenario import Scenario
    from dpmodel.sim import ServingSim

    sc = Scenario.load(model="qwen2.5-32b", workload="agentic-32k", prefill_nodes=1, decode_nodes=2)
    for call in (lambda: online_metrics(sc, "dualpath", 0.1), lambda: offline_jct(sc, "dualpath", 4), lambda: ServingSim(sc, "dualpath")):
        with pytest.raises(ScenarioError, match=r"lp_split=dpmodel\.plan\.lp_path_shares"):
            call()
    assert online_metrics(sc, "basic", 0.1).split_de_frac == 0.0  # no decode-side path: nothing needed
    calls = []
    r = online_metrics(sc, "dualpath", 0.1, lp_split=lambda s, m: calls.append(m) or lp_split(s, m))
    assert calls == ["dualpath"] and 0.0 <= r.split_de_frac <= 1.0
    assert ServingSim(sc, "dualpath", lp_split=lp_split).split_de_frac == pytest.approx(lp_split(sc, "dualpath"))
