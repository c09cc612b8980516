"""Topologies as data: the resources of a cluster and the load paths a turn's hit KV can take.

A topology is a packaged TOML file (``dpmodel/catalog/topologies/``) or a path to one. It
declares

* **resources**: a name ``<side>.<part>.<quantity>``, the unit of one turn's demand (``bytes``,
  ``gpu_s`` or ``tokens``), a *capacity rule* (a per-unit ``rate`` from :data:`RATES`, times the
  number of units: the side's nodes, the side's GPUs, or one for the cluster) and what sets its
  demand (:data:`DEMANDS`: legs, the prefill GPU time, or the generated tokens);
* **legs**: bytes one turn puts on a byte resource, as coefficients of the turn's hit KV ``H``,
  new prompt KV ``A`` and generated KV ``O`` (``{hit = 2, new = 1}`` is ``2 H + A``); the
  ``[turn]`` legs happen on every path, each path adds its own;
* **paths**: each with its legs, what a prefill GPU waits on while its load is not overlapped
  (``load_wait``, :data:`LOAD_WAITS`) and whether the prefill GPU recomputes the hit tokens' KV
  instead of reading it (``recompute``).

:func:`dpmodel.compose.compose` turns a topology and a scenario into the per-turn demand of every
(resource, request class, path) and every resource's capacity; the LP, the sweep, sizing and
the models take those arrays, so a new resource or path is a new TOML file, not new code.
The first path is the one modes without a split (``basic``, ``layerwise``) use.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ProfileError

DEFAULT_TOPOLOGY = "dualpath"

#: per-unit capacity rates the composition supplies, with their units
RATES: dict[str, str] = {
    "snic_read_Bps_per_node": "storage read rate of one node's storage NICs for the model's Full Blocks [B/s]",
    "snic_write_Bps_per_node": "storage write (persist) rate of one node's storage NICs [B/s]",
    "cnic_kv_Bps_per_gpu": "compute-NIC bandwidth left for KV per GPU [B/s]",
    "dram_Bps_per_node": "DRAM bandwidth of one node [B/s]",
    "store_read_Bps": "storage back end, aggregate read bandwidth [B/s]",
    "store_write_Bps": "storage back end, aggregate write bandwidth [B/s]",
    "gpu_s_per_s": "one GPU-second per second per GPU [GPUs]",
    "decode_tokens_per_s_per_gpu": "decode tokens/s of one GPU at its largest admissible batch [tokens/s]",
}
#: what sets a resource's per-turn demand
DEMANDS: dict[str, str] = {
    "legs": "the bytes of the turn's and the path's legs (unit bytes)",
    "prefill_gpu_s": "prefill GPU-seconds: compute, any load not overlapped, and recomputed KV (unit gpu_s)",
    "generated_tokens": "the turn's generated tokens (unit tokens)",
}
DEMAND_UNIT: dict[str, str] = {"legs": "bytes", "prefill_gpu_s": "gpu_s", "generated_tokens": "tokens"}
SIDES: tuple[str, ...] = ("prefill", "decode", "cluster")
PER: tuple[str, ...] = ("node", "gpu", "cluster")
#: what a prefill GPU waits on while a load it does not overlap runs
LOAD_WAITS: dict[str, str] = {
    "pe_snic_shared": "its share of the node's storage NICs (the finite-source model of flows.shared_snic_rate_Bps_per_gpu)",
    "cnic": "its compute NIC's KV bandwidth",
    "none": "nothing: the path reads no bytes",
}
LEG_TERMS: tuple[str, ...] = ("hit", "new", "gen")


@dataclass(frozen=True)
class Resource:
    """One resource: capacity ``rate x units`` per second, demand per turn in ``unit``."""

    name: str
    unit: str
    side: str
    per: str
    rate: str
    demand: str
    description: str


@dataclass(frozen=True)
class LoadPath:
    """One way a turn's hit KV reaches the prefill GPU: its legs and what the GPU waits on."""

    name: str
    description: str
    legs: tuple[tuple[str, tuple[float, float, float]], ...]  # (resource, (hit, new, gen) coefficients)
    load_wait: str = "none"
    recompute: bool = False


