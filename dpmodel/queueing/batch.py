"""The prefill engine's batch law: gated batch service of sampled queues of turns.

An engine of ``e`` GPUs in lock step takes every turn waiting when it frees up as one batch (under
the compute quota, as consecutive sub-batches). :class:`TurnParts` says what one turn costs the
engine, :func:`batch_law` what sampled queues of n turns take, :func:`gated_batches` the stationary
law of the batch sizes (a Markov chain) and from it the wait for the running batch and the own
batch's duration. :func:`path_routes` builds the parts of a layerwise engine's mixture of routes,
one per load path, from the paths' legs. Pure functions of arrays (no scenario).
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
    (none given: no quota). ``more_sides``: further per-GPU links summed like ``cr`` and ``cw``
    (a topology with more than two prefill-GPU byte resources).

    ``lone_terms`` and ``lone_scales``, when given, say what ``lone`` is made of:
    ``lone = max_j lone_scales[j] * lone_terms[j]``, each term a leg's time at its line rate and
    each scale (>= 0, the same for every entry) the stretch the load puts on it. A running maximum
    commutes with a positive scale, so :func:`batch_static` keeps each term's running maxima and
    :func:`batch_law` only rescales them as the load moves."""

    serial: np.ndarray
    work: np.ndarray
    cr: np.ndarray
    cw: np.ndarray
    lone: np.ndarray
    w: np.ndarray
    work_scale: float = 1.0
    comp: np.ndarray | None = None
    quota_s: float = math.inf
    more_sides: tuple[np.ndarray, ...] = ()
    lone_terms: tuple[np.ndarray, ...] = ()
    lone_scales: tuple[float, ...] = ()


def sub_batch_starts(parts: TurnParts, ix: np.ndarray) -> np.ndarray:
    """``start[k, j]``: the first position of the sub-batch that position j of sampled queue k
    falls in, when the engine serves a queue under the compute quota: FIFO, a sub-batch takes turns
    while their summed compute stays within the quota (at least one), the rest go next."""
    if parts.comp is None or not math.isfinite(parts.quota_s):
        return np.zeros(ix.shape, dtype=np.intp)
    c = parts.comp[np.ascontiguousarray(ix.T)]  # position-major
    start = np.zeros(c.shape, dtype=np.intp)
    cur, s = np.zeros(len(ix)), np.zeros(len(ix), dtype=np.intp)
    q = parts.quota_s * (1 + 1e-12)
    for j in range(c.shape[0]):
        new = (cur > 0) & (cur + c[j] > q)
        s = np.where(new, j, s)
        cur = np.where(new, 0.0, cur) + c[j]
        start[j] = s
    return np.ascontiguousarray(start.T)


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
    rank's summed per-GPU link, the summed serial part, the sub-batch starts and (when ``parts``
    has ``lone_terms``) each lone term's running maximum."""
    ix = draws[:, :n_cap]
    start = sub_batch_starts(parts, ix)
    k_rows = len(ix)
    ixt = np.ascontiguousarray(ix.T)  # position-major: each position's queues contiguous
    pos = np.arange(n_cap)
    keep_t = np.ascontiguousarray((start != pos[None, :]).T)  # False where a sub-batch starts
    start_t = np.ascontiguousarray(start.T)
    busiest_t = np.zeros((n_cap, k_rows))
    for side in (parts.cr, parts.cw, *parts.more_sides):
        if not np.any(side):
            continue  # a link this engine's turns never use
        # each sub-batch's ranks take its turns in turn, from rank 0: position j runs on the rank
        # of position j - e, so a rank's running sum is that of j - e (when in the same sub-batch)
        # plus j's own; the busiest rank so far is the largest of the last e running sums there
        x = side[ixt]
        acc = np.empty_like(x)
        for b0 in range(0, n_cap, e):
            j = slice(b0, min(b0 + e, n_cap))
            if b0 == 0:
                acc[j] = x[j]
            else:
                jj = np.arange(b0, min(b0 + e, n_cap))
                prev = acc[b0 - e : b0 - e + len(jj)]
                acc[j] = np.where((jj - e)[:, None] >= start_t[j], prev, 0.0) + x[j]
        np.maximum(busiest_t, acc, out=busiest_t)
        for d in range(1, min(e, n_cap)):
            back = np.where((pos[d:] - d)[:, None] >= start_t[d:], acc[:-d], 0.0)
            np.maximum(busiest_t[d:], back, out=busiest_t[d:])
    busiest = np.ascontiguousarray(busiest_t.T)
    used = [i for i, t in enumerate(parts.lone_terms) if np.any(t)]  # legs some route of this mixture has
    lone_max = [np.zeros(ix.shape)] * len(parts.lone_terms)
    if used:
        xt = np.stack([parts.lone_terms[i][ixt] for i in used], axis=1)  # (n_cap, terms, queues)
        out = np.empty_like(xt)
        out[0] = xt[0]
        for j in range(1, n_cap):  # running maxima that restart with every sub-batch
            np.maximum(out[j - 1], xt[j], out=out[j])
            if not keep_t[j].all():
                np.copyto(out[j], xt[j], where=~keep_t[j])
        for n, i in enumerate(used):
            lone_max[i] = np.ascontiguousarray(out[:, n, :].T)
    lone_max = tuple(lone_max)
    return segment_sums(parts.work[ix], start), busiest, segment_sums(parts.serial[ix], start), start, lone_max


