"""CUDA transfers (optional): host<->device with pinned and pageable memory, device-to-device,
both directions at once, many small copies (per-copy submission cost), copy/compute overlap.

Every device call goes through :class:`Device`, so the suite logic is unit-tested with a fake
device where no GPU exists; :func:`torch_device` returns a real one when torch sees a GPU.
"""

from __future__ import annotations

from typing import Any, Protocol

from .host import KiB, MiB, sizes
from .measure import Row, summarize_times


class Device(Protocol):
    name: str

    def host_buffer(self, nbytes: int, pinned: bool) -> Any: ...
    def device_buffer(self, nbytes: int) -> Any: ...
    def copy(self, dst: Any, src: Any, nbytes: int, stream: int = 0) -> None: ...
    def compute(self, seconds_hint: float, stream: int = 0) -> None: ...
    def synchronize(self) -> None: ...
    def timer(self) -> Any: ...  # returns a callable that, when called twice, yields elapsed seconds


def torch_device() -> Device | None:
    """A real CUDA device through torch, or None (no torch, or no GPU)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return _TorchDevice(torch)


class _TorchDevice:  # pragma: no cover - needs a GPU
    def __init__(self, torch):
        self.t = torch
        self.name = torch.cuda.get_device_name(0)
        self.streams = [torch.cuda.Stream(), torch.cuda.Stream()]
        self.a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)

    def host_buffer(self, nbytes, pinned):
        return self.t.empty(nbytes, dtype=self.t.uint8, pin_memory=pinned)

    def device_buffer(self, nbytes):
        return self.t.empty(nbytes, dtype=self.t.uint8, device="cuda")

    def copy(self, dst, src, nbytes, stream=0):
        with self.t.cuda.stream(self.streams[stream]):
            dst[:nbytes].copy_(src[:nbytes], non_blocking=True)

    def compute(self, seconds_hint, stream=0):
        with self.t.cuda.stream(self.streams[stream]):
            for _ in range(max(1, int(seconds_hint / 2e-4))):
                self.a @ self.a

    def synchronize(self):
        self.t.cuda.synchronize()

    def timer(self):
        import time

        self.synchronize()
        t0 = time.perf_counter()

        def stop():
            self.synchronize()
            return time.perf_counter() - t0

        return stop


def _timed(dev: Device, fn, reps: int) -> list[float]:
    fn()
    dev.synchronize()
    out = []
    for _ in range(reps):
        stop = dev.timer()
        fn()
        out.append(stop())
    from ..progress import tick

    tick(1)
    return out


def run_cuda(dev: Device, *, quick: bool) -> list[Row]:
    """The CUDA suite on ``dev``."""
    reps = 5 if quick else 20
    big = 64 * MiB if quick else 1024 * MiB
    szs = sizes(4 * KiB, big)
    rows: list[Row] = []
    d0, d1 = dev.device_buffer(big), dev.device_buffer(big)
    for pinned in (True, False):
        h = dev.host_buffer(big, pinned)
        tag = "pinned" if pinned else "pageable"
        for s in szs:
            t = _timed(dev, lambda s=s, h=h: dev.copy(d0, h, s), reps)
            rows.append(Row("cuda", f"cuda.h2d_{tag}", "single", s, 1, s, reps, **summarize_times(t)))
            t = _timed(dev, lambda s=s, h=h: dev.copy(h, d0, s), reps)
            rows.append(Row("cuda", f"cuda.d2h_{tag}", "single", s, 1, s, reps, **summarize_times(t)))
    for s in szs:
        t = _timed(dev, lambda s=s: dev.copy(d1, d0, s), reps)
        rows.append(Row("cuda", "cuda.d2d", "single", s, 1, s, reps, **summarize_times(t)))
    hp, hq = dev.host_buffer(big, True), dev.host_buffer(big, True)
    for s in szs[-3:]:

        def both(s=s):
            dev.copy(d0, hp, s, stream=0)
            dev.copy(hq, d1, s, stream=1)

        t = _timed(dev, both, reps)
        rows.append(Row("cuda", "cuda.h2d_pinned", "bidirectional", s, 2, s, reps, **summarize_times(t)))
    # many small copies of layer-block size: alpha is the per-copy submission cost
    for block in (16 * KiB, 64 * KiB, 256 * KiB):
        for count in (64, 256, 1024) if not quick else (64, 256):

            def many(block=block, count=count):
                for i in range(count):
                    dev.copy(d0[i * block :], hp[i * block :], block)

            t = _timed(dev, many, max(3, reps // 4))
            # report per copy: one row per (block); the fit over counts gives alpha per copy
            rows.append(
                Row("cuda", "cuda.small_copies", f"count={count}", block * count, 1, block, max(3, reps // 4), **summarize_times(t))
            )
    # copy and compute overlapped on two streams
    for s in szs[-2:]:

        def overlap(s=s):
            dev.copy(d0, hp, s, stream=0)
            dev.compute(0.005, stream=1)

        t = _timed(dev, overlap, reps)
        rows.append(Row("cuda", "cuda.h2d_pinned", "overlap_compute", s, 1, s, reps, **summarize_times(t)))
    return rows
