"""Every notebook runs top to bottom in smoke mode (HW4_SMOKE=1), offline, on a temporary copy."""
import tempfile

import pytest

import run_notebooks


@pytest.mark.parametrize("name", run_notebooks.NOTEBOOKS)
def test_notebook_runs_in_smoke_mode(name):
    if not (run_notebooks.ROOT / name).exists():
        pytest.fail(f"{name} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        nb = run_notebooks.execute_notebook(run_notebooks.ROOT / name, run_notebooks.smoke_workdir(tmp),
                                            run_notebooks.SMOKE_ENV, timeout=600)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
