"""Microbenchmarks: the fit recovers alpha and beta; a quick host run gives a well-formed CSV with
sane orderings; malformed CSV input gives a clear error; overlays apply; the CUDA suite logic runs
on a fake device; published Mooncake tables fit within 10 %."""

from __future__ import annotations

import numpy as np
import pytest

from dpmodel.bench import (
    BenchError,
    apply_overlay,
    fit_alpha_beta,
    fit_rows,
    read_csv,
    write_csv,
    write_overlay,
)
from dpmodel.bench.cuda import run_cuda, torch_device
from dpmodel.bench.host import run_host
from dpmodel.bench.measure import CSV_COLUMNS, machine_description
from dpmodel.bench.published import fit_published
from dpmodel.cli import main
from dpmodel.profiles import load_cluster


@pytest.mark.parametrize("alpha,beta", [(5e-6, 10e9), (1e-3, 150e9), (50e-6, 1e9)])
def test_fit_recovers_alpha_beta_from_noisy_data(alpha, beta):
    rng = np.random.default_rng(7)
    b = np.geomspace(4096, 2**30, 25)
    t = (alpha + b / beta) * rng.lognormal(0, 0.03, len(b))
    f = fit_alpha_beta(b, t)
    assert f.alpha_s == pytest.approx(alpha, rel=0.1)
    assert f.beta_Bps == pytest.approx(beta, rel=0.05)
    assert f.rel_rms_frac < 0.06 and f.valid_min_bytes == 4096


def test_fit_rejects_degenerate_input():
    with pytest.raises(BenchError, match="two distinct transfer sizes"):
        fit_alpha_beta([100, 100], [1.0, 1.1])
    with pytest.raises(BenchError, match="times must be > 0"):
        fit_alpha_beta([1, 2], [0.0, 1.0])
    with pytest.raises(BenchError, match="does not grow"):
        fit_alpha_beta([1000, 2000, 4000], [3.0, 2.0, 1.0])


@pytest.fixture(scope="module")
def quick_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "quick.csv"
    write_csv(path, run_host(quick=True, workdir=path.parent), machine_description())
    return path


def test_quick_host_run_is_well_formed(quick_csv):
    rows, machine, digest = read_csv(quick_csv)
    assert len(digest) == 64 and "cpus" in machine
    text = quick_csv.read_text()
    assert ",".join(CSV_COLUMNS) in text and "median_s" in text  # units in column names
    links = {r.link for r in rows}
    assert {"host.memcpy", "host.file_read", "host.tcp_loopback"} <= links
    for r in rows:
        assert r.min_s <= r.median_s and r.p10_s <= r.median_s <= r.p90_s and r.median_s > 0
    # sane orderings: a transfer never gets faster when it grows 16x; k concurrent flows never give
    # more than k times one flow's throughput. (They may finish sooner than one flow: loopback TCP
    # is CPU-bound and concurrent flows run on other cores, so "never sooner" is not a law here.)
    # On the fastest repeat: a median moves when another process takes the core mid-run (this test
    # once failed beside a simulation job), the minimum is the uncontended cost.
    for link in links:
        single = sorted((r.bytes, r.min_s) for r in rows if r.link == link and r.flows == 1)
        for (b0, t0), (b1, t1) in zip(single, single[2:], strict=False):
            assert t1 >= t0 * 0.8, (link, b0, b1)
    tcp = {(r.bytes, r.flows): r.min_s for r in rows if r.link == "host.tcp_loopback"}
    for (b, k), t in tcp.items():
        if k > 1 and (b, 1) in tcp:
            assert t >= tcp[(b, 1)] / k * 0.8, (b, k)
    fits = fit_rows(rows)
    assert set(fits) >= {"host.memcpy", "host.file_read", "host.tcp_loopback"}
    assert all(f.beta_Bps > 0 and f.alpha_s >= 0 for f in fits.values())


def test_file_reads_bypass_the_page_cache(quick_csv):
    rows, _, _ = read_csv(quick_csv)
    bypass = {r.cache_bypass for r in rows if r.link == "host.file_read"}
    assert bypass and all(b in ("o_direct", "fadvise_dontneed_checked") or b.startswith("none") for b in bypass)


