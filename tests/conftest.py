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


def pytest_configure(config):
    config.addinivalue_line("markers", "course: a check that any correct implementation of the course's API must "
                                       "pass (HW4_IMPL_DIR=DIR pytest -m course tests checks DIR)")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:jupyter_client.*")


@pytest.fixture(autouse=True)
def _seed_numpy():
    np.random.seed(0)
    yield


def run_beside(tmp_path, naive_files, repo_files, script):
    """Copy ``naive_files`` from tests/naive and ``repo_files`` from the repository into ``tmp_path``, run the
    Python ``script`` there in a fresh interpreter, and return its stdout (assert it exits 0). Used to check that
    a module works beside other correct implementations of the course's API."""
    import shutil
    import subprocess

    for name in naive_files:
        shutil.copy(ROOT / "tests" / "naive" / name, tmp_path / name)
    for name in repo_files:
        shutil.copy(ROOT / name, tmp_path / name)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def imported_names(path):
    """{module: set of names} imported by the Python file at ``path`` (``import m`` gives m: None)."""
    import ast

    names = {}
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom):
            names.setdefault(node.module, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update({a.name: None for a in node.names})
    return names