@dataclass(frozen=True)
class Topology:
    """Resources, the legs every turn has, and the load paths (the first is the default)."""

    name: str
    description: str
    resources: tuple[Resource, ...]
    turn_legs: tuple[tuple[str, tuple[float, float, float]], ...]
    paths: tuple[LoadPath, ...]
    source: str = ""
    notes: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.resources)

    @property
    def path_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.paths)

    @property
    def io_names(self) -> tuple[str, ...]:
        """Resources whose demand is bytes of legs (the KV I/O resources)."""
        return tuple(r.name for r in self.resources if r.demand == "legs")

    def resource(self, name: str) -> Resource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def leg_matrix(self) -> np.ndarray:
        """``M[r, p, t]``: bytes per unit of term ``t`` (hit, new, gen) that one turn on path ``p``
        puts on resource ``r`` (turn legs plus the path's; zero for non-byte resources)."""
        M = self.__dict__.get("_leg_matrix")  # cached, not a field (kept out of fingerprints)
        if M is None:
            idx = {n: i for i, n in enumerate(self.names)}
            M = np.zeros((len(self.resources), len(self.paths), 3))
            for name, c in self.turn_legs:
                M[idx[name], :, :] += c
            for j, p in enumerate(self.paths):
                for name, c in p.legs:
                    M[idx[name], j, :] += c
            M.setflags(write=False)
            object.__setattr__(self, "_leg_matrix", M)
        return M

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "resources": list(self.names), "paths": list(self.path_names)}


# ---- loading and validation ----------------------------------------------------------------


def topology_dir() -> Path:
    return Path(__file__).resolve().parent / "catalog" / "topologies"


def list_topologies() -> list[str]:
    return sorted(p.stem for p in topology_dir().glob("*.toml"))


def _bad(ctx: str, msg: str) -> ProfileError:
    return ProfileError(f"{ctx}: {msg}")