def _law_static(static: tuple, parts: TurnParts) -> dict:
    """What :func:`batch_law` derives from a :func:`batch_static` alone (kept with it): the
    sub-batch bookkeeping under the quota and, where the load only rescales the decode-side lone
    terms (``work_scale`` 1, no serial part), the longest of the summed work, the busiest rank and
    the unscaled lone terms."""
    work, busiest, serial, start, lone_max = static
    n_cap = start.shape[1]
    out: dict = {"cut": bool(start.any())}
    if out["cut"]:
        pos = np.arange(n_cap)
        last = np.ones(start.shape, bool)  # the last position of a sub-batch within the queue
        last[:, :-1] = start[:, 1:] == pos[None, 1:]
        out["last"] = last
        out["members"] = pos[None, :] - start + 1
        out["has_prev"] = start > 0
        out["prev_flat"] = np.arange(start.shape[0])[:, None] * n_cap + np.maximum(start - 1, 0)
        out["n"] = np.broadcast_to(pos[None, :] + 1, start.shape)
    out["serial0"] = not np.any(serial)
    if parts.work_scale == 1.0 and out["serial0"] and parts.lone_terms:
        out["fixed"] = np.maximum(np.maximum(work, busiest), lone_max[0])  # the first term: unscaled (scale 1)
        out["scaled"] = [i for i in range(1, len(lone_max)) if np.any(lone_max[i])]  # terms that are ever > 0
    return out


