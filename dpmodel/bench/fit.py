"""alpha-beta link models: latency = alpha + bytes / beta, fitted in relative error.

Notes
-----
Minimizing ``sum_i ((alpha + b_i / beta - t_i) / t_i)^2`` is a linear least-squares problem in
``(alpha, 1/beta)`` with rows ``[1/t_i, b_i/t_i]`` and target 1, so it is solved exactly (numpy
lstsq) with no starting point; alpha and 1/beta are kept non-negative (NNLS when the free fit goes
negative). Every fit keeps its residuals and the byte range it is valid for.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from ..errors import BenchError
from ..fileio import atomic_write_text
from .measure import CSV_COLUMNS, Row


@dataclass(frozen=True)
class LinkFit:
    link: str
    alpha_s: float
    beta_Bps: float
    points: int
    valid_min_bytes: int
    valid_max_bytes: int
    rel_rms_frac: float
    rel_max_frac: float
    residuals_frac: tuple[float, ...]

    def predict_s(self, nbytes) -> np.ndarray:
        return self.alpha_s + np.asarray(nbytes, float) / self.beta_Bps


def fit_alpha_beta(nbytes, seconds, *, link: str = "link") -> LinkFit:
    b = np.asarray(nbytes, float)
    t = np.asarray(seconds, float)
    if b.shape != t.shape or b.ndim != 1 or len(b) < 2:
        raise BenchError(f"{link}: need at least two (bytes, seconds) points of equal length")
    if np.any(t <= 0) or np.any(b < 0):
        raise BenchError(f"{link}: times must be > 0 and byte counts >= 0")
    if len(np.unique(b)) < 2:
        raise BenchError(f"{link}: need at least two distinct transfer sizes to separate alpha from beta")
    A = np.stack([1.0 / t, b / t], axis=1)
    y = np.ones_like(t)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    if np.any(coef < 0):
        coef, _ = nnls(A, y)
    alpha, inv_beta = float(coef[0]), float(coef[1])
    if inv_beta <= 0:
        raise BenchError(f"{link}: time does not grow with size; no bandwidth can be fitted")
    pred = alpha + b * inv_beta
    res = pred / t - 1.0
    return LinkFit(
        link,
        alpha,
        1.0 / inv_beta,
        len(b),
        int(b.min()),
        int(b.max()),
        float(np.sqrt(np.mean(res**2))),
        float(np.max(np.abs(res))),
        tuple(float(x) for x in res),
    )


# ---- CSV -----------------------------------------------------------------------------------------


def write_csv(path: str | Path, rows: list[Row], machine: dict[str, str]) -> Path:
    """Rows as CSV (units in column names), machine description as leading '# key: value' lines."""
    buf = io.StringIO()
    for k, v in machine.items():
        buf.write(f"# {k}: {v}\n")
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r.to_dict())
    return atomic_write_text(path, buf.getvalue())


def read_csv(path: str | Path) -> tuple[list[Row], dict[str, str], str]:
    """Rows, machine description and the SHA-256 of the file. Malformed input -> BenchError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BenchError(f"benchmark file {str(path)!r}: {exc.strerror}") from None
    digest = hashlib.sha256(raw).hexdigest()
    machine, body = {}, []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            if ":" in line:
                k, v = line[1:].split(":", 1)
                machine[k.strip()] = v.strip()
        elif line.strip():
            body.append(line)
    if not body:
        raise BenchError(f"{p}: no data rows")
    reader = csv.DictReader(body)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BenchError(f"{p}: missing column {missing[0]!r}; expected {', '.join(CSV_COLUMNS)}")
    rows = []
    ints = ("bytes", "flows", "chunk_bytes", "reps")
    floats = ("median_s", "p10_s", "p90_s", "min_s")
    for i, rec in enumerate(reader, 2):
        try:
            vals = {k: rec[k] for k in ("backend", "link", "experiment", "cache_bypass")}
            vals.update({k: int(rec[k]) for k in ints})
            vals.update({k: float(rec[k]) for k in floats})
        except (TypeError, ValueError) as exc:
            raise BenchError(f"{p}: data row {i - 1}: {exc}") from None
        if vals["median_s"] <= 0 or vals["bytes"] < 0 or vals["flows"] < 1:
            raise BenchError(f"{p}: data row {i - 1}: median_s must be > 0, bytes >= 0, flows >= 1")
        rows.append(Row(**vals))
    return rows, machine, digest


