"""Process settings for the command line, imported by :mod:`dpmodel.cli` before numpy loads.

One BLAS thread unless the environment says otherwise: the CLI's linear algebra is many small
solves (the online model's batch chain, ~100 x 100), where extra BLAS threads only spin; on a
loaded 2-core machine they made ``capacity`` and ``size`` about 2x slower. Library users who import
dpmodel's modules directly keep their own setting.
"""

import os

BLAS_THREADS = os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
