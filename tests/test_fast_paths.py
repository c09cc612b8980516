"""Fast paths (issue 19) equal the straightforward computations they replace, bit for bit."""

from __future__ import annotations

import numpy as np

from dpmodel.queueing.batch import segmented_running_max


def test_segmented_running_max_equals_the_column_loop():
    rng = np.random.default_rng(0)
    for t in range(200):
        n, k = int(rng.integers(1, 170)), int(rng.integers(1, 30))
        x = rng.exponential(1.0, (k, n))
        if t % 3 == 0:
            x = np.round(x, 1)  # ties
        new = (rng.random((k, n)) < 0.2) & (np.arange(n)[None, :] > 0)
        start = np.maximum.accumulate(np.where(new, np.arange(n)[None, :], 0), axis=1)
        ref, top = np.empty_like(x), np.zeros(k)
        for j in range(n):  # the loop batch_law ran before
            top = np.where(start[:, j] == j, x[:, j], np.maximum(top, x[:, j]))
            ref[:, j] = top
        assert np.array_equal(segmented_running_max(x, start), ref)


def _random_envelopes(rng, N, R):
    a = rng.uniform(0.0, 1.0, (N, R))
    b = rng.normal(0.0, 1.0, (N, R))
    b[rng.random((N, R)) < 0.2] = 0.0  # flat rows
    b[:, rng.integers(0, R)] = np.abs(b[:, 0]) + 0.1  # a column rising everywhere
    return a, b


def test_min_max_pairwise_formula_equals_the_envelope_walk_and_the_enumeration():
    """Many points: the rising x falling formula gives the minimizer the envelope walk finds (same
    number: the same crossing expression) and the optimum the exhaustive enumeration finds."""
    from dpmodel.capacity import minimize_max_affine
    from dpmodel.optimize import throughput as T

    rng = np.random.default_rng(1)
    for _ in range(120):
        N, R = int(rng.integers(65, 300)), int(rng.integers(2, 9))
        a, b = _random_envelopes(rng, N, R)
        f = T._min_max_argmin(a, b)
        assert f is not None
        for lo in range(0, N, 64):  # <= 64 points: min_max_affine walks the envelope
            _, wf = T.min_max_affine(a[lo : lo + 64], b[lo : lo + 64])
            np.testing.assert_allclose(f[lo : lo + 64], wf, rtol=0, atol=1e-12)
        v = np.max(a + b * f[:, None], axis=1)
        ev, _ = minimize_max_affine(a, b)
        np.testing.assert_allclose(v, ev, rtol=1e-12, atol=1e-15)


def test_three_path_vertex_enumeration_equals_the_simplex_lp():
    """One class on three paths: the batched vertex enumeration reaches the per-point simplex LP's
    least peak (HiGHS) at every point, and its shares are feasible."""
    from dpmodel.optimize.throughput import min_max_affine_2d, min_peak_utilization

    rng = np.random.default_rng(2)
    for trial in range(8):
        N, R = 40, int(rng.integers(3, 10))
        a, b = _random_envelopes(rng, N, R)
        c = rng.normal(0.0, 1.0, (N, R))
        c[rng.random((N, R)) < 0.3] = 0.0
        s1, s2 = min_max_affine_2d(a, b, c)
        assert np.all(s1 >= 0) and np.all(s2 >= 0) and np.all(s1 + s2 <= 1 + 1e-12)
        mine = np.max(a + b * s1[:, None] + c * s2[:, None], axis=1)
        for i in range(N):
            lp, _ = min_peak_utilization(a[i], np.stack([b[i], c[i]], axis=-1)[:, None, :])
            assert mine[i] <= lp + 1e-9 * max(1.0, abs(lp)), (trial, i)
            assert mine[i] >= lp - 1e-9 * max(1.0, abs(lp)), (trial, i)


def test_plan_and_sweep_of_the_default_scenario_do_not_import_cvxpy():
    """The closed forms answer the default scenario in every mode, so a process that only plans or
    sweeps (the CLI, a notebook kernel) never pays cvxpy's import; the LP path still imports it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dpmodel.scenario import Scenario\n"
        "from dpmodel.plan import analyse, analyse_mode\n"
        "from dpmodel.sweep import sweep_throughput\n"
        "sc = Scenario.load()\n"
        "assert {m.solver for m in analyse(sc).modes.values()} == {'closed form'}\n"
        "sweep_throughput(sc, 'dualpath', decode_nodes=[2, 4, 8])\n"
        "assert 'cvxpy' not in sys.modules\n"
        "assert analyse_mode(sc, 'dualpath', solver='lp').solver != 'closed form'\n"
        "assert 'cvxpy' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fingerprint_equals_the_hash_of_the_whole_scenario_text():
    """The fingerprint, assembled from the profiles' kept text, is the SHA-256 of the scenario's
    whole JSON text, for derived scenarios sharing the profiles too (a changed field changes it)."""
    import dataclasses
    import hashlib
    import json

    from dpmodel.profiles.schema import to_plain
    from dpmodel.scenario import Scenario

    def whole(sc):
        return hashlib.sha256(json.dumps(to_plain(sc), sort_keys=True, default=str).encode()).hexdigest()[:16]

    base = Scenario.load(topology="dualpath-recompute")
    derived = [base, dataclasses.replace(base), base.with_deployment(decode_nodes_count=7), Scenario.load(decode_nodes=5)]
    prints = [sc.fingerprint() for sc in derived]
    assert prints == [whole(sc) for sc in derived]
    assert prints[0] == prints[1] and len({prints[0], prints[2], prints[3]}) == 3
