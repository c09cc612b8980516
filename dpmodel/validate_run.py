"""Validate the model against a real serving run: a ``vllm bench serve`` result JSON or an AIPerf
profile export (``profile_export_aiperf.json``), recognised by content (:func:`read_run`).

Field names follow ``vllm/benchmarks/serve.py`` (``--save-result``; formerly
``benchmarks/benchmark_serving.py``): ``request_rate`` ("inf" or a number), ``max_concurrency``,
``completed``, ``duration``, ``request_throughput``, ``output_throughput``, ``input_lens``,
``output_lens``, ``ttfts`` [s], ``itls`` [s, per request], and the summaries
``{mean,median,std,p<NN>}_{ttft,tpot,itl,e2el}_ms``.

AIPerf (ai-dynamo/aiperf ``aiperf/exporters/json_exporter.py``, ``JsonExportData`` and
``JsonMetricResult`` in ``aiperf/common/models/export_models.py``): one object per metric tag
with ``unit`` and ``avg``/``p50``/``p99``/``min``/``max``: ``request_throughput`` [requests/sec],
``request_count``, ``time_to_first_token`` and ``inter_token_latency`` [ms; AIPerf's ITL is
``(latency - TTFT) / (OSL - 1)``, vLLM's TPOT], ``input_sequence_length`` and
``output_sequence_length`` [tokens]; the run's load from ``input_config.loadgen``
(``request_rate``: open loop; ``concurrency`` alone: closed loop).

The matching model: every request is a one-turn agent with the run's mean input (all of it a
miss: the run's prompts are random) and mean output. An open-loop run (finite ``request_rate``)
is the online model at that rate; a closed-loop run (``max_concurrency`` with an infinite rate)
is the online model at the rate ``X`` that satisfies Little's law for ``N`` requests in flight,
``X * (TTFT(X) + (out - 1) * TPOT(X)) = N`` (bisection).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RunError
from .profiles.schema import Provenance
from .profiles.workload import TrajectorySpec, WorkloadProfile


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What the model needs of one serving run, read from a ``vllm bench serve`` result or an AIPerf
    profile export.

    Attributes
    ----------
    source : str
        The file it was read from.
    loop : str
        ``"open"`` (a finite request rate) or ``"closed"`` (a concurrency limit, infinite rate).
    request_rate_per_s : float
        Offered request rate [requests/s]; inf for a closed loop.
    max_concurrency : int or None
        Requests in flight at most (the closed loop's ``N``); None when not set.
    completed : int
        Requests completed.
    mean_input_tokens : float
        Mean prompt length of the completed requests [tokens].
    mean_output_tokens : float
        Mean output length of the completed requests [tokens].
    max_total_tokens : int
        Longest request, input plus output [tokens] (from the means, rounded up, where the per-request
        lengths are not in the file).
    throughput_req_per_s : float
        Measured request throughput [requests/s].
    ttft_s : dict of str to float
        Time to first token [s] by statistic: ``mean``, and ``p50``, ``p99`` where present.
    tpot_s : float or None
        Mean time per output token after the first [s]; None when the file has none.
    tool : str
        The tool that wrote the file (``"vllm bench serve"`` or ``"AIPerf profile export"``).
    """

    source: str
    loop: str  # "open" or "closed"
    request_rate_per_s: float
    max_concurrency: int | None
    completed: int
    mean_input_tokens: float
    mean_output_tokens: float
    max_total_tokens: int
    throughput_req_per_s: float
    ttft_s: dict[str, float]  # mean, p50, p99 (those present)
    tpot_s: float | None
    tool: str = "vllm bench serve"


def _f(d: dict, key: str, ctx: str, *, required: bool = True) -> float | None:
    v = d.get(key)
    if v is None:
        if required:
            raise RunError(f"{ctx}: missing field {key!r}")
        return None
    if isinstance(v, str) and v.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and math.isnan(v)):
        raise RunError(f"{ctx} field {key} = {v!r}: must be a number")
    return float(v)


