"""Host transfers measured for real: memory copy, file reads with the page cache bypassed, and
loopback TCP between two processes (the network stand-in)."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import multiprocessing as mp
import os
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np

from .measure import Row, summarize_times, time_it

KiB, MiB, GiB = 1024, 1024**2, 1024**3


def sizes(lo: int, hi: int, factor: int = 4) -> list[int]:
    out, s = [], lo
    while s <= hi:
        out.append(s)
        s *= factor
    return out


# ---- memory copy ------------------------------------------------------------------------------


def bench_memcpy(size_list: list[int], reps: int) -> list[Row]:
    rows = []
    big = max(size_list)
    src = np.ones(big, np.uint8)
    dst = np.empty(big, np.uint8)
    for s in size_list:
        r = max(3, reps if s >= MiB else reps * 20)
        t = time_it(lambda s=s: np.copyto(dst[:s], src[:s]), reps=r, warmup=2)
        rows.append(Row("host", "host.memcpy", "single", s, 1, s, r, **summarize_times(t)))
    return rows


# ---- file reads, page cache bypassed --------------------------------------------------------


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def resident_fraction(path: str | Path) -> float:
    """Share of a file's pages in the page cache (mincore); nan where it cannot be asked."""
    size = os.path.getsize(path)
    if size == 0:
        return 0.0
    try:
        libc = _libc()
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ)
        page = mmap.PAGESIZE
        n = (size + page - 1) // page
        vec = (ctypes.c_ubyte * n)()
        buf = (ctypes.c_char * size).from_buffer(mm)
        addr = ctypes.addressof(buf)
        rc = libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec)
        del buf
        mm.close()
        if rc != 0:
            return float("nan")
        return sum(v & 1 for v in vec) / n
    except (OSError, ValueError, AttributeError, TypeError):
        return float("nan")


