"""The result contract shared by every result object and every command's ``--json``.

Every result object is a frozen dataclass deriving from :class:`Result`: ``to_dict()`` gives plain
JSON types only (numbers that are not finite, NaN or +-inf, become ``null``: an unbounded latency
past saturation, a ratio with nothing to divide by), and ``to_frame()`` a pandas table of the same
content. Every command's ``--json`` is :func:`envelope`: ``schema_version``, ``command`` and the
``scenario`` block (``null`` for commands without a scenario) beside the command's own fields; the
JSON Schema of each command is in ``dpmodel/schemas/`` (docs/cli-and-json.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

#: version of the ``--json`` layout and of ``to_dict()``; raised when a field is renamed or removed
SCHEMA_VERSION = 2


def json_safe(obj: Any) -> Any:
    """``obj`` with plain JSON types only.

    Parameters
    ----------
    obj : Any
        A value: numbers, strings, numpy scalars and arrays, sequences, mappings, dataclasses,
        :class:`Result` objects (anything else becomes its ``str``).

    Returns
    -------
    Any
        Non-finite floats become ``None``, numpy scalars and arrays plain numbers and lists, tuples
        lists, dataclasses and mappings dicts (string keys).
    """
    if isinstance(obj, bool) or obj is None or isinstance(obj, str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Result):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return json_safe(obj.tolist())
    return str(obj)


def utilization_list(util: Mapping[str, float]) -> list[dict[str, Any]]:
    """Utilizations as the list every result writes: ``[{"name", "utilization_frac"}, ...]``.

    Parameters
    ----------
    util : Mapping of str to float
        Resource name (the topology's, e.g. ``pe.snic.read``) -> utilization [fraction].

    Returns
    -------
    list of dict
        One ``{"name", "utilization_frac"}`` per resource, in the given order (the plan's
        ``resources[]`` carry the same two fields).
    """
    return [{"name": str(k), "utilization_frac": json_safe(float(v))} for k, v in util.items()]


class Result:
    """Mixin of every result dataclass: JSON-safe ``to_dict()`` (its fields, unless the class says
    otherwise) and ``to_frame()`` (one row of the flattened dict, unless the class has a table)."""

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON types (:func:`json_safe`: non-finite numbers become ``None``).

        Returns
        -------
        dict
            Its fields, unless the class says otherwise.
        """
        return json_safe({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def to_frame(self):
        """A pandas table of :meth:`to_dict` (imported here: pandas takes a while to import, and
        the command-line tool needs it only for tables).

        Returns
        -------
        pandas.DataFrame
            One row of the flattened dict, unless the class has a table.
        """
        import pandas as pd

        return pd.json_normalize(self.to_dict())


def envelope(command: str, payload: Mapping[str, Any] | list, scenario: Any = None) -> dict[str, Any]:
    """A command's ``--json``: ``schema_version``, ``command``, ``scenario``, then the payload's fields.

    Parameters
    ----------
    command : str
        The command's name (``plan``, ``size``, ``profiles list``, ...).
    payload : Mapping or list
        The command's fields (a list payload goes under ``rows``); a ``scenario`` key in it is
        used when ``scenario`` is not given.
    scenario : Scenario or dict, optional
        A :class:`~dpmodel.scenario.Scenario` (its ``to_dict()``), a dict, or ``None`` for
        commands without a scenario.

    Returns
    -------
    dict
        JSON-safe (:func:`json_safe`).
    """
    body = {"rows": payload} if isinstance(payload, list) else dict(payload)
    own = body.pop("scenario", None)
    if scenario is not None and hasattr(scenario, "to_dict"):
        scenario = scenario.to_dict()
    scenario = own if scenario is None else scenario
    return json_safe({"schema_version": SCHEMA_VERSION, "command": command, "scenario": scenario, **body})
