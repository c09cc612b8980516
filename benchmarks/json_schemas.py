"""Write dpmodel/schemas/<command>.schema.json from each command's real ``--json`` output.

    .venv/bin/python benchmarks/json_schemas.py            # (re)write every schema
    .venv/bin/python benchmarks/json_schemas.py plan sweep # only these

A schema is inferred from one run of the command on a small scenario, then committed and
reviewed: every object's keys required (in a list, those every item has); objects with many keys of one shape (resources by name,
modes) as maps; every number ``number`` or ``null`` (non-finite values are written as null); the
envelope (``schema_version``, ``command``, ``scenario``) pinned. tests/test_json_schemas.py
validates fresh output of the same commands against the committed files.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dpmodel.results import SCHEMA_VERSION  # noqa: E402

SCHEMA_DIR = ROOT / "dpmodel" / "schemas"
RUN = ROOT / "tests" / "data" / "vllm_bench_serve_qwen.json"

#: command name -> the arguments of the small run its schema comes from (the test runs the same)
COMMANDS: dict[str, list[str]] = {
    "plan": ["plan", "--json"],
    "online": ["online", "--aps", "0.5", "--json"],
    "offline": ["offline", "--agents", "8", "--json"],
    "capacity": ["capacity", "--json"],
    "sweep": ["sweep", "--mode", "layerwise", "--json"],
    "search": ["search", "--nodes", "4", "--snics", "1", "--engines", "8", "--modes", "dualpath", "--front-capacity", "1", "--json"],
    "size": ["size", "--target-aps", "0.2", "--nodes-max", "8", "--json"],
    "simulate": ["simulate", "--agents", "4", "--json"],
    "validate": ["validate", "--run", str(RUN), "--model", "qwen2.5-32b", "--json"],
    "profiles list": ["profiles", "list", "--json"],
    "profiles show": ["profiles", "show", "qwen2.5-32b", "--kind", "model", "--json"],
    "workload list": ["workload", "list", "--json"],
    "workload show": ["workload", "show", "agentic-32k", "--agents", "50", "--json"],
}


def run(argv: list[str]) -> dict:
    from dpmodel.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    if rc != 0:
        raise SystemExit(f"dpmodel {' '.join(argv)} exited {rc}")
    return json.loads(buf.getvalue())


def infer(v) -> dict:
    if isinstance(v, bool):
        return {"type": "boolean"}
    if isinstance(v, int | float):
        return {"type": ["number", "null"]}
    if isinstance(v, str):
        return {"type": "string"}
    if v is None:
        return {}
    if isinstance(v, list):
        return {"type": "array", "items": merge([infer(x) for x in v])} if v else {"type": "array"}
    shapes = [json.dumps(infer(x), sort_keys=True) for x in v.values()]
    if len(v) >= 4 and len(set(shapes)) == 1 and shapes[0] != "{}":
        return {"type": "object", "additionalProperties": json.loads(shapes[0])}  # a map by name
    return {"type": "object", "required": list(v), "properties": {k: infer(x) for k, x in v.items()}}


def merge(schemas: list[dict]) -> dict:
    """One schema for every item of a list: objects keep the keys all items have as required and
    every key any item has as a property; a value that differs in kind between items is free."""
    first = schemas[0]
    if all(json.dumps(x, sort_keys=True) == json.dumps(first, sort_keys=True) for x in schemas):
        return first
    if all(x.get("type") == "object" and "properties" in x for x in schemas):
        props: dict[str, list[dict]] = {}
        for x in schemas:
            for k, sub in x["properties"].items():
                props.setdefault(k, []).append(sub)
        required = [k for k in first["required"] if all(k in x["required"] for x in schemas)]
        return {"type": "object", "required": required, "properties": {k: merge(subs) for k, subs in props.items()}}
    return {}


def schema_for(command: str, out: dict) -> dict:
    s = infer(out)
    s["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    s["properties"]["command"] = {"const": command}
    if out.get("scenario") is None:
        s["properties"]["scenario"] = {"type": "null"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"dpmodel {command} --json",
        "description": "Numbers that are not finite (an unbounded latency, an undefined ratio) are null.",
        **s,
    }


def main(names: list[str]) -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name in names or list(COMMANDS):
        schema = schema_for(name, run(COMMANDS[name]))
        path = SCHEMA_DIR / f"{name.replace(' ', '-')}.schema.json"
        path.write_text(json.dumps(schema, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
