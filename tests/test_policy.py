"""Per-request split (closed form vs cvxpy), policy tables (files, validation, lookup, properties)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpmodel import PolicyTable
from dpmodel.cli import main
from dpmodel.policy import (
    PolicyTableError,
    finish_time_s,
    optimal_split,
    optimal_split_cvxpy,
    whole_request_side,
)
from dpmodel.scenario import Scenario

BASE = Scenario.load()


@pytest.fixture(scope="module")
def table():
    return PolicyTable.generate(
        BASE, hit_tokens=np.geomspace(1e3, 2e5, 8), pe_backlog_s=np.linspace(0, 4, 9), de_backlog_s=np.linspace(0, 4, 9)
    )


def test_closed_form_matches_cvxpy_cell_by_cell(table):
    m = table.meta
    b = BASE.model.kv_bytes_per_token
    h, p, d = table.axes
    for i in range(0, len(h), 2):
        for j in range(0, len(p), 2):
            for k in range(0, len(d), 2):
                ref = optimal_split_cvxpy(
                    hit_bytes=h[i] * b,
                    pe_backlog_s=p[j],
                    de_backlog_s=d[k],
                    pe_Bps=m["pe_read_Bps"],
                    de_Bps=m["de_read_Bps"],
                    relay_s=m["relay_s"],
                )
                assert table.values[i, j, k] == pytest.approx(ref, abs=1e-6)


cells = st.fixed_dictionaries(
    {
        "hit_bytes": st.floats(1e6, 1e10),
        "pe_backlog_s": st.floats(0, 10),
        "de_backlog_s": st.floats(0, 10),
        "pe_Bps": st.floats(1e9, 1e11),
        "de_Bps": st.floats(1e9, 1e11),
        "relay_s": st.floats(0, 0.01),
    }
)


@given(cells, st.floats(0, 5))
def test_split_monotone_in_backlogs(kw, extra):
    f = float(optimal_split(**kw))
    assert 0 <= f <= 1
    assert float(optimal_split(**{**kw, "pe_backlog_s": kw["pe_backlog_s"] + extra})) >= f - 1e-12
    assert float(optimal_split(**{**kw, "de_backlog_s": kw["de_backlog_s"] + extra})) <= f + 1e-12


@given(cells)
def test_split_is_optimal_and_beats_whole_requests(kw):
    f = optimal_split(**kw)
    grid = np.linspace(0, 1, 1001)
    assert float(finish_time_s(f, **kw)) <= float(finish_time_s(grid, **kw).min()) + 1e-9
    side = whole_request_side(**kw)
    assert float(finish_time_s(f, **kw)) <= float(finish_time_s(side, **kw)) + 1e-9


def test_table_properties_and_lookup(table):
    V = table.values
    assert np.all(np.diff(V, axis=1) >= -1e-12)  # never falls as the prefill-side backlog grows
    assert np.all(np.diff(V, axis=2) <= 1e-12)  # never rises as the decode-side backlog grows
    h, p, d = table.axes
    assert table.lookup(hit_tokens=float(h[3]), pe_backlog_s=float(p[2]), de_backlog_s=float(d[5])) == pytest.approx(V[3, 2, 5])
    x = table.lookup(hit_tokens=np.array([h[3], h[4]]), pe_backlog_s=p[2], de_backlog_s=d[5])
    assert x.shape == (2,) and x[0] == pytest.approx(V[3, 2, 5])
    one = table.lookup(hit_tokens=20000.0, pe_backlog_s=1.3, de_backlog_s=0.7)
    vec = table.lookup(hit_tokens=np.array([20000.0]), pe_backlog_s=np.array([1.3]), de_backlog_s=np.array([0.7]))
    assert one == pytest.approx(float(vec[0]), abs=1e-12)
    near = table.lookup(hit_tokens=20000.0, pe_backlog_s=1.3, de_backlog_s=0.7, method="nearest")
    assert near in set(V.ravel().tolist())
    assert table.lookup(hit_tokens=1e9, pe_backlog_s=-3.0, de_backlog_s=100.0) == pytest.approx(V[-1, 0, -1])  # clamped
    with pytest.raises(PolicyTableError, match="method"):
        table.lookup(hit_tokens=1e4, pe_backlog_s=0.0, de_backlog_s=0.0, method="cubic")


def _reference_trilinear(axes, V, q):
    """Independent trilinear interpolation (clamped) via scipy, one axis of length 1 padded."""
    from scipy.interpolate import RegularGridInterpolator

    ax2, V2 = [], V
    for n, a in enumerate(axes):
        if len(a) == 1:
            a = np.array([a[0], a[0] + 1.0])
            V2 = np.concatenate([V2, V2], axis=n)
        ax2.append(a)
    qq = np.stack([np.clip(x, a[0], a[-1]) for x, a in zip(q, axes, strict=True)], axis=-1)
    return RegularGridInterpolator(ax2, V2)(qq)


def test_scalar_and_vector_lookups_agree_with_trilinear_everywhere():
    """The scalar fast path, ``lookup_scalar`` and the vectorized path equal an independent
    trilinear interpolation over random tables (some with a single point on an axis, uneven and
    geometric and evenly spaced axes: the vectorized path's one-multiply cell), including the last
    cell of every axis, the knots and just off them; 'nearest' returns a corner of the state's cell."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        shape = [int(rng.integers(1, 7)) for _ in range(3)]
        axes = tuple(
            np.geomspace(1e3, 2e5, n)
            if trial % 3 == 0
            else np.linspace(-0.5, 5.0, n)
            if trial % 3 == 1
            else np.sort(rng.choice(np.arange(60.0) * 0.25 - 2, n, replace=False))
            for n in shape
        )
        V = rng.uniform(0, 1, shape)
        t = PolicyTable(axes, V, {})
        q = [np.concatenate([rng.uniform(a[0] - 1, a[-1] + 1, 200), a, a * (1 + 1e-12) + 1e-12, a * (1 - 1e-12) - 1e-12]) for a in axes]
        m = max(len(x) for x in q)
        q = [np.resize(x, m) for x in q]
        ref = _reference_trilinear(axes, V, q)
        vec = t.lookup(hit_tokens=q[0], pe_backlog_s=q[1], de_backlog_s=q[2])
        np.testing.assert_allclose(vec, ref, rtol=0, atol=1e-12)
        near = t.lookup(hit_tokens=q[0], pe_backlog_s=q[1], de_backlog_s=q[2], method="nearest")
        for j in range(0, m, 3):
            h, p, d = (float(x[j]) for x in q)
            one = t.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=d)
            assert one == pytest.approx(ref[j], abs=1e-12) and t.lookup_scalar(h, p, d) == one
            assert t.lookup(hit_tokens=h, pe_backlog_s=p, de_backlog_s=d, method="nearest") == near[j]
            cell = [
                np.clip(np.searchsorted(a, np.clip(x, a[0], a[-1]), side="right") - 1, 0, max(len(a) - 2, 0))
                for a, x in zip(axes, (h, p, d), strict=True)
            ]
            corners = {
                float(V[min(cell[0] + a, shape[0] - 1), min(cell[1] + b, shape[1] - 1), min(cell[2] + c, shape[2] - 1)])
                for a in (0, 1)
                for b in (0, 1)
                for c in (0, 1)
            }
            assert near[j] in corners


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_roundtrip_and_metadata(table, tmp_path, suffix):
    path = table.save(tmp_path / f"t{suffix}")
    back = PolicyTable.load(path)
    np.testing.assert_allclose(back.values, table.values, atol=0)
    for a, b in zip(back.axes, table.axes, strict=True):
        np.testing.assert_allclose(a, b)
    assert back.meta["scenario"]["fingerprint"] == BASE.fingerprint() and back.meta["dpmodel_version"]
    assert not [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]


