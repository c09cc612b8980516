"""Numpydoc docstrings on the public API: ``dpmodel``'s exports and the public functions and
classes of the analysis modules.

numpydoc's own validator is not a dependency of the project, so this is a small, strict check of
the parts of the numpydoc standard the project keeps: every public callable has a docstring with a
one-line summary; one that takes parameters has a ``Parameters`` section naming every one (a
dataclass: every field, under ``Parameters`` or ``Attributes``); one that returns a value has a
``Returns`` (or ``Yields``) section; a ``float`` parameter states its unit in brackets
(``[s]``, ``[GB/s]``, ``[fraction]``, ...). Sections are found by their underlined headings.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import textwrap
import typing

import pytest

#: modules whose public functions and classes are the analysis layer's API (docs/development.md)
ANALYSIS_MODULES = (
    "dpmodel.plan",
    "dpmodel.sizing",
    "dpmodel.search",
    "dpmodel.results",
    "dpmodel.sweep",
    "dpmodel.serving",
    "dpmodel.fig7",
    "dpmodel.validate_run",
)

_SECTION = re.compile(r"^\s*([A-Z][A-Za-z ]+)\n\s*-{3,}\s*$", re.M)


def sections(doc: str) -> dict[str, str]:
    """Numpydoc sections of ``doc`` by heading (``Parameters``, ``Returns``, ...), each its body."""
    doc = inspect.cleandoc(doc)
    marks = list(_SECTION.finditer(doc))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(doc)
        out[m.group(1).strip()] = doc[m.end() : end]
    return out


def entries(body: str) -> dict[str, str]:
    """``name -> description`` of a Parameters / Attributes section (``a, b : float`` documents both)."""
    out: dict[str, str] = {}
    current: list[str] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            head = line.split(" : ")[0].strip()
            current = [n.strip().lstrip("*") for n in head.split(",")]
            for n in current:
                out[n] = line.split(" : ", 1)[1] if " : " in line else ""
        else:
            for n in current:
                out[n] += " " + line.strip()
    return out


def _returns_value(fn) -> bool:
    """Whether ``fn`` returns a value: a return annotation other than None, or (unannotated) a
    ``return <value>`` or ``yield`` in its own body (not in a nested function)."""
    ann = inspect.signature(fn).return_annotation
    if ann is not inspect.Signature.empty:
        return ann not in (None, "None", type(None))
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    todo = list(ast.iter_child_nodes(tree.body[0]))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            return True
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def _float_params(fn) -> set[str]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve at run time: read the strings
        hints = {k: v for k, v in getattr(fn, "__annotations__", {}).items()}
    out = set()
    for k, v in hints.items():
        text = v if isinstance(v, str) else repr(v)
        if k != "return" and (v is float or text in ("float", "float | None", "typing.Optional[float]", "<class 'float'>")):
            out.add(k)
    return out


def problems(obj, name: str) -> list[str]:
    """What ``obj``'s docstring misses, as lines naming ``name``."""
    doc = inspect.getdoc(obj) if not isinstance(obj, type) else obj.__doc__
    if not doc or not doc.strip():
        return [f"{name}: no docstring"]
    doc = inspect.cleandoc(doc)
    out = []
    if not doc.splitlines()[0].strip():
        out.append(f"{name}: no one-line summary")
    sec = sections(doc)
    if isinstance(obj, type):
        if dataclasses.is_dataclass(obj):
            fields = [f.name for f in dataclasses.fields(obj)]
            documented = {**entries(sec.get("Parameters", "")), **entries(sec.get("Attributes", ""))}
            missing = [f for f in fields if f not in documented]
            if missing:
                out.append(f"{name}: fields not under Parameters or Attributes: {', '.join(missing)}")
        return out
    params = [
        p
        for p in inspect.signature(obj).parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if params:
        if "Parameters" not in sec:
            out.append(f"{name}: no Parameters section (takes {', '.join(p.name for p in params)})")
        else:
            documented = entries(sec["Parameters"])
            missing = [p.name for p in params if p.name not in documented]
            if missing:
                out.append(f"{name}: parameters not documented: {', '.join(missing)}")
            for p in sorted(_float_params(obj) & set(documented)):
                if not re.search(r"\[[^\]]+\]", documented[p]):
                    out.append(f"{name}: float parameter {p!r} states no unit in brackets")
    if _returns_value(obj) and not ({"Returns", "Yields"} & set(sec)):
        out.append(f"{name}: returns a value but has no Returns section")
    return out


def public_api() -> list[tuple[str, object]]:
    """``(qualified name, object)`` of every callable the check covers."""
    import dpmodel

    items: list[tuple[str, object]] = []
    for n in dpmodel.__all__:
        if not n.startswith("_"):
            items.append((f"dpmodel.{n}", getattr(dpmodel, n)))
    for modname in ANALYSIS_MODULES:
        mod = importlib.import_module(modname)
        for n, obj in vars(mod).items():
            if n.startswith("_") or getattr(obj, "__module__", None) != modname:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                items.append((f"{modname}.{n}", obj))
    out = []
    for qual, obj in items:
        out.append((qual, obj))
        if inspect.isclass(obj):
            for n, member in vars(obj).items():
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if n.startswith("_") or not inspect.isfunction(member):
                    continue
                if dataclasses.is_dataclass(obj) and n in ("to_dict", "to_frame"):
                    continue  # the Result contract's, documented on dpmodel.results.Result
                out.append((f"{qual}.{n}", member))
    return out


API = public_api()


@pytest.mark.parametrize("name, obj", API, ids=[q for q, _ in API])
def test_public_callable_has_a_numpydoc_docstring(name, obj):
    assert problems(obj, name) == []


def test_the_check_flags_what_it_should():
    def bare(x: float, y: int) -> float:
        """Add."""
        return x + y

    def half(x: float, y: int) -> float:
        """Add.

        Parameters
        ----------
        x : float
            A length.
        """
        return x + y

    def good(x: float, y: int = 0) -> float:
        """Add.

        Parameters
        ----------
        x : float
            A length [m].
        y : int, optional
            A count.

        Returns
        -------
        float
            The sum [m].
        """
        return x + y

    assert problems(bare, "bare") == ["bare: no Parameters section (takes x, y)", "bare: returns a value but has no Returns section"]
    assert problems(half, "half") == [
        "half: parameters not documented: y",
        "half: float parameter 'x' states no unit in brackets",
        "half: returns a value but has no Returns section",
    ]
    assert problems(good, "good") == []

    @dataclasses.dataclass
    class R:
        """A result.

        Attributes
        ----------
        a : float
            Seconds [s].
        """

        a: float
        b: int

    assert problems(R, "R") == ["R: fields not under Parameters or Attributes: b"]
    assert len(API) > 20 and any(q == "dpmodel.PolicyTable" for q, _ in API)
