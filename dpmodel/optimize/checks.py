"""Checks every optimization problem passes when it is built."""

from __future__ import annotations

from ..errors import ProblemFormError


def require_dpp(problem, what: str) -> None:
    """Raise :class:`~dpmodel.errors.ProblemFormError` unless ``problem`` (a ``cvxpy.Problem``) is
    DCP and DPP: convex by construction, with its parameters entering so that the compiled problem
    is reused across solves. A raise, not an ``assert``, so that ``python -O`` keeps the check."""
    if not problem.is_dcp():
        raise ProblemFormError(f"{what}: the problem is not DCP (disciplined convex); check its define_* pieces")
    if not problem.is_dcp(dpp=True):
        raise ProblemFormError(
            f"{what}: the problem is DCP but not DPP (a parameter enters non-affinely), so its "
            "compiled form cannot be reused; check its define_* pieces"
        )