def read_vllm_result(path: str | Path) -> RunSummary:
    """A ``vllm bench serve --save-result`` JSON (the module's field list).

    Means and TTFT percentiles come from the per-request lists (``input_lens``, ``output_lens``,
    ``ttfts``; failed requests, output length 0, dropped) where present, else from the totals and
    the ``*_ms`` summaries.

    Parameters
    ----------
    path : str or Path
        The result file.

    Returns
    -------
    RunSummary
        The run; a closed loop where ``request_rate`` is inf (or absent) and ``max_concurrency`` set.

    Raises
    ------
    RunError
        An unreadable or non-JSON file, a missing or bad field, no completed request, or a burst
        (infinite rate with no concurrency limit: neither loop).
    """
    p = Path(path)
    ctx = f"run result {p}"
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunError(f"{ctx}: cannot read file: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{ctx}: not valid JSON: {exc}") from None
    if not isinstance(d, dict):
        raise RunError(f"{ctx}: top level must be a JSON object (vllm bench serve --save-result)")
    rate = _f(d, "request_rate", ctx, required=False)
    conc = d.get("max_concurrency")
    if conc is not None and (isinstance(conc, bool) or not isinstance(conc, int) or conc < 1):
        raise RunError(f"{ctx} field max_concurrency = {conc!r}: must be an integer >= 1 or null")
    if rate is None:
        rate = math.inf
    if not rate > 0:
        raise RunError(f'{ctx} field request_rate = {rate}: must be > 0 or "inf"')
    if math.isinf(rate) and conc is None:
        raise RunError(
            f"{ctx}: request_rate is inf and max_concurrency is null: a burst, neither an open nor a closed loop; "
            "rerun with --request-rate or --max-concurrency"
        )
    loop = "open" if math.isfinite(rate) else "closed"
    completed = int(_f(d, "completed", ctx))
    if completed < 1:
        raise RunError(f"{ctx} field completed = {completed}: no request completed")
    ins, outs = d.get("input_lens"), d.get("output_lens")
    if isinstance(ins, list) and isinstance(outs, list) and ins and len(ins) == len(outs):
        a_in, a_out = np.asarray(ins, float), np.asarray(outs, float)
        ok = a_out > 0  # failed requests have output length 0
        a_in, a_out = a_in[ok], a_out[ok]
        mean_in, mean_out, mx = float(a_in.mean()), float(a_out.mean()), int((a_in + a_out).max())
    else:
        tot_in, tot_out = _f(d, "total_input_tokens", ctx), _f(d, "total_output_tokens", ctx)
        mean_in, mean_out = tot_in / completed, tot_out / completed
        mx = int(math.ceil(mean_in + mean_out))
    ttft: dict[str, float] = {}
    if isinstance(d.get("ttfts"), list) and d["ttfts"]:
        t = np.asarray([x for x in d["ttfts"] if isinstance(x, int | float) and x > 0], float)
        if not len(t):
            raise RunError(f"{ctx} field ttfts: no positive values")
        ttft = {"mean": float(t.mean()), "p50": float(np.percentile(t, 50)), "p99": float(np.percentile(t, 99))}
    else:
        for k, name in (("mean", "mean_ttft_ms"), ("p50", "median_ttft_ms"), ("p99", "p99_ttft_ms")):
            v = _f(d, name, ctx, required=k == "mean")
            if v is not None:
                ttft[k] = v / 1e3
    tpot = _f(d, "mean_tpot_ms", ctx, required=False)
    if tpot is None and isinstance(d.get("itls"), list) and d["itls"]:
        flat = [x for req in d["itls"] if isinstance(req, list) for x in req]
        tpot = float(np.mean(flat)) * 1e3 if flat else None
    thr = _f(d, "request_throughput", ctx, required=False)
    if thr is None:
        thr = completed / _f(d, "duration", ctx)
    return RunSummary(str(p), loop, rate, conc, completed, mean_in, mean_out, mx, thr, ttft, None if tpot is None else tpot / 1e3)


