"""One error hierarchy. Every message says what is wrong, where, and how to fix it."""

from __future__ import annotations


class DpmodelError(Exception):
    """Base of every error dpmodel raises on purpose (the CLI turns these into exit status 2)."""


class ProfileError(DpmodelError, ValueError):
    """A profile (hardware, model, workload, cost) is missing, malformed or out of range."""


class ProfileWarning(UserWarning):
    """A profile loads but looks inconsistent (e.g. a changed value next to a source that describes another)."""


class ScenarioError(DpmodelError, ValueError):
    """A scenario option (node counts, deployment knobs) is invalid."""


class WorkloadError(DpmodelError, ValueError):
    """A workload or trace is malformed."""


class InfeasibleError(DpmodelError):
    """An optimization problem has no solution; the message names the constraint that cannot hold."""


class SolverError(DpmodelError):
    """Every solver tried failed to return an optimal solution (the message lists each one's status)."""


class ProblemFormError(DpmodelError):
    """An optimization problem is not DCP (or not DPP, so its compiled form cannot be reused): a
    mistake in one of its ``define_*`` pieces, not in the user's input."""


class PolicyTableError(DpmodelError, ValueError):
    """A policy table file is malformed, truncated, or fails its checks."""


class RunError(DpmodelError, ValueError):
    """A serving-run result file is malformed."""


class BenchError(DpmodelError, ValueError):
    """A benchmark file is malformed or a fit is impossible."""


class OutputError(DpmodelError, OSError):
    """An output file cannot be written (permissions, a folder in the way, a full disk, ...)."""
