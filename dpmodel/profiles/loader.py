"""Find, load and validate profiles by name (packaged catalog) or by path."""

from __future__ import annotations

import difflib
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProfileError, ProfileWarning
from .cost import CostProfile
from .hardware import ClusterProfile
from .model import ModelSpec
from .schema import build, check_provenance_covers
from .workload import WorkloadProfile

_PKG = Path(__file__).resolve().parent.parent


def hardware_dir() -> Path:
    """``hardware_profiles/``: the packaged copy (non-editable install) or the repository's."""
    packaged = _PKG / "hardware_profiles"
    if packaged.is_dir():
        return packaged
    return _PKG.parent / "hardware_profiles"


@dataclass(frozen=True)
class _Kind:
    cls: type
    where: str  # "hardware" or a catalog subfolder

    def directory(self) -> Path:
        return hardware_dir() if self.where == "hardware" else _PKG / "catalog" / self.where


KINDS: dict[str, _Kind] = {
    "cluster": _Kind(ClusterProfile, "hardware"),
    "model": _Kind(ModelSpec, "models"),
    "workload": _Kind(WorkloadProfile, "workloads"),
    "cost": _Kind(CostProfile, "costs"),
}


def list_profiles(kind: str) -> list[str]:
    """Names of the packaged profiles of ``kind`` ('cluster', 'model', 'workload')."""
    d = _kind(kind).directory()
    return sorted(p.stem for p in d.glob("*.toml"))


def _kind(kind: str) -> _Kind:
    if kind not in KINDS:
        raise ProfileError(f"unknown profile kind {kind!r}: use one of {', '.join(KINDS)}")
    return KINDS[kind]


def resolve(kind: str, name_or_path: str | Path) -> Path:
    """A packaged profile's name, or a path to a TOML file -> the file's path."""
    k = _kind(kind)
    text = str(name_or_path)
    as_path = Path(text).expanduser()
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    if looks_like_path:
        if not as_path.is_file():
            raise ProfileError(f"{kind} profile file {text!r} does not exist: give an existing .toml path or a name")
        return as_path
    candidate = k.directory() / f"{text}.toml"
    if candidate.is_file():
        return candidate
    names = list_profiles(kind)
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ProfileError(f"unknown {kind} profile {text!r}{hint} (available: {', '.join(names)})")


def parse_toml(path: str | Path, ctx: str, error: type[Exception] = ProfileError) -> dict[str, Any]:
    """Parse a TOML file; unreadable or malformed files raise ``error`` naming ``ctx``."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{ctx}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{ctx}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        what = "an integer literal is too long" if "digits" in str(exc) else " ".join(str(exc).split()[:8])
        raise error(f"{ctx}: not valid TOML: {what}") from None
    except RecursionError:
        raise error(f"{ctx}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise error(f"{ctx}: cannot read file: {exc.strerror}") from None


def from_mapping(kind: str, data: dict[str, Any], *, ctx: str) -> Any:
    """Validate a parsed TOML mapping into the profile dataclass of ``kind``."""
    k = _kind(kind)
    obj = build(k.cls, data, ctx=ctx)
    check_provenance_covers(k.cls, data, obj.provenance, ctx=ctx)
    check = getattr(obj, "check", None)
    if check is not None:
        check(ctx)
    return obj


def load_profile(kind: str, name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> Any:
    """Load and validate a profile of ``kind`` from a packaged name or a path.

    A file may say ``extends = "NAME|PATH"`` and give only the fields it changes (each with its own
    source); the rest is inherited with its provenance. ``overrides`` maps dotted fields to values
    (``--set``); each is recorded in the provenance as ``config: command line``.
    """
    path = resolve(kind, name_or_path)
    ctx = f"{kind} profile '{path.stem}' ({path})"
    data, base = merged_mapping(kind, path)
    if overrides:
        data = apply_overrides(kind, data, overrides, ctx=ctx)
    obj = from_mapping(kind, data, ctx=ctx)
    _warn_stale_sources(kind, obj, base, ctx=ctx)
    return obj


# ---- partial profiles (extends) and command-line overrides ------------------------------------
COMMAND_LINE_SOURCE = "config: command line"


def _resolve_base(kind: str, ref: Any, child: Path, ctx: str) -> Path:
    if not isinstance(ref, str) or not ref.strip():
        raise ProfileError(f"{ctx} field extends = {ref!r}: must be a profile name or a .toml path")
    text = ref.strip()
    if text.endswith(".toml") or "/" in text or "\\" in text:
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = child.parent / p
        if not p.is_file():
            raise ProfileError(f"{ctx} field extends = {ref!r}: no such file {p}; give a packaged {kind} name or an existing path")
        return p
    try:
        return resolve(kind, text)
    except ProfileError as exc:
        raise ProfileError(f"{ctx} field extends: {exc}") from None


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def merged_mapping(kind: str, path: Path, _seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The file's mapping with its ``extends`` chain merged in, and the base's merged mapping (or None)."""
    ctx = f"{kind} profile '{path.stem}' ({path})"
    data = parse_toml(path, ctx)
    if "extends" not in data:
        return data, None
    base_path = _resolve_base(kind, data["extends"], path, ctx)
    if base_path.resolve() in _seen or base_path.resolve() == path.resolve():
        raise ProfileError(f"{ctx} field extends = {data['extends']!r}: profiles extend each other in a cycle; remove one extends")
    base, _ = merged_mapping(kind, base_path, (*_seen, path.resolve()))
    child = {k: v for k, v in data.items() if k != "extends"}
    child.setdefault("name", path.stem)
    if "description" not in child and "description" in base:
        child["description"] = f"{child['name']}: {base.get('name', base_path.stem)} with changes ({base['description']})"
    prov_child = child.pop("provenance", {})
    if not isinstance(prov_child, Mapping):
        raise ProfileError(f"{ctx}: [provenance] must be a table")
    prov_base = base.get("provenance", {})
    # an overridden number without its own source inherits the base's text: warned in load_profile
    merged = _deep_merge(base, child)
    prov = dict(prov_base)
    for key in ("source", "date", "notes"):
        if key in prov_child:
            prov[key] = (
                prov_child[key] if key != "source" else f"{prov_child[key]}; extends {data['extends']}: {prov_base.get('source', '')}"
            )
    prov["fields"] = {**prov_base.get("fields", {}), **prov_child.get("fields", {})}
    for key in prov_child:
        if key not in prov:
            prov[key] = prov_child[key]  # unknown keys: let the validator name them
    merged["provenance"] = prov
    return merged, base


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML scalar (``2``, ``0.5``, ``true``, ``"x"``), else the bare text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(kind: str, data: Mapping[str, Any], overrides: Mapping[str, Any], *, ctx: str) -> dict[str, Any]:
    """``data`` with each dotted field of ``overrides`` replaced, sourced ``config: command line``."""
    from .schema import numeric_paths

    out = _deep_merge(data, {})
    numeric = set(numeric_paths(_kind(kind).cls))
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            sub = node.get(part)
            sub = dict(sub) if isinstance(sub, Mapping) else {}
            node[part] = sub
            node = sub
        node[parts[-1]] = value
        if dotted in numeric:
            prov = dict(out.get("provenance", {}))
            prov["fields"] = {**prov.get("fields", {}), dotted: COMMAND_LINE_SOURCE}
            out["provenance"] = prov
    return out


