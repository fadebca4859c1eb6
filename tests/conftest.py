"""Test setup: never touch the network, repo root importable, seeded NumPy, headless matplotlib,
one BLAS/torch thread (on 2 shared vCPUs a second thread makes small operations several times slower)."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
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
