"""cvxpy optimization problems built from named ``define_*`` pieces."""

from .throughput import (
    SOLVERS,
    LPSolution,
    SplitBalanceLP,
    ThroughputLP,
    compiled_balance_lp,
    compiled_lp,
    normalized_coefficients,
)

__all__ = [
    "SOLVERS",
    "LPSolution",
    "SplitBalanceLP",
    "ThroughputLP",
    "compiled_balance_lp",
    "compiled_lp",
    "normalized_coefficients",
]