_AIPERF_TIME = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "sec": 1.0, "s": 1.0}


def _aiperf_metric(d: dict, tag: str, ctx: str, stat: str = "avg", *, unit: str | None = None, required: bool = True) -> float | None:
    """``d[tag][stat]`` in seconds for a time metric (by its ``unit``), else as written."""
    m = d.get(tag)
    if m is None:
        if required:
            raise RunError(f"{ctx}: missing metric {tag!r} (AIPerf profile_export_aiperf.json)")
        return None
    if not isinstance(m, dict) or "unit" not in m:
        raise RunError(f"{ctx} metric {tag} = {m!r}: must be an object with 'unit' and 'avg'")
    v = _f(m, stat, f"{ctx} metric {tag}", required=required)
    if v is None:
        return None
    u = str(m["unit"])
    if unit == "time":
        if u not in _AIPERF_TIME:
            raise RunError(f"{ctx} metric {tag} unit {u!r}: not a time unit ({', '.join(_AIPERF_TIME)})")
        return v * _AIPERF_TIME[u]
    if unit is not None and u != unit:
        raise RunError(f"{ctx} metric {tag} unit {u!r}: expected {unit!r}")
    return v


def read_aiperf_export(path: str | Path, d: dict | None = None) -> RunSummary:
    """An AIPerf ``profile_export_aiperf.json`` (aggregate statistics plus ``input_config``).

    Parameters
    ----------
    path : str or Path
        The export file (named in messages and in :attr:`RunSummary.source`).
    d : dict, optional
        The file's parsed JSON, when already read (:func:`read_run`); default: read ``path``.

    Returns
    -------
    RunSummary
        The run: open loop when ``input_config.loadgen`` has a ``request_rate``, else closed at its
        ``concurrency``; time metrics converted to seconds by their ``unit``.

    Raises
    ------
    RunError
        An unreadable or non-JSON file, no ``input_config.loadgen``, neither a rate nor a
        concurrency, or a missing metric, bad value or unexpected unit.
    """
    p = Path(path)
    ctx = f"AIPerf export {p}"
    if d is None:
        d = _load_json(p, ctx)
    cfg = d.get("input_config")
    lg = cfg.get("loadgen") if isinstance(cfg, dict) else None
    if not isinstance(lg, dict):
        raise RunError(
            f"{ctx}: missing input_config.loadgen (the run's request_rate / concurrency); use the "
            "profile_export_aiperf.json AIPerf writes, not a hand-trimmed copy"
        )
    rate = _f(lg, "request_rate", f"{ctx} input_config.loadgen", required=False)
    conc = lg.get("concurrency")
    if conc is not None and (isinstance(conc, bool) or not isinstance(conc, int) or conc < 1):
        raise RunError(f"{ctx} field input_config.loadgen.concurrency = {conc!r}: must be an integer >= 1 or absent")
    if rate is not None and not (rate > 0 and math.isfinite(rate)):
        raise RunError(f"{ctx} field input_config.loadgen.request_rate = {rate}: must be a finite number > 0")
    if rate is None and conc is None:
        raise RunError(f"{ctx}: input_config.loadgen has neither request_rate nor concurrency: neither an open nor a closed loop")
    loop = "open" if rate is not None else "closed"
    completed = _aiperf_metric(d, "request_count", ctx, unit="requests")
    if not completed >= 1 or completed != int(completed):
        raise RunError(f"{ctx} metric request_count avg = {completed}: must be an integer >= 1")
    mean_in = _aiperf_metric(d, "input_sequence_length", ctx, unit="tokens")
    mean_out = _aiperf_metric(d, "output_sequence_length", ctx, unit="tokens")
    if not (mean_in >= 1 and mean_out >= 0):
        raise RunError(f"{ctx}: input_sequence_length avg must be >= 1 and output_sequence_length avg >= 0 tokens")
    mx_in = _aiperf_metric(d, "input_sequence_length", ctx, "max", unit="tokens", required=False) or mean_in
    mx_out = _aiperf_metric(d, "output_sequence_length", ctx, "max", unit="tokens", required=False) or mean_out
    ttft = {"mean": _aiperf_metric(d, "time_to_first_token", ctx, unit="time")}
    for k in ("p50", "p99"):
        v = _aiperf_metric(d, "time_to_first_token", ctx, k, unit="time", required=False)
        if v is not None:
            ttft[k] = v
    tpot = _aiperf_metric(d, "inter_token_latency", ctx, unit="time", required=False)
    thr = _aiperf_metric(d, "request_throughput", ctx, unit="requests/sec")
    return RunSummary(
        str(p),
        loop,
        rate if rate is not None else math.inf,
        conc if loop == "closed" else None,
        int(completed),
        mean_in,
        mean_out,
        int(math.ceil(mx_in + mx_out)),
        thr,
        ttft,
        tpot,
        tool="AIPerf profile export",
    )