def test_bad_files_are_rejected(table, tmp_path):
    path = table.save(tmp_path / "t.json")
    doc = json.loads(path.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(PolicyTableError, match="not valid JSON"):
        PolicyTable.load(bad)
    doc2 = dict(doc, values=[0.5] * len(doc["values"]))
    bad.write_text(json.dumps(doc2))
    with pytest.raises(PolicyTableError, match="checksum"):
        PolicyTable.load(bad)
    doc3 = dict(doc, schema_version=99)
    doc3["checksum"] = PolicyTable._checksum(doc3)
    bad.write_text(json.dumps(doc3))
    with pytest.raises(PolicyTableError, match="schema_version 99"):
        PolicyTable.load(bad)
    doc4 = json.loads(path.read_text())
    doc4["axes"][1]["values"] = list(reversed(doc4["axes"][1]["values"]))
    doc4["checksum"] = PolicyTable._checksum(doc4)
    bad.write_text(json.dumps(doc4))
    with pytest.raises(PolicyTableError, match="strictly increasing"):
        PolicyTable.load(bad)
    doc5 = json.loads(path.read_text())
    doc5["values"][0] = 1.5
    doc5["checksum"] = PolicyTable._checksum(doc5)
    bad.write_text(json.dumps(doc5))
    with pytest.raises(PolicyTableError, match=r"\[0, 1\]"):
        PolicyTable.load(bad)
    csvp = table.save(tmp_path / "t.csv")
    lines = csvp.read_text().splitlines()
    (tmp_path / "cut.csv").write_text("\n".join(lines[:-5]) + "\n")
    with pytest.raises(PolicyTableError, match="truncated"):
        PolicyTable.load(tmp_path / "cut.csv")
    (tmp_path / "x.txt").write_text("import os; os.system('echo pwned')\n")
    with pytest.raises(PolicyTableError, match="not a dpmodel policy table"):
        PolicyTable.load(tmp_path / "x.txt")


def test_parquet_without_pyarrow_is_explained(table, tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_pyarrow(name, *a, **k):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(PolicyTableError, match="pyarrow"):
        table.save(tmp_path / "t.parquet")


def test_parquet_round_trip_and_damage(table, tmp_path):
    pytest.importorskip("pyarrow")
    p = table.save(tmp_path / "t.parquet")
    back = PolicyTable.load(p)
    assert np.array_equal(back.values, table.values) and all(np.array_equal(a, b) for a, b in zip(back.axes, table.axes, strict=True))
    raw = p.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(raw[: len(raw) // 2] + raw[-8:])  # damaged body, intact footer magic
    with pytest.raises(PolicyTableError):
        PolicyTable.load(tmp_path / "cut.parquet")


def test_policy_cli(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["policy", "export", "--out", str(out)]) == 0
    assert main(["policy", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "hit_tokens [tokens]" in text and "split_de_frac [frac]" in text
    assert main(["policy", "show", str(tmp_path / "missing.json")]) == 2


def test_policy_heatmap(table):
    from dpmodel import plots

    fig = plots.policy_heatmap(table, hit_tokens=3e4)
    assert fig.data[0].z.shape == table.values.shape[1:]
