"""Validate the fitted link models on composite transfers they were not fitted on:

1. ``k`` concurrent flows sharing one link (loopback TCP): predicted ``alpha + k s / beta``;
2. a two-stage chunked pipeline (file read, then memory copy), double-buffered in two threads:
   predicted ``t_r(c) + (n - 1) max(t_r(c), t_c(c)) + t_c(c)``;
3. two sources read in parallel into one destination (file + loopback TCP), the dual-path pattern
   in miniature: the split that equalizes the two predicted times, predicted ``max`` of the two.
"""

from __future__ import annotations

import mmap
import queue
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from .fit import LinkFit, fit_rows
from .host import ColdFileReader, Loopback, MiB, _bench_dir, make_file
from .measure import Row, summarize_times, time_it


@dataclass(frozen=True)
class Check:
    experiment: str
    detail: str
    predicted_s: float
    measured_s: float

    @property
    def error_frac(self) -> float:
        return self.predicted_s / self.measured_s - 1.0


def concurrent_flow_checks(rows: list[Row], fits: dict[str, LinkFit]) -> list[Check]:
    f = fits.get("host.tcp_loopback")
    out = []
    if f is None:
        return out
    for r in rows:
        if r.link == "host.tcp_loopback" and r.flows > 1:
            pred = f.alpha_s + r.flows * r.bytes / f.beta_Bps
            out.append(Check("concurrent flows on one link", f"{r.flows} x {r.bytes / MiB:g} MiB loopback TCP", pred, r.median_s))
    return out


def pipeline_check(fits: dict[str, LinkFit], directory: str, total: int, chunk: int, reps: int) -> Check:
    rd = ColdFileReader(make_file(directory, total))
    dst = np.empty(total, np.uint8)
    bufs = [mmap.mmap(-1, chunk), mmap.mmap(-1, chunk)]

    def run():
        q: queue.Queue = queue.Queue(maxsize=1)
        free: queue.Queue = queue.Queue()
        for b in bufs:
            free.put(b)

        def consumer():
            off = 0
            while True:
                item = q.get()
                if item is None:
                    return
                b, n = item
                np.copyto(dst[off : off + n], np.frombuffer(b, np.uint8, n))
                off += n
                free.put(b)

        th = threading.Thread(target=consumer)
        th.start()
        off = 0
        while off < total:
            b = free.get()
            n = min(chunk, total - off)
            rd.read_at(off, n, b)
            q.put((b, n))
            off += n
        q.put(None)
        th.join()

    t = time_it(run, reps=reps, warmup=1, setup=None if rd.bypass == "o_direct" else rd.drop)
    n = -(-total // chunk)
    tr, tc = float(fits["host.file_read"].predict_s(chunk)), float(fits["host.memcpy"].predict_s(chunk))
    pred = tr + (n - 1) * max(tr, tc) + tc
    return Check(
        "two-stage chunked pipeline",
        f"read then copy, {total / MiB:g} MiB in {chunk / MiB:g} MiB chunks",
        pred,
        summarize_times(t)["median_s"],
    )


def dual_source_check(fits: dict[str, LinkFit], directory: str, total: int, reps: int) -> list[Check]:
    ff, ft = fits["host.file_read"], fits["host.tcp_loopback"]
    # split x bytes to the file, total - x to TCP, equalizing the predicted times
    x = (ft.alpha_s - ff.alpha_s + total / ft.beta_Bps) / (1 / ff.beta_Bps + 1 / ft.beta_Bps)
    x = int(np.clip(x, 0, total) // 4096 * 4096)
    rd = ColdFileReader(make_file(directory, total))
    dst = mmap.mmap(-1, total)
    view = memoryview(dst)
    lb = Loopback(1)
    try:

        def both():
            th = threading.Thread(target=lb.pull, args=(0, view[x:]))
            th.start()
            if x:
                rd.read(x, into=None, chunk=8 * MiB)
            th.join()

        def file_only():
            rd.read(total, chunk=8 * MiB)

        setup = None if rd.bypass == "o_direct" else rd.drop
        t_both = summarize_times(time_it(both, reps=reps, warmup=1, setup=setup))["median_s"]
        t_one = summarize_times(time_it(file_only, reps=reps, warmup=1, setup=setup))["median_s"]
    finally:
        lb.close()
        view.release()
        dst.close()
    pred_both = max(float(ff.predict_s(x)), float(ft.predict_s(total - x)))
    pred_one = float(ff.predict_s(total))
    return [
        Check(
            "two sources into one destination",
            f"{total / MiB:g} MiB: {x / total:.0%} file + {1 - x / total:.0%} loopback TCP",
            pred_both,
            t_both,
        ),
        Check("one source (reference)", f"{total / MiB:g} MiB from the file alone", pred_one, t_one),
    ]


def run_validation(rows: list[Row], *, quick: bool) -> tuple[dict[str, LinkFit], list[Check]]:
    fits = fit_rows(rows)
    checks = concurrent_flow_checks(rows, fits)
    reps = 3 if quick else 7
    total = 32 * MiB if quick else 256 * MiB
    with tempfile.TemporaryDirectory(dir=_bench_dir()) as d:
        if {"host.file_read", "host.memcpy"} <= set(fits):
            checks.append(pipeline_check(fits, d, total, 4 * MiB, reps))
        if {"host.file_read", "host.tcp_loopback"} <= set(fits):
            checks += dual_source_check(fits, d, total, reps)
    return fits, checks
