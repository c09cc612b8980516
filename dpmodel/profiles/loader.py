"""Find, load and validate profiles by name (packaged catalog) or by path."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ProfileError
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


def load_profile(kind: str, name_or_path: str | Path) -> Any:
    """Load and validate a profile of ``kind`` from a packaged name or a path."""
    path = resolve(kind, name_or_path)
    ctx = f"{kind} profile '{path.stem}' ({path})"
    return from_mapping(kind, parse_toml(path, ctx), ctx=ctx)


def load_cluster(name_or_path: str | Path) -> ClusterProfile:
    return load_profile("cluster", name_or_path)


def load_model(name_or_path: str | Path) -> ModelSpec:
    return load_profile("model", name_or_path)


def load_workload(name_or_path: str | Path) -> WorkloadProfile:
    return load_profile("workload", name_or_path)


def load_cost(name_or_path: str | Path) -> CostProfile:
    return load_profile("cost", name_or_path)
