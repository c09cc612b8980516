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