def _choice(ctx: str, where: str, value: Any, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        close = difflib.get_close_matches(str(value), list(choices), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _bad(ctx, f"{where} = {value!r}: use one of {', '.join(choices)}{hint}")
    return value


def _keys(ctx: str, where: str, table: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(table, dict):
        raise _bad(ctx, f"{where} must be a table")
    for k in table:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), list(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _bad(ctx, f"{where}: unknown key {k!r}{hint} (allowed: {', '.join(allowed)})")
    for k in required:
        if k not in table:
            raise _bad(ctx, f"{where}: missing key {k!r}")
    return table


def _text(ctx: str, where: str, v: Any) -> str:
    if not isinstance(v, str):
        raise _bad(ctx, f"{where} = {v!r}: must be a string")
    return v


def _legs(ctx: str, where: str, table: Any, resources: dict[str, Resource]) -> tuple:
    _keys(ctx, where, table, tuple(table) if isinstance(table, dict) else ())
    out = []
    for name, coef in table.items():
        if name not in resources:
            close = difflib.get_close_matches(name, list(resources), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _bad(ctx, f"{where}: leg on undeclared resource {name!r}{hint}")
        if resources[name].demand != "legs":
            raise _bad(
                ctx, f"{where}.{name!r}: resource {name!r} has demand {resources[name].demand!r}; legs go on demand = 'legs' resources"
            )
        _keys(ctx, f"{where}.{name!r}", coef, LEG_TERMS)
        vals = []
        for t in LEG_TERMS:
            v = coef.get(t, 0.0)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= 1e3:
                raise _bad(ctx, f"{where}.{name!r}.{t} = {v!r}: must be a number in [0, 1000] (bytes per byte of {t} KV)")
            vals.append(float(v))
        out.append((name, tuple(vals)))
    return tuple(out)


def topology_from_mapping(data: dict[str, Any], *, ctx: str) -> Topology:
    """Validate a parsed topology TOML; every problem is one :class:`ProfileError` line."""
    _keys(
        ctx,
        "topology",
        data,
        ("name", "description", "resources", "turn", "paths", "provenance"),
        ("name", "resources", "paths", "provenance"),
    )
    name = _text(ctx, "name", data["name"])
    desc = _text(ctx, "description", data.get("description", ""))
    res_t = data["resources"]
    if not isinstance(res_t, dict) or not res_t:
        raise _bad(ctx, "[resources] must declare at least one resource")
    resources: dict[str, Resource] = {}
    for rname, r in res_t.items():
        w = f"resources.{rname!r}"
        parts = str(rname).split(".")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise _bad(ctx, f"{w}: a resource name is '<side>.<part>[.<quantity>]' (e.g. 'pe.snic.read' or 'pe.dram')")
        _keys(ctx, w, r, ("unit", "side", "per", "rate", "demand", "description"), ("unit", "side", "per", "rate"))
        demand = _choice(ctx, f"{w}.demand", r.get("demand", "legs"), tuple(DEMANDS))
        unit = _choice(ctx, f"{w}.unit", r["unit"], tuple(sorted(set(DEMAND_UNIT.values()))))
        if unit != DEMAND_UNIT[demand]:
            raise _bad(ctx, f"{w}.unit = {unit!r}: a resource with demand {demand!r} has unit {DEMAND_UNIT[demand]!r}")
        side = _choice(ctx, f"{w}.side", r["side"], SIDES)
        per = _choice(ctx, f"{w}.per", r["per"], PER)
        if (side == "cluster") != (per == "cluster"):
            raise _bad(ctx, f"{w}: side = 'cluster' goes with per = 'cluster' (one unit), and only with it")
        rate = _choice(ctx, f"{w}.rate", r["rate"], tuple(RATES))
        resources[rname] = Resource(rname, unit, side, per, rate, demand, _text(ctx, f"{w}.description", r.get("description", "")))
    turn = data.get("turn", {})
    _keys(ctx, "turn", turn, ("legs",))
    turn_legs = _legs(ctx, "turn.legs", turn.get("legs", {}), resources)
    paths_t = data["paths"]
    if not isinstance(paths_t, dict) or not paths_t:
        raise _bad(ctx, "[paths] must declare at least one load path")
    paths = []
    for pname, p in paths_t.items():
        w = f"paths.{pname}"
        _keys(ctx, w, p, ("description", "legs", "load_wait", "recompute"))
        wait = _choice(ctx, f"{w}.load_wait", p.get("load_wait", "none"), tuple(LOAD_WAITS))
        rec = p.get("recompute", False)
        if not isinstance(rec, bool):
            raise _bad(ctx, f"{w}.recompute = {rec!r}: must be true or false")
        legs = _legs(ctx, f"{w}.legs", p.get("legs", {}), resources)
        if not rec and not any(c[0] > 0 for _, c in legs + turn_legs):
            raise _bad(ctx, f"{w}: a path that reads the hit KV (recompute = false) needs a leg with hit > 0")
        paths.append(LoadPath(pname, _text(ctx, f"{w}.description", p.get("description", "")), legs, wait, rec))
    if not any(r.demand == "prefill_gpu_s" for r in resources.values()) and any(p.recompute for p in paths):
        raise _bad(ctx, "a recompute path needs a resource with demand = 'prefill_gpu_s' to charge its GPU time to")
    prov = data["provenance"]
    _keys(ctx, "provenance", prov, ("source", "date", "notes"), ("source",))
    src = _text(ctx, "provenance.source", prov["source"])
    if not src.strip():
        raise _bad(ctx, "provenance.source is empty: say where the legs come from")
    return Topology(
        name, desc, tuple(resources.values()), turn_legs, tuple(paths), src, _text(ctx, "provenance.notes", prov.get("notes", ""))
    )


def resolve_topology(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        p = Path(text).expanduser()
        if not p.is_file():
            raise ProfileError(f"topology file {text!r} does not exist: give an existing .toml path or a name")
        return p
    p = topology_dir() / f"{text}.toml"
    if p.is_file():
        return p
    names = list_topologies()
    close = difflib.get_close_matches(text, names, n=2, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ProfileError(f"unknown topology {text!r}{hint} (available: {', '.join(names)})")


def load_topology(name_or_path: str | Path | Topology = DEFAULT_TOPOLOGY) -> Topology:
    """A packaged topology by name, or a TOML file by path, validated."""
    if isinstance(name_or_path, Topology):
        return name_or_path
    path = resolve_topology(name_or_path)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_cached(path: str, _mtime: int) -> Topology:
    from .profiles.loader import parse_toml

    return topology_from_mapping(parse_toml(path, f"topology {Path(path).name}"), ctx=f"topology {Path(path).name}")


def default_topology() -> Topology:
    return load_topology(DEFAULT_TOPOLOGY)
