"""Flow table, the paper's equations (1)-(9), and the closed-form split optimum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpmodel import capacity, flows

GB = 1e9


def test_pd_window_paper_values():
    w = capacity.pd_ratio_window(gpus_per_node=8, snic_per_cnic=1, cnic_Bps=50 * GB, dram_Bps=500 * GB)
    assert float(w["min"]) == pytest.approx(1 / 7)
    assert float(w["max"]) == pytest.approx(7 / 2)
    assert float(w["eq5_de_cnic_read_max"]) == pytest.approx(6)
    assert float(w["eq7_de_cnic_write_max"]) == pytest.approx(3.5)
    assert float(w["eq8_de_dram_max"]) == pytest.approx(3.5)


@pytest.mark.parametrize(
    "g,s,B,M",
    [(8, 2, 50, 500), (4, 1, 50, 300), (8, 0.5, 25, 400), (16, 3, 50, 2000), (8, 1, 50, 200)],
)
def test_pd_window_general_formula(g, s, B, M):
    w = capacity.pd_ratio_window(gpus_per_node=g, snic_per_cnic=s, cnic_Bps=B * GB, dram_Bps=M * GB)
    assert float(w["min"]) == pytest.approx(s / (g - s))
    assert float(w["max"]) == pytest.approx(min((g - 2 * s) / s, (g - s) / (2 * s), (M / (B * s) - 3) / 2))


def test_pd_window_vectorizes():
    w = capacity.pd_ratio_window(gpus_per_node=np.array([8, 8]), snic_per_cnic=np.array([1, 2]), cnic_Bps=50 * GB, dram_Bps=500 * GB)
    assert w["max"].shape == (2,)
    assert w["max"][1] < w["max"][0]  # a second storage NIC narrows the window


@pytest.mark.parametrize("P,D", [(1, 1), (2, 4), (1, 2), (2, 1), (3, 7)])
def test_flow_table_reproduces_paper_equations(P, D):
    """With A = O = 0 and every SNIC saturated (f = D/(P+D)), the flow table gives eqs. (1)-(8)."""
    g, B, s = 8, 50 * GB, 1.0
    H = 1.0  # bytes per turn; the turn rate saturates every storage NIC
    f = D / (P + D)
    X = (P + D) * s * B / H
    by = flows.kv_flows_bytes(hit_bytes=H, new_bytes=0, gen_bytes=0, split_de_frac=f)
    paper = capacity.paper_link_loads(prefill_nodes=P, decode_nodes=D, gpus_per_node=g, snic_per_cnic=s, cnic_Bps=B)
    per_gpu = {"pe.cnic.read": P * g, "pe.cnic.write": P * g, "de.cnic.read": D * g, "de.cnic.write": D * g}
    for name, n in per_gpu.items():
        assert X * float(by[name]) / n == pytest.approx(float(paper[name]), rel=1e-12), name
    assert X * float(by["pe.dram"]) / P == pytest.approx(float(paper["pe.dram"]))
    assert X * float(by["de.dram"]) / D == pytest.approx(float(paper["de.dram"]))
    assert X * float(by["pe.snic.read"]) / P == pytest.approx(s * B)
    assert X * float(by["de.snic.read"]) / D == pytest.approx(s * B)


def test_new_and_generated_kv_add_where_the_table_says():
    base = flows.kv_flows_bytes(hit_bytes=100, new_bytes=0, gen_bytes=0, split_de_frac=0.3)
    more = flows.kv_flows_bytes(hit_bytes=100, new_bytes=10, gen_bytes=5, split_de_frac=0.3)
    delta = {k: float(more[k] - base[k]) for k in base}
    assert delta == {
        "pe.snic.read": 0,
        "pe.dram": 0,
        "pe.cnic.read": 10,
        "pe.cnic.write": 0,
        "de.snic.read": 0,
        "de.snic.write": 15,
        "de.dram": 20,
        "de.cnic.read": 10,
        "de.cnic.write": 20,
        "store.read": 0,
        "store.write": 15,
    }


def test_split_out_of_range_raises():
    with pytest.raises(ValueError, match="split_de_frac"):
        flows.kv_flows_bytes(hit_bytes=1, new_bytes=0, gen_bytes=0, split_de_frac=1.5)


def test_basic_overlap_makes_load_serial():
    c0, s0 = flows.prefill_gpu_time_coefficients(
        compute_s=0.1, hit_bytes=5e9, snic_read_Bps_per_gpu=5e9, cnic_kv_Bps_per_gpu=50e9, overlap_frac=0.0
    )
    c1, s1 = flows.prefill_gpu_time_coefficients(
        compute_s=0.1, hit_bytes=5e9, snic_read_Bps_per_gpu=5e9, cnic_kv_Bps_per_gpu=50e9, overlap_frac=1.0
    )
    assert float(c0) == pytest.approx(1.1) and float(c1) == pytest.approx(0.1)
    assert float(s1) == 0 and float(s0) == pytest.approx(0.1 - 1.0)


lines = st.lists(st.tuples(st.floats(0, 10), st.floats(-10, 10)), min_size=1, max_size=8)


@given(lines)
def test_minimize_max_affine_matches_dense_grid(ls):
    a = np.array([x for x, _ in ls])
    b = np.array([y for _, y in ls])
    value, f = capacity.minimize_max_affine(a, b)
    grid = np.linspace(0, 1, 20001)
    brute = np.max(a[:, None] + b[:, None] * grid[None, :], axis=0).min()
    assert 0 <= float(f) <= 1
    assert float(value) == pytest.approx(float(np.max(a + b * f)), abs=1e-9)
    assert float(value) <= brute + 1e-9
    assert float(value) >= brute - 1e-3 * (1 + np.abs(b).max())


def test_minimize_max_affine_vectorized_shapes():
    a = np.random.default_rng(1).uniform(0, 1, (5, 3, 4))
    b = np.random.default_rng(2).uniform(-1, 1, (5, 3, 4))
    v, f = capacity.minimize_max_affine(a, b)
    assert v.shape == (5, 3) and f.shape == (5, 3)
