"""One error hierarchy: every error class in dpmodel.errors; problems checked with a raise; solver
failures raised as one type."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import cvxpy as cp
import numpy as np
import pytest

import dpmodel
from dpmodel import errors
from dpmodel.errors import DpmodelError, ProblemFormError, SolverError
from dpmodel.optimize.checks import require_dpp
from dpmodel.optimize.latency import solve_min_ttft


def test_every_error_class_lives_in_errors():
    stray = []
    for info in pkgutil.walk_packages(dpmodel.__path__, "dpmodel."):
        if info.name in ("dpmodel.__main__", "dpmodel.errors"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                stray.append(f"{info.name}.{name}")
    assert stray == []
    # and the old homes still name them (imports elsewhere keep working)
    from dpmodel.bench.fit import BenchError
    from dpmodel.policy import PolicyTableError
    from dpmodel.validate_run import RunError

    assert (BenchError, PolicyTableError, RunError) == (errors.BenchError, errors.PolicyTableError, errors.RunError)
    assert all(issubclass(c, DpmodelError) for c in (BenchError, PolicyTableError, RunError, ProblemFormError, SolverError))


def test_problem_form_is_checked_with_a_raise():
    x, p = cp.Variable(), cp.Parameter()
    require_dpp(cp.Problem(cp.Minimize(cp.square(x - p))), "ok")  # DCP and DPP
    with pytest.raises(ProblemFormError, match="not DCP"):
        require_dpp(cp.Problem(cp.Maximize(cp.square(x))), "concave max")
    q = cp.Parameter(nonneg=True)
    with pytest.raises(ProblemFormError, match="not DPP"):
        require_dpp(cp.Problem(cp.Minimize(q * q * x), [x >= 0]), "parameter squared")


def test_a_solver_failure_is_a_solver_error(monkeypatch):
    def fail(self, *a, **k):
        raise cp.error.SolverError("boom")

    monkeypatch.setattr(cp.Problem, "solve", fail)
    with pytest.raises(SolverError, match="every solver failed"):
        solve_min_ttft(np.array([0.2]), np.array([0.3]), np.array([1.0]), 0.1)