def batch_law(parts: TurnParts, draws: np.ndarray, e: int, n_cap: int, static: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sampled batches: ``dur[k, n - 1]``, how long the engine takes to serve the first n turns of
    sampled queue k, and ``own[k, n - 1]``, the mean over those n turns of the time until their own
    sub-batch ends (n = 1..``n_cap``). Under the compute quota the n turns are served as consecutive
    sub-batches (:func:`sub_batch_starts`); without it, as one batch (``own == dur``). The
    engine's ranks take a (sub-)batch's turns in turn (turn j on GPU j mod e, as the simulator's
    engine does); a (sub-)batch lasts as :class:`TurnParts` says. ``static``: :func:`batch_static`
    of the same arguments, when already at hand."""
    static = static if static is not None else batch_static(parts, draws, e, n_cap)
    work, busiest, serial, start, lone_max = static[:5]
    law = static[5] if len(static) > 5 and static[5] is not None else _law_static(static, parts)
    cut = law["cut"]
    fast = "fixed" in law and parts.work_scale == 1.0 and parts.lone_scales[:1] == (1.0,)
    if fast:  # only the decode-side lone terms move with the load
        part = law["fixed"]
        for i in law["scaled"]:
            k = parts.lone_scales[i]
            if k != 0:
                part = np.maximum(part, lone_max[i] * k)
    else:
        if parts.lone_terms:  # the running maximum of a max of scaled terms: the terms' maxima, rescaled
            lone = None
            for m, k in zip(lone_max, parts.lone_scales, strict=True):
                if k == 0:
                    continue
                lone = m * k if lone is None else np.maximum(lone, m * k)
            lone = np.zeros(start.shape) if lone is None else lone
        elif not cut:
            lone = np.maximum.accumulate(parts.lone[draws[:, :n_cap]], axis=1)
        else:  # the running maximum restarts with every sub-batch
            lone = segmented_running_max(parts.lone[draws[:, :n_cap]], start)
        part = np.maximum(np.maximum(work * parts.work_scale, busiest), lone)  # the open (sub-)batch so far
        if not law["serial0"]:
            part = part + serial
    if not cut:
        return part, part
    last, members = law["last"], law["members"]
    done = np.cumsum(np.where(last, part, 0.0), axis=1)  # when each finished sub-batch ends
    finish_sum = np.cumsum(np.where(last, members * done, 0.0), axis=1)  # its members' end times, summed
    pf, hp = law["prev_flat"], law["has_prev"]
    closed = np.where(hp, done.reshape(-1)[pf], 0.0)
    closed_own = np.where(hp, finish_sum.reshape(-1)[pf], 0.0)
    dur = closed + part
    own = (closed_own + members * dur) / law["n"]
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
    # the batch law of the first n turns of a queue is the same at any longer truncation (every
    # step of it looks only backwards), so one law at the truncation the last call needed
    # (``statics["reached"]``) serves every shorter one of this call
    levels = sorted({min(c, n_max) for c in (24, 64, n_max)})
    law = None
    for n_cap in levels:
        n = np.arange(1, n_cap + 1, dtype=float)
        if law is None or law[0] < n_cap:
            L = max(n_cap, statics.get("reached", 0)) if law is None else n_cap
            if L not in statics:
                st = batch_static(parts, draws, e, L)
                statics[L] = (*st, _law_static(st, parts))
            law = (L, *batch_law(parts, draws, e, L, statics[L]))
        statics["reached"] = n_cap
        dur, own_n = law[1][:, :n_cap], law[2][:, :n_cap]
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


def path_routes(
    hit_s: np.ndarray,
    comp_s: np.ndarray,
    w: np.ndarray,
    *,
    shares: np.ndarray,
    e: int,
    other_bytes: tuple[float, float],
    gpu_legs: np.ndarray,
    gpu_Bps: np.ndarray,
    de_legs: np.ndarray,
    de_Bps: np.ndarray,
    de_utils: np.ndarray,
    recompute_s: np.ndarray | None = None,
    recompute: np.ndarray | None = None,
    quota_s: float = math.inf,
) -> TurnParts:
    """A layerwise prefill engine's turns as a mixture of routes, one per load path (the
    topology's paths in order, weights ``shares``: one per path, or one row per turn of the
    sample), built from the paths' legs.

    Per turn of the sample (hit bytes ``H``, compute ``comp_s``) and path ``p``, with the turn's
    other KV ``(A, O) = other_bytes`` (new prompt and generated bytes, the workload's means):

    * the engine's work: its compute over the ``e`` GPUs, plus the recompute of the hit tokens'
      KV (``recompute_s``) on a path that recomputes (``recompute[p]``);
    * each prefill-GPU link ``g`` (``gpu_legs[p, g]``, coefficients of ``(H, A, O)``, at
      ``gpu_Bps[g]``): the bytes the turn moves through it, summed per GPU in :func:`batch_law`
      (the first two are ``cr`` and ``cw``, the rest ``more_sides``);
    * each decode-GPU link ``d`` crossed during the prefill (``de_legs[p, d]``, at ``de_Bps[d]``):
      the relay and hand-off, which other turns' traffic on the decode GPUs stretches by
      ``1 / (1 - de_utils[d])`` (processor sharing).

    A turn alone lasts the longest of its work, its prefill-GPU links at line rate and its
    stretched decode-GPU links (``lone``, kept as ``lone_terms`` and ``lone_scales``). On the
    paper's two paths this is the two-route mixture of prefill-side reads (2H + A through the
    read side, H through the write side, the H + A hand-off stretched by the decode write side)
    and decode-side reads (the H relay stretched by the decode read side, A sent back stretched by
    its write side).
    """
    H = np.asarray(hit_s, float)
    A, O = other_bytes  # noqa: E741 - the paper's symbol
    P = np.shape(shares)[-1]
    c = comp_s / e
    G, Dn = gpu_legs.shape[1], de_legs.shape[1]

    def bytes_of(coef: np.ndarray) -> np.ndarray:
        return coef[0] * H + coef[1] * A + coef[2] * O

    work, sides, fixed, de_terms = [], [[] for _ in range(G)], [], [[] for _ in range(Dn)]
    for p in range(P):
        wk = c + recompute_s / e if recompute is not None and recompute[p] else c
        work.append(wk)
        top = wk
        for g in range(G):
            t = bytes_of(gpu_legs[p, g]) / gpu_Bps[g]
            sides[g].append(t)
            top = np.maximum(top, t)
        fixed.append(top)
        for d in range(Dn):
            de_terms[d].append(bytes_of(de_legs[p, d]) / de_Bps[d])
    stretch = tuple(1.0 / (1.0 - float(u)) for u in de_utils)
    terms = (np.concatenate(fixed), *(np.concatenate(t) for t in de_terms))
    scales = (1.0, *stretch)
    lone = terms[0]
    for t, k in zip(terms[1:], scales[1:], strict=True):
        lone = np.maximum(lone, t * k)
    side_arrays = [np.concatenate(x) for x in sides] + [np.zeros(P * len(H))] * max(0, 2 - G)
    work_all = np.concatenate(work)
    return TurnParts(
        serial=np.zeros(P * len(H)),
        work=work_all,
        cr=side_arrays[0],
        cw=side_arrays[1],
        lone=lone,
        w=np.concatenate([float(s) * w for s in shares] if np.ndim(shares) == 1 else [shares[:, p] * w for p in range(P)]),
        comp=work_all,
        quota_s=quota_s,
        more_sides=tuple(side_arrays[2:]),
        lone_terms=terms,
        lone_scales=scales,
    )
