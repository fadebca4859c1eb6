"""Execute the homework notebooks top to bottom with nbclient and summarize what they report.

    python -m hw4.notebooks                      # all four, in place (what `make run` does)
    python -m hw4.notebooks svm.ipynb            # one notebook, in place
    python -m hw4.notebooks cnn.ipynb --smoke    # fast smoke run on a temporary copy

In place means the notebook is replaced (atomically: a temporary file in the same folder, then os.replace)
by its fresh run (execution counts 1..N), and its figures are written next to it. A notebook that fails (a
cell raises, a cell runs past --timeout, the kernel dies) is not overwritten: the partial run, with the
outputs up to the failing cell, is saved as NAME.failed.ipynb for inspection, the summary reports it as
FAILED with the reason, the remaining notebooks still run, and the exit status is 1. ``--smoke`` sets
HW4_SMOKE=1 and HW4_OFFLINE=1 and runs a copy in a temporary folder whose data/ links to this repo's data/,
so committed files never change.
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
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from hw4 import lines
from hw4.files import display_path, error_summary, write_text_atomic
from hw4.lines import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
RUN_ONE = ".venv/bin/python -m hw4.notebooks"
SMOKE_ENV = {"HW4_SMOKE": "1", "HW4_OFFLINE": "1", "MPLBACKEND": "Agg"}


class NotebookFailed(RuntimeError):
    """A notebook run that did not finish: ``reason`` says why in one line, ``nb`` holds the partial run
    (outputs up to the failing cell; None when the notebook could not even be read)."""

    def __init__(self, reason, nb=None, details=""):
        super().__init__(reason)
        self.reason, self.nb, self.details = reason, nb, details


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


def _failure_reason(exc, nb, cell_index, timeout):
    where = "a cell"
    if cell_index is not None:
        first_line = next((line for line in nb.cells[cell_index].source.splitlines() if line.strip()), "")
        where = f"cell {cell_index} ({first_line.strip()[:60]!r})"
    if isinstance(exc, CellTimeoutError):
        return f"{where} timed out after {timeout} s (raise --timeout if it needs longer)"
    if isinstance(exc, DeadKernelError):
        return f"the kernel died while running {where} ({exc}): it crashed, ran out of memory or called exit"
    if isinstance(exc, CellExecutionError):
        return f"{where} raised {exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}".rstrip()
    return f"{where}: {type(exc).__name__}: {exc}"


def read_notebook(path):
    """The notebook at ``path`` (a NotebookNode, version 4); NotebookFailed naming it and the fix when it cannot
    be read (truncated or invalid JSON, a folder, not a notebook)."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        name = Path(path).name
        raise NotebookFailed(f"{name} is not a valid notebook ({error_summary(exc)}): restore it "
                             f"(`git checkout -- {name}`) and run it again ({RUN_ONE} {name})") from exc


def execute_notebook(path, workdir, env=None, timeout=3600):
    """Execute the notebook at ``path`` with cwd ``workdir`` and return the executed NotebookNode.

    The kernel inherits os.environ plus ``env`` and has the repo root on PYTHONPATH, so the modules and the
    hw4 package import from a temporary working directory too. Raises NotebookFailed (with the partial run) when the
    notebook cannot be read, a cell raises, a cell runs longer than ``timeout`` seconds or the kernel dies.
    """
    nb = read_notebook(path)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # HW4_PROGRESS_BAR=0: a saved notebook would keep only a progress bar's first frame.
    updates = {"PYTHONPATH": pythonpath, "MPLBACKEND": "Agg", "HW4_PROGRESS_BAR": "0", **(env or {})}
    current = {}
    with _environ(updates):
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        client.on_cell_start = lambda cell, cell_index: current.update(index=cell_index)
        try:
            client.execute()
        except Exception as exc:  # CellExecutionError, CellTimeoutError, DeadKernelError, kernel start-up errors
            details = str(exc) if isinstance(exc, CellExecutionError) else ""
            raise NotebookFailed(_failure_reason(exc, nb, current.get("index"), timeout), nb, details) from exc
    return nb


def write_notebook(nb, path):
    """Write ``nb`` to ``path`` atomically (a full disk or a kill never leaves a truncated notebook)."""
    text = nbformat.writes(nb)
    write_text_atomic(path, text if text.endswith("\n") else text + "\n")


def notebook_path(name):
    """``name`` as given when that file exists, else the notebook of that name in this repository."""
    path = Path(name)
    return path if path.exists() or path.is_absolute() else ROOT / name


def run(name, smoke=False, timeout=3600):
    """Execute one notebook (in place, or a smoke copy); return (ok, seconds, [(key, value)] summaries or
    [reason]).

    In place, the notebook's own folder is the working directory (figures are saved next to it). A failed run
    prints the reason (and the cell's traceback) to stderr and, in place, saves the partial run as
    NAME.failed.ipynb; the notebook itself is left as it was."""
    path = notebook_path(name)
    start = time.time()
    try:
        if smoke:
            with tempfile.TemporaryDirectory() as tmp:
                nb = execute_notebook(path, smoke_workdir(tmp), SMOKE_ENV, timeout)
        else:
            nb = execute_notebook(path, path.parent, None, timeout)
            try:
                write_notebook(nb, path)
            except OSError as exc:
                raise NotebookFailed(f"the run finished but {path.name} could not be saved ({exc.strerror or exc}); "
                                     f"the previous version is unchanged", nb) from exc
    except NotebookFailed as failure:
        reason = failure.reason
        print(f"FAILED {path.name}: {reason}" + (f"\n{failure.details}" if failure.details else ""), file=sys.stderr)
        if not smoke and failure.nb is not None:
            failed = path.with_name(path.stem + ".failed.ipynb")
            try:
                write_notebook(failure.nb, failed)
                reason += f"; the partial run is in {display_path(failed)}"
            except OSError as exc:
                reason += f"; the partial run could not be saved ({exc.strerror or exc})"
        return False, time.time() - start, [reason]
    return True, time.time() - start, lines.summaries(nb)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hw4.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    parser.add_argument("--smoke", action="store_true", help="HW4_SMOKE=1 run of a temporary copy")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    started = time.time()
    paths = [(name, notebook_path(name)) for name in args.notebooks]
    for name, path in paths:
        if not path.exists():
            parser.error(f"no notebook {name}")
    results = []
    for name, path in paths:
        print(f"== executing {name}{' (smoke)' if args.smoke else ' in place'} ...", flush=True)
        ok, seconds, found = run(path, args.smoke, args.timeout)
        results.append((display_path(path), ok, seconds, found))
        print(f"   {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    print("\n== Summary")
    for name, ok, seconds, found in results:
        if ok:
            print(f"{name}: ok ({seconds:.0f} s)")
            for key, value in found:
                print(f"    {key}: {value}")
        else:
            print(f"{name}: FAILED ({seconds:.0f} s): {found[0]}")
    folders = {path.parent for _, path in paths}
    figures = sorted(display_path(p) for folder in folders for p in folder.glob("*.png")
                     if p.stat().st_mtime >= started)
    if figures and not args.smoke:
        print("figures written: " + ", ".join(figures))
    failed = [name for name, ok, _, _ in results if not ok]
    if failed:
        print(f"\n{len(failed)} of {len(results)} notebook(s) FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
