"""Command-line interface: a thin layer over the public API. Errors: one line, exit status 2."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from typing import Any

from ._cli_env import BLAS_THREADS  # noqa: F401  (one BLAS thread for the CLI, set before numpy loads)
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
from .version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (control characters in arguments escaped)
        message = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in message)
        self.exit(2, f"dpmodel: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def _positive_float(text: str) -> float:
    v = _float(text)
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return v


def _bounded(kind, lo: float, hi: float, what: str):
    """An argparse type: ``kind`` (int or float) in [lo, hi], finite; ``what`` says why the bound."""

    def parse(text: str):
        try:
            v = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None

        def num(x: float) -> str:
            return f"{x:,}" if kind is int else f"{x:g}"

        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number")
        if v < lo:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {num(lo)}")
        if v > hi:
            raise argparse.ArgumentTypeError(f"{text!r} must be <= {num(hi)} ({what})")
        return v

    return parse


#: far beyond any real run, and small enough that memory and every derived number stay bounded
MAX_AGENTS = 100_000
MAX_APS = 1e6
MAX_ARRIVALS = 10_000_000
_seed = _bounded(int, 0, 2**63 - 1, "a non-negative seed")
_agents = _bounded(int, 1, MAX_AGENTS, "agents of one batch")
_aps = _bounded(float, 1e-9, MAX_APS, "agent arrivals per second")
_scale = _bounded(float, 1e-6, 1e6, "a scale factor; results are re-truncated at MAL")
_extra_agents = _bounded(int, 0, MAX_AGENTS, "extra agents")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scenario")
    g.add_argument("--cluster", default=DEFAULT_CLUSTER, help=f"hardware profile name or TOML path (default {DEFAULT_CLUSTER})")
    g.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model spec name, TOML path, or Hugging Face config.json / its folder (default {DEFAULT_MODEL})",
    )
    g.add_argument("--kv-dtype", default=None, dest="kv_dtype", help="with a config.json --model: KV cache dtype (default: the config's)")
    g.add_argument(
        "--workload", default=DEFAULT_WORKLOAD, help=f"workload name, TOML path or trajectory .jsonl (default {DEFAULT_WORKLOAD})"
    )
    g.add_argument("--trace", default=None, help="a Mooncake .jsonl or Azure .csv trace to use as the workload")
    g.add_argument(
        "--cache-GiB", type=_float, default=None, dest="cache_GiB", help="with --trace: LRU KV cache size for hits (default infinite)"
    )
    g.add_argument("--classes", type=_positive_int, default=8, help="request classes for a trajectory file or trace (default 8)")
    g.add_argument(
        "--topology",
        default=None,
        help="resources and load paths: a packaged name (dualpath, dualpath-recompute) or a TOML path (default dualpath)",
    )
    g.add_argument("--prefill-nodes", type=_positive_int, default=DEFAULT_PREFILL_NODES, help="P, prefill nodes (default 2)")
    g.add_argument("--decode-nodes", type=_positive_int, default=DEFAULT_DECODE_NODES, help="D, decode nodes (default 4)")
    g.add_argument("--prefill-efficiency", type=_float, default=None, help="achieved/peak prefill FLOP/s (default 0.4, an assumption)")
    g.add_argument("--basic-overlap", type=_float, default=None, help="share of load hidden behind compute in basic mode (default 0)")
    g.add_argument("--tpot-max-s", type=_float, default=None, help="cap on time per output token for the decode batch (default none)")
    g.add_argument(
        "--decode-step-overhead-s", type=_float, default=None, help="fixed cost per decode step (default 0.005 s, an assumption)"
    )
    g.add_argument("--prefill-quota-s", type=_float, default=None, help="compute quota of one prefill forward (default 0.3 s, the paper's)")
    g.add_argument(
        "--prefill-engine-gpus",
        type=int,
        default=None,
        help="GPUs per prefill engine that step in lock step (default auto: MoE = a node, dense = 1)",
    )
    g.add_argument("--overlay", default=None, help="a hardware-profile overlay TOML from `dpmodel bench fit`")
    g.add_argument(
        "--calibrated",
        action="store_true",
        help="the roofline with the model's bounded Oracle-only Fig. 7 fit of its kernel knobs (the default on the paper's "
        "testbed cluster; an error where no fit exists)",
    )
    g.add_argument("--uncalibrated", action="store_true", help="the raw roofline: published kernel figures only, nothing fitted")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KIND.SECTION.KEY=VALUE",
        dest="set",
        help="override one profile field, e.g. cluster.node.snic_count=2 (kind: cluster, model, workload, cost, "
        "deployment); repeatable; recorded as 'config: command line'",
    )


SET_KINDS = ("cluster", "model", "workload", "cost", "deployment")


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--set kind.section.key=VALUE`` items -> {kind: {section.key: value}} (values parsed as TOML scalars)."""
    from .profiles.loader import parse_value

    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        kind, dot, field = key.strip().partition(".")
        if not sep or not dot or not field or not value.strip():
            raise DpmodelError(f"--set {item!r}: use KIND.SECTION.KEY=VALUE, e.g. cluster.node.snic_count=2")
        if kind not in SET_KINDS:
            close = difflib.get_close_matches(kind, SET_KINDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DpmodelError(f"--set {item!r}: unknown kind {kind!r}{hint}; use one of {', '.join(SET_KINDS)}")
        out.setdefault(kind, {})[field] = parse_value(value.strip())
    return out


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    sets = parse_sets(getattr(args, "set", []))
    dep: dict[str, Any] = dict(sets.pop("deployment", {}))
    import dataclasses as _dc

    from .scenario import Deployment

    known = [f.name for f in _dc.fields(Deployment) if f.name not in ("prefill_nodes_count", "decode_nodes_count")]
    for key in dep:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known)}"
            raise DpmodelError(f"--set deployment.{key}: unknown deployment field; {hint} (node counts: --prefill-nodes/--decode-nodes)")
    if args.prefill_efficiency is not None:
        dep["prefill_efficiency_frac"] = args.prefill_efficiency
    if args.basic_overlap is not None:
        dep["basic_overlap_frac"] = args.basic_overlap
    if args.tpot_max_s is not None:
        dep["tpot_max_s"] = args.tpot_max_s
    if args.decode_step_overhead_s is not None:
        dep["decode_step_overhead_s"] = args.decode_step_overhead_s
    if getattr(args, "prefill_quota_s", None) is not None:
        dep["prefill_quota_s"] = args.prefill_quota_s
    if getattr(args, "prefill_engine_gpus", None) is not None:
        dep["prefill_engine_gpus_count"] = args.prefill_engine_gpus
    # physics: the roofline (calibrated on the paper's testbed, see below) unless the flat physics is
    # asked for, by --set deployment.physics=flat or by giving one of its two knobs
    calibration = "calibrated" if args.calibrated else ("uncalibrated" if getattr(args, "uncalibrated", False) else None)
    if args.calibrated and getattr(args, "uncalibrated", False):
        raise DpmodelError("--calibrated and --uncalibrated: give one of them")
    flat_knobs = [k for k in ("prefill_efficiency_frac", "decode_step_overhead_s") if k in dep]
    if "physics" not in dep:
        dep["physics"] = "flat" if flat_knobs and calibration is None else "roofline"
    if calibration and (dep["physics"] != "roofline" or flat_knobs):
        raise DpmodelError(
            f"--{calibration}: it selects the roofline's kernel knobs; --prefill-efficiency, --decode-step-overhead-s and "
            "deployment.physics=flat select the flat physics: drop one"
        )
    sc = Scenario.load(
        cluster=args.cluster,
        model=args.model,
        workload=args.workload,
        prefill_nodes=args.prefill_nodes,
        decode_nodes=args.decode_nodes,
        trace=args.trace,
        cache_GiB=args.cache_GiB,
        classes_count=args.classes,
        overrides={k: v for k, v in sets.items() if k != "cost"},
        topology=getattr(args, "topology", None),
        **dep,
    )
    if sc.deployment.physics == "roofline" and calibration != "uncalibrated":
        from .fig7 import ROOFLINE_FIT_FILE, calibrated_cluster, load_roofline_fit

        keep = tuple(k for k in sets.get("cluster", {}) if k.startswith("kernels."))
        cal = calibrated_cluster(sc.cluster, sc.model.name, keep=keep)
        if cal is not None:
            import dataclasses

            sc = dataclasses.replace(sc, cluster=cal)
        elif calibration == "calibrated":
            from .reference import FIG7_CLUSTER

            raise DpmodelError(
                f"--calibrated: no Fig. 7 roofline fit for model '{sc.model.name}' on cluster '{sc.cluster.name}' (fitted: "
                f"{', '.join(load_roofline_fit(ROOFLINE_FIT_FILE))} on {FIG7_CLUSTER}); drop --calibrated for the raw roofline"
            )
    if args.overlay:
        import dataclasses

        from .bench import apply_overlay

        sc = dataclasses.replace(sc, cluster=apply_overlay(sc.cluster, args.overlay))
    return sc


