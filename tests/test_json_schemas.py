"""Every command's --json: schema_version, command and the scenario block, and its committed JSON
Schema (dpmodel/schemas/) holds for real output (the runs benchmarks/json_schemas.py wrote them from)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import jsonschema
import pytest

from dpmodel.results import SCHEMA_VERSION, envelope, json_safe

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("json_schemas", ROOT / "benchmarks" / "json_schemas.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

SLOW = {"capacity", "search", "size", "simulate"}


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in gen.COMMANDS])
def test_command_json_matches_its_schema(command):
    schema = json.loads((gen.SCHEMA_DIR / f"{command.replace(' ', '-')}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    out = gen.run(gen.COMMANDS[command])
    jsonschema.validate(out, schema)
    assert out["schema_version"] == SCHEMA_VERSION and out["command"] == command
    has_scenario = not command.startswith(("profiles", "workload"))
    assert (out["scenario"] is not None) == has_scenario
    if has_scenario:
        assert {"cluster", "model", "workload", "prefill_nodes", "decode_nodes", "fingerprint"} <= set(out["scenario"])


def test_every_command_with_json_has_a_schema():
    files = {p.name for p in gen.SCHEMA_DIR.glob("*.schema.json")}
    assert files == {f"{c.replace(' ', '-')}.schema.json" for c in gen.COMMANDS}


def test_a_schema_rejects_what_it_should():
    schema = json.loads((gen.SCHEMA_DIR / "online.schema.json").read_text(encoding="utf-8"))
    good = gen.run(gen.COMMANDS["online"])
    for broken in (
        {**good, "schema_version": SCHEMA_VERSION - 1},
        {k: v for k, v in good.items() if k != "scenario"},
        {**good, "ttft_s": "fast"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_json_safe_writes_non_finite_numbers_as_null():
    import numpy as np

    d = json_safe({"a": math.inf, "b": [math.nan, 1.5, np.float64(-np.inf)], "c": (np.int64(3),), "d": np.array([1.0, np.inf])})
    assert d == {"a": None, "b": [None, 1.5, None], "c": [3], "d": [1.0, None]}
    e = envelope("x", [1, 2])
    assert e == {"schema_version": SCHEMA_VERSION, "command": "x", "scenario": None, "rows": [1, 2]}
    json.dumps(e, allow_nan=False)


def test_plan_schema_holds_for_a_three_path_topology():
    """``path_shares`` is a map over the topology's paths: a third path validates too."""
    schema = json.loads((gen.SCHEMA_DIR / "plan.schema.json").read_text(encoding="utf-8"))
    out = gen.run(["plan", "--topology", "dualpath-recompute", "--json"])
    jsonschema.validate(out, schema)
    assert set(out["modes"]["dualpath"]["path_shares"]) == {"pe_read", "de_read", "recompute"}
