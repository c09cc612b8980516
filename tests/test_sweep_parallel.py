"""Parallel sweeps: local processes and a local Dask distributed cluster give the serial results."""

from __future__ import annotations

import pytest

from dpmodel.sweep import grid, offline_point, parallel_sweep

POINTS = grid(
    cluster=["dualpath-hopper"],
    model=["ds-27b"],
    workload=["agentic-32k"],
    prefill_nodes=[1],
    decode_nodes=[1, 2],
    mode=["basic", "dualpath"],
    agents=[64],
)


@pytest.fixture(scope="module")
def serial():
    return parallel_sweep(offline_point, POINTS, workers=1)


def test_grid_is_the_product():
    assert len(POINTS) == 4 and {p["mode"] for p in POINTS} == {"basic", "dualpath"}


def test_local_processes_match_serial(serial):
    from dpmodel.progress import progress_bar

    with progress_bar("sweep", total=len(POINTS), force=True) as bar:
        par = parallel_sweep(offline_point, POINTS, workers=2)
    assert bar.n == len(POINTS)  # every finished point ticked the caller's bar
    assert [r["jct_s"] for r in par] == pytest.approx([r["jct_s"] for r in serial], rel=1e-9)  # solver round-off differs across processes


def test_local_dask_cluster_matches_serial(serial):
    distributed = pytest.importorskip("distributed")
    from dpmodel.progress import progress_bar

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with progress_bar("sweep on Dask", total=len(POINTS), force=True) as bar:
            res = parallel_sweep(offline_point, POINTS, scheduler=cluster.scheduler_address)
    assert bar.n == len(POINTS)
    assert [r["jct_s"] for r in res] == pytest.approx([r["jct_s"] for r in serial], rel=1e-9)  # solver round-off differs across processes
    assert all(r["mode"] == p["mode"] for r, p in zip(res, POINTS, strict=True))


def test_sweep_cli(tmp_path, capsys):
    import json

    from dpmodel.cli import main

    assert main(["sweep", "--axis", "decode_nodes=2,4", "--axis", "context_tokens=16000,64000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 4 and all(r["turns_per_s"] > 0 for r in rows)
    by = {(r["decode_nodes"], r["context_tokens"]): r["turns_per_s"] for r in rows}
    assert by[(4.0, 16000.0)] >= by[(2.0, 16000.0)]
    out = tmp_path / "g.csv"
    assert main(["sweep", "--axis", "snic_Gbps=200,400", "--csv", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("snic_Gbps,turns_per_s")
    assert main(["sweep", "--axis", "warp=1"]) == 2


def test_simulator_sweep_on_local_processes():
    from dpmodel.sweep import simulate_point

    pts = grid(
        cluster=["dualpath-hopper"],
        model=["ds-27b"],
        workload=["agentic-32k"],
        prefill_nodes=[1],
        decode_nodes=[1],
        mode=["basic", "dualpath"],
        agents=[16],
    )
    a = parallel_sweep(simulate_point, pts, workers=2)
    b = parallel_sweep(simulate_point, pts, workers=1)
    assert [r["jct_s_sim"] for r in a] == [r["jct_s_sim"] for r in b]  # seeded: identical across processes