def _print_json(command: str, payload: Any, scenario: Any = None) -> None:
    """A command's ``--json``: schema_version, command and scenario beside its fields (dpmodel.results)."""
    from .results import envelope

    print(json.dumps(envelope(command, payload, scenario), indent=2, allow_nan=False))


def cmd_plan(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)  # validate input before importing the solvers
    if args.search and not args.report:
        raise DpmodelError("--search goes with --report FILE.html (the report's Pareto front); for the table use 'dpmodel search'")
    if args.report:  # a path that cannot be written fails now, not after the report's figures
        from .fileio import check_output_path

        check_output_path(args.report)
    from .plan import analyse
    from .report import format_plan_text

    res = analyse(scenario)
    if args.json:
        _print_json("plan", res.to_dict(), scenario)
    else:
        print(format_plan_text(res))
    if args.report or args.plots:
        from .report import write_html_report

        if not args.report:
            raise DpmodelError("--plots DIR goes with --report FILE.html")
        from .progress import progress_bar

        with progress_bar("report: figures", unit="point", enabled=not getattr(args, "quiet", False)):
            found = None
            if args.search:  # every configuration of the same node count: the report's Pareto front
                from .search import search

                dep = scenario.deployment
                found = search(scenario, nodes=dep.prefill_nodes_count + dep.decode_nodes_count, front_capacity=0, progress=False)
            notes = write_html_report(scenario, res, args.report, plots_dir=args.plots, search_result=found)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        print(f"wrote report {args.report}", file=sys.stderr)
    return 0


def cmd_profiles_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    out = {k: [] for k in kinds}
    for k in kinds:
        for name in list_profiles(k):
            prof = load_profile(k, name)
            out[k].append({"name": name, "description": prof.description})
    if args.json:
        _print_json("workload list" if args.kind == "workload" else "profiles list", out)
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
    from pathlib import Path

    from .profiles.loader import infer_kind

    text = str(args.name)
    is_path = text.endswith(".toml") or "/" in text or "\\" in text
    kind = args.kind or (infer_kind(text) if is_path else _find_kind(text))
    path = resolve(kind, text)
    prof = load_profile(kind, text, parse_sets(args.set).get(kind))
    extends = None
    if is_path:
        from .profiles.loader import parse_toml

        extends = parse_toml(path, text).get("extends")
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
            "snic_payload_GBps_per_node": prof.snic_payload_Bps_per_node / 1e9,
            "cnic_kv_GBps_per_gpu": prof.cnic_kv_Bps_per_gpu / 1e9,
            "dram_GBps_per_node": prof.dram_Bps_per_node / 1e9,
        }
    elif kind == "workload":
        derived = {"hit_frac": prof.hit_frac}
    prov = prof.provenance
    if args.json:
        out = {
            "kind": kind,
            "file": str(Path(path)),
            "extends": extends,
            "name": prof.name,
            "description": prof.description,
            "fields": values,
            "derived": derived,
            "provenance": dataclasses.asdict(prov),
        }
        _print_json("profiles show", out)
        return 0
    print(f"{kind} {prof.name}: {prof.description}")
    print(f"file: {path}" + (f" (extends {extends})" if extends else ""))
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


def _toml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))


def partial_profile_text(name: str, base: str, kind: str, sets: dict[str, Any], *, description: str | None = None) -> str:
    """TOML of a partial profile: ``extends = base`` and only the fields in ``sets``, each with a source to fill in."""
    import datetime

    from .profiles.loader import KINDS as _K
    from .profiles.schema import numeric_paths

    numeric = set(numeric_paths(_K[kind].cls))
    top = {k: v for k, v in sets.items() if "." not in k}
    sections: dict[str, dict[str, Any]] = {}
    for k, v in sets.items():
        if "." in k:
            sec, _, key = k.rpartition(".")
            sections.setdefault(sec, {})[key] = v
    lines = [
        f"# a partial {kind} profile: fields not given here are inherited from {base!r} with their sources",
        f"name = {_toml_scalar(name)}",
    ]
    if description:
        lines.append(f"description = {_toml_scalar(description)}")
    lines.append(f"extends = {_toml_scalar(base)}")
    lines += [f"{k} = {_toml_scalar(v)}" for k, v in top.items() if k not in ("name", "description")]
    for sec, kv in sections.items():
        lines += ["", f"[{sec}]"] + [f"{k} = {_toml_scalar(v)}" for k, v in kv.items()]
    lines += [
        "",
        "[provenance]",
        f"source = {_toml_scalar('dpmodel profiles new ' + name + ' --from ' + base)}",
        f'date = "{datetime.date.today().isoformat()}"',
        "",
        "[provenance.fields]",
        "# replace each 'config:' text with where the number comes from (datasheet, paper, measured, derived, assumption)",
    ]
    lines += [f"{json.dumps(k)} = {json.dumps('config: set with dpmodel profiles new --set')}" for k in sets if k in numeric]
    return "\n".join(lines) + "\n"