def _load_json(p: Path, ctx: str):
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunError(f"{ctx}: cannot read file: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{ctx}: not valid JSON: {exc}") from None


def read_run(path: str | Path) -> RunSummary:
    """A serving-run result by its content: an AIPerf profile export or a ``vllm bench serve`` JSON.

    Parameters
    ----------
    path : str or Path
        The result file.

    Returns
    -------
    RunSummary
        :func:`read_aiperf_export`'s or :func:`read_vllm_result`'s summary.

    Raises
    ------
    RunError
        An unreadable or non-JSON file, an AIPerf per-request ``profile_export.jsonl`` (it holds no
        load settings), or what the reader raises.
    """
    p = Path(path)
    ctx = f"run result {p}"
    jsonl_msg = (
        f"{ctx}: an AIPerf per-request profile_export.jsonl holds no load settings; pass the "
        "profile_export_aiperf.json from the same artifact directory"
    )
    try:
        d = _load_json(p, ctx)
    except RunError:
        try:  # one JSON object per line: AIPerf's per-request records?
            with open(p, "rb") as fh:
                first = json.loads(fh.readline().decode("utf-8"))
        except (OSError, ValueError):
            first = None
        if isinstance(first, dict) and {"metadata", "metrics"} <= set(first):
            raise RunError(jsonl_msg) from None
        raise
    if isinstance(d, dict) and {"metadata", "metrics"} <= set(d) and "input_config" not in d:
        raise RunError(jsonl_msg)  # a one-record profile_export.jsonl
    if isinstance(d, dict) and ("input_config" in d or any(isinstance(v, dict) and "unit" in v for v in d.values())):
        return read_aiperf_export(p, d)
    return read_vllm_result(p)


def run_workload(run: RunSummary) -> WorkloadProfile:
    """The run as a workload: every request a one-turn agent with the run's mean input (all of it a
    miss, no cached context) and mean output (at least one token).

    Parameters
    ----------
    run : RunSummary
        The measured run.

    Returns
    -------
    WorkloadProfile
        Named after the run's file, each trajectory field's provenance ``measured: <file>``.
    """
    spec = TrajectorySpec(
        mean_turns_count=1.0,
        mean_append_tokens=run.mean_input_tokens,
        mean_generated_tokens=max(run.mean_output_tokens, 1.0),
        mean_total_tokens=run.mean_input_tokens + run.mean_output_tokens,
        mean_context_tokens=0.0,
        max_agent_length_tokens=max(run.max_total_tokens, 1),
    )
    src = f"measured: {run.source}"
    prov = Provenance(
        source=f"{run.tool} result {run.source}",
        date="from run",
        fields={
            f"trajectory.{k}": src
            for k in (
                "mean_turns_count",
                "mean_append_tokens",
                "mean_generated_tokens",
                "mean_total_tokens",
                "mean_context_tokens",
                "max_agent_length_tokens",
            )
        },
    )
    return WorkloadProfile(Path(run.source).stem, f"one-turn requests of {run.source}", spec, prov)


