"""Run a function over many points: serially, on local processes, or on an existing Dask cluster.

The one fan-out path of the package (sweeps of the non-vectorized models, simulator runs,
replications and policy comparisons); it knows nothing of the models, so every layer can use it.
"""

from __future__ import annotations

from .progress import tick


def parallel_sweep(fn, points: list[dict], *, workers: int | None = None, scheduler: str | None = None) -> list[dict]:
    """Evaluate ``fn(**point)`` for every point, in order: on a local process pool, or on an
    existing Dask distributed cluster when ``scheduler`` (its address, or a ``Client``) is given.

    Each result is the point merged with what ``fn`` returned. ``fn`` must be importable
    (module-level) so that workers can run it. Every finished point ticks the active progress bar
    (:func:`dpmodel.progress.progress_bar`), if a caller opened one.
    """
    if not points:
        return []
    if scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(fn, **p, pure=False) for p in points]
            for _ in as_completed(futures):  # progress as they finish; results gathered in order below
                tick(1)
            results = client.gather(futures)
        finally:
            if not isinstance(scheduler, Client):
                client.close()
    elif workers == 1:
        results = []
        for p in points:
            results.append(fn(**p))
            tick(1)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        results = []
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(_call, [(fn, p) for p in points]):
                results.append(r)
                tick(1)
    return [{**p, **r} for p, r in zip(points, results, strict=True)]


def _call(args):
    fn, kw = args
    return fn(**kw)
