"""The command line: one Typer sub-app per domain, composed in :mod:`creditbridge.cli.app`."""

import os as _os
import sys as _sys

if _sys.argv[1:2] == ["serve"]:
    # Before the sub-apps import numpy and duckdb: OpenBLAS and OpenMP size their thread pools
    # when loaded, so `serve` pins them here (creditbridge.web.server.prepare_process says why).
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_name, "1")
