"""Other tools' benchmark outputs as ``bench fit`` input, recognised by content.

Each reader turns a file into the same :class:`~dpmodel.bench.measure.Row` points that dpmodel's
own CSV holds (one per transfer size, ``flows = 1``, ``experiment = "single"``), so
:func:`~dpmodel.bench.fit.fit_rows` fits them into the same alpha-beta links and overlays.
Field names and their sources are listed in docs/formats.md.

* fio ``--output-format=json``: ``jobs[]`` with ``job options.bs`` (or ``global options.bs``) and
  ``read`` / ``write`` blocks (``io_bytes``, ``bw_bytes``, ``iops``, ``clat_ns.mean``); one point per
  job: per-IO completion latency vs block size -> links ``fio.read`` / ``fio.write``.
* perftest ``--out_json`` (ib_read_bw / ib_write_bw / ib_send_bw; src/perftest_parameters.c
  ``write_test_info_to_file``, ``write_bw_report_to_file``): ``test_info.test`` and one
  ``results`` object with ``MsgSize``, ``BW_average`` and ``MsgRate`` [Mpps]. The file is rewritten
  at every size (``-a`` leaves the last one), so pass one file per ``-s`` size; the BW unit
  (MB/s = 2^20 B/s, or Gb/s with ``--report_gbits``, not recorded) follows from ``MsgRate``.
* nvbandwidth ``-j`` (json_output.cpp): ``nvbandwidth.testcases[]`` with ``name``, ``status`` and
  ``bandwidth_matrix`` (strings, "N/A" skipped; GB/s, or ns for the latency testcases, which use
  the same key); ``host_to_device_memcpy_ce`` / ``device_to_host_memcpy_ce`` at the tool's default
  512 MiB buffer (the JSON records no buffer size), and ``host_device_latency_sm`` (ns) as the
  zero-byte point -> ``cuda.h2d_pinned`` / ``cuda.d2h_pinned``.
* NVIDIA nccl-tests ``-J/--output_file FILE.json`` (v2.17.3+): ``args[0]`` (the test binary,
  ``all_reduce_perf`` -> link ``nccl.all_reduce``) and ``results[]`` with ``size`` (bytes) and
  ``out_of_place.time`` (us; ``in_place`` when out-of-place is null); or its standard stdout table
  (``# Collective test starting: NAME``, then ``size count type redop root time algbw busbw ...``).
* rccl-tests JSON lines (``--output_file``): one object per line with ``name``, ``size`` (bytes),
  ``time`` (us), ``inPlace`` -> link ``nccl.<name>`` (out-of-place points).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .fit import BenchError, read_csv
from .measure import Row

NVB_DEFAULT_BUFFER_MiB = 512  # nvbandwidth --bufferSize default (README: "Memcpy buffer size in MiB")
_NVB = {"host_to_device_memcpy_ce": "cuda.h2d_pinned", "device_to_host_memcpy_ce": "cuda.d2h_pinned"}
_NVB_LAT = "host_device_latency_sm"


def _row(backend: str, link: str, nbytes: int, seconds: float) -> Row:
    return Row(backend, link, "single", int(nbytes), 1, int(nbytes), 1, float(seconds), float(seconds), float(seconds), float(seconds))


def _num(v: Any, where: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise BenchError(f"{where} = {v!r}: not a number") from None
    if not x > 0:
        raise BenchError(f"{where} = {v!r}: must be > 0")
    return x


_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _size(text: Any, where: str) -> int:
    """fio sizes: '4k', '1M', '131072' (binary multipliers, fio's default for bs)."""
    s = str(text).strip().lower().removesuffix("ib").removesuffix("b") if not str(text).strip().isdigit() else str(text).strip()
    num, unit = (s[:-1], s[-1]) if s and s[-1] in _UNITS else (s, "")
    try:
        return int(float(num) * _UNITS[unit])
    except ValueError:
        raise BenchError(f"{where} = {text!r}: not a block size (e.g. 4k, 1M)") from None


def _fio(d: dict, p: Path) -> list[Row]:
    jobs = d.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise BenchError(f"{p}: fio JSON has no jobs[]")
    gbs = (d.get("global options") or {}).get("bs")
    rows = []
    for i, j in enumerate(jobs):
        bs = (j.get("job options") or {}).get("bs", gbs)
        if bs is None:
            raise BenchError(f"{p}: fio jobs[{i}] has no 'job options'.bs (nor 'global options'.bs): run fio with bs= set")
        nbytes = _size(bs, f"{p}: fio jobs[{i}] bs")
        for op in ("read", "write"):
            blk = j.get(op)
            if not isinstance(blk, dict) or not blk.get("io_bytes"):
                continue
            clat = blk.get("clat_ns")
            if not isinstance(clat, dict) or "mean" not in clat:
                raise BenchError(f"{p}: fio jobs[{i}].{op} has no clat_ns.mean")
            rows.append(_row("fio", f"fio.{op}", nbytes, _num(clat["mean"], f"{p}: fio jobs[{i}].{op}.clat_ns.mean") / 1e9))
    if not rows:
        raise BenchError(f"{p}: fio JSON has no job with read or write io_bytes > 0")
    return rows


PERFTEST_UNITS = {"MB/s": 2**20, "Gb/s": 1e9 / 8}  # perftest format_factor: 0x100000, or 125000000 with --report_gbits


def _perftest(d: dict, p: Path) -> list[Row]:
    """perftest ``--out_json``: ``test_info.test`` and one ``results`` object (the last size run).

    The file does not say whether ``BW_average`` is MB/s (2^20 B/s, the default) or Gb/s
    (``--report_gbits``); ``MsgRate`` [Mpps] does not depend on it, so the unit is the one that
    makes ``BW_average`` agree with ``MsgRate x 10^6 x MsgSize``.
    """
    info = d.get("test_info") if isinstance(d.get("test_info"), dict) else {}
    r = d.get("results")
    if not isinstance(r, dict):
        raise BenchError(f"{p}: perftest results must be an object (--out_json writes one, for the last size run)")
    for k in ("MsgSize", "BW_average", "MsgRate"):
        if k not in r:
            raise BenchError(f"{p}: perftest results needs MsgSize, BW_average and MsgRate (run without --output=bandwidth)")
    test = str(info.get("test", "bw")).lower()
    kind = "read" if "read" in test else "write" if "write" in test else "send" if "send" in test else "bw"
    size = _num(r["MsgSize"], f"{p}: perftest results.MsgSize")
    bw = _num(r["BW_average"], f"{p}: perftest results.BW_average")
    rate = _num(r["MsgRate"], f"{p}: perftest results.MsgRate")
    wire_Bps = rate * 1e6 * size
    unit = min(PERFTEST_UNITS, key=lambda u: abs(math.log(bw * PERFTEST_UNITS[u] / wire_Bps)))
    if abs(bw * PERFTEST_UNITS[unit] / wire_Bps - 1) > 0.05:
        raise BenchError(f"{p}: perftest BW_average {bw} matches neither MB/s nor Gb/s for MsgRate {rate} Mpps x MsgSize {size:.0f} B")
    return [_row("perftest", f"perftest.{kind}", int(size), size / (bw * PERFTEST_UNITS[unit]))]


def _nvbandwidth(d: dict, p: Path) -> list[Row]:
    nv = d["nvbandwidth"]
    cases = nv.get("testcases") if isinstance(nv, dict) else None
    if not isinstance(cases, list):
        raise BenchError(f"{p}: nvbandwidth JSON has no nvbandwidth.testcases[]")
    if "smaller than the default buffer size" in str(nv.get("warning", "")):
        raise BenchError(
            f"{p}: nvbandwidth ran with a --bufferSize below the default and its JSON does not record the size; "
            f"rerun with the default {NVB_DEFAULT_BUFFER_MiB} MiB"
        )
    buf = NVB_DEFAULT_BUFFER_MiB * 2**20  # the JSON holds no buffer size (json_output.cpp): the tool's default

    def values(tc: dict, i: int) -> list[float]:
        m = tc.get("bandwidth_matrix")  # latency testcases too (json_output.cpp addTestcaseResults)
        if not isinstance(m, list):
            raise BenchError(f"{p}: nvbandwidth testcases[{i}] ({tc.get('name')}) has no bandwidth_matrix")
        out = [
            _num(v, f"{p}: nvbandwidth testcases[{i}].bandwidth_matrix")
            for row in m
            for v in (row if isinstance(row, list) else [row])
            if str(v).strip().upper() not in ("N/A", "")
        ]
        if not out:
            raise BenchError(f"{p}: nvbandwidth testcases[{i}] ({tc.get('name')}): no values")
        return out

    latency_s = None
    for i, tc in enumerate(cases):
        if isinstance(tc, dict) and tc.get("name") == _NVB_LAT and tc.get("status", "Passed") == "Passed":
            v = values(tc, i)
            latency_s = sum(v) / len(v) / 1e9
    rows = []
    for i, tc in enumerate(cases):
        if not isinstance(tc, dict) or tc.get("name") not in _NVB or tc.get("status", "Passed") != "Passed":
            continue
        link = _NVB[tc["name"]]
        for gbps in values(tc, i):
            rows.append(_row("nvbandwidth", link, buf, buf / (gbps * 1e9)))
        if latency_s is None:
            raise BenchError(f"{p}: nvbandwidth {tc['name']} is at one buffer size; add testcase {_NVB_LAT} (-t) for the zero-byte point")
        rows.append(_row("nvbandwidth", link, 0, latency_s))
    if not rows:
        raise BenchError(f"{p}: nvbandwidth JSON has no passed testcase among {', '.join(_NVB)}")
    return rows


def _nccl_lines(lines: list[dict], p: Path) -> list[Row]:
    rows = []
    for i, r in enumerate(lines, 1):
        for k in ("name", "size", "time"):
            if k not in r:
                raise BenchError(f"{p}: nccl-tests line {i}: missing field {k!r}")
        if int(r.get("inPlace", 0)):
            continue
        t = _num(r["time"], f"{p}: nccl-tests line {i} time") / 1e6
        rows.append(_row("nccl-tests", f"nccl.{r['name']}", int(_num(r["size"], f"{p}: nccl-tests line {i} size")), t))
    return rows


def _nccl_name(program: str) -> str:
    """'all_reduce' from './build/all_reduce_perf' (the test binary), else 'nccl'."""
    base = Path(str(program)).name
    return base.removesuffix("_perf") or "nccl"


def _nccl_json(d: dict, p: Path) -> list[Row]:
    """NVIDIA nccl-tests ``-J/--output_file FILE.json`` (src/util.cu, JSON_FILE_VERSION 1-3)."""
    res = d.get("results")
    if not isinstance(res, list) or not res:
        raise BenchError(f"{p}: nccl-tests JSON has no results[] (did the run finish? the list is written at its end)")
    args = d.get("args")
    name = _nccl_name(args[0]) if isinstance(args, list) and args else "nccl"
    rows = []
    for i, r in enumerate(res):
        if not isinstance(r, dict) or "size" not in r:
            raise BenchError(f"{p}: nccl-tests results[{i}] has no 'size'")
        body = r.get("out_of_place") or r.get("in_place")  # out_of_place is null in trace replay
        if not isinstance(body, dict):
            raise BenchError(f"{p}: nccl-tests results[{i}] has neither out_of_place nor in_place timings")
        if "time" not in body:
            raise BenchError(
                f"{p}: nccl-tests results[{i}] has no 'time' [us]"
                + (" (the run used -C, CPU time; rerun without it)" if "cpu_time" in body else "")
            )
        size = r["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise BenchError(f"{p}: nccl-tests results[{i}].size = {size!r}: must be an integer >= 0 (bytes)")
        t = _num(body["time"], f"{p}: nccl-tests results[{i}].time") / 1e6
        rows.append(_row("nccl-tests", f"nccl.{name}", size, t))
    return rows


def _nccl_text(text: str, p: Path) -> tuple[list[Row], str]:
    """nccl-tests' standard stdout table: ``size count type redop root time algbw busbw #wrong ...``
    (the out-of-place ``time`` [us] is column 6; src/util.cu writeBenchmarkLine*)."""
    name = "nccl"
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("# Collective test starting:"):
            name = _nccl_name(s.split(":", 1)[1].strip())
            continue
        f = s.split()
        if not f or s.startswith("#") or not f[0].isdigit():
            continue  # comments, device list, launcher chatter
        if len(f) < 8:
            raise BenchError(
                f"{p}:{lineno}: nccl-tests table line has {len(f)} columns; expected size count type redop root time algbw busbw ..."
            )
        t = _num(f[5], f"{p}:{lineno}: nccl-tests out-of-place time [us]") / 1e6
        rows.append(_row("nccl-tests", f"nccl.{name}", int(f[0]), t))
    if not rows:
        raise BenchError(f"{p}: nccl-tests output has no result lines (size count type redop root time ...)")
    return rows, name


def detect(text: str) -> str:
    """'csv', 'fio', 'perftest', 'nvbandwidth', 'nccl-json', 'nccl-text' or 'nccl' (rccl-tests JSON lines) from the content."""
    s = text.lstrip()
    if s.startswith("#") and ("# nccl-tests version" in s[:65536] or "# Collective test starting:" in s[:65536]):
        return "nccl-text"
    if not s.startswith("{") and not s.startswith("["):
        return "csv"
    try:
        d = json.loads(s)
    except json.JSONDecodeError:
        first = s.splitlines()[0]
        try:
            r = json.loads(first)
        except json.JSONDecodeError:
            return "json?"
        return "nccl" if isinstance(r, dict) and {"size", "time", "name"} <= set(r) else "json?"
    if isinstance(d, dict):
        if "fio version" in d or ("jobs" in d and isinstance(d.get("jobs"), list)):
            return "fio"
        if "nvbandwidth" in d:
            return "nvbandwidth"
        if "nccl_version" in d or (
            isinstance(d.get("results"), list)
            and d["results"]
            and isinstance(d["results"][0], dict)
            and "size" in d["results"][0]
            and ("out_of_place" in d["results"][0] or "in_place" in d["results"][0])
        ):
            return "nccl-json"
        if "test_info" in d or isinstance(d.get("results"), dict):
            return "perftest"
        if {"size", "time", "name"} <= set(d):
            return "nccl"
    return "json?"


def read_bench(path: str | Path) -> tuple[list[Row], dict[str, str], str, str]:
    """(rows, machine description, sha256, format) of any supported benchmark file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BenchError(f"benchmark file {str(path)!r}: {exc.strerror}") from None
    text = raw.decode("utf-8", errors="replace")
    fmt = detect(text)
    if fmt == "csv":
        rows, machine, digest = read_csv(p)
        return rows, machine, digest, "csv"
    digest = hashlib.sha256(raw).hexdigest()
    if fmt == "json?":
        raise BenchError(
            f"{p}: JSON of no known benchmark tool (expected fio jobs[], perftest results, nvbandwidth.testcases, nccl-tests -J results[] or rccl-tests lines)"
        )
    if fmt == "nccl-text":
        rows, name = _nccl_text(text, p)
        return rows, {"tool": f"nccl-tests {name}"}, digest, fmt
    if fmt == "nccl":
        try:
            lines = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        except json.JSONDecodeError as exc:
            raise BenchError(f"{p}: nccl-tests JSON lines: line {exc.lineno}: {exc.msg}") from None
        rows = _nccl_lines(lines, p)
    else:
        d = json.loads(text)
        rows = {"fio": _fio, "perftest": _perftest, "nvbandwidth": _nvbandwidth, "nccl-json": _nccl_json}[fmt](d, p)
        machine = {}
        if fmt == "nccl-json":
            machine["tool"] = f"nccl-tests JSON v{d.get('version', '?')} (NCCL {d.get('nccl_version', '?')})"
        elif fmt == "fio":
            machine["tool"] = str(d.get("fio version", "fio"))
        elif fmt == "nvbandwidth":
            machine["tool"] = f"nvbandwidth {d['nvbandwidth'].get('version', '')}".strip()
        else:
            machine["tool"] = f"perftest {(d.get('test_info') or {}).get('test', '')}".strip()
        return rows, machine, digest, fmt
    return rows, {"tool": "nccl-tests"}, digest, fmt


def read_benches(paths) -> tuple[list[Row], dict[str, str], str, str]:
    """Rows of several benchmark files together (e.g. one perftest JSON per message size); the
    digest is the sha256 of the files' digests in order, the formats joined by '+'."""
    paths = list(paths)
    if len(paths) == 1:
        return read_bench(paths[0])
    rows, tools, digests, fmts = [], [], [], []
    for pth in paths:
        r, m, dg, f = read_bench(pth)
        rows += r
        digests.append(dg)
        if m.get("tool") and m["tool"] not in tools:
            tools.append(m["tool"])
        if f not in fmts:
            fmts.append(f)
    return rows, {"tool": "; ".join(tools)} if tools else {}, hashlib.sha256("".join(digests).encode()).hexdigest(), "+".join(fmts)
