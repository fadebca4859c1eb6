"""Test setup: never touch the network, repo root importable, seeded NumPy, headless matplotlib,
one BLAS/torch thread (on 2 shared vCPUs a second thread makes small operations several times slower).

HW4_IMPL_DIR=DIR puts DIR before the repository on sys.path, so the tests import the modules found there
(e.g. `HW4_IMPL_DIR=tests/naive pytest -m course` checks the deliberately naive implementations, or a
student's own folder)."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IMPL_DIR = os.environ.get("HW4_IMPL_DIR")
if IMPL_DIR:
    sys.path.insert(0, str(Path(IMPL_DIR).resolve()))
os.environ["HW4_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1)
except ImportError:
    pass
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    pass


@pytest.fixture(autouse=True)
def _seed_numpy():
    np.random.seed(0)
    yield
