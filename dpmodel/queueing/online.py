"""Online serving (open network): Poisson agent arrivals at APS; TTFT / TTST / TPOT; SLO capacity.

Notes
-----
Turns arrive at ``lambda = APS x turns per agent``. The structure follows the paper's data path
(and the simulator, :mod:`dpmodel.sim`):

* **Read** (layerwise modes): the turn's hit KV is read into a DRAM buffer through one side's
  storage NIC (the decode side with probability ``f``), an M/G/1 processor-sharing queue per node:
  mean ``(H / S) / (1 - rho_side)``.
* **Prefill**: ``P g / e`` engines of ``e`` GPUs in lock step (an expert-parallel group; 1 GPU for
  dense models). An engine takes every turn waiting when it frees up as one batch, its ranks taking
  the batch's turns in turn. A batch lasts the longest of its summed compute over the ``e`` GPUs,
  each GPU's summed compute-NIC bytes and its members' lone times (:class:`TurnParts`), averaged
  over sampled batches of the workload's turns (:func:`_batch_law`). With layerwise loading a
  prefill-side turn moves 2H + A through its GPU's compute NIC (load and hand-off share it) and a
  turn relayed from the decode side H; the legs that cross a decode GPU's compute NIC are stretched
  by its utilization (:func:`_layerwise_routes`). In ``basic`` the engine holds itself while its
  batch's KV loads, then computes. The batch sizes form a Markov chain (gated batch service; the
  arrivals during a batch are a Poisson mixture over its random duration); its stationary law
  gives the wait for the running batch and the own batch's duration. Under the compute quota (the
  paper's 300 ms) the turns an engine finds waiting are served as consecutive sub-batches, each
  taking turns in order while their compute fits, and a turn's own time runs to the end of its
  sub-batch (:func:`_sub_batch_starts`). Turns reach
  an engine at random in ``basic`` and ``layerwise``; DualPath's scheduler (and the Oracle) sends
  each to the least-loaded engine, which only the chance that every engine holds work leaves
  waiting (:func:`least_loaded_wait_frac`).
* TTFT = read + wait for the running batch + own batch. Link utilizations come from the flow table
  (:func:`link_model`).
* **Decode**: TPOT at the batch Little's law implies, ``b = lambda o TPOT / (D g)``, a fixed point
  with a closed form because a step is linear in b. TTST = TTFT + the decode node's H2D of the
  prompt KV + one TPOT.

The convex split optimizer (:mod:`dpmodel.optimize.latency`) keeps the simpler max-of-links load
residence (:func:`load_residence_s`), which is what makes it convex.

Percentiles (method stated in every result): a turn's TTFT = its own part (its read, stretched by
its storage NIC's utilization, plus its lone prefill time; per turn of the workload's sample) plus
a queueing part taken as exponential, with the mean that closes the model's mean TTFT; the
quantiles are those of that mixture (:func:`ttft_quantiles`). At light load the spread of turn
sizes sets the tail; near saturation the queueing part does. (Taking the wait as uniform within
the running batch instead gave p99s further below the simulator's.) Any utilization above 0.9
marks the result low-confidence and a range (the mean at 0.95x and 1.05x the load) is reported
beside the number.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import flows
from ..errors import ScenarioError
from ..scenario import MODES, Scenario

LOW_CONFIDENCE_UTIL_FRAC = 0.9
PERCENTILE_METHOD = ("each turn's own part (its read and lone prefill, over the workload's turn sizes) + an exponential "
                     "queueing part whose mean closes the model's mean; quantiles of that mixture")


def erlang_c_prob(*, offered: float, servers: int) -> float:
    """Probability that an arrival finds all ``servers`` busy in an M/M/c queue with ``offered``
    load (in servers; Erlang C); 1 when unstable."""
    a, c = float(offered), int(servers)
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    b = 1.0  # Erlang B by its stable recursion, then C
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def erlang_c_wait_s(*, arrival_per_s: float, service_s: float, servers: int) -> float:
    """Mean waiting time in an M/M/c queue (Erlang C); inf when unstable."""
    if service_s <= 0 or arrival_per_s <= 0:
        return 0.0
    a = arrival_per_s * service_s  # offered load in servers
    if a >= int(servers):
        return math.inf
    return erlang_c_prob(offered=a, servers=servers) * service_s / (int(servers) - a)


#: modes whose scheduler sends each turn to the least-loaded prefill engine (the paper's, in
#: DualPath and its Oracle; the simulator's dual-path and oracle policies); the others pick at random
LEAST_LOADED_MODES = ("dualpath", "oracle")


def least_loaded_wait_frac(*, engines: int, busy_frac: float, pending_turns: float) -> float:
    """Share of the random-dispatch wait for the running batch left when each turn goes to the
    engine holding the least work (an approximation, checked against the simulator).

    With random dispatch a turn can meet a running batch whenever its engine holds work; with
    least-loaded dispatch only when every engine does. An engine holds work when it is busy or a
    turn sent to it is still reading (``pending_turns`` per engine on average, Poisson), so it is
    empty with probability ``(1 - busy) exp(-pending)``; the chance that all ``engines`` hold work
    is taken as Erlang C at that occupancy, and the wait scales by it over the one engine's
    occupancy (1 for a single engine)."""
    occ = 1.0 - (1.0 - min(max(busy_frac, 0.0), 1.0)) * math.exp(-max(pending_turns, 0.0))
    c = max(int(round(engines)), 1)
    if c == 1 or occ <= 0:
        return 1.0 if c == 1 else 0.0
    return min(erlang_c_prob(offered=c * occ, servers=c) / occ, 1.0)


def turns_per_agent(scenario: Scenario) -> float:
    """Mean turns per agent (per trajectory): Total / (Append + Gen) under the Table 2 weighting."""
    t = scenario.workload.trajectory
    return max(t.mean_total_tokens / (t.mean_append_tokens + t.mean_generated_tokens), 1.0)


@dataclass(frozen=True)
class LinkModel:
    """Per-turn link demands of a mode in normalized form for a given turn rate.

    For link r: utilization ``u_r(f) = a_r + b_r f`` and zero-load service
    ``S_r(f) = K_r u_r(f)`` (so ``R_r = K_r u_r / (1 - u_r)``), with ``K_r = units_r / lambda``.
    """

    names: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    K: np.ndarray


def link_model(scenario: Scenario, mode: str, turn_rate_per_s: float) -> LinkModel:
    d = scenario.demands(dataclasses.replace(MODES[mode], layerwise=True))
    cl, dep = scenario.cluster, scenario.deployment
    units = flows.resource_units(prefill_nodes=dep.prefill_nodes_count, decode_nodes=dep.decode_nodes_count, gpus_per_node=cl.gpus_per_node)
    names, a, b, K = [], [], [], []
    for i, name in enumerate(d.names):
        if name not in flows.KV_RESOURCE_NAMES or not math.isfinite(d.capacity[i]):
            continue
        c0 = float(d.const[i] @ d.weights)
        c1 = float(d.slope[i] @ d.weights) if d.de_path else 0.0
        if c0 == 0 and c1 == 0:
            continue
        names.append(name)
        a.append(turn_rate_per_s * c0 / d.capacity[i])
        b.append(turn_rate_per_s * c1 / d.capacity[i])
        K.append(float(units[name]) / turn_rate_per_s)
    return LinkModel(tuple(names), np.array(a), np.array(b), np.array(K))


def load_residence_s(lm: LinkModel, f: float | np.ndarray) -> np.ndarray:
    """Mean time to load a turn's KV: the max over its links of ``K u / (1 - u)`` (inf if u >= 1)."""
    f = np.asarray(f, float)
    u = lm.a[:, None] + lm.b[:, None] * f.reshape(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(u < 1, lm.K[:, None] * u / (1 - u), np.inf)
    return r.max(axis=0).reshape(f.shape) if len(lm.names) else np.zeros(f.shape)


_MEMO: dict[tuple[int, str], tuple[Scenario, Any]] = {}
_SYNTH_CACHE: dict[str, Any] = {}
_SIZES_SAMPLE = 4096  # turns kept from the synthesized sample (~40 above its p99)


def _memo(scenario: Scenario, key: str, fn, store: dict | None = None, limit: int = 1024):
    """``fn()`` computed once per scenario object (scenarios are frozen): the online model is
    evaluated many times on one scenario (split candidates, capacity bisection, sizing). ``store``
    and ``limit``: another cache and its size (emptied when full)."""
    store = _MEMO if store is None else store
    k = (id(scenario), key)
    hit = store.get(k)
    if hit is not None and hit[0] is scenario:
        return hit[1]
    v = fn()
    if len(store) >= limit:
        store.clear()
    store[k] = (scenario, v)
    return v


_STATICS: dict[tuple[int, str], tuple[Scenario, dict]] = {}


def _statics(scenario: Scenario, key: str) -> dict:
    """A per-scenario store of :func:`_batch_static` results for one data path and split (they do
    not move with the load); at most 32 kept (each up to a few MB)."""
    return _memo(scenario, key, dict, store=_STATICS, limit=32)


def _turn_sizes(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit bytes, prefill compute seconds and weights of the workload's turns: a synthesized sample
    (400 agents, seed 0; 4096 of its turns drawn at random) when the workload has a synthesizer,
    else its request classes. The prefill batch's residual time needs the spread of turn sizes, not
    only their mean."""
    return _memo(scenario, "sizes", lambda: _turn_sizes_uncached(scenario))


def _turn_sizes_uncached(scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = scenario.model.kv_bytes_per_token
    rate = scenario.prefill_rate_flops_per_s()
    if scenario.workload.synthesis is not None and not scenario.request_classes:
        import json

        from ..profiles.schema import to_plain
        from ..workload.synth import synthesize_workload

        wkey = json.dumps(to_plain(scenario.workload), sort_keys=True, default=str)
        if wkey not in _SYNTH_CACHE:  # the sample depends on the workload alone
            ts = synthesize_workload(scenario.workload, agents=400, seed=0)
            ctx, app = ts.context_tokens().astype(float), np.asarray(ts.append_tokens)
            if len(ctx) > _SIZES_SAMPLE:  # a fixed random subsample keeps the joint law of (hit, compute)
                pick = np.sort(np.random.default_rng(0).choice(len(ctx), size=_SIZES_SAMPLE, replace=False))
                ctx, app = ctx[pick], app[pick]
            _SYNTH_CACHE[wkey] = (ctx, app)
        ctx, app = _SYNTH_CACHE[wkey]
        hit = ctx * b
        comp = np.asarray(scenario.model.prefill_flops(context_tokens=ctx, append_tokens=app), float) / rate
        w = np.full(len(hit), 1.0 / len(hit))
    else:
        ks = scenario.classes()
        hit = np.array([k.hit_tokens * b for k in ks], float)
        comp = np.array([scenario.prefill_compute_s(k) for k in ks], float)
        w = np.array([k.weight_frac for k in ks], float)
    return hit, comp, w


def _equal_weight_picks(key: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` equal-weight quantiles (at the bins' midpoints) of the sample ordered
    by ``key`` and weighted ``w``."""
    order = np.argsort(key, kind="stable")
    cw = np.cumsum(w[order]) / np.sum(w)
    return order[np.minimum(np.searchsorted(cw, (np.arange(k) + 0.5) / k), len(key) - 1)]


def _equal_weight_quantiles(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """``k`` equal-weight quantiles (at the bins' midpoints) of the sample ``x`` weighted ``w``."""
    return x[_equal_weight_picks(x, w, k)]


_BATCH_DRAWS = 512  # sampled batches (stratified: each batch position holds the sample's 512 quantiles)


@dataclass(frozen=True)
class TurnParts:
    """What one turn costs a prefill engine, per turn of the workload's sample (one entry per route
    for the layerwise modes). A batch lasts its summed ``serial`` part (work that waits for the
    rest: ``basic`` computes after its loads) plus the longest of: its summed ``work`` (what the
    whole engine does for it: layerwise compute over the engine's ``e`` GPUs, the storage-NIC load
    in ``basic``), each GPU's summed ``cr`` and ``cw`` (the read and write sides of the compute NIC
    of the GPU the turn runs on, at line rate) and its members' ``lone`` times (a turn alone, with
    other turns' traffic stretching its legs). ``w`` weighs the entries; ``work_scale`` multiplies
    ``work`` (what the load changes in it, so that the rest can be kept, :func:`_batch_static`).
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


def _stratified_draws(hit: np.ndarray, comp: np.ndarray, w: np.ndarray, n_max: int, k: int = _BATCH_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """``k`` sampled FIFO queues of ``n_max`` turns (indices into the sample) and a uniform per slot.

    Stratified: each queue position (column) holds the same ``k`` turns of the sample, its
    equal-weight quantiles by hit size plus compute, each in its mean (whole turns: the joint law of
    hit and compute is kept; both means within about 1 %), in its own random order; the uniforms
    are likewise a shuffled grid. So every position's mean is close to the workload's mean (turn
    sizes vary 2x their mean: plain random queues would be off by several per cent at small n).
    Seed 0: common random numbers, so the batch law moves smoothly with the split and the load."""
    key = sum(np.asarray(x, float) / max(float(np.mean(x)), 1e-30) for x in (hit, comp))  # both sizes, each in its mean
    strata = _equal_weight_picks(key, w, k)
    rng = np.random.default_rng(0)
    idx = np.stack([rng.permutation(strata) for _ in range(n_max)], axis=1)
    u = np.stack([rng.permutation(k) for _ in range(n_max)], axis=1)
    return idx, (u + 0.5) / k


def _batch_draws(scenario: Scenario, f: float | None, n_max: int = 160) -> np.ndarray:
    """Entries of :class:`TurnParts` in the sampled queues of :func:`_stratified_draws` (per
    scenario): the workload's turns and, for the two-route mixture (``f`` given), the decode-side
    route on a share ``f`` of each position."""
    idx, u = _memo(scenario, "draws", lambda: _stratified_draws(*_turn_sizes(scenario), n_max))
    if f is None:
        return idx
    return idx + len(_turn_sizes(scenario)[2]) * (u < f)


def _sub_batch_starts(parts: TurnParts, ix: np.ndarray) -> np.ndarray:
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


def _segment_sums(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sums of ``x`` along each row that restart at every sub-batch start."""
    cs = np.cumsum(x, axis=1)
    before = np.where(start > 0, np.take_along_axis(cs, np.maximum(start - 1, 0), axis=1), 0.0)
    return cs - before


def _batch_static(parts: TurnParts, draws: np.ndarray, e: int, n_cap: int) -> tuple[np.ndarray, ...]:
    """The parts of :func:`_batch_law` that do not move with the load (per sampled queue and
    position, within the position's sub-batch): the summed work (before ``work_scale``), the busiest
    rank's summed compute-NIC side, the summed serial part, and the sub-batch starts."""
    ix = draws[:, :n_cap]
    start = _sub_batch_starts(parts, ix)
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
    return _segment_sums(parts.work[ix], start), busiest, _segment_sums(parts.serial[ix], start), start


def _batch_law(parts: TurnParts, draws: np.ndarray, e: int, n_cap: int, static: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sampled batches: ``dur[k, n - 1]``, how long the engine takes to serve the first n turns of
    sampled queue k, and ``own[k, n - 1]``, the mean over those n turns of the time until their own
    sub-batch ends (n = 1..``n_cap``). Under the compute quota the n turns are served as consecutive
    sub-batches (:func:`_sub_batch_starts`); without it, as one batch (``own == dur``). The
    engine's ranks take a (sub-)batch's turns in turn (turn j on GPU j mod e, as the simulator's
    engine does); a (sub-)batch lasts as :class:`TurnParts` says. ``static``: :func:`_batch_static`
    of the same arguments, when already at hand."""
    work, busiest, serial, start = static if static is not None else _batch_static(parts, draws, e, n_cap)
    lone_x = parts.lone[draws[:, :n_cap]]
    cut = bool(start.any())
    if not cut:
        lone = np.maximum.accumulate(lone_x, axis=1)
    else:  # the running maximum restarts with every sub-batch
        lone = np.empty_like(lone_x)
        top = np.zeros(len(lone_x))
        for j in range(n_cap):
            top = np.where(start[:, j] == j, lone_x[:, j], np.maximum(top, lone_x[:, j]))
            lone[:, j] = top
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


def _arrivals_pmf(lam: float, d: np.ndarray, d2: np.ndarray, j: np.ndarray) -> np.ndarray:
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


def _gated_batches(lam: float, parts: TurnParts, draws: np.ndarray, e: int, n_max: int = 160,
                   statics: dict | None = None) -> tuple[float, float, float, float]:
    """Mean wait for the running batch, mean own-batch duration, busy fraction and lone batch
    duration (a turn that finds the engine idle runs alone) of a prefill engine that, when it frees
    up, takes every turn waiting as one batch (gated batch service, Poisson arrivals at ``lam``).

    A batch of ``n`` turns lasts ``d`` (:func:`_batch_law`, over sampled queues: its mean and
    second moment given n); the next batch holds the arrivals during it (:func:`_arrivals_pmf`: a
    long batch lets more in), or one turn after an idle spell. The batch sizes form a Markov chain
    whose stationary law ``pi`` (one linear solve) gives, per turn: the own batch's duration
    (size-biased, ``sum n pi o / sum n pi``, with ``o`` the mean time to a member's sub-batch end,
    ``d`` itself without a quota) and, by Little's law, the wait for the running batch:
    the arrivals waiting, integrated over a batch (``lam E[d^2] / 2``), over ``lam`` times the mean
    cycle (a batch plus the idle spell after it). Checked against a direct simulation of the same
    queue in the tests, with and without the compute quota. Under the quota the turns waiting when
    the engine frees up are served as consecutive sub-batches (:func:`_batch_law`); turns arriving
    meanwhile wait for all of them (the simulator lets them join a later sub-batch when it has room;
    against a direct simulation of that, the mean wait plus own batch is within 1.6 %). Turns
    reach the engine at random (Poisson thinning);
    :func:`least_loaded_wait_frac` corrects for least-loaded dispatch. ``statics`` keeps
    :func:`_batch_static` per truncation between calls that differ only in the load.
    """
    statics = {} if statics is None else statics
    # the chain is truncated at n_cap turns per batch: start small, grow while mass piles up there
    # (the arrivals' law has a long tail where batch durations vary a lot)
    for n_cap in sorted({min(c, n_max) for c in (24, 64, n_max)}):
        n = np.arange(1, n_cap + 1, dtype=float)
        if n_cap not in statics:
            statics[n_cap] = _batch_static(parts, draws, e, n_cap)
        dur, own_n = _batch_law(parts, draws, e, n_cap, statics[n_cap])
        d, d2 = dur.mean(axis=0), (dur**2).mean(axis=0)
        P = _arrivals_pmf(lam, d, d2, np.arange(n_cap + 1, dtype=float))  # arrivals during a batch of n
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
        top = pi[-min(10, n_cap // 4):].sum()
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


@dataclass(frozen=True)
class OnlineResult:
    mode: str
    aps: float
    turn_rate_per_s: float
    split_de_frac: float
    ttft_s: dict[str, float]
    ttst_s: float
    tpot_s: float
    utilization: dict[str, float]
    low_confidence: bool
    ttft_s_range: tuple[float, float] | None
    stable: bool
    percentile_method: str = PERCENTILE_METHOD
    components_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return out


def _layerwise_routes(hit_s: np.ndarray, comp_s: np.ndarray, w: np.ndarray, *, f: float, e: int, append_bytes: float,
                      cnic_Bps: float, de_read_util: float, de_write_util: float, quota_s: float = math.inf) -> TurnParts:
    """A layerwise prefill engine's turns as a two-route mixture (prefill-side routes, then
    decode-side ones; weights ``1 - f`` and ``f``).

    During the forward pass the prefill GPU's compute NIC reads the loaded KV and sends the hand-off
    ((1 - f) H + A) to the decode node: a prefill-side turn moves 2H + A through its read side and
    H through its write side; a decode-side one is relayed (H from the decode node's compute NIC
    into the write side) and sends A back. A prefill GPU's compute NIC carries only its own
    engine's traffic (summed per GPU in :func:`_batch_law`); the decode GPUs' compute NICs also
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
    return TurnParts(serial=np.zeros(2 * len(H)), work=np.concatenate([c, c]),
                     cr=np.concatenate([(2 * H + A) / B, np.full_like(H, A / B)]),
                     cw=np.concatenate([H / B, H / B]),
                     lone=np.concatenate([np.maximum(c, pe_load), np.maximum(c, de_load)]),
                     w=np.concatenate([(1 - f) * w, f * w]), comp=np.concatenate([c, c]), quota_s=quota_s)


def _components(scenario: Scenario, mode: str, lam: float, f: float) -> dict[str, float]:
    """Mean TTFT parts, TPOT, TTST and utilizations at turn rate ``lam`` and split ``f``."""
    m = MODES[mode]
    cl, dep = scenario.cluster, scenario.deployment
    P, D, g = dep.prefill_nodes_count, dep.decode_nodes_count, cl.gpus_per_node
    ks = _memo(scenario, "classes", scenario.classes)
    util: dict[str, float] = {}
    if m.kv_io:
        lm = _memo(scenario, "links:" + mode, lambda: link_model(scenario, mode, 1.0))  # utilizations scale with the rate
        for n, a, b in zip(lm.names, lm.a, lm.b, strict=True):
            util[n] = float(lam * (a + b * f))
    t_comp = _memo(scenario, "t_comp", lambda: float(sum(k.weight_frac * scenario.prefill_compute_s(k) for k in ks)))
    # prefill engines of e GPUs in lock step (n_e of them), each taking the turns waiting when it
    # frees up as one batch
    e = scenario.prefill_engine_gpus
    n_e = P * g / e
    lam_e = lam / n_e
    hit_s, comp_s, w = _turn_sizes(scenario)  # hit bytes and compute seconds of the workload's turns
    if not m.kv_io:
        hit_s = np.zeros_like(hit_s)
    B = cl.cnic_kv_Bps_per_gpu
    if m.layerwise:
        # the two-route mixture (prefill-side and decode-side reads) of _layerwise_routes
        A_mean = float(sum(k.weight_frac * k.append_tokens for k in ks)) * scenario.model.kv_bytes_per_token if m.kv_io else 0.0
        parts = _layerwise_routes(hit_s, comp_s, w, f=f, e=e, append_bytes=A_mean, cnic_Bps=B,
                                  de_read_util=min(util.get("de.cnic.read", 0.0), 0.999999),
                                  de_write_util=min(util.get("de.cnic.write", 0.0), 0.999999), quota_s=dep.prefill_quota_s)
        # step 1, the read into the DRAM buffer: the whole turn on one side (the decode side with
        # probability f), a processor-sharing storage NIC there
        H_mean = float(w @ hit_s)
        S_node = scenario.snic_read_Bps_per_node
        read = 0.0
        read_i = []  # each route's read time (processor sharing: a turn's own size, stretched)
        for share, name in ((1 - f, "pe.snic.read"), (f, "de.snic.read")):
            u_r = util.get(name, 0.0)
            read_i.append(hit_s / S_node / (1 - u_r) if u_r < 1 else np.full_like(hit_s, math.inf))
            if share > 0 and H_mean > 0:
                read += share * (H_mean / S_node / (1 - u_r) if u_r < 1 else math.inf)
        read_i = np.concatenate(read_i)
        # the engine's work per turn: its busiest resource's mean (compute; its GPUs' compute-NIC
        # read and write sides), which sets its utilization
        wn = w / np.sum(w)
        H, C = float(wn @ hit_s), float(wn @ comp_s)
        per_turn = max(C, (2 * (1 - f) * H + A_mean) / B, H / B) / e
    else:
        # the paper's Basic holds the engine while its batch's KV loads through the node's storage
        # NICs (shared with the node's other engines: processor sharing) and its GPUs' compute NICs
        # (shared with the previous batch's hand-offs), then computes
        rho_other = min(util.get("pe.snic.read", 0.0) * (1 - e / g), 0.999999)
        u = min(max(util.get("pe.cnic.read", 0.0), util.get("pe.cnic.write", 0.0)), 0.999999)
        snic_s = hit_s / scenario.snic_read_Bps_per_node / (1 - rho_other)
        c = comp_s / e
        parts = TurnParts(serial=c, work=hit_s / scenario.snic_read_Bps_per_node, cr=np.zeros_like(c), cw=hit_s / B,
                          lone=np.maximum(snic_s, hit_s / B / (1 - u)), w=w, work_scale=1 / (1 - rho_other),
                          comp=c, quota_s=dep.prefill_quota_s)
        per_turn = float(w @ (c + np.maximum(snic_s, hit_s / B / e))) / float(np.sum(w))
        read = 0.0
        read_i = np.zeros(len(c))
    rho_pe = lam_e * per_turn
    util["pe.gpu"] = rho_pe
    statics = _statics(scenario, f"{m.layerwise}:{m.kv_io}:{f if m.layerwise else 0.0!r}")
    if "draws" not in statics:
        statics["draws"] = _batch_draws(scenario, f if m.layerwise else None)
    draws = statics["draws"]
    if rho_pe < 1 and math.isfinite(read):  # (an overloaded read leaves TTFT infinite anyway)
        wait_batch, own, busy, alone = _gated_batches(lam_e, parts, draws, e, statics=statics)
    else:
        wait_batch, own, busy, alone = math.inf, math.inf, 1.0, math.inf
    if mode in LEAST_LOADED_MODES and math.isfinite(wait_batch):
        # least-loaded dispatch: fewer turns meet a running batch; the others run alone
        frac = least_loaded_wait_frac(engines=n_e, busy_frac=busy, pending_turns=lam_e * read)
        wait_batch *= frac
        own = alone + frac * (own - alone)
    ttft = read + wait_batch + own
    fixed_i = read_i + parts.serial + parts.lone  # each turn's own part, for the percentiles
    w_batch = parts.w
    # decode: TPOT fixed point
    dec = _memo(scenario, "decode", scenario.decode_capacity)
    t0, k_per_seq = scenario.decode_affine_s()
    o = float(sum(k.weight_frac * k.generated_tokens for k in ks))
    x = k_per_seq * lam * o / (D * g)
    tpot = t0 / (1 - x) if x < 1 else math.inf
    batch = lam * o * tpot / (D * g) if math.isfinite(tpot) else math.inf
    b_max = dec["batch_seqs_per_gpu"]
    util["de.hbm"] = batch / b_max if b_max > 0 else math.inf
    util["de.gpu"] = x
    if util["de.hbm"] > 1:
        tpot = math.inf
    # TTST: the decode node copies the prompt KV to HBM (H2D through its compute NIC), then one step
    prompt_bytes = float(sum(k.weight_frac * (k.hit_tokens + k.append_tokens) for k in ks)) * scenario.model.kv_bytes_per_token
    h2d = 0.0 if not m.kv_io else prompt_bytes / cl.cnic_kv_Bps_per_gpu / max(1e-9, 1 - min(util.get("de.cnic.write", 0.0), 0.999999))
    return {"ttft": ttft, "fixed_i": fixed_i, "w_i": w_batch, "load": read, "wait_batch": wait_batch, "prefill_batch": own, "compute": t_comp,
            "tpot": tpot, "ttst": ttft + h2d + tpot, "util": util}


def ttft_quantiles(fixed_s: np.ndarray, w: np.ndarray, mean_s: float, probs: tuple[float, ...]) -> list[float]:
    """Quantiles of TTFT = a turn's own part (``fixed_s``, per turn of the workload's sample, weights
    ``w``) + a queueing part, exponential with the mean that closes ``mean_s``: the quantiles of that
    mixture, by bisection on its CDF. The spread of turn sizes sets the tail at light load, the
    queueing part near saturation."""
    if not math.isfinite(mean_s):
        return [math.inf] * len(probs)
    w = np.asarray(w, float)
    keep = w > 0
    c, w = np.asarray(fixed_s, float)[keep], w[keep] / w[keep].sum()
    if not np.all(np.isfinite(c)):
        return [math.inf] * len(probs)
    c = _equal_weight_quantiles(c, w, 512)
    qmean = max(mean_s - float(c.mean()), 0.0)

    def cdf(t: float) -> float:
        if qmean <= 0:
            return float(np.mean(c <= t))
        return float(np.mean(-np.expm1(-np.maximum(t - c, 0.0) / qmean)))

    out = []
    for p in probs:
        lo, hi = float(c[0]), float(c[-1]) + 50 * qmean + 1e-12
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
        out.append(hi)
    return out


def _stable(c: dict[str, Any]) -> bool:
    """Every utilization below 1 and finite latencies."""
    return all(v < 1 for v in c["util"].values()) and math.isfinite(c["ttft"]) and math.isfinite(c["tpot"])


def _best_components(scenario: Scenario, mode: str, lam: float, de_frac: float | None) -> tuple[float, dict[str, Any]]:
    """The split and :func:`_components` at turn rate ``lam``: ``de_frac`` when given, else the split
    with the lowest mean TTFT of this model among a fixed set (a grid and the throughput LP's
    split): a minimum over fixed splits, so latency still rises with load."""
    if de_frac is not None or not MODES[mode].de_path:
        f = 0.0 if de_frac is None else de_frac
        return f, _components(scenario, mode, lam, f)
    from ..plan import analyse_mode

    lp_split = _memo(scenario, "lp_split:" + mode, lambda: float(analyse_mode(scenario, mode).split_de_frac))
    cands = sorted({*np.linspace(0.0, 1.0, 11).tolist(), lp_split})
    return min(((f, _components(scenario, mode, lam, f)) for f in cands), key=lambda fc: fc[1]["ttft"])


def online_metrics(scenario: Scenario, mode: str, aps: float, *, de_frac: float | None = None) -> OnlineResult:
    """Online metrics at agent arrival rate ``aps`` [agents/s] in ``mode``."""
    if mode not in MODES:
        raise ScenarioError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not (isinstance(aps, int | float) and math.isfinite(aps) and aps > 0):
        raise ScenarioError(f"aps = {aps!r}: must be a number > 0 (agents per second)")
    lam = aps * turns_per_agent(scenario)
    de_frac, c = _best_components(scenario, mode, lam, de_frac)
    util = c["util"]
    stable = _stable(c)
    mean = c["ttft"]
    q = ttft_quantiles(c["fixed_i"], c["w_i"], mean, (0.5, 0.9, 0.99))
    ttft = {"mean": mean, "p50": q[0], "p90": q[1], "p99": q[2]}
    low = any(v > LOW_CONFIDENCE_UTIL_FRAC for v in util.values())
    rng = None
    if low:
        lo = _components(scenario, mode, 0.95 * lam, de_frac)["ttft"]
        hi = _components(scenario, mode, 1.05 * lam, de_frac)["ttft"]
        rng = (lo, hi)
    comps = {k: c[k] for k in ("load", "wait_batch", "prefill_batch", "compute")}
    return OnlineResult(mode, aps, lam, float(de_frac), ttft, c["ttst"], c["tpot"], util, low, rng, stable, components_s=comps)


@dataclass(frozen=True)
class CapacityResult:
    mode: str
    max_aps: float
    feasible: bool
    reason: str
    at_max: OnlineResult | None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "max_aps": self.max_aps, "feasible": self.feasible, "reason": self.reason,
                "at_max": None if self.at_max is None else self.at_max.to_dict()}


def slo_capacity(scenario: Scenario, mode: str, *, slo_ttft_s: float = 4.0, slo_tpot_s: float = 0.05, tol_frac: float = 1e-3) -> CapacityResult:
    """Largest APS whose mean TTFT <= ``slo_ttft_s`` and TPOT <= ``slo_tpot_s`` (bisection)."""
    for name, v in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s)):
        if not (isinstance(v, int | float) and v > 0):
            raise ScenarioError(f"{name} = {v!r}: must be > 0")

    def ok(aps: float) -> bool:  # the means only (no percentiles): the bisection's many steps
        c = _best_components(scenario, mode, aps * turns_per_agent(scenario), None)[1]
        return _stable(c) and c["ttft"] <= slo_ttft_s and c["tpot"] <= slo_tpot_s

    tiny = 1e-6
    r0 = online_metrics(scenario, mode, tiny)
    if not (r0.ttft_s["mean"] <= slo_ttft_s and r0.tpot_s <= slo_tpot_s):
        why = []
        if r0.ttft_s["mean"] > slo_ttft_s:
            why.append(f"zero-load TTFT {r0.ttft_s['mean']:.3g} s > SLO {slo_ttft_s} s")
        if r0.tpot_s > slo_tpot_s:
            why.append(f"zero-load TPOT {r0.tpot_s:.3g} s > SLO {slo_tpot_s} s")
        return CapacityResult(mode, 0.0, False, "infeasible: " + "; ".join(why), None)
    lo, hi = tiny, 1.0
    while ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e6:
            break
    while hi - lo > tol_frac * lo:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    at = online_metrics(scenario, mode, lo)
    from ..progress import tick

    tick(1, f"{mode} {lo:.3g} agents/s")
    return CapacityResult(mode, lo, True, limiting_condition(scenario, mode, lo, hi, slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s), at)


