from __future__ import annotations

import os

# One BLAS thread: the models solve many small systems (the online model's batch chain, ~100 x 100),
# where a multi-threaded BLAS only spins on a shared 2-core machine (about 2x slower there). Set before
# numpy loads; a value given in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import resource  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from dpmodel.scenario import Scenario  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
TRACES = SHARED / "data" / "traces"

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return Scenario.load()


@pytest.fixture(scope="session")
def snic_only_scenario() -> Scenario:
    """The default scenario with everything but the storage NICs made effectively unlimited."""
    return Scenario.load(prefill_efficiency_frac=1.0, decode_step_overhead_s=0.0)


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The public request traces (third-party data, never copied into the project)."""
    if not TRACES.is_dir():
        pytest.skip(f"public traces not found at {TRACES} (third-party data is not copied into the project)")
    return TRACES


# ---- CPU time per test (DPMODEL_TEST_CPU_TIMES=FILE): on a shared machine wall times measure the
# other users; the CPU seconds of this process and of its finished children (CLI subprocesses,
# notebook kernels) measure the test. Written as "seconds<TAB>phase<TAB>test id" lines, slowest first.
_CPU_TIMES: list[tuple[float, str, str]] = []


def _cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    t = _cpu_s()
    yield
    _CPU_TIMES.append((_cpu_s() - t, "setup", item.nodeid))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    t = _cpu_s()
    yield
    _CPU_TIMES.append((_cpu_s() - t, "call", item.nodeid))


def pytest_sessionfinish(session):
    out = os.environ.get("DPMODEL_TEST_CPU_TIMES")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # under pytest-xdist each worker writes its own FILE.gwN
    if out and worker:
        out = f"{out}.{worker}"
    if out and _CPU_TIMES:
        total = sum(c for c, _, _ in _CPU_TIMES)
        lines = [f"{c:.2f}\t{ph}\t{n}" for c, ph, n in sorted(_CPU_TIMES, reverse=True)]
        Path(out).write_text(
            f"# CPU seconds per test phase; total {total:.1f} s over {len(_CPU_TIMES)} phases "
            f"(process wall {time.perf_counter() - _T0:.1f} s)\n" + "\n".join(lines) + "\n"
        )


_T0 = time.perf_counter()


# ---- pytest-xdist (`make test` runs `-n 2 --dist loadgroup`): a test that shares an expensive result with
# other tests (a module-scoped fixture, a notebook run once per process in test_notebooks.executed) runs on
# the same worker as they do, so that result is computed once per suite, not once per worker.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = None
        callspec = getattr(item, "callspec", None)
        if item.module.__name__.endswith("test_notebooks") and callspec and "path" in callspec.params:
            group = f"notebook-{Path(callspec.params['path']).stem}"
        else:
            info = getattr(item, "_fixtureinfo", None)
            for defs in info.name2fixturedefs.values() if info else ():
                if any(d.scope == "module" for d in defs):
                    group = item.module.__name__
                    break
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
