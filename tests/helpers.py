"""Scenario builders for tests: override profile values without writing files."""

from __future__ import annotations

import dataclasses

from dpmodel.scenario import Scenario


def override(
    sc: Scenario,
    *,
    gpu: dict | None = None,
    node: dict | None = None,
    network: dict | None = None,
    storage: dict | None = None,
    trajectory: dict | None = None,
    **deployment,
) -> Scenario:
    cl = sc.cluster
    cl = dataclasses.replace(
        cl,
        gpu=dataclasses.replace(cl.gpu, **(gpu or {})),
        node=dataclasses.replace(cl.node, **(node or {})),
        network=dataclasses.replace(cl.network, **(network or {})),
        storage=dataclasses.replace(cl.storage, **(storage or {})),
    )
    wl = sc.workload
    wl = dataclasses.replace(wl, trajectory=dataclasses.replace(wl.trajectory, **(trajectory or {})))
    dep = dataclasses.replace(sc.deployment, **deployment)
    return dataclasses.replace(sc, cluster=cl, workload=wl, deployment=dep)


def snic_only(sc: Scenario, **deployment) -> Scenario:
    """Every resource but the storage NICs made 1000x larger."""
    g, n = sc.cluster.gpu, sc.cluster.node
    return override(
        sc,
        gpu={
            "dense_bf16_TFLOPS": g.dense_bf16_TFLOPS * 1e3,
            "dense_fp8_TFLOPS": g.dense_fp8_TFLOPS * 1e3,
            "hbm_GBps": g.hbm_GBps * 1e3,
            "pcie_GBps": g.pcie_GBps * 1e3,
            "hbm_GiB": g.hbm_GiB * 1e3,
        },
        node={"cnic_Gbps": n.cnic_Gbps * 1e3, "dram_GBps": n.dram_GBps * 1e3},
        storage={"read_GBps": 1e9, "write_GBps": 1e9},
        decode_step_overhead_s=0.0,
        **deployment,
    )