def predict(scenario, run: RunSummary, mode: str) -> dict[str, Any]:
    """The model's throughput, TTFT and TPOT for the run (open or closed loop).

    An open loop is the online model (:func:`dpmodel.serving.online_metrics`) at the run's rate; a
    closed loop at the rate ``X`` where Little's law gives the run's ``max_concurrency`` requests in
    flight, ``X * (TTFT(X) + (out - 1) * TPOT(X)) = N`` (bisection, relative tolerance 1e-4).

    Parameters
    ----------
    scenario : Scenario
        The cluster and model the run served; its workload and request classes are replaced by the
        run's (:func:`run_workload`).
    run : RunSummary
        The measured run (:func:`read_run`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.

    Returns
    -------
    dict
        ``rate_per_s`` (the request rate the model is evaluated at [requests/s]) and ``result``
        (its :class:`~dpmodel.queueing.open_model.OnlineResult` there).
    """
    from .serving import online_metrics

    sc = dataclasses.replace(scenario, workload=run_workload(run), request_classes=())
    if run.loop == "open":
        r = online_metrics(sc, mode, run.request_rate_per_s)
        return {"rate_per_s": run.request_rate_per_s, "result": r}
    n, out = run.max_concurrency, max(run.mean_output_tokens, 1.0)

    def in_flight(x: float) -> float:
        r = online_metrics(sc, mode, x)
        if not r.stable:
            return math.inf
        return x * (r.ttft_s["mean"] + (out - 1.0) * r.tpot_s)

    lo, hi = 0.0, 1.0
    while in_flight(hi) < n and hi < 1e7:
        lo, hi = hi, hi * 2.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if in_flight(mid) < n:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-4 * hi:
            break
    x = lo if lo > 0 else hi * 1e-3
    return {"rate_per_s": x, "result": online_metrics(sc, mode, x)}


def compare(scenario, run: RunSummary, mode: str) -> dict[str, Any]:
    """Measured vs predicted throughput, TTFT and TPOT of the run (:func:`predict`).

    Parameters
    ----------
    scenario : Scenario
        The cluster and model the run served; its workload and request classes are replaced by the
        run's (:func:`run_workload`).
    run : RunSummary
        The measured run (:func:`read_run`).
    mode : str
        The loading mode, one of :data:`dpmodel.scenario.MODES`.

    Returns
    -------
    dict
        The run's settings (``run``, ``loop``, ``mode``, ``request_rate_per_s``, ``max_concurrency``,
        ``completed``, ``mean_input_tokens``, ``mean_output_tokens``), ``stable`` (whether the model
        is stable at the predicted rate), the ``fingerprint`` of the scenario with the run's workload,
        and ``metrics``: one ``{metric, measured, predicted, error_frac}`` per ``throughput_req_per_s``
        [requests/s; NaN predicted where unstable], ``ttft_<stat>_s`` [s] for each statistic the run
        has and ``tpot_s`` [s] where it has one; ``error_frac`` is ``(predicted - measured) / measured``.
    """
    pred = predict(scenario, run, mode)
    r = pred["result"]
    rows = [("throughput_req_per_s", run.throughput_req_per_s, pred["rate_per_s"] if r.stable else float("nan"))]
    for k in ("mean", "p50", "p99"):
        if k in run.ttft_s:
            rows.append((f"ttft_{k}_s", run.ttft_s[k], r.ttft_s[k]))
    if run.tpot_s is not None:
        rows.append(("tpot_s", run.tpot_s, r.tpot_s))
    return {
        "run": run.source,
        "loop": run.loop,
        "mode": mode,
        "request_rate_per_s": run.request_rate_per_s,
        "max_concurrency": run.max_concurrency,
        "completed": run.completed,
        "mean_input_tokens": run.mean_input_tokens,
        "mean_output_tokens": run.mean_output_tokens,
        "stable": r.stable,
        "fingerprint": dataclasses.replace(scenario, workload=run_workload(run), request_classes=()).fingerprint(),
        "metrics": [{"metric": m, "measured": a, "predicted": b, "error_frac": (b - a) / a if a else float("nan")} for m, a, b in rows],
    }
