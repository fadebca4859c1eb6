"""Execute the homework notebooks top to bottom with nbclient and summarize what they report.

    python run_notebooks.py                      # all four, in place (what `make run` does)
    python run_notebooks.py svm.ipynb            # one notebook, in place
    python run_notebooks.py cnn.ipynb --smoke    # fast smoke run on a temporary copy

In place means the committed notebook is overwritten with fresh outputs (execution counts 1..N) and its
figures are written next to it. A notebook that raises is not overwritten: the failed run is saved as
NAME.failed.ipynb for inspection. ``--smoke`` sets HW4_SMOKE=1 and HW4_OFFLINE=1 and runs a copy in a
temporary folder whose data/ links to this repo's data/, so committed files never change.
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ("cnn.ipynb", "rnn.ipynb", "transfer_learning.ipynb", "svm.ipynb")
SMOKE_ENV = {"HW4_SMOKE": "1", "HW4_OFFLINE": "1", "MPLBACKEND": "Agg"}


@contextlib.contextmanager
def _environ(updates):
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def smoke_workdir(tmp_dir):
    """Prepare ``tmp_dir`` to run a notebook copy: data/ links to the repo's data/ (created if absent)."""
    (ROOT / "data").mkdir(exist_ok=True)
    link = Path(tmp_dir) / "data"
    if not link.exists():
        link.symlink_to(ROOT / "data", target_is_directory=True)
    return Path(tmp_dir)


def execute_notebook(path, workdir, env=None, timeout=3600):
    """Execute the notebook at ``path`` with cwd ``workdir`` and return the executed NotebookNode.

    The kernel inherits os.environ plus ``env`` and has the repo root on PYTHONPATH, so the modules
    import from a temporary working directory too. Raises CellExecutionError on the first failing cell.
    """
    nb = nbformat.read(path, as_version=4)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # HW4_PROGRESS_BAR=0: a saved notebook would keep only a progress bar's first frame.
    updates = {"PYTHONPATH": pythonpath, "MPLBACKEND": "Agg", "HW4_PROGRESS_BAR": "0", **(env or {})}
    with _environ(updates):
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        client.execute()
    return nb


def summary_lines(nb):
    """The ``SUMMARY key: value`` lines a notebook printed, in order."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines += [line for line in output.get("text", "").splitlines() if line.startswith("SUMMARY ")]
    return lines


def run(name, smoke=False, timeout=3600):
    """Execute one notebook (in place, or a smoke copy); return (ok, seconds, summary lines)."""
    path = ROOT / name
    start = time.time()
    try:
        if smoke:
            with tempfile.TemporaryDirectory() as tmp:
                nb = execute_notebook(path, smoke_workdir(tmp), SMOKE_ENV, timeout)
        else:
            nb = execute_notebook(path, ROOT, None, timeout)
            nbformat.write(nb, path)
    except CellExecutionError as exc:
        print(f"FAILED {name}:\n{exc}", file=sys.stderr)
        if not smoke:
            failed = path.with_suffix(".failed.ipynb")
            nbformat.write(nbformat.read(path, as_version=4), failed)
        return False, time.time() - start, []
    return True, time.time() - start, summary_lines(nb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    parser.add_argument("--smoke", action="store_true", help="HW4_SMOKE=1 run of a temporary copy")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    started = time.time()
    results = []
    for name in args.notebooks:
        if not (ROOT / name).exists():
            parser.error(f"no notebook {name} in {ROOT}")
        print(f"== executing {name}{' (smoke)' if args.smoke else ' in place'} ...", flush=True)
        ok, seconds, lines = run(name, args.smoke, args.timeout)
        results.append((name, ok, seconds, lines))
        print(f"   {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    print("\n== Summary")
    for name, ok, seconds, lines in results:
        print(f"{name}: {'ok' if ok else 'FAILED'} ({seconds:.0f} s)")
        for line in lines:
            print(f"    {line[len('SUMMARY '):]}")
    figures = sorted(p.name for p in ROOT.glob("*.png") if p.stat().st_mtime >= started)
    if figures and not args.smoke:
        print("figures written: " + ", ".join(figures))
    return 0 if all(ok for _, ok, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
