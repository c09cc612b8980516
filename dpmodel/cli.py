"""Command-line interface: a thin layer over the public API. Errors: one line, exit status 2."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from typing import Any

from . import __version__
from .errors import DpmodelError
from .profiles import KINDS, field_table, list_profiles, load_profile, resolve
from .scenario import (
    DEFAULT_CLUSTER,
    DEFAULT_DECODE_NODES,
    DEFAULT_MODEL,
    DEFAULT_PREFILL_NODES,
    DEFAULT_WORKLOAD,
    Scenario,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"dpmodel: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scenario")
    g.add_argument("--cluster", default=DEFAULT_CLUSTER, help=f"hardware profile name or TOML path (default {DEFAULT_CLUSTER})")
    g.add_argument("--model", default=DEFAULT_MODEL, help=f"model spec name or TOML path (default {DEFAULT_MODEL})")
    g.add_argument("--workload", default=DEFAULT_WORKLOAD, help=f"workload name or TOML path (default {DEFAULT_WORKLOAD})")
    g.add_argument("--prefill-nodes", type=_positive_int, default=DEFAULT_PREFILL_NODES, help="P, prefill nodes (default 2)")
    g.add_argument("--decode-nodes", type=_positive_int, default=DEFAULT_DECODE_NODES, help="D, decode nodes (default 4)")
    g.add_argument("--prefill-efficiency", type=_float, default=None, help="achieved/peak prefill FLOP/s (default 0.4, an assumption)")
    g.add_argument("--basic-overlap", type=_float, default=None, help="share of load hidden behind compute in basic mode (default 0)")
    g.add_argument("--tpot-max-s", type=_float, default=None, help="cap on time per output token for the decode batch (default none)")


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    dep: dict[str, Any] = {}
    if args.prefill_efficiency is not None:
        dep["prefill_efficiency_frac"] = args.prefill_efficiency
    if args.basic_overlap is not None:
        dep["basic_overlap_frac"] = args.basic_overlap
    if args.tpot_max_s is not None:
        dep["tpot_max_s"] = args.tpot_max_s
    return Scenario.load(
        cluster=args.cluster,
        model=args.model,
        workload=args.workload,
        prefill_nodes=args.prefill_nodes,
        decode_nodes=args.decode_nodes,
        **dep,
    )


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan import analyse
    from .report import format_plan_text

    res = analyse(scenario_from_args(args))
    if args.json:
        print(json.dumps(_json_safe(res.to_dict()), indent=2))
    else:
        print(format_plan_text(res))
    return 0


def cmd_profiles_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    out = {k: [] for k in kinds}
    for k in kinds:
        for name in list_profiles(k):
            prof = load_profile(k, name)
            out[k].append({"name": name, "description": prof.description})
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for k in kinds:
        print(f"{k}s:")
        for row in out[k]:
            print(f"  {row['name']:<24} {row['description']}")
    return 0


def _find_kind(name: str) -> str:
    """Which kind a profile name (or path) belongs to; suggests close names across all kinds."""
    hits = []
    for k in KINDS:
        try:
            resolve(k, name)
            hits.append(k)
        except DpmodelError:
            pass
    if len(hits) > 1:
        raise DpmodelError(f"profile {name!r} exists as {' and '.join(hits)}: add --kind")
    if hits:
        return hits[0]
    everything = [n for k in KINDS for n in list_profiles(k)]
    close = difflib.get_close_matches(name, everything, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DpmodelError(f"unknown profile {name!r}{hint} (see 'dpmodel profiles list')")


def cmd_profiles_show(args: argparse.Namespace) -> int:
    import dataclasses

    kind = args.kind or _find_kind(args.name)
    prof = load_profile(kind, args.name)
    rows = field_table(type(prof))
    values: dict[str, Any] = {}
    for r in rows:
        obj: Any = prof
        for part in r["field"].split("."):
            obj = getattr(obj, part)
        values[r["field"]] = obj
    derived: dict[str, Any] = {}
    if kind == "model":
        derived = {
            "kv_bytes_per_token": prof.kv_bytes_per_token,
            "kv_bytes_per_token_layer": prof.kv_bytes_per_token_layer,
            "total_params": prof.total_params,
            "active_params": prof.active_params,
            "weight_bytes": prof.weight_bytes,
        }
    elif kind == "cluster":
        derived = {
            "snic_read_GBps_per_node": prof.snic_read_Bps_per_node / 1e9,
            "cnic_kv_GBps_per_gpu": prof.cnic_kv_Bps_per_gpu / 1e9,
            "dram_GBps_per_node": prof.dram_Bps_per_node / 1e9,
        }
    elif kind == "workload":
        derived = {"hit_frac": prof.hit_frac}
    prov = prof.provenance
    if args.json:
        out = {
            "kind": kind,
            "name": prof.name,
            "description": prof.description,
            "fields": values,
            "derived": derived,
            "provenance": dataclasses.asdict(prov),
        }
        print(json.dumps(_json_safe(out), indent=2, default=str))
        return 0
    print(f"{kind} {prof.name}: {prof.description}")
    print(f"source: {prov.source} ({prov.date})")
    for r in rows:
        if r["field"] in ("name", "description"):
            continue
        if r["type"] in ("str", "bool"):
            src = ""
        else:
            src = prov.fields.get(r["field"]) or f"(default) {r['default_source']}"
        print(f"  {r['field']:<34} = {values[r['field']]!s:<12} {src}")
    if derived:
        print("derived:")
        for k, v in derived.items():
            print(f"  {k:<34} = {v:,.6g}" if isinstance(v, float) else f"  {k:<34} = {v}")
    if prov.notes:
        print(f"notes: {prov.notes}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dpmodel", description="Where does KV-cache loading bottleneck a disaggregated LLM cluster, and how should reads be split between the two load paths?")
    p.add_argument("--version", action="version", version=f"dpmodel {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    plan = sub.add_parser("plan", help="saturated throughput in every mode, the optimal split and the bottleneck (the main job)")
    add_scenario_options(plan)
    plan.add_argument("--json", action="store_true", help="print JSON instead of the text report")
    plan.set_defaults(func=cmd_plan)
    prof = sub.add_parser("profiles", help="list or show packaged profiles")
    psub = prof.add_subparsers(dest="profiles_command", parser_class=_Parser)
    pl = psub.add_parser("list", help="list profiles")
    pl.add_argument("--kind", choices=list(KINDS))
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_profiles_list)
    ps = psub.add_parser("show", help="show one profile with units and the source of every number")
    ps.add_argument("name", help="profile name or TOML path")
    ps.add_argument("--kind", choices=list(KINDS))
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_profiles_show)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except DpmodelError as exc:
        msg = " ".join(str(exc).split())
        print(f"dpmodel: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. `dpmodel plan | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
