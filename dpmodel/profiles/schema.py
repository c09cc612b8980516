"""Declarative field specs and a generic TOML-mapping -> frozen-dataclass validator.

A profile class is a frozen dataclass whose fields are either nested section dataclasses or
scalars declared with :func:`fld`. :func:`build` walks a parsed TOML mapping against the class and
raises :class:`~dpmodel.errors.ProfileError` naming the file and the dotted field for every
problem: unknown key (with a "did you mean"), missing field, wrong type, value out of range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import ProfileError
from ..units import unit_suffix

PROVENANCE_KINDS = ("datasheet", "paper", "measured", "derived", "config", "assumption")


def fld(
    description: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] | None = None,
    default: Any = dataclasses.MISSING,
    source: str | None = None,
) -> Any:
    """Declare a profile field: description, valid range and (for defaults) the default's source."""
    if default is not dataclasses.MISSING and source is None and not isinstance(default, str | bool):
        raise TypeError("a numeric default needs a source")
    meta = {
        "description": description,
        "gt": gt,
        "ge": ge,
        "lt": lt,
        "le": le,
        "choices": choices,
        "source": source,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where every number in a profile comes from.

    ``fields`` maps each numeric field's dotted path to ``"<kind>: <text>"`` with kind one of
    datasheet, paper, measured, derived, config, assumption (datasheet/paper values are nominal).
    """

    source: str
    date: str
    fields: Mapping[str, str]
    notes: str = ""


def _where(ctx: str, path: str) -> str:
    return f"{ctx} field {path}" if path else ctx


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def section_type(tp: Any) -> type | None:
    """The dataclass of a section field (``Spec`` or ``Spec | None``), else None."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) == 1 and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def is_section(tp: Any) -> bool:
    return section_type(tp) is not None


def _scalar(value: Any, tp: Any, meta: Mapping[str, Any], ctx: str, path: str) -> Any:
    where = _where(ctx, path)
    given = value
    if tp is bool:
        if not isinstance(value, bool):
            raise ProfileError(f"{where} = {value!r}: must be true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ProfileError(f"{where} = {value!r}: must be a string")
        choices = meta.get("choices")
        if choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProfileError(f"{where} = {value!r}: must be one of {', '.join(choices)}{hint}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProfileError(f"{where} = {value!r}: must be an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise ProfileError(f"{where} = {value!r}: must be an integer")
            value = int(value)
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProfileError(f"{where} = {value!r}: must be a number")
        try:
            value = float(value)
        except OverflowError:  # an integer beyond the float range
            raise ProfileError(f"{where} = {str(given)[:20]}...: must be a finite number") from None
        if not math.isfinite(value):
            raise ProfileError(f"{where} = {value!r}: must be a finite number")
    else:  # pragma: no cover - schema author error
        raise TypeError(f"unsupported field type {tp!r} at {path}")
    checks = (
        ("gt", lambda v, b: v > b, "> {}"),
        ("ge", lambda v, b: v >= b, ">= {}"),
        ("lt", lambda v, b: v < b, "< {}"),
        ("le", lambda v, b: v <= b, "<= {}"),
    )
    for key, ok, text in checks:
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            raise ProfileError(f"{where} = {given!r}: must be {text.format(bound)}")
    return value


def build(cls: type, data: Any, *, ctx: str, path: str = "") -> Any:
    """Validate ``data`` (a parsed TOML table) against dataclass ``cls`` and construct it."""
    if not isinstance(data, Mapping):
        raise ProfileError(f"{_where(ctx, path)}: must be a table, got {type(data).__name__}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(fields)}"
            dotted = f"{path}.{key}" if path else str(key)
            raise ProfileError(f"{ctx}: unknown key {dotted!r}{hint}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        dotted = f"{path}.{name}" if path else name
        tp = hints[name]
        if name not in data:
            if f.default is not dataclasses.MISSING:
                kwargs[name] = f.default
                continue
            if is_section(tp):
                raise ProfileError(f"{ctx}: missing table [{dotted}]")
            raise ProfileError(f"{ctx}: missing field {dotted} ({f.metadata.get('description', '')})")
        if tp is Provenance:
            kwargs[name] = build_provenance(data[name], ctx=ctx)
        elif is_section(tp):
            kwargs[name] = build(section_type(tp), data[name], ctx=ctx, path=dotted)
        else:
            kwargs[name] = _scalar(data[name], tp, f.metadata, ctx, dotted)
    return cls(**kwargs)


def build_provenance(data: Any, *, ctx: str) -> Provenance:
    if not isinstance(data, Mapping):
        raise ProfileError(f"{ctx}: [provenance] must be a table")
    for key in data:
        if key not in ("source", "date", "fields", "notes"):
            close = difflib.get_close_matches(str(key), ["source", "date", "fields", "notes"], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ProfileError(f"{ctx}: unknown key 'provenance.{key}'{hint}")
    for key in ("source", "date", "fields"):
        if key not in data:
            raise ProfileError(f"{ctx}: missing field provenance.{key}")
    for key in ("source", "date"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ProfileError(f"{ctx} field provenance.{key}: must be a non-empty string")
    fields = data["fields"]
    if not isinstance(fields, Mapping):
        raise ProfileError(f"{ctx} field provenance.fields: must be a table of 'path = \"kind: source\"'")
    out: dict[str, str] = {}
    for key, text in fields.items():
        if not isinstance(text, str) or ":" not in text:
            raise ProfileError(
                f"{ctx} field provenance.fields.{key!s}: must be a string 'kind: source' with kind one of {', '.join(PROVENANCE_KINDS)}"
            )
        kind = text.split(":", 1)[0].strip()
        if kind not in PROVENANCE_KINDS:
            raise ProfileError(f"{ctx} field provenance.fields.{key!s}: kind {kind!r} must be one of {', '.join(PROVENANCE_KINDS)}")
        out[str(key)] = text
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise ProfileError(f"{ctx} field provenance.notes: must be a string")
    return Provenance(source=data["source"], date=data["date"], fields=out, notes=notes)


def _numeric_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field]]:
    """(dotted path, field) of every numeric scalar field of ``cls`` (recursively)."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        if tp is Provenance:
            continue
        if is_section(tp):
            yield from _numeric_fields(section_type(tp), dotted)
        elif tp in (int, float):
            yield dotted, f


def numeric_paths(cls: type, prefix: str = "") -> list[str]:
    """Dotted paths of every numeric scalar field of ``cls`` (recursively)."""
    return [dotted for dotted, _ in _numeric_fields(cls, prefix)]


def default_sources(cls: type) -> dict[str, str]:
    """Dotted path -> the source text of every numeric field whose default carries one (``fld(source=)``)."""
    return {dotted: f.metadata["source"] for dotted, f in _numeric_fields(cls) if f.metadata.get("source")}


def given_numeric_paths(cls: type, data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the numeric fields present in ``data`` (defaults excluded)."""
    out: list[str] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        tp = hints[f.name]
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        if tp is Provenance:
            continue
        if is_section(tp):
            sub = data[f.name]
            if isinstance(sub, Mapping):
                out.extend(given_numeric_paths(section_type(tp), sub, dotted))
        elif tp in (int, float):
            out.append(dotted)
    return out


def check_provenance_covers(cls: type, data: Mapping[str, Any], prov: Provenance, *, ctx: str) -> None:
    """Every numeric value given in the file has a source; every source names a real field."""
    given = given_numeric_paths(cls, data)
    missing = [p for p in given if p not in prov.fields]
    if missing:
        raise ProfileError(
            f"{ctx}: provenance.fields has no source for {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; add e.g. "
            + f'"{missing[0]}" = "datasheet: ..."'
        )
    known = numeric_paths(cls)
    for key in prov.fields:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ProfileError(f"{ctx}: provenance.fields names unknown field {key!r}{hint}")


def field_table(cls: type, prefix: str = "") -> list[dict[str, Any]]:
    """Schema of ``cls`` as rows (path, type, unit, description, range, default) for docs/CLI."""
    rows: list[dict[str, Any]] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        if tp is Provenance:
            continue
        if is_section(tp):
            rows.extend(field_table(section_type(tp), dotted))
            continue
        m = f.metadata
        rng = " ".join(f"{op}{m[k]}" for k, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if m.get(k) is not None)
        rows.append(
            {
                "field": dotted,
                "type": tp.__name__,
                "unit": unit_suffix(f.name) or "",
                "description": m.get("description", ""),
                "range": rng or (", ".join(m["choices"]) if m.get("choices") else ""),
                "default": None if f.default is dataclasses.MISSING else f.default,
                "default_source": m.get("source") or "",
            }
        )
    return rows


def to_plain(obj: Any) -> Any:
    """Dataclasses (recursively) and mappings as plain dicts; infinite floats as the string 'inf'."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, float) and math.isinf(obj):
        return "inf"
    return obj