def fit_rows(rows: list[Row]) -> dict[str, LinkFit]:
    """One alpha-beta fit per link, on its single-flow points."""
    links: dict[str, list[Row]] = {}
    for r in rows:
        if r.flows == 1 and r.experiment == "single":
            links.setdefault(r.link, []).append(r)
    # many small copies: total time = count x (alpha + block / beta); fit per copy
    small = [r for r in rows if r.link == "cuda.small_copies" and r.experiment.startswith("count=")]
    if small:
        per = [
            Row(
                r.backend,
                r.link,
                "single",
                r.chunk_bytes,
                1,
                r.chunk_bytes,
                r.reps,
                r.median_s / (r.bytes // r.chunk_bytes),
                r.p10_s,
                r.p90_s,
                r.min_s,
            )
            for r in small
        ]
        links["cuda.small_copies"] = per
    return {k: fit_alpha_beta([r.bytes for r in v], [r.median_s for r in v], link=k) for k, v in links.items() if len(v) >= 2}


# ---- overlays ------------------------------------------------------------------------------------

#: fitted link -> (hardware profile field, how the value is derived from beta / alpha)
LINK_TO_PROFILE = {
    "host.memcpy": ("node.dram_GBps", lambda f: 2.0 * f.beta_Bps / 1e9, "a copy reads and writes every byte: DRAM = 2 x beta"),
    "cuda.h2d_pinned": ("gpu.pcie_GBps", lambda f: f.beta_Bps / 1e9, "pinned host-to-device copy bandwidth"),
    "cuda.small_copies": ("network.copy_submit_us", lambda f: f.alpha_s * 1e6, "per-copy submission cost (alpha of many small copies)"),
    # other tools' outputs (dpmodel/bench/formats.py)
    "perftest.read": ("node.cnic_Gbps", lambda f: 8.0 * f.beta_Bps / 1e9, "RDMA read bandwidth of one compute NIC (perftest)"),
    "perftest.write": ("node.cnic_Gbps", lambda f: 8.0 * f.beta_Bps / 1e9, "RDMA write bandwidth of one compute NIC (perftest)"),
    "fio.read": (
        "storage.read_GBps",
        lambda f: f.beta_Bps / 1e9,
        "storage read streaming bandwidth seen by the fio jobs (per-IO clat vs bs)",
    ),
    "fio.write": (
        "storage.write_GBps",
        lambda f: f.beta_Bps / 1e9,
        "storage write streaming bandwidth seen by the fio jobs (per-IO clat vs bs)",
    ),
}


def overlay_text(fits: dict[str, LinkFit], *, source: str, digest: str, machine: dict[str, str]) -> str:
    """A TOML profile overlay: fitted links, the profile fields they set, provenance with the hash."""
    lines = [
        "# dpmodel hardware-profile overlay, written by `dpmodel bench fit`",
        "[provenance]",
        f'source = "measured: {source}"',
        f'input_sha256 = "{digest}"',
        f'machine = "{machine.get("cpu_model", machine.get("processor", "unknown"))}, {machine.get("cpus", "?")} CPUs"',
        "",
        "[overrides]",
    ]
    written: set[str] = set()
    for link, (field, fn, why) in LINK_TO_PROFILE.items():
        if link in fits and field not in written:  # first listed link wins (e.g. perftest read over write)
            written.add(field)
            lines.append(f'"{field}" = {fn(fits[link]):.6g}  # {link}: {why}')
    lines.append("")
    for link, f in fits.items():
        lines += [
            f'[links."{link}"]',
            f"alpha_us = {f.alpha_s * 1e6:.6g}",
            f"beta_GBps = {f.beta_Bps / 1e9:.6g}",
            f"valid_min_bytes = {f.valid_min_bytes}",
            f"valid_max_bytes = {f.valid_max_bytes}",
            f"rel_rms_frac = {f.rel_rms_frac:.4g}",
            f"points_count = {f.points}",
            "",
        ]
    return "\n".join(lines)


def write_overlay(path: str | Path, fits: dict[str, LinkFit], *, source: str, digest: str, machine: dict[str, str]) -> Path:
    return atomic_write_text(path, overlay_text(fits, source=source, digest=digest, machine=machine))


def apply_overlay(cluster, overlay_path: str | Path):
    """A new cluster profile with the overlay's ``[overrides]`` applied, validated like any profile."""
    from ..profiles import from_mapping
    from ..profiles.loader import parse_toml
    from ..profiles.schema import default_sources, to_plain

    ov = parse_toml(overlay_path, f"overlay {overlay_path}", BenchError)
    if "provenance" not in ov or "input_sha256" not in ov["provenance"]:
        raise BenchError(f"overlay {overlay_path}: missing [provenance] input_sha256")

    data = to_plain(cluster)
    data["provenance"] = {k: v for k, v in data["provenance"].items() if k in ("source", "date", "fields", "notes")}
    # the plain form spells out defaulted fields (the [kernels] rates): they keep their default's source
    data["provenance"]["fields"] = {**default_sources(type(cluster)), **data["provenance"]["fields"]}
    for dotted, value in ov.get("overrides", {}).items():
        sec, _, key = dotted.partition(".")
        if sec not in data or not isinstance(data[sec], dict) or key not in data[sec]:
            raise BenchError(f"overlay {overlay_path}: override {dotted!r} names no field of a hardware profile")
        data[sec][key] = value
        data["provenance"]["fields"][dotted] = (
            f"measured: overlay {Path(overlay_path).name} (sha256 {ov['provenance']['input_sha256'][:12]})"
        )
    data["name"] = f"{cluster.name}+{Path(overlay_path).stem}"
    return from_mapping("cluster", data, ctx=f"cluster '{cluster.name}' with overlay {overlay_path}")
