"""The prefill engine's batch law: gated batch service of sampled queues of turns.

An engine of ``e`` GPUs in lock step takes every turn waiting when it frees up as one batch (under
the compute quota, as consecutive sub-batches). :class:`TurnParts` says what one turn costs the
engine, :func:`batch_law` what sampled queues of n turns take, :func:`gated_batches` the stationary
law of the batch sizes (a Markov chain) and from it the wait for the running batch and the own
batch's duration. :func:`layerwise_routes` builds the parts of a layerwise engine's two-route
mixture. Pure functions of arrays (no scenario).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TurnParts:
    """What one turn costs a prefill engine, per turn of the workload's sample (one entry per route
    for the layerwise modes). A batch lasts its summed ``serial`` part (work that waits for the
    rest: ``basic`` computes after its loads) plus the longest of: its summed ``work`` (what the
    whole engine does for it: layerwise compute over the engine's ``e`` GPUs, the storage-NIC load
    in ``basic``), each GPU's summed ``cr`` and ``cw`` (the read and write sides of the compute NIC
    of the GPU the turn runs on, at line rate) and its members' ``lone`` times (a turn alone, with
    other turns' traffic stretching its legs). ``w`` weighs the entries; ``work_scale`` multiplies
    ``work`` (what the load changes in it, so that the rest can be kept, :func:`batch_static`).
    ``comp`` is each entry's compute on the engine [s], what the compute quota ``quota_s`` counts
    (none given: no quota)."""

    serial: np.ndarray
    work: np.ndarray
    cr: np.ndarray
    cw: np.ndarray
    lone: np.ndarray
    w: np.ndarray
    work_scale: float = 1.0
    comp: np.ndarray | None = None
    quota_s: float = math.inf


def sub_batch_starts(parts: TurnParts, ix: np.ndarray) -> np.ndarray:
    """``start[k, j]``: the first position of the sub-batch that position j of sampled queue k
    falls in, when the engine serves a queue under the compute quota: FIFO, a sub-batch takes turns
    while their summed compute stays within the quota (at least one), the rest go next."""
    start = np.zeros(ix.shape, dtype=np.intp)
    if parts.comp is None or not math.isfinite(parts.quota_s):
        return start
    c = parts.comp[ix]
    cur, s = np.zeros(len(ix)), np.zeros(len(ix), dtype=np.intp)
    for j in range(ix.shape[1]):
        new = (cur > 0) & (cur + c[:, j] > parts.quota_s * (1 + 1e-12))
        s = np.where(new, j, s)
        cur = np.where(new, 0.0, cur) + c[:, j]
        start[:, j] = s
    return start


def segment_sums(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sums of ``x`` along each row that restart at every sub-batch start."""
    cs = np.cumsum(x, axis=1)
    before = np.where(start > 0, np.take_along_axis(cs, np.maximum(start - 1, 0), axis=1), 0.0)
    return cs - before