class ColdFileReader:
    """Reads a file with the page cache bypassed: O_DIRECT where the file system allows it, else
    posix_fadvise(DONTNEED) before each read, checked with mincore (``bypass`` says which held)."""

    ALIGN = 4096

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.size = os.path.getsize(self.path)
        self.bypass = self._probe()

    def _probe(self) -> str:
        flag = getattr(os, "O_DIRECT", 0)
        if flag:
            try:
                fd = os.open(self.path, os.O_RDONLY | flag)
                try:
                    buf = mmap.mmap(-1, self.ALIGN)
                    os.readv(fd, [buf])
                    buf.close()
                    return "o_direct"
                finally:
                    os.close(fd)
            except OSError:
                pass
        self.drop()
        frac = resident_fraction(self.path)
        if frac == frac and frac < 0.05:  # not nan, and evicted
            return "fadvise_dontneed_checked"
        return "none (page cache could not be bypassed)"

    def drop(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def read_at(self, offset: int, nbytes: int, into: mmap.mmap) -> int:
        """One read of ``nbytes`` at ``offset`` (aligned) into ``into``."""
        n = -(-nbytes // self.ALIGN) * self.ALIGN
        fd = os.open(self.path, os.O_RDONLY | (os.O_DIRECT if self.bypass == "o_direct" else 0))
        try:
            view = memoryview(into)
            got = os.preadv(fd, [view[: min(n, len(into))]], offset)
            view.release()
            return got
        finally:
            os.close(fd)

    def read(self, nbytes: int, into: mmap.mmap | None = None, chunk: int = 8 * MiB, on_chunk=None) -> None:
        """Read the first ``nbytes`` (rounded up to the alignment) in ``chunk``-sized reads."""
        n = -(-nbytes // self.ALIGN) * self.ALIGN
        chunk = -(-min(chunk, n) // self.ALIGN) * self.ALIGN
        direct = self.bypass == "o_direct"
        fd = os.open(self.path, os.O_RDONLY | (os.O_DIRECT if direct else 0))
        try:
            buf = into if into is not None else mmap.mmap(-1, chunk)
            view = memoryview(buf)
            off = 0
            while off < n:
                want = min(chunk, n - off)
                got = os.preadv(fd, [view[:want]], off)
                if got <= 0:
                    break
                if on_chunk is not None:
                    on_chunk(view[:got])
                off += got
            view.release()
            if into is None:
                buf.close()
        finally:
            os.close(fd)


def make_file(directory: str | Path, nbytes: int) -> Path:
    path = Path(directory) / f"dpmodel-bench-{nbytes}.bin"
    if not path.exists() or path.stat().st_size != nbytes:
        with open(path, "wb") as fh:
            block = np.random.default_rng(0).integers(0, 255, 8 * MiB, np.uint8).tobytes()
            left = nbytes
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def bench_file_read(directory: str | Path, size_list: list[int], reps: int) -> list[Row]:
    path = make_file(directory, max(size_list))
    rd = ColdFileReader(path)
    rows = []
    for s in size_list:
        t = time_it(lambda s=s: rd.read(s), reps=reps, warmup=1, setup=None if rd.bypass == "o_direct" else rd.drop)
        rows.append(Row("host", "host.file_read", "single", s, 1, min(s, 8 * MiB), reps, **summarize_times(t), cache_bypass=rd.bypass))
    return rows


# ---- loopback TCP --------------------------------------------------------------------------------


def _server(port_q, ready_evt, nconn: int) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port_q.put(srv.getsockname()[1])
    ready_evt.set()
    buf = bytearray(4 * MiB)

    def handle(conn):
        with conn:
            while True:
                hdr = conn.recv(8, socket.MSG_WAITALL)
                if len(hdr) < 8:
                    return
                n = int.from_bytes(hdr, "little")
                if n == 0:
                    return
                if n >> 62:  # pull: send n bytes back to the client
                    n &= (1 << 62) - 1
                    out = memoryview(buf)
                    left = n
                    while left:
                        k = min(left, len(out))
                        conn.sendall(out[:k])
                        left -= k
                    continue
                left = n
                while left:
                    got = conn.recv_into(buf, min(left, len(buf)))
                    if not got:
                        return
                    left -= got
                conn.sendall(b"k")

    threads = []
    for _ in range(nconn):
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        th = threading.Thread(target=handle, args=(c,), daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    srv.close()


class Loopback:
    """A receiving server process and ``flows`` client connections to it on 127.0.0.1."""

    def __init__(self, flows: int):
        ctx = mp.get_context("spawn")
        q, ev = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=_server, args=(q, ev, flows), daemon=True)
        self.proc.start()
        ev.wait(30)
        port = q.get(timeout=30)
        self.socks = []
        for _ in range(flows):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks.append(s)

    def send(self, i: int, data: memoryview) -> None:
        s = self.socks[i]
        s.sendall(len(data).to_bytes(8, "little"))
        s.sendall(data)
        if s.recv(1) != b"k":
            raise OSError("loopback server did not acknowledge")

    def pull(self, i: int, into: memoryview) -> None:
        """Receive ``len(into)`` bytes from the server on flow ``i``."""
        s = self.socks[i]
        n = len(into)
        s.sendall((n | (1 << 62)).to_bytes(8, "little"))
        got = 0
        while got < n:
            k = s.recv_into(into[got:], n - got)
            if not k:
                raise OSError("loopback server closed the connection")
            got += k

    def send_all(self, nbytes: int, data: memoryview) -> None:
        """Every flow sends ``nbytes`` at once (threads); returns when all are acknowledged."""
        if len(self.socks) == 1:
            self.send(0, data[:nbytes])
            return
        ths = [threading.Thread(target=self.send, args=(i, data[:nbytes])) for i in range(len(self.socks))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()

    def close(self) -> None:
        for s in self.socks:
            try:
                s.sendall((0).to_bytes(8, "little"))
                s.close()
            except OSError:
                pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()


def bench_tcp(size_list: list[int], flows_list: list[int], reps: int) -> list[Row]:
    rows = []
    data = memoryview(np.ones(max(size_list), np.uint8))
    for k in flows_list:
        lb = Loopback(k)
        try:
            for s in size_list:
                r = max(3, reps if s >= MiB else reps * 5)
                t = time_it(lambda s=s, lb=lb: lb.send_all(s, data), reps=r, warmup=2)
                rows.append(Row("host", "host.tcp_loopback", "single" if k == 1 else "concurrent", s, k, s, r, **summarize_times(t)))
        finally:
            lb.close()
    return rows


def run_host(*, quick: bool, workdir: str | Path | None = None) -> list[Row]:
    """The whole host suite (``quick``: small sizes, few repetitions, for tests)."""
    reps = 5 if quick else 15
    mem = sizes(4 * KiB, 64 * MiB if quick else GiB)
    fil = sizes(64 * KiB, 32 * MiB if quick else 256 * MiB)
    tcp = sizes(4 * KiB, 16 * MiB if quick else 64 * MiB)
    flows = [1, 2, 4] if quick else [1, 2, 4, 8]
    with tempfile.TemporaryDirectory(dir=workdir or _bench_dir()) as d:
        rows = bench_memcpy(mem, reps)
        rows += bench_file_read(d, fil, reps)
    rows += bench_tcp(tcp, [1], reps)
    rows += bench_tcp([s for s in tcp if s >= MiB], [k for k in flows if k > 1], reps)
    return rows


def _bench_dir() -> str:
    """A real (not tmpfs) folder for file reads: the working directory's file system."""
    return os.environ.get("DPMODEL_BENCH_DIR", os.getcwd())
