"""Scalar and vectorized policy lookups on the current checkout: CPU time, median of 21 x 5,000 scalar calls
(beside a bare 3-argument call) and of 5 x 10^6 random vectorized states.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_lookup_idle.py
"""

import statistics
import time
import timeit

import numpy as np

from dpmodel.policy.table import PolicyTable

axes = (np.geomspace(1e3, 2e5, 40), np.linspace(0, 5, 50), np.linspace(0, 5, 50))
rng = np.random.default_rng(1)
V = rng.uniform(0, 1, (40, 50, 50))
t = PolicyTable(axes, V, {})
qs = [(float(rng.uniform(1e3, 2e5)), float(rng.uniform(0, 5)), float(rng.uniform(0, 5))) for _ in range(1000)]
t.lookup_scalar(*qs[0])
f = t.lookup_scalar


def bare3(h, p, d):
    return h


def run(fn):
    def g():
        for h, p, d in qs:
            fn(h, p, d)

    return g


for name, fn in (("lookup_scalar", f), ("bare 3-arg call", bare3)):
    r = timeit.repeat(run(fn), number=5, repeat=21, timer=time.process_time)
    print(f"{name}: median {statistics.median(r) / 5000 * 1e6:.3f} us, min {min(r) / 5000 * 1e6:.3f} us (CPU, 21 x 5000)")
t.lookup(hit_tokens=np.array([q[0] for q in qs]), pe_backlog_s=np.array([q[1] for q in qs]), de_backlog_s=np.array([q[2] for q in qs]))
H = rng.uniform(1e3, 2e5, 10**6)
P = rng.uniform(0, 5, 10**6)
D = rng.uniform(0, 5, 10**6)
r = timeit.repeat(lambda: t.lookup(hit_tokens=H, pe_backlog_s=P, de_backlog_s=D), number=1, repeat=5, timer=time.process_time)
print(f"vector 1e6 random: median {1e6 / statistics.median(r):.3g}/s, best {1e6 / min(r):.3g}/s CPU")