def cmd_profiles_new(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    from .fileio import atomic_write_text
    from .profiles.loader import infer_kind
    from .profiles.loader import load_profile as _load

    base = str(args.base)
    is_path = base.endswith(".toml") or "/" in base or "\\" in base
    kind = args.kind or (infer_kind(base) if is_path else _find_kind(base))
    resolve(kind, base)
    sets = parse_sets(args.set)
    other = [k for k in sets if k != kind]
    if other:
        raise DpmodelError(f"profiles new: --set {other[0]}.*: this is a {kind} profile; use --set {kind}.SECTION.KEY=VALUE")
    out = Path(args.out)
    ref = base
    if is_path:
        ref = os.path.relpath(Path(base).resolve(), out.resolve().parent)
    changed = ", ".join(f"{k} = {v}" for k, v in sets.get(kind, {}).items())
    desc = args.description or f"{_load(kind, base).name} with {changed or 'no changes yet'}"
    text = partial_profile_text(args.name, ref, kind, sets.get(kind, {}), description=desc)
    # validate before writing: the same text in a temporary file beside the target (so relative extends resolve)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.check.", suffix=".toml", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        prof = _load(kind, tmp)
    finally:
        os.unlink(tmp)
    atomic_write_text(out, text)
    print(
        f"wrote {kind} profile {out} ({prof.name}: extends {ref}, {len(sets.get(kind, {}))} field(s) set); use it with --{kind} {out}"
        if kind in ("cluster", "model", "workload")
        else f"wrote {kind} profile {out} ({prof.name}: extends {ref})"
    )
    return 0


def _print_workload_stats(d: dict[str, Any]) -> None:
    print(f"workload {d['name']}: {d['description']}")
    rows = [
        ("requests (turns)", f"{d['requests']:,}"),
        ("rate", "-" if d["rate_per_s"] is None else f"{d['rate_per_s']:.3f} /s"),
        ("inter-arrival CV", "-" if d.get("interarrival_cv") is None else f"{d['interarrival_cv']:.2f}"),
        ("hit ratio (tokens)", f"{d['hit_ratio_tokens']:.4f}"),
        ("sessions / agents", f"{d['sessions']:,}"),
        ("turns per session", "mean {mean:.1f}, p50 {p50:.0f}, p90 {p90:.0f}, max {max:.0f}".format(**d["turns_per_session"])),
    ]
    for key in ("input_tokens", "output_tokens"):
        t = d[key]
        rows.append(
            (
                key.replace("_", " "),
                f"mean {t['mean']:,.0f}, p50 {t['p50']:,.0f}, p90 {t['p90']:,.0f}, p99 {t['p99']:,.0f}, max {t['max']:,.0f}",
            )
        )
    for k, v in rows:
        print(f"  {k:<20} {v}")
    if d.get("skipped_lines"):
        print(f"  skipped {d['skipped_lines']} malformed lines (lenient)")


def cmd_workload_list(args: argparse.Namespace) -> int:
    args.kind = "workload"
    return cmd_profiles_list(args)


def cmd_workload_show(args: argparse.Namespace) -> int:
    from .profiles import load_model
    from .workload import open_trace, read_trajectories, summarize, synthesize_workload
    from .workload.agentic import block_tokens
    from .workload.traces import LRUCache, percentiles

    if (args.name is None) == (args.trace is None):
        raise DpmodelError("workload show: give a workload NAME or --trace PATH (one of them)")
    if args.trace:
        cache = None
        if args.cache_GiB is not None:
            if not args.cache_GiB >= 0:
                raise DpmodelError(f"--cache-GiB {args.cache_GiB}: must be >= 0")
            cache = LRUCache(args.cache_GiB * 2**30, block_tokens(args.trace) * load_model(args.model).kv_bytes_per_token)
        s = summarize(open_trace(args.trace, cache=cache, lenient=args.lenient))
        d = {
            "name": args.trace,
            "description": "trace"
            + (f", LRU cache {args.cache_GiB} GiB of {getattr(args.model, 'name', args.model)} KV" if cache else ", infinite cache"),
            **s.to_dict(),
        }
    else:
        if str(args.name).endswith(".jsonl"):
            ts = read_trajectories(args.name, lenient=args.lenient)
            desc = f"trajectory file, {ts.agents_count} agents"
        else:
            w = load_profile("workload", args.name)
            ts = synthesize_workload(w, agents=args.agents, seed=args.seed)
            desc = f"{w.description}; synthesized {args.agents} agents, seed {args.seed}"
        st = ts.stats()
        ctx = ts.context_tokens()
        d = {
            "name": str(args.name),
            "description": desc,
            "requests": ts.turns_count,
            "rate_per_s": None,
            "interarrival_cv": None,
            "hit_ratio_tokens": st["hit_frac_tokens"],
            "input_tokens": percentiles(ctx + ts.append_tokens),
            "output_tokens": percentiles(ts.generated_tokens),
            "sessions": ts.agents_count,
            "turns_per_session": percentiles(ts.turns_per_trajectory()),
            "table2": {
                k: st[k]
                for k in (
                    "turns_turn_weighted",
                    "append_tokens_per_turn",
                    "generated_tokens_per_turn",
                    "total_tokens_mean",
                    "context_tokens_per_turn",
                )
            },
        }
    if args.json:
        _print_json("workload show", d)
    else:
        _print_workload_stats(d)
        if "table2" in d:
            print("  Table 2 columns (turn-weighted): " + ", ".join(f"{k} {v:,.0f}" for k, v in d["table2"].items()))
    return 0


def cmd_workload_synth(args: argparse.Namespace) -> int:
    from .workload import synthesize_workload, write_trajectories

    w = load_profile("workload", args.name)
    if args.agents < 1:
        raise DpmodelError(f"--agents {args.agents}: must be >= 1")
    ts = synthesize_workload(w, agents=args.agents, seed=args.seed)
    if args.append_scale != 1.0 or args.gen_scale != 1.0:
        ts = ts.scaled(append_factor=args.append_scale, generated_factor=args.gen_scale)
    if args.extra_agents:
        ts = ts.with_extra_agents(args.extra_agents, seed=args.seed)
    meta = {
        "workload": w.name,
        "seed": args.seed,
        "append_scale": args.append_scale,
        "gen_scale": args.gen_scale,
        "extra_agents": args.extra_agents,
    }
    write_trajectories(args.out, ts, meta=meta)
    st = ts.stats()
    print(
        f"wrote {ts.agents_count} trajectories ({ts.turns_count} turns) to {args.out}; per turn: append "
        f"{st['append_tokens_per_turn']:.0f}, generated {st['generated_tokens_per_turn']:.0f}, context {st['context_tokens_per_turn']:.0f}"
    )
    return 0


def cmd_offline(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    from .serving import offline_jct

    trajectories = None
    if args.trace:
        raise DpmodelError("offline: a request trace has no agents to replay; use --workload NAME (synthesized) or a trajectory .jsonl")
    if str(args.workload).endswith(".jsonl"):
        from .workload import read_trajectories

        trajectories = read_trajectories(args.workload)
        if args.append_scale != 1.0 or args.gen_scale != 1.0:
            trajectories = trajectories.scaled(append_factor=args.append_scale, generated_factor=args.gen_scale)
        if trajectories.agents_count < args.agents:
            trajectories = trajectories.with_extra_agents(args.agents - trajectories.agents_count, seed=args.seed)
    r = offline_jct(
        scenario,
        args.mode,
        args.agents,
        seed=args.seed,
        append_scale=args.append_scale,
        gen_scale=args.gen_scale,
        trajectories=trajectories,
    )
    if args.json:
        _print_json("offline", r.to_dict(), scenario)
    else:
        print(f"offline batch: {r.agents} agents, mode {r.mode}, {r.turns_total:,} turns (seed {r.seed})")
        print(f"  JCT {r.jct_s:,.0f} s; {r.turns_per_s:.2f} turns/s on average, {r.saturated_turns_per_s:.2f} with every agent active")
        print(f"  decode TPOT at full concurrency {r.decode_tpot_s * 1e3:.1f} ms; DE split {r.split_de_frac:.3f}")
    return 0


def cmd_online(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    from .serving import online_metrics

    r = online_metrics(scenario, args.mode, args.aps)
    rates = online_token_rates(scenario, r)
    sat = None
    if not r.stable:
        from .serving import saturated_resource, slo_capacity

        name, util, f = saturated_resource(scenario, args.mode, args.aps)
        limit = slo_capacity(scenario, args.mode, slo_ttft_s=1e9, slo_tpot_s=1e9)
        first = limit.reason.removeprefix("limited by ").split(" saturation")[0] if limit.feasible else name
        sat = {"resource": name, "utilization_frac": util, "split_de_frac": f, "saturation_aps": limit.max_aps, "saturates_first": first}
    if args.json:
        out = {**r.to_dict(), **rates}
        if sat is not None:
            out["saturated"] = sat
        _print_json("online", out, scenario)
        return 0
    if sat is not None:
        print(
            f"UNSTABLE: {r.aps:g} agents/s ({r.turns_per_s:,.1f} turns/s) is past saturation: mode {r.mode} saturates at "
            f"{sat['saturation_aps']:.3g} agents/s, limited by {sat['saturates_first']}; the queues grow without bound (no TTFT exists)"
        )
        busy = [
            f"{k} {v:.0%}" if math.isfinite(v) else f"{k} (unbounded)"
            for k, v in sorted(r.utilization.items(), key=lambda kv: -kv[1])
            if v >= 1
        ]
        if busy:
            print("  over capacity at this load: " + ", ".join(busy))
        print("  lower --aps, or see 'dpmodel capacity' (SLO capacity) and 'dpmodel plan' (saturated throughput)")
        return 0
    t = r.ttft_s
    print(f"online: {r.aps:g} agents/s ({r.turns_per_s:.2f} turns/s), mode {r.mode}, DE split {r.split_de_frac:.3f}")
    print(f"  TTFT mean {t['mean']:.3f} s, p50 {t['p50']:.3f}, p90 {t['p90']:.3f}, p99 {t['p99']:.3f}")
    print(f"  TTST {r.ttst_s:.3f} s, TPOT {r.tpot_s * 1e3:.1f} ms")
    print(
        f"  tokens/s: {rates['tokens_per_s_per_gpu']:,.1f} generated per GPU, {rates['tokens_per_s_per_user']:,.1f} per user (1 / TPOT), "
        f"{rates['uncached_prompt_tokens_per_s']:,.0f} uncached prompt ({rates['prompt_tokens_per_s']:,.0f} with cache hits)"
    )
    print("  utilization: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(r.utilization.items(), key=lambda kv: -kv[1])))
    if r.low_confidence:
        lo, hi = r.ttft_s_range
        print(f"  LOW CONFIDENCE: a resource is above 90 % busy; mean TTFT lies in [{lo:.3f}, {hi:.3f}] s for +-5 % load")
    print(f"  (percentiles: {r.percentile_method})")
    return 0


def online_token_rates(scenario: Scenario, r: Any) -> dict[str, float]:
    """Tokens/s per GPU (generated, over all P + D GPUs), per user (1 / TPOT) and prompt (uncached and all) at ``r``."""
    ks = scenario.classes()
    dep = scenario.deployment
    gpus = (dep.prefill_nodes_count + dep.decode_nodes_count) * scenario.cluster.gpus_per_node
    lam = r.turns_per_s
    return {
        "tokens_per_s_per_gpu": lam * sum(k.weight_frac * k.generated_tokens for k in ks) / gpus,
        "tokens_per_s_per_user": 1.0 / r.tpot_s if r.tpot_s > 0 and math.isfinite(r.tpot_s) else math.nan,
        "uncached_prompt_tokens_per_s": lam * sum(k.weight_frac * k.append_tokens for k in ks),
        "prompt_tokens_per_s": lam * sum(k.weight_frac * (k.hit_tokens + k.append_tokens) for k in ks),
    }


def cmd_validate_run(args: argparse.Namespace) -> int:
    from .validate_run import compare, read_run

    run = read_run(args.run)  # vllm bench serve JSON or AIPerf profile export; read before building the scenario: a bad file fails fast
    scenario = scenario_from_args(args)
    out = compare(scenario, run, args.mode)
    if args.json:
        _print_json("validate", out, scenario)
        return 0
    how = f"open loop {run.request_rate_per_s:g} req/s" if run.loop == "open" else f"closed loop, {run.max_concurrency} in flight"
    print(
        f"validate {run.source}: {how}, {run.completed} requests, in {run.mean_input_tokens:.0f} / out {run.mean_output_tokens:.0f} tokens, mode {args.mode}"
    )
    print(f"  {'metric':<22} {'measured':>10} {'predicted':>10} {'error':>8}")
    for m in out["metrics"]:
        print(f"  {m['metric']:<22} {m['measured']:10.4g} {m['predicted']:10.4g} {m['error_frac']:+8.1%}")
    if not out["stable"]:
        print("  UNSTABLE: the model saturates at this load")
    return 0


def cmd_capacity(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    from .serving import slo_capacity

    modes = ("basic", "layerwise", "dualpath", "oracle")
    from tqdm import tqdm

    res = {}
    with tqdm(
        total=len(modes),
        desc="SLO capacity",
        unit="mode",
        file=sys.stderr,
        leave=False,
        disable=True if (args.quiet or args.json) else None,
    ) as bar:
        for m in modes:
            bar.set_postfix_str(m)
            res[m] = slo_capacity(scenario, m, slo_ttft_s=args.slo_ttft_s, slo_tpot_s=args.slo_tpot_s)
            bar.update(1)
    out = {"slo_ttft_s": args.slo_ttft_s, "slo_tpot_s": args.slo_tpot_s, "modes": {m: r.to_dict() for m, r in res.items()}}
    if res["basic"].max_aps > 0:
        out["capacity_dualpath_vs_basic"] = res["dualpath"].max_aps / res["basic"].max_aps
    if args.json:
        _print_json("capacity", out, scenario)
        return 0
    print(f"SLO capacity (mean TTFT <= {args.slo_ttft_s} s, TPOT <= {args.slo_tpot_s * 1e3:.0f} ms):")
    for m, r in res.items():
        print(f"  {m:<10} {r.max_aps:8.3f} agents/s  {r.reason}")
    if "capacity_dualpath_vs_basic" in out:
        print(f"  dualpath / basic = {out['capacity_dualpath_vs_basic']:.2f}x")
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    from .bench import machine_description, write_csv
    from .progress import progress_bar

    if args.backend == "cuda":
        from .bench.cuda import run_cuda, torch_device

        dev = torch_device()
        if dev is None:
            raise DpmodelError("bench run --backend cuda: no CUDA device (torch with a GPU is needed); use --backend host")
        with progress_bar("bench: CUDA transfers", unit="measurement", enabled=not args.quiet):
            rows = run_cuda(dev, quick=args.quick)
        machine = {**machine_description(), "gpu": dev.name}
    else:
        from .bench.host import run_host

        with progress_bar("bench: host transfers", unit="measurement", enabled=not args.quiet):
            rows = run_host(quick=args.quick)
        machine = machine_description()
    write_csv(args.out, rows, machine)
    print(f"wrote {len(rows)} measurements to {args.out}")
    return 0


def cmd_bench_fit(args: argparse.Namespace) -> int:
    from .bench import fit_rows, write_overlay
    from .bench.formats import read_benches

    files = args.csv if isinstance(args.csv, list) else [args.csv]
    rows, machine, digest, _fmt = read_benches(files)
    fits = fit_rows(rows)
    if not fits:
        raise DpmodelError(
            f"{' '.join(files)}: no link has two or more single-flow sizes to fit (perftest: pass one --out_json file per size)"
        )
    for k, f in fits.items():
        print(
            f"{k:<20} alpha {f.alpha_s * 1e6:9.2f} us  beta {f.beta_Bps / 1e9:8.3f} GB/s  rms {f.rel_rms_frac:6.1%}  "
            f"max {f.rel_max_frac:6.1%}  valid {f.valid_min_bytes:,}..{f.valid_max_bytes:,} B ({f.points} points)"
        )
    if args.out:
        write_overlay(args.out, fits, source=f"dpmodel bench fit {' '.join(files)}", digest=digest, machine=machine)
        print(f"wrote overlay {args.out} (input sha256 {digest[:12]})")
    return 0


def cmd_bench_validate(args: argparse.Namespace) -> int:
    from .bench import read_csv
    from .bench.host import run_host
    from .bench.published import fit_published
    from .bench.validate import run_validation
    from .progress import progress_bar

    with progress_bar("bench: measuring", unit="measurement", enabled=not args.quiet):
        rows = read_csv(args.csv)[0] if args.csv else run_host(quick=args.quick)
        fits, checks = run_validation(rows, quick=args.quick)
    print(f"{'experiment':<34} {'detail':<50} {'predicted':>10} {'measured':>10} {'error':>7}")
    for c in checks:
        print(f"{c.experiment:<34} {c.detail:<50} {c.predicted_s * 1e3:8.2f}ms {c.measured_s * 1e3:8.2f}ms {c.error_frac:+7.0%}")
    print("published tables (Mooncake transfer engine), alpha-beta fit:")
    for k, f in fit_published().items():
        print(
            f"  {k:<22} alpha {f.alpha_s * 1e3:.3f} ms  beta {f.beta_Bps / 1e9:.1f} GB/s  rms {f.rel_rms_frac:.1%}  max {f.rel_max_frac:.1%}"
        )
    return 0


def cmd_size(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    from .profiles import load_cost
    from .progress import progress_bar
    from .sizing import size_cluster

    cost = load_cost(args.cost, parse_sets(args.set).get("cost"))
    with progress_bar("size: SLO checks of candidate clusters", unit="check", enabled=not (args.quiet or args.json)):
        r = size_cluster(
            scenario,
            cost,
            target_aps=args.target_aps,
            target_turns_per_s=args.target_turns_per_s,
            slo_ttft_s=args.slo_ttft_s,
            slo_tpot_s=args.slo_tpot_s,
            nodes_max=args.nodes_max,
        )
    if args.json:
        _print_json("size", r.to_dict(), scenario)
        return 0
    print(
        f"minimum-cost cluster for {r.target_aps:.3g} agents/s (SLO: mean TTFT <= {args.slo_ttft_s} s, TPOT <= {args.slo_tpot_s * 1e3:.0f} ms):"
    )
    print(
        f"  {r.prefill_nodes} prefill + {r.decode_nodes} decode nodes, {r.snics_per_node} storage NIC(s) per node, store {r.store_GBps:,.0f} GB/s"
    )
    print(
        f"  cost {r.cost_per_hour:,.2f} {r.currency}/h; verified capacity {r.max_aps:.3g} agents/s; DE split {r.split_de_frac:.2f}; bottleneck: {r.bottleneck}"
    )
    busy = sorted(r.utilization, key=lambda u: -(u["utilization_frac"] or 0.0))[:4]
    print("  utilization at the target (LP split): " + ", ".join(f"{u['name']} {u['utilization_frac']:.0%}" for u in busy))
    if len(r.path_shares) > 2:
        print("  path shares (LP): " + ", ".join(f"{k} {v:.2f}" for k, v in r.path_shares.items()))
    for k, v in r.sensitivities.items():
        print(
            f"  one more {k.replace('_', ' ')}: {v['delta_max_aps']:+.3g} agents/s under the SLO "
            f"({v['delta_saturated_turns_per_s_dual']:+.3g} saturated turns/s from the LP duals) for {v['delta_cost_per_hour']:+.2f} {r.currency}/h"
        )
    return 0


def _int_list(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give integers separated by commas, e.g. 1,2,4") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give integers >= 1 separated by commas, e.g. 1,2,4")
    return vals


def _search_row_text(r: dict[str, Any], cost: bool) -> list[str]:
    from .report import si

    cells = [
        f"{r['prefill_nodes']}P{r['decode_nodes']}D",
        str(r["snics_per_node"]),
        str(r["prefill_engine_gpus"]),
        r["mode"],
        f"{r['turns_per_s']:,.1f}",
        f"{r['tokens_per_s_per_gpu']:,.0f}",
        f"{r['tokens_per_s_per_user']:,.1f}",
        si(r["uncached_prompt_tokens_per_s"]),
    ]
    if cost:
        c = r.get("cost_per_million_tokens", math.inf)
        cells.append(f"{c:,.2f}" if math.isfinite(c) else "-")
    return cells


def cmd_search(args: argparse.Namespace) -> int:
    import csv
    import io

    scenario = scenario_from_args(args)
    from .profiles import load_cost
    from .search import SEARCH_MODES, search

    g = scenario.cluster.gpus_per_node
    if args.gpus is not None:
        if args.gpus % g:
            raise DpmodelError(f"--gpus {args.gpus}: must be a multiple of the {g} GPUs per node of '{scenario.cluster.name}'")
        nodes = args.gpus // g
    else:
        nodes = args.nodes
    modes = tuple(args.modes.split(",")) if args.modes else SEARCH_MODES
    for m in modes:
        if m not in ("basic", "layerwise", "dualpath", "oracle"):
            raise DpmodelError(f"--modes {m!r}: use basic, layerwise, dualpath or oracle")
    cost = load_cost(args.cost, parse_sets(args.set).get("cost")) if args.cost else None
    quiet = args.quiet or args.json or args.csv
    if args.report:
        from .fileio import check_output_path

        check_output_path(args.report)
    res = search(
        scenario,
        nodes=nodes,
        snics=args.snics,
        engines=args.engines,
        modes=modes,
        cost=cost,
        store=args.store,
        slo_ttft_s=args.slo_ttft_s,
        slo_tpot_s=args.slo_tpot_s,
        slo_ttft_p90_s=args.slo_ttft_p90_s,
        slo_ttft_p99_s=args.slo_ttft_p99_s,
        rank_by=args.rank,
        front_capacity=args.front_capacity,
        progress=not quiet,
    )
    if args.report:  # the design-review report of the top configuration, with the search's Pareto front
        from .plan import analyse
        from .progress import progress_bar
        from .report import write_html_report
        from .search import config_scenario

        if not res.rows or not res.rows[0]["fits"]:
            raise DpmodelError(f"--report: no configuration of {nodes} nodes fits; nothing to report")
        best = config_scenario(scenario, res.rows[0])
        with progress_bar("report: figures", unit="point", enabled=not quiet):
            write_html_report(best, analyse(best), args.report, search_result=res)
        print(
            f"wrote report {args.report} (the top configuration, {res.rows[0]['prefill_nodes']}P{res.rows[0]['decode_nodes']}D, "
            "with the Pareto front)",
            file=sys.stderr,
        )
    if args.json:
        _print_json("search", res.to_dict(top=args.top), scenario)
        return 0
    if args.csv:
        keys = list(dict.fromkeys(k for r in res.rows for k in r))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in res.rows:
            w.writerow(r)
        sys.stdout.write(buf.getvalue())
        return 0
    sc = scenario.to_dict()
    cap_done = sum(1 for r in res.front if "slo_capacity_aps" in r)
    print(
        f"dpmodel search: {nodes} nodes ({nodes * g} GPUs) of {sc['cluster']}, model {sc['model']}, workload {sc['workload']}, "
        f"storage back end {res.store}"
    )
    if sc.get("config_command_line"):
        print("config command line: " + ", ".join(f"{k} = {v}" for k, v in sc["config_command_line"].items()))
    print(
        f"evaluated {res.evaluated:,} configurations ({nodes - 1} P/D splits x {len(args.snics)} storage-NIC counts x "
        f"{len(set(r['prefill_engine_gpus'] for r in res.rows))} prefill engine sizes x {len(modes)} read modes) in {res.saturated_seconds:.2f} s; "
        f"SLO capacity on {cap_done} of {len(res.front)} Pareto points in {res.capacity_seconds:.1f} s"
    )
    hdr = ["config", "SNIC/node", "engine GPUs", "mode", "turns/s", "tok/s/GPU", "tok/s/user", "uncached tok/s"]
    if cost:
        hdr.append(f"{cost.currency}/Mtok")
    widths = [8, 9, 11, 9, 9, 9, 10, 14, 9]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            f"{c:<{w}}" if i in (0, 3) else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths[: len(cells)], strict=True))
        )

    # configurations that differ only in the prefill engine size and give the same answer: one row
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in res.rows:
        key = (r["prefill_nodes"], r["snics_per_node"], r["mode"], round(r["turns_per_s"], 6), round(r.get("cost_per_hour", 0.0), 6))
        groups.setdefault(key, []).append(r)
    shown = list(groups.values())[: args.top]
    print(f"\ntop {len(shown)} by {args.rank} (saturated, offline upper bound; engine sizes with equal results on one row):")
    print("  " + fmt(hdr) + "  bottleneck")
    for grp in shown:
        cells = _search_row_text(grp[0], cost is not None)
        cells[2] = ",".join(str(e) for e in sorted({r["prefill_engine_gpus"] for r in grp}))
        print("  " + fmt(cells) + f"  {grp[0]['bottleneck']}")
    print(
        "\nPareto front (tokens/s per GPU vs per user), SLO capacity where computed "
        f"(mean TTFT <= {args.slo_ttft_s:g} s, TPOT <= {args.slo_tpot_s * 1e3:g} ms"
        + (f", p90 TTFT <= {args.slo_ttft_p90_s:g} s" if args.slo_ttft_p90_s else "")
        + (f", p99 TTFT <= {args.slo_ttft_p99_s:g} s" if args.slo_ttft_p99_s else "")
        + "):"
    )
    print("  " + fmt(hdr) + "  SLO capacity")
    front_rows = res.front if len(res.front) <= 15 else res.front[:15]
    for r in front_rows:
        capt = f"{r['slo_capacity_aps']:.3g} agents/s, {r['slo_limited_by']}" if "slo_capacity_aps" in r else "-"
        print("  " + fmt(_search_row_text(r, cost is not None)) + f"  {capt}")
    if len(front_rows) < len(res.front):
        print(f"  ... {len(res.front) - len(front_rows)} more Pareto points with fewer tokens/s per GPU (see --json or --csv)")
    print(
        "\n(config = prefill P and decode D nodes; tok/s = generated tokens; tok/s/user = 1 / TPOT at the decode batch the "
        "throughput needs; uncached = appended prompt tokens prefill computes; --json or --csv for every configuration)"
    )
    return 0


def _axis(text: str) -> tuple[str, list[float]]:
    name, sep, values = text.partition("=")
    if not sep or not values:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=V1,V2,... (e.g. decode_nodes=2,4,8)")
    try:
        vals = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: values must be numbers") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"{text!r}: no values; use NAME=V1,V2,... (e.g. decode_nodes=2,4,8)")
    return name.strip(), vals


def cmd_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    scenario = scenario_from_args(args)
    from .fileio import atomic_write_text
    from .sweep import AXIS_RANGES, check_axis, grid, sweep_throughput

    axes = dict(args.axis or [])
    for name, values in axes.items():
        check_axis(name, values)
        if AXIS_RANGES[name][0]:
            axes[name] = [int(v) for v in values]
    points = grid(**axes) if axes else [{}]
    cols = {k: np.array([p[k] for p in points]) for k in axes}
    from .progress import progress_bar

    # in chunks (bounded memory; a progress bar for grids of millions of points)
    chunk = 65536
    parts = []
    with progress_bar("sweep", total=len(points), unit="point", enabled=not (args.quiet or args.json)) as bar:
        for i in range(0, len(points), chunk):
            parts.append(sweep_throughput(scenario, args.mode, **{k: v[i : i + chunk] for k, v in cols.items()}))
            if bar is not None:
                bar.update(min(chunk, len(points) - i))
    out = {k: np.concatenate([np.atleast_1d(o[k]) for o in parts]) for k in ("turns_per_s", "split_de_frac", "bottleneck_index")}
    rows = []
    for i, p in enumerate(points):
        rows.append(
            {
                **p,
                "turns_per_s": float(np.atleast_1d(out["turns_per_s"])[i]),
                "split_de_frac": float(np.atleast_1d(out["split_de_frac"])[i]),
                "bottleneck": scenario.topology.names[int(np.atleast_1d(out["bottleneck_index"])[i])],
            }
        )
    if args.csv:
        keys = list(rows[0])
        atomic_write_text(args.csv, ",".join(keys) + "\n" + "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows))
        print(f"wrote {len(rows)} points to {args.csv}", file=sys.stderr)
    if args.json:
        _print_json("sweep", rows, scenario)
    elif not args.csv:
        for r in rows:
            print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    return 0


def cmd_policy_export(args: argparse.Namespace) -> int:
    scenario = scenario_from_args(args)
    from .policy import PolicyTable

    if getattr(args, "target", None):
        from .fileio import atomic_write_text
        from .policy.export import export_text

        path = atomic_write_text(args.out, export_text(scenario, args.target))
        print(f"wrote {args.target} configuration to {path}")
        return 0
    t = PolicyTable.generate(scenario, cnic_headroom_frac=args.cnic_headroom)
    path = t.save(args.out, args.format)
    print(
        f"wrote a {t.values.shape[0]}x{t.values.shape[1]}x{t.values.shape[2]} policy table to {path} "
        f"(static split {t.meta['static_split_de_frac']:.3f})"
    )
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    import numpy as np

    from .policy import PolicyTable

    t = PolicyTable.load(args.file)
    h, p, d = t.axes
    sc = t.meta.get("scenario", {})
    print(
        f"policy table {args.file}: dpmodel {t.meta.get('dpmodel_version')}, scenario {sc.get('cluster')} / {sc.get('model')} / "
        f"{sc.get('workload')} {sc.get('prefill_nodes')}P{sc.get('decode_nodes')}D (fingerprint {sc.get('fingerprint')})"
    )
    print(
        f"  hit_tokens [tokens]: {len(h)} values {h[0]:,.0f}..{h[-1]:,.0f}; pe_backlog_s [s]: {len(p)} values {p[0]:g}..{p[-1]:g}; "
        f"de_backlog_s [s]: {len(d)} values {d[0]:g}..{d[-1]:g}"
    )
    print(
        f"  split_de_frac [frac]: mean {t.values.mean():.3f}, min {t.values.min():.3f}, max {t.values.max():.3f}; "
        f"static split {t.meta.get('static_split_de_frac', float('nan')):.3f}"
    )
    mid = len(h) // 2
    print(f"  slice at hit_tokens = {h[mid]:,.0f} (rows: pe_backlog_s, columns: de_backlog_s):")
    cols = np.linspace(0, len(d) - 1, min(6, len(d))).astype(int)
    print("          " + "".join(f"{d[c]:>8.2f}" for c in cols))
    for r in np.linspace(0, len(p) - 1, min(6, len(p))).astype(int):
        print(f"  {p[r]:>8.2f}" + "".join(f"{t.values[mid, r, c]:>8.3f}" for c in cols))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .results import utilization_list
    from .serving import simulate_offline, simulate_online, simulate_trace

    # --trace (a scenario option: the trace is also the workload) replays the trace's own arrivals
    given = [n for n, v in (("--agents", args.agents), ("--aps", args.aps), ("--trace", args.trace)) if v is not None]
    if len(given) != 1:
        raise DpmodelError(
            "simulate needs exactly one of --agents N (offline), --aps X --duration-s S (online) or --trace PATH; "
            f"got {', '.join(given) if given else 'none'}"
        )
    if args.aps is not None and args.duration_s is None:
        raise DpmodelError("--aps needs --duration-s S (the measured window, after a warm-up of half as long)")
    if args.aps is not None and args.aps * args.duration_s * 1.5 > MAX_ARRIVALS:
        raise DpmodelError(
            f"--aps {args.aps:g} x --duration-s {args.duration_s:g} (plus the warm-up) is "
            f"{args.aps * args.duration_s * 1.5:.3g} expected arrivals; keep it <= {MAX_ARRIVALS:,} (lower --aps or --duration-s)"
        )
    if args.rel_se is not None and args.aps is None:
        raise DpmodelError("--rel-se applies to online runs only: give --aps X --duration-s S, or drop --rel-se")
    if args.rel_se is None and (args.workers is not None or args.scheduler is not None):
        raise DpmodelError("--workers/--scheduler apply to replications only: add --rel-se X, or drop them")
    if args.rel_se is not None and args.seed is not None:
        raise DpmodelError("--seed with --rel-se: replications use seeds 1, 2, ...; drop one of them")
    seed = 0 if args.seed is None else args.seed
    table = None
    if args.policy_table:
        from .policy import PolicyTable

        table = PolicyTable.load(args.policy_table)
        if args.policy == "dualpath":
            args.policy = "dualpath-table"
    quiet = args.quiet or args.json
    reps = None
    if args.trace is not None:
        from .workload import open_trace
        from .workload.agentic import block_tokens
        from .workload.traces import InfiniteCache, LRUCache

        scenario = scenario_from_args(args)
        cache = (
            LRUCache(args.cache_GiB * 2**30, block_tokens(args.trace) * scenario.model.kv_bytes_per_token)
            if args.cache_GiB is not None
            else None
        )
        if cache is None and str(args.trace).endswith(".jsonl"):
            cache = InfiniteCache()
        reader = open_trace(args.trace, cache=cache)
        r = simulate_trace(
            scenario, args.policy, reader, seed=seed, speedup_factor=args.speedup, limit=args.limit, policy_table=table, quiet=quiet
        )
    else:
        scenario = scenario_from_args(args)
        if args.agents is not None:
            r = simulate_offline(scenario, args.policy, args.agents, seed=seed, policy_table=table, quiet=quiet)
        elif args.rel_se is not None:
            from .serving import replicate_online

            try:
                reps = replicate_online(
                    scenario,
                    args.policy,
                    aps=args.aps,
                    duration_s=args.duration_s,
                    rel_se=args.rel_se,
                    policy_table=table,
                    quiet=quiet,
                    workers=args.workers,
                    scheduler=args.scheduler,
                )
            except (OSError, ValueError) as e:  # the Dask connection (no scheduler there, a bad address)
                if args.scheduler is None or isinstance(e, DpmodelError):
                    raise
                raise DpmodelError(
                    f"--scheduler {args.scheduler}: cannot use that Dask scheduler ({e}); check the address "
                    "(e.g. tcp://host:8786) or drop --scheduler for local processes"
                ) from None
            r = reps.averaged()
        else:
            r = simulate_online(scenario, args.policy, aps=args.aps, duration_s=args.duration_s, seed=seed, policy_table=table, quiet=quiet)
    out = {
        "mode": r.mode,
        "kind": r.kind,
        "agents": r.agents,
        "aps": r.aps,
        "seed": r.seed,
        "jct_s": r.jct_s_sim,
        "turns_per_s": r.turns_per_s_sim,
        "turns_measured": r.turns_measured,
        "ttft_s": r.ttft_s_sim,
        "ttst_s": r.ttst_s_sim["mean"],
        "tpot_s": r.tpot_s_sim["mean"],
        "ttst_s_dist": r.ttst_s_sim,
        "tpot_s_dist": r.tpot_s_sim,
        "ttft_components_s": r.ttft_components_s_sim,
        "decode_side_read_frac": r.decode_side_read_frac_sim,
        "snic_balance_max_over_avg": r.snic_balance_max_over_avg_sim,
        "peak_dram_buffer_GB": r.peak_dram_buffer_GB_sim,
        "utilization": utilization_list(r.utilization_sim),
        "decode_batch_seqs_mean": r.decode_batch_seqs_mean_sim,
        "path_shares": r.path_shares_sim,
        "littles_law": r.littles_law,
        "events": r.events,
    }
    if reps is not None:
        out["replications"] = {"seeds": list(reps.seeds), "ttft_mean_se_s": reps.ttft_mean_se_s, "rel_se_target": reps.rel_se_target}
    if args.json:
        _print_json("simulate", out, scenario)
    else:
        t = r.ttft_s_sim
        if r.kind == "offline":
            head = f"offline batch of {r.agents} agents: JCT {r.jct_s_sim:,.0f} s"
        elif r.kind == "online":
            head = f"online at {r.aps:g} agents/s ({r.agents:,.0f} arrivals)"
        else:
            head = f"trace of {r.agents:,} requests"
        seeds = f"seeds 1-{len(reps.results)} (means)" if reps is not None else f"seed {r.seed}"
        print(f"simulated {head}, policy {r.mode}, {seeds}: {r.turns_per_s_sim:.2f} turns/s, {r.events:,.0f} events")
        if reps is not None:
            print(
                f"  mean TTFT standard error {reps.ttft_mean_se_s:.4f} s ({reps.ttft_mean_se_s / t['mean']:.1%}; target {reps.rel_se_target:.1%})"
            )
        print(
            f"  TTFT mean {t['mean']:.3f} s, p50 {t['p50']:.3f}, p90 {t['p90']:.3f}, p99 {t['p99']:.3f}; TTST mean "
            f"{r.ttst_s_sim['mean']:.3f} s; TPOT mean {r.tpot_s_sim['mean'] * 1e3:.1f} ms"
        )
        print(
            f"  decode-side reads {r.decode_side_read_frac_sim:.1%}; storage-NIC balance max/avg {r.snic_balance_max_over_avg_sim:.3f}; "
            f"peak DRAM buffer {r.peak_dram_buffer_GB_sim:.1f} GB"
        )
        busy = ", ".join(f"{k} {v:.0%}" for k, v in sorted(r.utilization_sim.items(), key=lambda kv: -kv[1]))
        print(f"  utilization: {busy}")
    return 0


def _mode_arg(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--mode", choices=["basic", "layerwise", "dualpath", "oracle"], default=default)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dpmodel",
        description="Where does KV-cache loading bottleneck a disaggregated LLM cluster, and how should reads be split between the two load paths?",
    )
    p.add_argument("--version", action="version", version=f"dpmodel {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    plan = sub.add_parser("plan", help="saturated throughput in every mode, the optimal split and the bottleneck (the main job)")
    add_scenario_options(plan)
    plan.add_argument("--json", action="store_true", help="print JSON instead of the text report")
    plan.add_argument("--report", default=None, help="also write a self-contained HTML report (plotly inlined)")
    plan.add_argument("--plots", default=None, help="with --report: also write PNGs here (needs kaleido)")
    plan.add_argument("--quiet", action="store_true", help="no progress bar while the report's figures are computed")
    plan.add_argument(
        "--search",
        action="store_true",
        help="with --report: also search every configuration of the same node count (as 'dpmodel search') and show its Pareto front",
    )
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
    ps.add_argument("--set", action="append", default=[], metavar="KIND.SECTION.KEY=VALUE", help="show with fields overridden")
    ps.set_defaults(func=cmd_profiles_show)
    pn = psub.add_parser("new", help="write a partial profile that extends another and sets a few fields")
    pn.add_argument("name", help="the new profile's name")
    pn.add_argument("--from", dest="base", required=True, help="the profile it extends (name or TOML path)")
    pn.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KIND.SECTION.KEY=VALUE",
        help="a field to change, e.g. cluster.node.snic_count=2 (repeatable)",
    )
    pn.add_argument("--description", default=None, help="one line describing it (default: the base's, marked extended)")
    pn.add_argument("--kind", choices=list(KINDS))
    pn.add_argument("--out", required=True, help="the TOML file to write (atomically)")
    pn.set_defaults(func=cmd_profiles_new)

    off = sub.add_parser("offline", help="job completion time of an offline batch of agents (closed network, MVA)")
    add_scenario_options(off)
    off.add_argument("--agents", type=_agents, required=True, help="agents that start together")
    _mode_arg(off, "dualpath")
    off.add_argument("--seed", type=_seed, default=0, help="seed of the synthesized trajectories")
    off.add_argument("--append-scale", type=_scale, default=1.0, help="scale every append (re-truncated at MAL)")
    off.add_argument("--gen-scale", type=_scale, default=1.0, help="scale every generation (re-truncated at MAL)")
    off.add_argument("--json", action="store_true")
    off.set_defaults(func=cmd_offline)
    on = sub.add_parser("online", help="TTFT/TTST/TPOT at an agent arrival rate (open network)")
    add_scenario_options(on)
    on.add_argument("--aps", type=_aps, required=True, help="agent arrivals per second (Poisson)")
    _mode_arg(on, "dualpath")
    on.add_argument("--json", action="store_true")
    on.set_defaults(func=cmd_online)

    va = sub.add_parser("validate", help="measured vs predicted: a `vllm bench serve` result JSON against the model")
    add_scenario_options(va)
    va.add_argument("--run", required=True, help="vllm bench serve --save-result JSON, or AIPerf profile_export_aiperf.json")
    va.add_argument(
        "--mode", default="basic", choices=("basic", "layerwise", "dualpath", "oracle"), help="serving mode to model (default basic)"
    )
    va.add_argument("--json", action="store_true")
    va.set_defaults(func=cmd_validate_run)
    cap = sub.add_parser("capacity", help="largest APS meeting the TTFT and TPOT SLOs, per mode")
    add_scenario_options(cap)
    cap.add_argument("--slo-ttft-s", type=_positive_float, default=4.0, help="mean TTFT SLO (default 4 s, the paper's)")
    cap.add_argument("--slo-tpot-s", type=_positive_float, default=0.05, help="TPOT SLO (default 0.05 s, the paper's)")
    cap.add_argument("--json", action="store_true")
    cap.add_argument("--quiet", action="store_true", help="no progress bar (also off with --json or when stderr is not a terminal)")
    cap.set_defaults(func=cmd_capacity)

    sw = sub.add_parser("sweep", help="what-if grid of saturated throughput (vectorized)")
    add_scenario_options(sw)
    sw.add_argument("--axis", type=_axis, action="append", help="NAME=V1,V2,... (repeat for a grid), e.g. decode_nodes=2,4,8")
    _mode_arg(sw, "dualpath")
    sw.add_argument("--csv", default=None, help="write the grid as CSV (atomically)")
    sw.add_argument("--json", action="store_true")
    sw.add_argument("--quiet", action="store_true", help="no progress bar (also off with --json or when stderr is not a terminal)")
    sw.set_defaults(func=cmd_sweep)

    se = sub.add_parser("search", help="for a fixed number of nodes: P/D split, storage NICs, prefill engine size, read mode, ranked")
    add_scenario_options(se)
    bud = se.add_mutually_exclusive_group(required=True)
    bud.add_argument("--nodes", type=_positive_int, default=None, help="total nodes (P + D)")
    bud.add_argument("--gpus", type=_positive_int, default=None, help="total GPUs (a multiple of the GPUs per node)")
    se.add_argument("--cost", default=None, help="cost profile name or TOML path: adds cost per hour and per million tokens")
    se.add_argument(
        "--store",
        choices=["fixed", "free"],
        default="fixed",
        help="fixed: the cluster profile's storage back end limits reads; free: no limit, its bandwidth priced",
    )
    se.add_argument("--snics", type=_int_list, default=(1, 2, 4), help="storage NICs per node to try (default 1,2,4)")
    se.add_argument("--engines", type=_int_list, default=None, help="prefill engine sizes in GPUs (default every divisor of a node)")
    se.add_argument("--modes", default=None, help="read modes to try, comma separated (default basic,layerwise,dualpath)")
    se.add_argument("--rank", choices=["throughput", "per-gpu", "per-user", "cost"], default="throughput")
    se.add_argument("--top", type=_positive_int, default=10, help="rows of the ranked table (default 10)")
    se.add_argument("--slo-ttft-s", type=_float, default=4.0, help="mean TTFT SLO (default 4 s)")
    se.add_argument("--slo-tpot-s", type=_float, default=0.05, help="TPOT SLO (default 0.05 s)")
    se.add_argument("--slo-ttft-p90-s", type=_float, default=None, help="p90 TTFT SLO (default none)")
    se.add_argument("--slo-ttft-p99-s", type=_float, default=None, help="p99 TTFT SLO (default none)")
    se.add_argument(
        "--front-capacity",
        type=int,
        default=3,
        help="Pareto points (highest tokens/s per GPU first) whose SLO capacity is computed (default 3; a few s each)",
    )
    se.add_argument("--quiet", action="store_true", help="no progress bar (also off with --json/--csv or when stderr is not a terminal)")
    se.add_argument(
        "--report", default=None, help="also write the design-review HTML report of the top configuration, with the Pareto front"
    )
    out_fmt = se.add_mutually_exclusive_group()
    out_fmt.add_argument("--json", action="store_true")
    out_fmt.add_argument("--csv", action="store_true", help="every configuration as CSV on stdout")
    se.set_defaults(func=cmd_search)

    si = sub.add_parser("simulate", help="discrete-event simulation: offline batch, online Poisson arrivals or a trace")
    add_scenario_options(si)
    from .sim.engine import POLICIES

    si.add_argument("--policy", choices=list(POLICIES), default="dualpath", help="; ".join(f"{k}: {v}" for k, v in POLICIES.items()))
    si.add_argument("--policy-table", default=None, help="a policy table file (implies --policy dualpath-table)")
    si.add_argument("--agents", type=_agents, default=None, help="offline: N agents start together; reports the JCT")
    si.add_argument("--aps", type=_aps, default=None, help="online: Poisson agent arrivals per second (with --duration-s)")
    si.add_argument("--duration-s", type=_positive_float, default=None, help="online: measured window [s], after a warm-up of half as long")
    si.add_argument("--speedup", type=_positive_float, default=1.0, help="trace: compress time by this factor")
    si.add_argument("--limit", type=_positive_int, default=None, help="trace: first N requests only")
    si.add_argument("--seed", type=_seed, default=None, help="default 0 (replications with --rel-se use seeds 1, 2, ...)")
    si.add_argument(
        "--rel-se",
        type=_positive_float,
        default=None,
        help="online: independent replications (seeds 1, 2, ...; at least 6, at most 40) until the mean TTFT's standard error "
        "is this share of it (e.g. 0.04); reports the means over replications",
    )
    si.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="--rel-se: replications on this many local processes (default: one per CPU; 1 runs them here, in turn)",
    )
    si.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="--rel-se: run the replications on an existing Dask cluster (its scheduler address, e.g. tcp://host:8786)",
    )
    si.add_argument("--quiet", action="store_true", help="no progress bar (also off with --json or when stderr is not a terminal)")
    si.add_argument("--json", action="store_true")
    si.set_defaults(func=cmd_simulate)

    po = sub.add_parser("policy", help="scheduler policy tables: export from a scenario, show a file")
    psub2 = po.add_subparsers(dest="policy_command", parser_class=_Parser)
    pe = psub2.add_parser("export", help="generate the per-request split table and write it (atomically)")
    add_scenario_options(pe)
    pe.add_argument("--out", required=True)
    pe.add_argument("--format", choices=["json", "csv", "parquet"], default=None, help="default: from the file suffix, else json")
    pe.add_argument("--cnic-headroom", type=_float, default=1.0, help="share of compute-NIC bandwidth free for the relay (default 1)")
    pe.add_argument(
        "--target",
        default=None,
        choices=("vllm-bidirectional", "dynamo-conditional"),
        help="write a real engine's config instead of a table",
    )
    pe.set_defaults(func=cmd_policy_export)
    pshow = psub2.add_parser("show", help="axes, summary and a rendered slice of a table file")
    pshow.add_argument("file")
    pshow.set_defaults(func=cmd_policy_show)

    sz = sub.add_parser("size", help="minimum-cost cluster meeting a target load under SLOs (MILP, verified)")
    add_scenario_options(sz)
    tg = sz.add_mutually_exclusive_group(required=True)
    tg.add_argument("--target-aps", type=_positive_float, default=None, help="target agent arrivals per second")
    tg.add_argument("--target-turns-per-s", type=_positive_float, default=None, help="target turns per second")
    sz.add_argument("--slo-ttft-s", type=_positive_float, default=4.0)
    sz.add_argument("--slo-tpot-s", type=_positive_float, default=0.05)
    sz.add_argument("--cost", default="cloud-hopper", help="cost profile name or TOML path (default cloud-hopper)")
    sz.add_argument("--nodes-max", type=_positive_int, default=256, help="most nodes of each kind")
    sz.add_argument("--json", action="store_true")
    sz.add_argument("--quiet", action="store_true", help="no progress bar (also off with --json or when stderr is not a terminal)")
    sz.set_defaults(func=cmd_size)

    be = sub.add_parser("bench", help="transfer microbenchmarks: run, fit alpha-beta links, validate on composite transfers")
    bsub = be.add_subparsers(dest="bench_command", parser_class=_Parser)
    br = bsub.add_parser("run", help="measure real transfers to a CSV")
    br.add_argument("--backend", choices=["host", "cuda"], default="host")
    br.add_argument("--out", required=True, help="output CSV (written atomically)")
    br.add_argument("--quick", action="store_true", help="small sizes and few repetitions (seconds)")
    br.add_argument("--quiet", action="store_true", help="no progress bar (also off when stderr is not a terminal)")
    br.set_defaults(func=cmd_bench_run)
    bf = bsub.add_parser("fit", help="fit latency = alpha + bytes / beta per link; optionally write a profile overlay")
    bf.add_argument(
        "csv",
        nargs="+",
        help="dpmodel bench CSV, or fio / perftest / nvbandwidth / nccl-tests output (recognised by content; several files fit together)",
    )
    bf.add_argument("--out", default=None, help="overlay TOML to write")
    bf.set_defaults(func=cmd_bench_fit)
    bv = bsub.add_parser("validate", help="predict composite transfers from the fitted links and measure them")
    bv.add_argument("--csv", default=None, help="fit from this CSV instead of a fresh host run")
    bv.add_argument("--quick", action="store_true")
    bv.add_argument("--quiet", action="store_true", help="no progress bar (also off when stderr is not a terminal)")
    bv.set_defaults(func=cmd_bench_validate)

    wl = sub.add_parser("workload", help="workloads: list, statistics of a workload or trace, synthesize trajectories")
    wsub = wl.add_subparsers(dest="workload_command", parser_class=_Parser)
    wll = wsub.add_parser("list", help="list packaged workloads")
    wll.add_argument("--json", action="store_true")
    wll.set_defaults(func=cmd_workload_list)
    wsh = wsub.add_parser("show", help="statistics of a workload (synthesized), a trajectory file, or a trace")
    wsh.add_argument("name", nargs="?", default=None, help="workload name, TOML path or trajectory .jsonl")
    wsh.add_argument("--trace", default=None, help="a Mooncake .jsonl or Azure .csv trace")
    wsh.add_argument("--cache-GiB", type=_float, default=None, dest="cache_GiB", help="LRU KV cache size (default infinite)")
    wsh.add_argument("--model", default=DEFAULT_MODEL, help="model whose KV bytes size the cache (default deepseek-v3.2)")
    wsh.add_argument("--agents", type=_agents, default=500, help="agents to synthesize for a NAME (default 500)")
    wsh.add_argument("--seed", type=_seed, default=0)
    wsh.add_argument("--lenient", action="store_true", help="skip and count malformed lines")
    wsh.add_argument("--json", action="store_true")
    wsh.set_defaults(func=cmd_workload_show)
    wsy = wsub.add_parser("synth", help="synthesize trajectories to our JSONL format")
    wsy.add_argument("name", help="workload name or TOML path with a [synthesis] table")
    wsy.add_argument("--agents", type=_agents, required=True)
    wsy.add_argument("--seed", type=_seed, default=0)
    wsy.add_argument("--out", required=True, help="output .jsonl (written atomically)")
    wsy.add_argument("--append-scale", type=_scale, default=1.0, help="scale every append, re-truncate at MAL")
    wsy.add_argument("--gen-scale", type=_scale, default=1.0, help="scale every generation, re-truncate at MAL")
    wsy.add_argument("--extra-agents", type=_extra_agents, default=0, help="add agents with a random first round (the paper's knob)")
    wsy.set_defaults(func=cmd_workload_synth)
    return p


USAGE = (
    "usage: dpmodel {plan,profiles,offline,online,capacity,sweep,simulate,policy,size,bench,workload} ... "
    "(start with 'dpmodel plan'; 'dpmodel --help' for more)"
)


def _oneline(text: object) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(str(text).split()))


def _os_error_text(exc: OSError) -> str:
    """An unexpected OSError (a read or a write outside the atomic writer) as one line with the path."""
    if exc.filename is not None:
        from .fileio import output_error

        if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError) or exc.errno in (28, 30, 122):
            return _oneline(output_error(exc.filename, exc))
        return _oneline(f"{exc.filename}: {exc.strerror or exc}; check the path")
    return _oneline(f"{exc.strerror or exc} (an operating-system error); check the paths given and the free disk space")


