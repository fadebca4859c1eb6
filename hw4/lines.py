"""The lines a notebook prints for the tools, written and read here only; and what the course receives.

Written by the notebooks (through hw4.nbtools), read back from the executed notebooks by ``make run``,
``make submit`` and ``make writeup``:
- ``NAME.ipynb run at <time> (Python <version>, smoke=<bool>, offline=<bool>)``: the run header;
- ``FINGERPRINT <file> <16 hex digits>``: the sha256 prefix of each module the notebook used, so that a notebook
  executed before its module's last change is caught;
- ``SUMMARY <key>: <value>``: a result, collected into the run summary and the writeup;
- ``saved figure <file name>``: a figure file the notebook wrote.
"""
import datetime
import hashlib
import os
import platform
import re
from pathlib import Path

# notebook -> the submitted modules it exercises (in the course's order)
SUBMISSION = {
    "cnn.ipynb": ("cnn_layers.py", "cnn.py"),
    "rnn.ipynb": ("rnn_layers.py", "rnn.py"),
    "transfer_learning.ipynb": ("transfer_learning.py",),
    "svm.ipynb": ("svm.py",),
}
NOTEBOOKS = tuple(SUBMISSION)
FILES = tuple(f for notebook, modules in SUBMISSION.items() for f in (*modules, notebook))
# The helper files the course supplies itself (ours stand in for them).
COURSE_HELPERS = ("layers.py", "solver.py", "optim.py", "gradient_check.py", "captioning_solver.py",
                  "coco_utils.py")

FINGERPRINT = re.compile(r"^FINGERPRINT (\S+) ([0-9a-f]{16})$")
SUMMARY = re.compile(r"^SUMMARY (.+?): (.*)$")
SAVED_FIGURE = re.compile(r"^saved figure (\S+)$")
RUN_HEADER = re.compile(r"^(\S+\.ipynb) run at (\S+) \(Python (\S+), smoke=(True|False), offline=(True|False)\)$")
SMOKE_MARKERS = ("smoke=True", "SMOKE MODE")


def smoke():
    """True in a smoke run (``HW4_SMOKE=1``: tiny data and epochs; the tests and ``--smoke`` set it)."""
    return os.environ.get("HW4_SMOKE", "") == "1"


def offline():
    """True when ``HW4_OFFLINE=1``: nothing is downloaded."""
    return os.environ.get("HW4_OFFLINE", "") == "1"


def fingerprint(path):
    """First 16 hex digits of the sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# Writing (in the notebook's kernel)
# ----------------------------------------------------------------------------------------------------
def header(notebook, modules):
    """Print the run header of ``notebook``: time, modes, and a FINGERPRINT line for each module file.

    Inputs:
    - notebook: the notebook's file name, e.g. 'cnn.ipynb'.
    - modules: the .py files (relative to the working directory or on sys.path) the notebook exercises.
    """
    print(f"{notebook} run at {datetime.datetime.now().isoformat(timespec='seconds')} "
          f"(Python {platform.python_version()}, smoke={smoke()}, offline={offline()})")
    if smoke():
        print("SMOKE MODE (HW4_SMOKE=1): tiny data and epochs; numbers below are not results.")
    for module in modules:
        print(f"FINGERPRINT {module} {fingerprint(_locate(module))}")


def _locate(module):
    """The file ``module`` ('cnn.py', 'hw4/svm_qp.py'): in the working directory, else where Python imports it."""
    import importlib.util

    if Path(module).exists():
        return Path(module)
    spec = importlib.util.find_spec(Path(module).with_suffix("").as_posix().replace("/", "."))
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"cannot find module file {module!r} from {os.getcwd()}")
    return Path(spec.origin)


def summary(key, value):
    """Print a ``SUMMARY key: value`` line."""
    print(f"SUMMARY {key}: {value}")


def saved_figure(filename):
    """Print the ``saved figure NAME`` line of a figure file just written."""
    print(f"saved figure {filename}")


# ----------------------------------------------------------------------------------------------------
# Reading (from an executed notebook, an nbformat NotebookNode)
# ----------------------------------------------------------------------------------------------------
def stdout_lines(nb):
    """Every line the code cells of ``nb`` printed to stdout, in order, as (cell index, line) pairs."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name", "stdout") == "stdout")
        for line in text.splitlines():
            yield index, line


def summaries(nb):
    """[(key, value)] of the ``SUMMARY key: value`` lines, in order."""
    return [match.groups() for _, line in stdout_lines(nb) for match in [SUMMARY.match(line)] if match]


def fingerprints(nb):
    """{module: hash} from the FINGERPRINT lines the notebook printed."""
    return dict(match.groups() for _, line in stdout_lines(nb) for match in [FINGERPRINT.match(line.strip())]
                if match)


def saved_figures(nb):
    """[(cell index, file name)] of the ``saved figure`` lines, in order."""
    return [(index, match.group(1)) for index, line in stdout_lines(nb) for match in [SAVED_FIGURE.match(line)]
            if match]


def run_header(nb):
    """The run header's line, or None when the notebook printed none."""
    return next((line for _, line in stdout_lines(nb) if RUN_HEADER.match(line)), None)


def is_smoke_run(nb):
    """True when the notebook's outputs come from a smoke run (HW4_SMOKE=1)."""
    return any(marker in line for _, line in stdout_lines(nb) for marker in SMOKE_MARKERS)
