"""Transfer microbenchmarks (host always; CUDA when a GPU exists), alpha-beta fits, overlays and
validation on composite transfers."""

from .fit import (
    BenchError,
    LinkFit,
    apply_overlay,
    fit_alpha_beta,
    fit_rows,
    read_csv,
    write_csv,
    write_overlay,
)
from .measure import CSV_COLUMNS, Row, machine_description

__all__ = [
    "CSV_COLUMNS",
    "BenchError",
    "LinkFit",
    "Row",
    "apply_overlay",
    "fit_alpha_beta",
    "fit_rows",
    "machine_description",
    "read_csv",
    "write_csv",
    "write_overlay",
]
