"""The workload's turn sample that the online model's batch law draws from, and its caches.

A turn's hit bytes and prefill compute seconds, per turn of a synthesized sample (or per request
class), and the stratified sampled queues over it (:func:`stratified_draws`). Everything the online
model derives from one scenario and keeps between calls (split candidates, the capacity bisection
and sizing evaluate it many times on one scenario) lives in that scenario's :class:`TurnSample`
(:func:`turn_sample`), which lives as long as the scenario does; nothing is keyed by ``id()``. The
synthesized sample depends on the workload alone and is shared between scenarios through a
:class:`BoundedCache` keyed by the workload's content.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ..scenario import Scenario
from .percentiles import equal_weight_picks

SIZES_SAMPLE = 4096  # turns kept from the synthesized sample (~40 above its p99)
BATCH_DRAWS = 512  # sampled batches (stratified: each batch position holds the sample's 512 quantiles)
STATICS_KEPT = 32  # batch-law statics kept per scenario (each up to a few MB)
SYNTH_KEPT = 16  # synthesized workload samples kept (shared by every scenario of that workload)


class BoundedCache:
    """A least-recently-used cache of at most ``maxsize`` entries.

    Parameters
    ----------
    maxsize
        Entries kept; the least recently used one is dropped to make room.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize = {maxsize!r}: must be >= 1")
        self.maxsize = int(maxsize)
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value under ``key``, computed by ``compute()`` (and kept) when absent."""
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = compute()
        self._data[key] = value
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        self._data.clear()


_SYNTH = BoundedCache(SYNTH_KEPT)


class TurnSample:
    """What the online model keeps for one scenario: the turn sample (:attr:`sizes`), the sampled
    queues (:meth:`draws`), the batch-law statics per data path and split (:meth:`statics`, at most
    :data:`STATICS_KEPT`), and other per-scenario values (:meth:`value`). Get it with
    :func:`turn_sample`; it holds no reference to its scenario and pickles empty."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._statics = BoundedCache(STATICS_KEPT)

    def __reduce__(self):  # a copy sent to another process starts empty (the arrays can be large)
        return (TurnSample, ())

    def value(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per scenario under ``key`` (scenarios are frozen)."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def statics(self, key: str) -> dict:
        """A store of batch-law statics (:func:`dpmodel.queueing.batch.batch_static`) for one data
        path and split (they do not move with the load)."""
        return self._statics.get(key, dict)


def turn_sample(scenario: Scenario) -> TurnSample:
    """The scenario's :class:`TurnSample`, created on first use and kept on the scenario object
    (as its cached properties are): it goes when the scenario does."""
    store = scenario.__dict__
    ts = store.get("_online_turn_sample")
    if ts is None:
        ts = store["_online_turn_sample"] = TurnSample()
    return ts


def turns_per_agent(scenario: Scenario) -> float:
    """Mean turns per agent (per trajectory): Total / (Append + Gen) under the Table 2 weighting."""
    t = scenario.workload.trajectory
    return max(t.mean_total_tokens / (t.mean_append_tokens + t.mean_generated_tokens), 1.0)


def turn_sizes(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit bytes, prefill compute seconds and weights of the workload's turns: a synthesized sample
    (400 agents, seed 0; 4096 of its turns drawn at random) when the workload has a synthesizer,
    else its request classes. The prefill batch's residual time needs the spread of turn sizes, not
    only their mean."""
    return turn_sample(scenario).value("sizes", lambda: _turn_sizes_uncached(scenario))


def _synthesized(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    from ..profiles.schema import to_plain
    from ..workload.synth import synthesize_workload

    def make() -> tuple[np.ndarray, np.ndarray]:
        ts = synthesize_workload(scenario.workload, agents=400, seed=0)
        ctx, app = ts.context_tokens().astype(float), np.asarray(ts.append_tokens)
        if len(ctx) > SIZES_SAMPLE:  # a fixed random subsample keeps the joint law of (hit, compute)
            pick = np.sort(np.random.default_rng(0).choice(len(ctx), size=SIZES_SAMPLE, replace=False))
            ctx, app = ctx[pick], app[pick]
        return ctx, app

    wkey = json.dumps(to_plain(scenario.workload), sort_keys=True, default=str)
    return _SYNTH.get(wkey, make)  # the sample depends on the workload alone


def _turn_sizes_uncached(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = scenario.model.kv_bytes_per_token
    rate = scenario.prefill_rate_flops_per_s()
    if scenario.workload.synthesis is not None and not scenario.request_classes:
        ctx, app = _synthesized(scenario)
        hit = ctx * b
        comp = np.asarray(scenario.model.prefill_flops(context_tokens=ctx, append_tokens=app), float) / rate
        w = np.full(len(hit), 1.0 / len(hit))
    else:
        ks = scenario.classes()
        hit = np.array([k.hit_tokens * b for k in ks], float)
        comp = np.array([scenario.prefill_compute_s(k) for k in ks], float)
        w = np.array([k.weight_frac for k in ks], float)
    return hit, comp, w


def stratified_draws(hit: np.ndarray, comp: np.ndarray, w: np.ndarray, n_max: int, k: int = BATCH_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """``k`` sampled FIFO queues of ``n_max`` turns (indices into the sample) and a uniform per slot.

    Stratified: each queue position (column) holds the same ``k`` turns of the sample, its
    equal-weight quantiles by hit size plus compute, each in its mean (whole turns: the joint law of
    hit and compute is kept; both means within about 1 %), in its own random order; the uniforms
    are likewise a shuffled grid. So every position's mean is close to the workload's mean (turn
    sizes vary 2x their mean: plain random queues would be off by several per cent at small n).
    Seed 0: common random numbers, so the batch law moves smoothly with the split and the load."""
    key = sum(np.asarray(x, float) / max(float(np.mean(x)), 1e-30) for x in (hit, comp))  # both sizes, each in its mean
    strata = equal_weight_picks(key, w, k)
    rng = np.random.default_rng(0)
    idx = np.stack([rng.permutation(strata) for _ in range(n_max)], axis=1)
    u = np.stack([rng.permutation(k) for _ in range(n_max)], axis=1)
    return idx, (u + 0.5) / k


def recompute_sizes(scenario: Scenario) -> np.ndarray:
    """GPU-seconds to recompute each sampled turn's hit KV (:func:`turn_sizes`' turns): the FLOPs of
    prefilling its context and new tokens from scratch less those of prefilling the new tokens
    after the context, at the scenario's prefill rate (the composition's recompute cost)."""

    def make() -> np.ndarray:
        if scenario.workload.synthesis is not None and not scenario.request_classes:
            ctx, app = _synthesized(scenario)
        else:
            ks = scenario.classes()
            ctx = np.array([k.hit_tokens for k in ks], float)
            app = np.array([k.append_tokens for k in ks], float)
        m = scenario.model
        flops = m.prefill_flops(context_tokens=0.0 * ctx, append_tokens=ctx + app) - m.prefill_flops(context_tokens=ctx, append_tokens=app)
        return np.asarray(flops, float) / scenario.prefill_rate_flops_per_s()

    return turn_sample(scenario).value("recompute", make)


def route_of(u: np.ndarray, shares) -> np.ndarray:
    """The route (path index) of a sampled slot with uniform ``u`` under path ``shares``: path 1
    on ``[0, s_1)``, path 2 on ``[s_1, s_1 + s_2)``, ..., the first path on the rest (so with two
    paths the decode-side route takes ``u < f``)."""
    s = np.asarray(shares, float)
    if s.shape[-1] <= 1:
        return np.zeros(np.shape(u), dtype=np.intp)
    r = np.searchsorted(np.cumsum(s[1:]), u, side="right") + 1
    return np.where(r >= len(s), 0, r)


def routes_of(idx: np.ndarray, u: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """:func:`route_of` with one row of shares per turn of the sample (``shares[idx]`` per slot)."""
    cum = np.cumsum(np.asarray(shares, float)[:, 1:], axis=1)[idx]  # slots x (P - 1)
    r = (cum <= u[..., None]).sum(axis=-1) + 1
    return np.where(r >= shares.shape[1], 0, r)


def sample_is_classes(scenario: Scenario) -> bool:
    """Whether :func:`turn_sizes`' turns are the scenario's request classes (in order), so that
    shares per request class are shares per sampled turn."""
    return not (scenario.workload.synthesis is not None and not scenario.request_classes)


def batch_draws(scenario: Scenario, shares=None, n_max: int = 160) -> np.ndarray:
    """Entries of :class:`dpmodel.queueing.batch.TurnParts` in the sampled queues of
    :func:`stratified_draws` (per scenario): the workload's turns and, for a mixture of routes
    (``shares`` given, one per load path), each slot's route (:func:`route_of`)."""
    idx, u = turn_sample(scenario).value("draws", lambda: stratified_draws(*turn_sizes(scenario), n_max))
    if shares is None:
        return idx
    n = len(turn_sizes(scenario)[2])
    if np.ndim(shares) == 2:
        return idx + n * routes_of(idx, u, np.asarray(shares, float))
    return idx + n * route_of(u, shares)