def _value_at(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


_CATALOG_SOURCES: dict[str, dict[tuple[str, str], set]] = {}


def _catalog_sources(kind: str) -> dict[tuple[str, str], set]:
    """(field, source text) -> the values the packaged profiles give with that text."""
    if kind not in _CATALOG_SOURCES:
        idx: dict[tuple[str, str], set] = {}
        for p in sorted(_kind(kind).directory().glob("*.toml")):
            try:
                data, _ = merged_mapping(kind, p)
            except ProfileError:
                continue
            for key, text in data.get("provenance", {}).get("fields", {}).items():
                idx.setdefault((key, text), set()).add(_value_at(data, key))
        _CATALOG_SOURCES[kind] = idx
    return _CATALOG_SOURCES[kind]


def stale_sources(kind: str, obj: Any, base: Mapping[str, Any] | None) -> list[str]:
    """Fields whose value differs from the one their (inherited or copied) source text describes."""
    from .schema import numeric_paths

    out = []
    fields = obj.provenance.fields
    for key in numeric_paths(type(obj)):
        text = fields.get(key)
        if text is None or text == COMMAND_LINE_SOURCE:
            continue
        node: Any = obj
        for part in key.split("."):
            node = getattr(node, part, None)
        value = node
        if base is not None:
            bsrc = base.get("provenance", {}).get("fields", {}).get(key)
            bval = _value_at(base, key)
            if bsrc == text and bval is not None and bval != value:
                out.append(f"{key} = {value} but its source, inherited unchanged, describes {bval}: {text!r}")
            continue
        seen = _catalog_sources(kind).get((key, text))
        if seen and value not in seen:
            out.append(
                f"{key} = {value} but its source text is copied from a packaged profile where it describes "
                f"{', '.join(str(v) for v in sorted(seen, key=str))}: {text!r}"
            )
    return out


def _warn_stale_sources(kind: str, obj: Any, base: Mapping[str, Any] | None, *, ctx: str) -> None:
    for text in stale_sources(kind, obj, base):
        warnings.warn(f"{ctx}: {text}; update its [provenance.fields] entry", ProfileWarning, stacklevel=3)


def infer_kind(path: str | Path) -> str:
    """The kind of a profile file: the one kind its (merged) mapping validates as."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ProfileError(f"profile file {str(path)!r} does not exist: give an existing .toml path or a name")
    errors: dict[str, str] = {}
    for k in KINDS:
        try:
            data, _ = merged_mapping(k, p)
            from_mapping(k, data, ctx=f"{k} profile '{p.stem}' ({p})")
            return k
        except ProfileError as exc:
            errors[k] = str(exc)
    # report the kind whose tables overlap the file's most
    data = parse_toml(p, str(p))
    import dataclasses as _dc

    def overlap(k: str) -> int:
        names = {f.name for f in _dc.fields(_kind(k).cls)}
        return len(names & set(data))

    best = max(KINDS, key=overlap)
    raise ProfileError(errors[best] + f" (read as a {best} profile; give --kind if it is another kind)")


def load_cluster(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> ClusterProfile:
    return load_profile("cluster", name_or_path, overrides)


def load_workload(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> WorkloadProfile:
    return load_profile("workload", name_or_path, overrides)


def load_cost(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> CostProfile:
    return load_profile("cost", name_or_path, overrides)