def test_malformed_csv_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("link,bytes\nx,1\n")
    with pytest.raises(BenchError, match="missing column 'backend'"):
        read_csv(p)
    p.write_text(",".join(CSV_COLUMNS) + "\nhost,host.memcpy,single,abc,1,1,3,0.1,0.1,0.1,0.1,\n")
    with pytest.raises(BenchError, match="data row 1"):
        read_csv(p)
    p.write_text("# only: comments\n")
    with pytest.raises(BenchError, match="no data rows"):
        read_csv(p)
    with pytest.raises(BenchError, match="No such file"):
        read_csv(tmp_path / "missing.csv")


def test_overlay_applies_on_any_profile(quick_csv, tmp_path):
    rows, machine, digest = read_csv(quick_csv)
    ov = write_overlay(tmp_path / "ov.toml", fit_rows(rows), source="test", digest=digest, machine=machine)
    assert digest in ov.read_text()
    for name in ("dualpath-hopper", "h20"):
        base = load_cluster(name)
        new = apply_overlay(base, ov)
        beta = fit_rows(rows)["host.memcpy"].beta_Bps
        assert new.node.dram_GBps == pytest.approx(2 * beta / 1e9, rel=1e-5)
        assert new.provenance.fields["node.dram_GBps"].startswith("measured: overlay")
        assert new.node.snic_Gbps == base.node.snic_Gbps
    bad = tmp_path / "bad.toml"
    bad.write_text('[provenance]\ninput_sha256 = "x"\n[overrides]\n"node.warp_drive" = 1.0\n')
    with pytest.raises(BenchError, match="names no field"):
        apply_overlay(load_cluster("h20"), bad)


def test_published_mooncake_tables_fit_within_10pct():
    for name, f in fit_published().items():
        assert f.rel_max_frac <= 0.10, name
    h800 = fit_published()["mooncake-h800-8xcx7"]
    assert 100e9 < h800.beta_Bps < 200e9  # 8 x 400 Gb/s RoCE achieves well below the 400 GB/s line


class FakeDevice:
    """A device whose copies take alpha + bytes / beta of virtual time (no GPU needed)."""

    name = "fake"

    def __init__(self, alpha=6e-6, beta=50e9):
        self.alpha, self.beta, self.clock, self.calls = alpha, beta, 0.0, 0

    def host_buffer(self, nbytes, pinned):
        return np.zeros(1, np.uint8)

    def device_buffer(self, nbytes):
        return np.zeros(1, np.uint8)

    def copy(self, dst, src, nbytes, stream=0):
        self.calls += 1
        self.clock += self.alpha + nbytes / self.beta

    def compute(self, seconds_hint, stream=0):
        self.clock += seconds_hint

    def synchronize(self):
        pass

    def timer(self):
        start = self.clock
        return lambda: self.clock - start


def test_cuda_suite_logic_on_a_fake_device():
    dev = FakeDevice()
    rows = run_cuda(dev, quick=True)
    links = {r.link for r in rows}
    assert {"cuda.h2d_pinned", "cuda.d2h_pinned", "cuda.h2d_pageable", "cuda.d2d", "cuda.small_copies"} <= links
    fits = fit_rows(rows)
    assert fits["cuda.h2d_pinned"].beta_Bps == pytest.approx(50e9, rel=1e-6)
    assert fits["cuda.small_copies"].alpha_s == pytest.approx(6e-6, rel=1e-6)  # per-copy submission cost


@pytest.mark.skipif(torch_device() is None, reason="no CUDA device (torch with a GPU) on this machine")
def test_cuda_suite_on_a_real_gpu():  # pragma: no cover
    rows = run_cuda(torch_device(), quick=True)
    assert fit_rows(rows)["cuda.h2d_pinned"].beta_Bps > 1e9


def test_bench_cli(quick_csv, tmp_path, capsys):
    out = tmp_path / "ov.toml"
    assert main(["bench", "fit", str(quick_csv), "--out", str(out)]) == 0
    assert "host.memcpy" in capsys.readouterr().out and out.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\n")
    assert main(["bench", "fit", str(bad)]) == 2
    assert "missing column" in capsys.readouterr().err


def test_validation_runs_composite_experiments(quick_csv):
    from dpmodel.bench.validate import run_validation

    rows, _, _ = read_csv(quick_csv)
    fits, checks = run_validation(rows, quick=True)
    kinds = {c.experiment for c in checks}
    assert {"concurrent flows on one link", "two-stage chunked pipeline", "two sources into one destination"} <= kinds
    for c in checks:
        assert c.predicted_s > 0 and c.measured_s > 0 and np.isfinite(c.error_frac)