def main(argv: list[str] | None = None) -> int:
    import warnings

    if argv is None:
        argv = sys.argv[1:]
    if not argv:  # bare `dpmodel`: a short usage, not the full help
        print(USAGE, file=sys.stderr)
        return 2
    caught: list[warnings.WarningMessage] = []
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse: --help, --version, or a one-line usage error
            return exc.code if isinstance(exc.code, int) else 2
        if not getattr(args, "func", None):
            sub = [a for a in argv if not a.startswith("-")][:1]
            print(
                f"dpmodel: error: '{' '.join(sub) or 'dpmodel'}' needs a subcommand (see 'dpmodel {' '.join(sub)} --help')".replace(
                    "  ", " "
                ),
                file=sys.stderr,
            )
            return 2
        # warnings (numpy, cvxpy) never reach the terminal raw: collected, then one formatted line each
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            if getattr(args, "kv_dtype", None) is not None:
                from .profiles.hfconfig import with_kv_dtype

                args.model = with_kv_dtype(args.model, args.kv_dtype)
            rc = args.func(args)
    except DpmodelError as exc:
        print(f"dpmodel: error: {_oneline(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dpmodel: interrupted (no partial output was written)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. `dpmodel plan | head`
        return 0
    except OSError as exc:
        print(f"dpmodel: error: {_os_error_text(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "dpmodel: error: out of memory: the run is too large for this machine; use fewer agents, a shorter duration or a smaller trace",
            file=sys.stderr,
        )
        return 2
    seen = set()
    for w in caught:
        line = f"dpmodel: warning: {_oneline(w.message)} ({w.category.__name__})"
        if line not in seen:
            seen.add(line)
            print(line, file=sys.stderr)
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
