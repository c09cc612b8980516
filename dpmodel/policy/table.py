"""Scheduler policy tables: generated from the model, exported with a schema, loaded and checked,
looked up in microseconds.

A table maps what a scheduler sees (the request's hit tokens, the prefill-side and decode-side
storage read backlogs in seconds) to the share of the request's hit KV to read on the decode side.
Files are JSON or CSV (Parquet with pyarrow), each carrying a schema version, axis names with
units, the generating scenario's fingerprint, the dpmodel version and a SHA-256 checksum; writes
are atomic; the loader validates everything and never executes anything from the file.

The checksum is a plain SHA-256 of the document: it catches accidental damage (truncation, a stray
edit, a bad copy), not tampering -- anyone can edit a table and recompute it. So the loader does not
trust a matching checksum: a strict structural check (every field's type and shape; in CSV, every
row's coordinates against the axes) and the value ranges run on every load.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PolicyTableError
from ..fileio import atomic_write_text
from ..read_split import optimal_split
from ..version import __version__

SCHEMA_VERSION = 1
KIND = "dpmodel.policy_table"
AXES = (("hit_tokens", "tokens"), ("pe_backlog_s", "s"), ("de_backlog_s", "s"))
VALUE = ("split_de_frac", "frac")


_SCALARS = (int, float, np.float64)
_CHUNK = 1 << 15  # vectorized lookups run in chunks of this many states (cache-sized temporaries)
_MAX_BUCKETS = 1 << 16  # an axis whose cells are finer than its range / this uses a binary search


def _uniform_inverse_step(knots: list[float]) -> float:
    """``1 / step`` of an evenly spaced axis (each knot where ``x0 + i * step`` puts it, to 1e-12
    of the axis's scale), else 0.0. There the cell is ``floor((x - x0) / step)`` and the local
    coordinate the remainder: equal to the knots' own to rounding, and the interpolant is
    continuous, so a query on a knot gives the same value from either side, to rounding."""
    n = len(knots)
    if n < 3:
        return 0.0
    step = (knots[-1] - knots[0]) / (n - 1)
    if not step > 0:
        return 0.0
    tol = 1e-12 * max(abs(knots[0]), abs(knots[-1]), step)
    if any(abs(knots[0] + i * step - x) > tol for i, x in enumerate(knots)):
        return 0.0
    return 1.0 / step


@dataclass(frozen=True)
class PolicyTable:
    """A per-request read-split policy: the decode-side share over a grid of request states.

    Attributes
    ----------
    axes : tuple of numpy.ndarray
        The grid: hit tokens [tokens], prefill-side backlog [s], decode-side backlog [s].
    values : numpy.ndarray
        ``split_de_frac`` at every grid point, shape ``(n_hit, n_pe, n_de)`` [fraction, 0 to 1].
    meta : dict
        Where the table came from (scenario, bandwidths, generator).
    """

    axes: tuple[np.ndarray, np.ndarray, np.ndarray]  # hit_tokens, pe_backlog_s, de_backlog_s
    values: np.ndarray  # (n_hit, n_pe, n_de) in [0, 1]
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- generation -----------------------------------------------------------------------
    @classmethod
    def generate(
        cls,
        scenario,
        *,
        hit_tokens=None,
        pe_backlog_s=None,
        de_backlog_s=None,
        cnic_headroom_frac: float = 1.0,
        relay_s: float | None = None,
    ) -> PolicyTable:
        """Per-request optimal split over a grid, from the scenario's bandwidths (vectorized).

        Parameters
        ----------
        scenario : Scenario
            The scenario whose storage-NIC and compute-NIC bandwidths set the split.
        hit_tokens : array_like, optional
            Grid of hit tokens [tokens] (default 24 points from 1e3 to 2e5, geometric).
        pe_backlog_s, de_backlog_s : array_like, optional
            Grids of prefill-side and decode-side backlog [s] (default 0 to 5 s, 26 points).
        cnic_headroom_frac : float, optional
            Share of the decode node's compute-NIC bandwidth the relay may use [fraction, (0, 1]].
        relay_s : float, optional
            Fixed relay latency of the decode-side path [s] (default the RDMA write latency per
            KV layer).

        Returns
        -------
        PolicyTable
            The table.
        """
        cl = scenario.cluster
        b = scenario.model.kv_bytes_per_token
        h = np.geomspace(1e3, 2e5, 24) if hit_tokens is None else np.asarray(hit_tokens, float)
        p = np.linspace(0.0, 5.0, 26) if pe_backlog_s is None else np.asarray(pe_backlog_s, float)
        d = np.linspace(0.0, 5.0, 26) if de_backlog_s is None else np.asarray(de_backlog_s, float)
        if not 0 < cnic_headroom_frac <= 1:
            raise PolicyTableError(f"cnic_headroom_frac = {cnic_headroom_frac}: must be in (0, 1]")
        pe_Bps = scenario.snic_read_Bps_per_node
        de_Bps = min(scenario.snic_read_Bps_per_node, cl.gpus_per_node * cl.cnic_kv_Bps_per_gpu * cnic_headroom_frac)
        relay = cl.network.rdma_wr_us * 1e-6 * scenario.model.kv_layers_count if relay_s is None else relay_s
        vals = optimal_split(
            hit_bytes=h[:, None, None] * b,
            pe_backlog_s=p[None, :, None],
            de_backlog_s=d[None, None, :],
            pe_Bps=pe_Bps,
            de_Bps=de_Bps,
            relay_s=relay,
        )
        from ..plan import (
            lp_split,  # (loading a table needs no solver: the LP is imported only here)
        )

        static = lp_split(scenario, "dualpath")
        meta = {
            "scenario": {
                "fingerprint": scenario.fingerprint(),
                "cluster": cl.name,
                "model": scenario.model.name,
                "workload": scenario.workload.name,
                "prefill_nodes": scenario.deployment.prefill_nodes_count,
                "decode_nodes": scenario.deployment.decode_nodes_count,
            },
            "pe_read_Bps": pe_Bps,
            "de_read_Bps": de_Bps,
            "relay_s": relay,
            "cnic_headroom_frac": cnic_headroom_frac,
            "static_split_de_frac": static,
        }
        return cls((h, p, d), np.broadcast_to(vals, (len(h), len(p), len(d))).copy(), meta)

    # ---- lookup ----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        # plain-Python closures for the scalar fast path (built on first use, :meth:`lookup_scalar`)
        object.__setattr__(self, "_scalar", None)

    def lookup(self, *, hit_tokens, pe_backlog_s, de_backlog_s, method: str = "linear"):
        """Decode-side share for the given state(s): vectorized; clamped at the edges.

        Parameters
        ----------
        hit_tokens : float or array_like
            Hit tokens of the request(s) [tokens].
        pe_backlog_s, de_backlog_s : float or array_like
            Prefill-side and decode-side backlog [s] (broadcast together with ``hit_tokens``).
        method : str, optional
            ``linear`` (trilinear) or ``nearest``.

        Returns
        -------
        float or numpy.ndarray
            ``split_de_frac`` of each state, the broadcast shape [fraction].
        """
        if type(hit_tokens) in _SCALARS and type(pe_backlog_s) in _SCALARS and type(de_backlog_s) in _SCALARS:
            return self._lookup_one(hit_tokens, pe_backlog_s, de_backlog_s, method)
        if method not in ("linear", "nearest"):
            raise PolicyTableError(f"method {method!r}: use 'linear' or 'nearest'")
        q = np.broadcast_arrays(np.asarray(hit_tokens, float), np.asarray(pe_backlog_s, float), np.asarray(de_backlog_s, float))
        shape = q[0].shape
        q = [x.reshape(-1) for x in q]
        n = q[0].size
        out = np.empty(n)
        for s in range(0, n, _CHUNK):  # chunks that stay in cache
            e = min(s + _CHUNK, n)
            out[s:e] = self._lookup_flat(q[0][s:e], q[1][s:e], q[2][s:e], method == "nearest")
        return out.reshape(shape)

    def _axis_index(self):
        """Per axis: (lower edge, bucket scale, bucket -> cell table or None, knots, 1 / cell width).
        A query's cell is its bucket's cell or the next one (buckets are narrower than every cell),
        so no binary search runs per query; an axis too fine for a table falls back to one."""
        fast = self.__dict__.get("_axes_fast")
        if fast is None:
            fast = []
            for ax in self.axes:
                if len(ax) < 2:
                    fast.append(None)
                    continue
                width = np.diff(ax)
                nb = int(math.ceil((ax[-1] - ax[0]) / width.min())) + 1
                if nb > _MAX_BUCKETS:
                    fast.append((ax[0], 0.0, None, ax, 1.0 / width))
                    continue
                scale = nb / (ax[-1] - ax[0])
                edges = ax[0] + np.arange(nb + 1) / scale
                tab = np.clip(np.searchsorted(ax, edges, side="right") - 1, 0, len(ax) - 2).astype(np.intp)
                entry = (float(ax[0]), float(scale), tab, np.append(ax, np.inf), 1.0 / width)
                inv_step = _uniform_inverse_step([float(v) for v in ax])
                fast.append(entry + (inv_step,) if inv_step else entry)  # linspace knots: u = (x - x0) / step
            object.__setattr__(self, "_axes_fast", fast)
        return fast

    def _lookup_flat(self, h: np.ndarray, p: np.ndarray, d: np.ndarray, nearest: bool) -> np.ndarray:
        V = self.values
        flat = V.reshape(-1)
        strides = (V.shape[1] * V.shape[2], V.shape[2], 1)
        base = np.zeros(h.shape, np.intp)
        steps, w = [], []
        for fa, ax, x, st in zip(self._axis_index(), self.axes, (h, p, d), strides, strict=True):
            if fa is None:  # one grid point: both corners are the same cell
                steps.append(0)
                w.append(None)
                continue
            x0, scale, tab, knots, inv_w = fa[:5]
            x = np.clip(x, ax[0], ax[-1])
            if len(fa) > 5 and not nearest:  # evenly spaced knots: the cell by one multiply (see _axis_index)
                u = x - x0
                u *= fa[5]
                i = u.astype(np.intp)
                np.minimum(i, len(ax) - 2, out=i)
                u -= i
                base += i * st
                steps.append(st)
                w.append(u)
                continue
            if tab is None:
                i = np.searchsorted(ax, x, side="right") - 1
                np.clip(i, 0, len(ax) - 2, out=i)
            else:
                i = tab[((x - x0) * scale).astype(np.intp)]
                i += x >= knots[i + 1]  # the next cell when the bucket straddles a knot
                i -= x < ax[i]  # (a bucket edge rounded past a knot)
                np.clip(i, 0, len(ax) - 2, out=i)
            t = x - ax[i]
            t *= inv_w[i]
            if nearest:
                t = (t >= 0.5).astype(float)
            base += i * st
            steps.append(st)
            w.append(t)
        if not nearest:  # each cell's trilinear polynomial (the scalar path's), Horner order: 8 gathers, 14 flops
            G = np.take(self._cell_polynomials(), base, axis=0)
            t0, t1, t2 = (0.0 if t is None else t for t in w)
            g = [G[:, m] for m in range(8)]
            out = g[7] * t2
            out += g[6]
            out *= t1
            out += g[5] * t2
            out += g[4]
            out *= t0
            out += (g[3] * t2 + g[2]) * t1
            out += g[1] * t2
            out += g[0]
            return out
        # trilinear: lerp along the last axis, then the middle, then the first (as the scalar path)
        s0, s1, s2 = steps
        t0, t1, t2 = w

        def lerp_k(b):
            a = flat[b]
            if s2:
                a += (flat[b + s2] - a) * t2
            return a

        def lerp_jk(b):
            a = lerp_k(b)
            if s1:
                a += (lerp_k(b + s1) - a) * t1
            return a

        a = lerp_jk(base)
        if s0:
            a += (lerp_jk(base + s0) - a) * t0
        return a

    def _cell_polynomials(self) -> np.ndarray:
        """``(cells, 8)``: every cell's trilinear polynomial in its local coordinates, the
        coefficients :meth:`_build_scalar` uses (cells indexed as the values, lower corners)."""
        c = self.__dict__.get("_poly8")
        if c is None:
            V = self.values
            e = [np.minimum(np.arange(n) + 1, n - 1) for n in V.shape]  # the upper corner's index per axis
            i = [np.arange(n) for n in V.shape]
            A, B, C, E, F, G, M, N = (V[np.ix_(x, y, z)].reshape(-1) for x in (i[0], e[0]) for y in (i[1], e[1]) for z in (i[2], e[2]))
            c = np.ascontiguousarray(
                np.array([A, B - A, C - A, E - C - B + A, F - A, G - F - B + A, M - F - C + A, N - M - G + F - E + C + B - A]).T
            )  # (cells, 8): one cell's coefficients share a cache line, so a lookup gathers one row
            object.__setattr__(self, "_poly8", c)
        return c

    def lookup_scalar(self, h: float, p: float, d: float) -> float:
        """Trilinear lookup of one state, clamped at the edges: plain Python, no numpy on the call
        path (well under a microsecond).

        Parameters
        ----------
        h : float
            Hit tokens [tokens].
        p, d : float
            Prefill-side and decode-side backlog [s].

        Returns
        -------
        float
            ``split_de_frac`` [fraction].
        """
        fn = self._scalar
        if fn is None:
            fn = self._build_scalar()
        object.__setattr__(self, "lookup_scalar", fn[0])  # later calls go straight to the closure
        return fn[0](h, p, d)

    def _build_scalar(self):
        """Closures for :meth:`lookup_scalar` (linear) and the 'nearest' method: the grid as plain
        lists, each cell's eight corners as one tuple (one index, no nested subscripts)."""
        axes = [[float(x) for x in ax] for ax in self.axes]
        V = self.values
        n0, n1, n2 = V.shape
        e0, e1, e2 = (np.minimum(np.arange(n) + 1, n - 1) for n in (n0, n1, n2))  # the upper corner's index per axis
        i0, i1, i2 = np.arange(n0), np.arange(n1), np.arange(n2)
        corners = [V[np.ix_(a, b, c)] for a in (i0, e0) for b in (i1, e1) for c in (i2, e2)]
        cells = list(zip(*(c.reshape(-1).tolist() for c in corners), strict=True))  # cell (i, j, k) -> its 8 corners
        H, Pb, Db = axes
        h0, h1, p0, p1, d0, d1 = H[0], H[-1], Pb[0], Pb[-1], Db[0], Db[-1]
        hl, pl, dl = max(n0 - 2, 0), max(n1 - 2, 0), max(n2 - 2, 0)  # the last cell's lower index
        th, tp, td = float(n0 > 1), float(n1 > 1), float(n2 > 1)  # the local coordinate at the upper edge
        s0, s1 = n1 * n2, n2
        br = bisect.bisect_right

        def locate(h, p, d):
            if h <= h0:
                i, ti = 0, 0.0
            elif h >= h1:
                i, ti = hl, th
            else:
                i = br(H, h) - 1
                ti = (h - H[i]) / (H[i + 1] - H[i])
            if p <= p0:
                j, tj = 0, 0.0
            elif p >= p1:
                j, tj = pl, tp
            else:
                j = br(Pb, p) - 1
                tj = (p - Pb[j]) / (Pb[j + 1] - Pb[j])
            if d <= d0:
                k, tk = 0, 0.0
            elif d >= d1:
                k, tk = dl, td
            else:
                k = br(Db, d) - 1
                tk = (d - Db[k]) / (Db[k + 1] - Db[k])
            return i * s0 + j * s1 + k, ti, tj, tk

        # each cell's trilinear polynomial in its local coordinates (ti, tj, tk), Horner order
        A, B, C, E, F, G, M, N = (np.asarray(c, float).reshape(-1) for c in corners)
        coef = list(
            zip(
                A.tolist(),
                (B - A).tolist(),
                (C - A).tolist(),
                (E - C - B + A).tolist(),
                (F - A).tolist(),
                (G - F - B + A).tolist(),
                (M - F - C + A).tolist(),
                (N - M - G + F - E + C + B - A).tolist(),
                strict=True,
            )
        )
        IH = [1.0 / (y - x) for x, y in zip(H, H[1:], strict=False)] or [0.0]  # inverse cell widths
        IP = [1.0 / (y - x) for x, y in zip(Pb, Pb[1:], strict=False)] or [0.0]
        ID = [1.0 / (y - x) for x, y in zip(Db, Db[1:], strict=False)] or [0.0]
        OH = [i * s0 for i in range(n0)]  # cell offsets of the first two axes
        OP = [j * s1 for j in range(n1)]

        def linear(h, p, d):
            if h <= h0:
                x, ti = 0, 0.0
            elif h >= h1:
                x, ti = OH[hl], th
            else:
                i = br(H, h) - 1
                x, ti = OH[i], (h - H[i]) * IH[i]
            if p <= p0:
                tj = 0.0
            elif p >= p1:
                x += OP[pl]
                tj = tp
            else:
                j = br(Pb, p) - 1
                x += OP[j]
                tj = (p - Pb[j]) * IP[j]
            if d <= d0:
                tk = 0.0
            elif d >= d1:
                x += dl
                tk = td
            else:
                k = br(Db, d) - 1
                x += k
                tk = (d - Db[k]) * ID[k]
            c0, c1, c2, c3, c4, c5, c6, c7 = coef[x]
            return ((c7 * tk + c6) * tj + c5 * tk + c4) * ti + (c3 * tk + c2) * tj + c1 * tk + c0

        def nearest(h, p, d):
            x, ti, tj, tk = locate(h, p, d)
            a, b, c, e, f, g, m, n = cells[x]
            c8 = (a, b, c, e, f, g, m, n)
            return c8[(4 if ti >= 0.5 else 0) + (2 if tj >= 0.5 else 0) + (1 if tk >= 0.5 else 0)]

        fns = (linear, nearest)
        object.__setattr__(self, "_scalar", fns)
        return fns

    def _lookup_one(self, h: float, p: float, d: float, method: str) -> float:
        """Scalar path of :meth:`lookup` (no numpy)."""
        fn = self._scalar
        if fn is None:
            fn = self._build_scalar()
        if method == "linear":
            return fn[0](h, p, d)
        if method == "nearest":
            return fn[1](h, p, d)
        raise PolicyTableError(f"method {method!r}: use 'linear' or 'nearest'")

    # ---- files -----------------------------------------------------------------------------
    def _document(self) -> dict:
        meta = {k: v for k, v in self.meta.items() if not k.startswith("_")}
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "dpmodel_version": __version__,
            "axes": [{"name": n, "unit": u, "values": [float(x) for x in ax]} for (n, u), ax in zip(AXES, self.axes, strict=True)],
            "value": {"name": VALUE[0], "unit": VALUE[1]},
            "values": [float(x) for x in self.values.ravel()],
            "meta": meta,
        }

    @staticmethod
    def _checksum(doc: dict) -> str:
        body = {k: v for k, v in doc.items() if k != "checksum"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def save(self, path: str | Path, fmt: str | None = None) -> Path:
        """Write atomically as JSON, CSV or Parquet.

        Parameters
        ----------
        path : str or Path
            The file to write.
        fmt : str, optional
            ``json``, ``csv`` or ``parquet`` (default from the file's suffix, else JSON).

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path)
        fmt = fmt or {".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix, "json")
        doc = self._document()
        doc["checksum"] = self._checksum(doc)
        if fmt == "json":
            return atomic_write_text(path, json.dumps(doc, indent=1))
        if fmt == "csv":
            head = {k: v for k, v in doc.items() if k not in ("values",)}
            head["axes"] = [{k: v for k, v in a.items() if k != "values"} | {"count": len(a["values"])} for a in doc["axes"]]
            lines = ["# " + json.dumps(head, sort_keys=True)]
            lines.append(",".join([n for n, _ in AXES] + [VALUE[0]]))
            h, p, d = (ax.tolist() for ax in self.axes)
            V = self.values.tolist()
            for i, hv in enumerate(h):
                for j, pv in enumerate(p):
                    for k, dv in enumerate(d):
                        lines.append(f"{hv!r},{pv!r},{dv!r},{V[i][j][k]!r}")
            return atomic_write_text(path, "\n".join(lines) + "\n")
        if fmt == "parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise PolicyTableError("Parquet export needs pyarrow: pip install pyarrow (or use --format json|csv)") from None
            h, p, d = np.meshgrid(*self.axes, indexing="ij")
            t = pa.table({AXES[0][0]: h.ravel(), AXES[1][0]: p.ravel(), AXES[2][0]: d.ravel(), VALUE[0]: self.values.ravel()})
            t = t.replace_schema_metadata({"dpmodel": json.dumps({k: v for k, v in doc.items() if k != "values"})})
            from ..fileio import atomic_write_with

            return atomic_write_with(path, lambda tmp: pq.write_table(t, tmp))
        raise PolicyTableError(f"format {fmt!r}: use json, csv or parquet")

    @classmethod
    def load(cls, path: str | Path) -> PolicyTable:
        """Load and validate (schema version, axes, value range, checksum). Never executes content.

        Parameters
        ----------
        path : str or Path
            A JSON, CSV or Parquet file written by :meth:`save`.

        Returns
        -------
        PolicyTable
            The table.

        Raises
        ------
        PolicyTableError
            The file cannot be read, or fails validation (the message names the field).
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PolicyTableError(f"policy table {str(path)!r}: {exc.strerror}") from None
        if raw[:4] == b"PAR1":
            return cls._from_parquet(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyTableError(f"{path}: not a policy table (JSON, CSV or Parquet)") from None
        if text.lstrip().startswith("{"):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PolicyTableError(f"{path}: not valid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
            except (ValueError, RecursionError) as exc:  # a huge integer, deep nesting
                raise PolicyTableError(f"{path}: not a valid policy table ({type(exc).__name__})") from None
            return cls._from_document(doc, path)
        if text.startswith("# {"):
            return cls._from_csv(text, path)
        raise PolicyTableError(f"{path}: not a dpmodel policy table (expected JSON or CSV with a '# {{...}}' header)")

    @classmethod
    def _from_parquet(cls, path: Path) -> PolicyTable:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise PolicyTableError(f"{path}: a Parquet policy table needs pyarrow: pip install pyarrow") from None
        try:
            t = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise PolicyTableError(f"{path}: unreadable Parquet (truncated?): {exc}") from None
        meta = (t.schema.metadata or {}).get(b"dpmodel")
        if meta is None:
            raise PolicyTableError(f"{path}: not a dpmodel policy table (no 'dpmodel' metadata)")
        try:
            doc = json.loads(meta)
        except json.JSONDecodeError as exc:
            raise PolicyTableError(f"{path}: metadata is not valid JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:
            raise PolicyTableError(f"{path}: metadata is not a valid policy-table header ({type(exc).__name__})") from None
        cols = [n for n, _ in AXES] + [VALUE[0]]
        if t.column_names != cols:
            raise PolicyTableError(f"{path}: columns must be {','.join(cols)}")
        doc["values"] = [float(x) for x in t.column(VALUE[0]).to_numpy()]
        return cls._from_document(doc, path)

    @classmethod
    def _from_csv(cls, text: str, path: Path) -> PolicyTable:
        lines = text.splitlines()
        try:
            head = json.loads(lines[0][2:])
        except json.JSONDecodeError as exc:
            raise PolicyTableError(f"{path}:1: header is not valid JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:
            raise PolicyTableError(f"{path}:1: header is not a valid policy-table header ({type(exc).__name__})") from None
        if lines[1:2] != [",".join([n for n, _ in AXES] + [VALUE[0]])]:
            raise PolicyTableError(f"{path}:2: columns must be {','.join([n for n, _ in AXES] + [VALUE[0]])}")
        rows = []
        for ln, line in enumerate(lines[2:], 3):
            parts = line.split(",")
            try:
                if len(parts) != 4:
                    raise ValueError(f"expected 4 values, got {len(parts)}")
                rows.append([float(x) for x in parts])
            except ValueError as exc:
                raise PolicyTableError(f"{path}:{ln}: {exc}") from None
        if not isinstance(head, dict) or not isinstance(head.get("axes"), list) or not all(isinstance(a, dict) for a in head["axes"]):
            raise PolicyTableError(f"{path}:1: header must be a JSON object with a list of axis tables")
        counts = [a.get("count") for a in head["axes"]]
        if len(counts) != 3 or not all(isinstance(c, int) and c > 0 for c in counts):
            raise PolicyTableError(f"{path}:1: header axes must give three counts")
        if len(rows) != counts[0] * counts[1] * counts[2]:
            raise PolicyTableError(f"{path}: {len(rows)} rows, the header promises {counts[0] * counts[1] * counts[2]} (truncated?)")
        arr = np.array(rows)
        axes = [np.unique(arr[:, i]) for i in range(3)]
        if tuple(len(a) for a in axes) != tuple(counts):
            raise PolicyTableError(
                f"{path}: the rows' coordinates give {'x'.join(str(len(a)) for a in axes)} axis values, "
                f"the header promises {'x'.join(map(str, counts))}"
            )
        grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
        wrong = np.flatnonzero(np.any(grid != arr[:, :3], axis=1))
        if wrong.size:
            raise PolicyTableError(
                f"{path}:{wrong[0] + 3}: coordinates {tuple(arr[wrong[0], :3])} should be {tuple(grid[wrong[0]])} "
                "(rows must list the grid in order: hit_tokens, then pe_backlog_s, then de_backlog_s)"
            )
        doc = dict(head)
        doc["axes"] = [
            {"name": a.get("name"), "unit": a.get("unit"), "values": [float(x) for x in ax]}
            for a, ax in zip(head["axes"], axes, strict=True)
        ]
        doc["values"] = [float(x) for x in arr[:, 3]]
        return cls._from_document(doc, path)

    @staticmethod
    def _check_structure(doc: dict, path: Path) -> None:
        """Every field's type and shape, before any value is used: a file re-signed after editing
        (the checksum is a plain SHA-256 anyone can recompute) is still our error, never a crash."""

        def bad(what: str) -> PolicyTableError:
            return PolicyTableError(f"{path}: malformed policy table: {what}")

        def number(x: Any) -> bool:
            return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

        known = {"kind", "schema_version", "dpmodel_version", "axes", "value", "values", "meta", "checksum"}
        extra = set(doc) - known
        if extra:
            raise bad(f"unknown key {sorted(map(str, extra))[0]!r}")
        for key in ("axes", "values", "checksum"):
            if key not in doc:
                raise bad(f"missing key {key!r}")
        if not isinstance(doc["checksum"], str):
            raise bad("checksum must be a string")
        if "dpmodel_version" in doc and not isinstance(doc["dpmodel_version"], str):
            raise bad("dpmodel_version must be a string")
        if "value" in doc and doc["value"] != {"name": VALUE[0], "unit": VALUE[1]}:
            raise bad(f"value must be {{'name': {VALUE[0]!r}, 'unit': {VALUE[1]!r}}}")
        axes = doc["axes"]
        if not isinstance(axes, list) or len(axes) != len(AXES):
            raise bad(f"axes must be a list of {len(AXES)} tables")
        for a, (name, unit) in zip(axes, AXES, strict=True):
            if not isinstance(a, dict) or set(a) - {"name", "unit", "values", "count"} or a.get("name") != name or a.get("unit") != unit:
                raise bad(f"each axis must be {{'name', 'unit', 'values'}} with name {name!r} and unit {unit!r}")
            v = a.get("values")
            if not isinstance(v, list) or not v or not all(number(x) for x in v):
                raise bad(f"axis {name} values must be a non-empty list of finite numbers")
        vals = doc["values"]
        if not isinstance(vals, list) or not all(number(x) for x in vals):
            raise bad("values must be a flat list of finite numbers")
        meta = doc.get("meta", {})
        if not isinstance(meta, dict):
            raise bad("meta must be a table")
        sc = meta.get("scenario", {})
        if not isinstance(sc, dict) or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in sc.values()):
            raise bad("meta.scenario must be a table of names and numbers")
        for key in ("pe_read_Bps", "de_read_Bps", "relay_s", "cnic_headroom_frac", "static_split_de_frac"):
            if key in meta and not number(meta[key]):
                raise bad(f"meta.{key} must be a finite number")
        if "static_split_de_frac" in meta and not 0 <= meta["static_split_de_frac"] <= 1:
            raise bad("meta.static_split_de_frac must lie in [0, 1]")

    @classmethod
    def _from_document(cls, doc: Any, path: Path) -> PolicyTable:
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise PolicyTableError(f"{path}: not a dpmodel policy table (kind must be {KIND!r})")
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise PolicyTableError(
                f"{path}: schema_version {doc.get('schema_version')!r} unsupported (this dpmodel reads {SCHEMA_VERSION})"
            )
        cls._check_structure(doc, path)
        if "checksum" not in doc or cls._checksum(doc) != doc["checksum"]:
            raise PolicyTableError(f"{path}: checksum mismatch: the file was changed or truncated after it was written")
        axes_doc = doc.get("axes")
        if not isinstance(axes_doc, list) or [a.get("name") for a in axes_doc] != [n for n, _ in AXES]:
            raise PolicyTableError(f"{path}: axes must be {', '.join(n for n, _ in AXES)}")
        axes = []
        for a in axes_doc:
            v = np.asarray(a.get("values"), float)
            if v.ndim != 1 or len(v) < 1 or not np.all(np.isfinite(v)) or np.any(np.diff(v) <= 0):
                raise PolicyTableError(f"{path}: axis {a['name']} must be finite and strictly increasing")
            axes.append(v)
        vals = np.asarray(doc.get("values"), float)
        shape = tuple(len(a) for a in axes)
        if vals.size != math.prod(shape):
            raise PolicyTableError(f"{path}: {vals.size} values for a {shape} grid")
        if not np.all((vals >= 0) & (vals <= 1)):
            raise PolicyTableError(f"{path}: values must lie in [0, 1]")
        return cls(tuple(axes), vals.reshape(shape), dict(doc.get("meta", {})) | {"dpmodel_version": doc.get("dpmodel_version")})