def segmented_running_max(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``out[k, j] = max(x[k, start[k, j] : j + 1])``: running maxima along each row that restart at
    every sub-batch start, by doubling (a Hillis-Steele scan: after the step of width w each entry
    holds the maximum of the last 2w entries of its sub-batch; log2 of the row length steps, exact)."""
    out = np.array(x, float, copy=True)
    depth = np.arange(x.shape[1])[None, :] - start  # position within the sub-batch
    w = 1
    while w < x.shape[1]:
        reach = depth[:, w:] >= w
        out[:, w:] = np.where(reach, np.maximum(out[:, w:], out[:, :-w]), out[:, w:])
        w *= 2
    return out


def batch_static(parts: TurnParts, draws: np.ndarray, e: int, n_cap: int) -> tuple[np.ndarray, ...]:
    """The parts of :func:`batch_law` that do not move with the load (per sampled queue and
    position, within the position's sub-batch): the summed work (before ``work_scale``), the busiest
    rank's summed compute-NIC side, the summed serial part, and the sub-batch starts."""
    ix = draws[:, :n_cap]
    start = sub_batch_starts(parts, ix)
    rows = np.arange(len(ix))
    busiest = np.zeros(ix.shape)
    for side in (parts.cr, parts.cw):
        acc, top = np.zeros((len(ix), e)), np.zeros(len(ix))
        x = side[ix]
        for j in range(n_cap):  # each sub-batch's ranks take its turns in turn, from rank 0
            fresh = start[:, j] == j
            acc[fresh] = 0.0
            top = np.where(fresh, 0.0, top)
            rank = (j - start[:, j]) % e
            acc[rows, rank] += x[:, j]
            top = np.maximum(top, acc[rows, rank])
            busiest[:, j] = np.maximum(busiest[:, j], top)
    return segment_sums(parts.work[ix], start), busiest, segment_sums(parts.serial[ix], start), start


def batch_law(parts: TurnParts, draws: np.ndarray, e: int, n_cap: int, static: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sampled batches: ``dur[k, n - 1]``, how long the engine takes to serve the first n turns of
    sampled queue k, and ``own[k, n - 1]``, the mean over those n turns of the time until their own
    sub-batch ends (n = 1..``n_cap``). Under the compute quota the n turns are served as consecutive
    sub-batches (:func:`sub_batch_starts`); without it, as one batch (``own == dur``). The
    engine's ranks take a (sub-)batch's turns in turn (turn j on GPU j mod e, as the simulator's
    engine does); a (sub-)batch lasts as :class:`TurnParts` says. ``static``: :func:`batch_static`
    of the same arguments, when already at hand."""
    work, busiest, serial, start = static if static is not None else batch_static(parts, draws, e, n_cap)
    lone_x = parts.lone[draws[:, :n_cap]]
    cut = bool(start.any())
    if not cut:
        lone = np.maximum.accumulate(lone_x, axis=1)
    else:  # the running maximum restarts with every sub-batch
        lone = segmented_running_max(lone_x, start)
    part = np.maximum(np.maximum(work * parts.work_scale, busiest), lone) + serial  # the open (sub-)batch so far
    if not cut:
        return part, part
    pos = np.arange(n_cap)
    last = np.ones(start.shape, bool)  # the last position of a sub-batch within the queue
    last[:, :-1] = start[:, 1:] == pos[None, 1:]
    done = np.cumsum(np.where(last, part, 0.0), axis=1)  # when each finished sub-batch ends
    members = pos[None, :] - start + 1
    finish_sum = np.cumsum(np.where(last, members * done, 0.0), axis=1)  # its members' end times, summed
    prev = np.maximum(start - 1, 0)
    closed = np.where(start > 0, np.take_along_axis(done, prev, axis=1), 0.0)
    closed_own = np.where(start > 0, np.take_along_axis(finish_sum, prev, axis=1), 0.0)
    dur = closed + part
    own = (closed_own + members * dur) / (pos[None, :] + 1)
    return dur, own


def arrivals_pmf(lam: float, d: np.ndarray, d2: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``P(j arrivals)`` during a batch of random duration (mean ``d``, second moment ``d2``; one row
    each) at Poisson rate ``lam``: a Poisson mixture, taken as the negative binomial with its mean
    ``lam d`` and variance ``lam d + lam^2 Var(d)`` (a Poisson where the duration does not vary). A
    long batch lets more turns in: with the mean duration alone the queues would be too short."""
    from scipy.special import gammaln

    d = np.asarray(d, float)[:, None]
    mu = lam * d
    extra = lam**2 * np.clip(np.asarray(d2, float)[:, None] - d**2, 0.0, None)  # variance beyond Poisson
    mixed = extra > 1e-9 * np.maximum(mu, 1e-300)
    j = j[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pois = j * np.log(mu) - mu - gammaln(j + 1)
        r = mu**2 / np.where(mixed, extra, 1.0)  # negative binomial: size r, success p
        p = mu / (mu + np.where(mixed, extra, 1.0))
        log_nb = gammaln(j + r) - gammaln(r) - gammaln(j + 1) + r * np.log(p) + j * np.log1p(-p)
        out = np.exp(np.where(mixed, log_nb, log_pois))
    return np.where(mu > 0, out, (j == 0).astype(float))


def gated_batches(
    lam: float, parts: TurnParts, draws: np.ndarray, e: int, n_max: int = 160, statics: dict | None = None
) -> tuple[float, float, float, float]:
    """Mean wait for the running batch, mean own-batch duration, busy fraction and lone batch
    duration (a turn that finds the engine idle runs alone) of a prefill engine that, when it frees
    up, takes every turn waiting as one batch (gated batch service, Poisson arrivals at ``lam``).

    A batch of ``n`` turns lasts ``d`` (:func:`batch_law`, over sampled queues: its mean and
    second moment given n); the next batch holds the arrivals during it (:func:`arrivals_pmf`: a
    long batch lets more in), or one turn after an idle spell. The batch sizes form a Markov chain
    whose stationary law ``pi`` (one linear solve) gives, per turn: the own batch's duration
    (size-biased, ``sum n pi o / sum n pi``, with ``o`` the mean time to a member's sub-batch end,
    ``d`` itself without a quota) and, by Little's law, the wait for the running batch:
    the arrivals waiting, integrated over a batch (``lam E[d^2] / 2``), over ``lam`` times the mean
    cycle (a batch plus the idle spell after it). Checked against a direct simulation of the same
    queue in the tests, with and without the compute quota. Under the quota the turns waiting when
    the engine frees up are served as consecutive sub-batches (:func:`batch_law`); turns arriving
    meanwhile wait for all of them (the simulator lets them join a later sub-batch when it has room;
    against a direct simulation of that, the mean wait plus own batch is within 1.6 %). Turns
    reach the engine at random (Poisson thinning);
    :func:`least_loaded_wait_frac` corrects for least-loaded dispatch. ``statics`` keeps
    :func:`batch_static` per truncation between calls that differ only in the load.
    """
    statics = {} if statics is None else statics
    # the chain is truncated at n_cap turns per batch: start small, grow while mass piles up there
    # (the arrivals' law has a long tail where batch durations vary a lot)
    for n_cap in sorted({min(c, n_max) for c in (24, 64, n_max)}):
        n = np.arange(1, n_cap + 1, dtype=float)
        if n_cap not in statics:
            statics[n_cap] = batch_static(parts, draws, e, n_cap)
        dur, own_n = batch_law(parts, draws, e, n_cap, statics[n_cap])
        d, d2 = dur.mean(axis=0), (dur**2).mean(axis=0)
        P = arrivals_pmf(lam, d, d2, np.arange(n_cap + 1, dtype=float))  # arrivals during a batch of n
        T = P[:, 1:].copy()  # n -> n' >= 1
        T[:, 0] += P[:, 0]  # nobody arrived: the next batch is the next lone arrival
        T[:, -1] += np.clip(1 - T.sum(axis=1), 0, None)  # truncation mass
        A = T.T - np.eye(n_cap)
        A[-1, :] = 1.0
        rhs = np.zeros(n_cap)
        rhs[-1] = 1.0
        try:
            pi = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            return math.inf, math.inf, 1.0, math.inf
        pi = np.clip(pi, 0, None)
        pi /= pi.sum()
        top = pi[-min(10, n_cap // 4) :].sum()
        if top <= 1e-6:
            break
    else:  # the largest truncation must hold all but 0.1 % of batches, else they pile up: unstable
        if top > 1e-3:
            return math.inf, math.inf, 1.0, math.inf
    cycle = float(pi @ d) + float(pi @ P[:, 0]) / lam
    own = float((pi * n) @ own_n.mean(axis=0)) / float(pi @ n)
    wait = float(pi @ d2) / (2 * cycle)
    busy = min(float(pi @ d) / cycle, 1.0)
    return wait, own, busy, float(d[0])


def layerwise_routes(
    hit_s: np.ndarray,
    comp_s: np.ndarray,
    w: np.ndarray,
    *,
    f: float,
    e: int,
    append_bytes: float,
    cnic_Bps: float,
    de_read_util: float,
    de_write_util: float,
    quota_s: float = math.inf,
) -> TurnParts:
    """A layerwise prefill engine's turns as a two-route mixture (prefill-side routes, then
    decode-side ones; weights ``1 - f`` and ``f``).

    During the forward pass the prefill GPU's compute NIC reads the loaded KV and sends the hand-off
    ((1 - f) H + A) to the decode node: a prefill-side turn moves 2H + A through its read side and
    H through its write side; a decode-side one is relayed (H from the decode node's compute NIC
    into the write side) and sends A back. A prefill GPU's compute NIC carries only its own
    engine's traffic (summed per GPU in :func:`batch_law`); the decode GPUs' compute NICs also
    carry other turns' relays, hand-offs and host-to-device copies, which stretch the legs that
    cross them by ``1 / (1 - utilization)`` (processor sharing): the relay by the read side's, the
    hand-off by the write side's.
    """
    B = cnic_Bps
    s_r = 1.0 / (1.0 - de_read_util)
    s_w = 1.0 / (1.0 - de_write_util)
    H, A, c = hit_s, append_bytes, comp_s / e
    pe_load = np.maximum((2 * H + A) / B, (H + A) / B * s_w)
    de_load = np.maximum(H / B * s_r, A / B * s_w)
    return TurnParts(
        serial=np.zeros(2 * len(H)),
        work=np.concatenate([c, c]),
        cr=np.concatenate([(2 * H + A) / B, np.full_like(H, A / B)]),
        cw=np.concatenate([H / B, H / B]),
        lone=np.concatenate([np.maximum(c, pe_load), np.maximum(c, de_load)]),
        w=np.concatenate([(1 - f) * w, f * w]),
        comp=np.concatenate([c, c]),
        quota_s=quota_s,
    )