def saturated_resource(scenario: Scenario, mode: str, aps: float) -> tuple[str, float, float]:
    """(resource, its utilization, split) at the split that keeps the most-used resource least busy:
    the resource that saturates first however the reads are split (past saturation every split's
    TTFT is infinite, so the TTFT-best split would be an arbitrary one)."""
    lam = aps * turns_per_agent(scenario)
    if MODES[mode].de_path:
        from ..plan import analyse_mode

        lp_split = _memo(scenario, "lp_split:" + mode, lambda: float(analyse_mode(scenario, mode).split_de_frac))
        cands = sorted({*np.linspace(0.0, 1.0, 11).tolist(), lp_split})  # the candidates of _best_components
    else:
        cands = [0.0]

    def peak(f: float) -> tuple[str, float]:
        u = _components(scenario, mode, lam, f)["util"]
        k = max(u, key=lambda n: u[n])
        return k, float(u[k])

    f = min(cands, key=lambda f: peak(f)[1])
    name, util = peak(f)
    if util < 1:  # every mean utilization below 1 but no stable split: the prefill engines' batch queue
        name = "pe.gpu (prefill batch queue)"
    return name, util, float(f)


def limiting_condition(scenario: Scenario, mode: str, lo: float, hi: float, *, slo_ttft_s: float, slo_tpot_s: float) -> str:
    """What stops the load just above capacity ``lo`` (at ``hi``): a named resource's saturation or an SLO."""
    c = _best_components(scenario, mode, hi * turns_per_agent(scenario), None)[1]
    if not _stable(c):
        name, _, _ = saturated_resource(scenario, mode, hi)
        return f"limited by {name} saturation at {lo:.3g} agents/s"
    if c["ttft"] > slo_ttft_s:
        return f"limited by the mean TTFT SLO ({slo_ttft_s:g} s) at {lo:.3g} agents/s"
    return f"limited by the TPOT SLO ({slo_tpot_s * 1e3:g} ms) at {lo:.3g} agents/s"
