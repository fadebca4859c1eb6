"""Small helpers every notebook calls: run header with module fingerprints, figures (saved and shown), summary lines.

- ``header`` prints ``FINGERPRINT <file> <sha256>`` lines; ``make submit`` compares them with the
  current files to tell whether a notebook was run after its module last changed.
- ``summary`` prints ``SUMMARY <key>: <value>`` lines; ``make run`` and ``make writeup`` collect them.
"""
import datetime
import hashlib
import os
import platform
from pathlib import Path

SMOKE = os.environ.get("HW4_SMOKE", "") == "1"
OFFLINE = os.environ.get("HW4_OFFLINE", "") == "1"


def fingerprint(path):
    """First 16 hex digits of the sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def header(notebook, modules):
    """Print the run header of ``notebook``: time, modes, and a fingerprint of each module file.

    Inputs:
    - notebook: the notebook's file name, e.g. 'cnn.ipynb'.
    - modules: the .py files (relative to the working directory or on sys.path) the notebook exercises.
    """
    print(f"{notebook} run at {datetime.datetime.now().isoformat(timespec='seconds')} "
          f"(Python {platform.python_version()}, smoke={SMOKE}, offline={OFFLINE})")
    if SMOKE:
        print("SMOKE MODE (HW4_SMOKE=1): tiny data and epochs; numbers below are not results.")
    for module in modules:
        print(f"FINGERPRINT {module} {fingerprint(_locate(module))}")


def _locate(module):
    import importlib.util

    if Path(module).exists():
        return Path(module)
    spec = importlib.util.find_spec(Path(module).stem)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"cannot find module file {module!r} from {os.getcwd()}")
    return Path(spec.origin)


def savefig(fig, filename, dpi=256):
    """Save a matplotlib figure (relative to the working directory) and print where it went.

    Written atomically (data_utils.atomic_path): an interrupted save never leaves a truncated image. The
    format follows the file name's extension (png when it has none)."""
    from data_utils import atomic_path

    fmt = Path(filename).suffix.lstrip(".").lower() or "png"
    with atomic_path(filename) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt)
    print(f"saved figure {filename}")


def show(fig):
    """Display ``fig`` in the notebook output as a PNG, then close it.

    ``make run`` executes notebooks under the Agg backend, where plt.show() displays nothing; the grader reads
    the figures from the saved notebook, so they are rendered and displayed explicitly."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    display(Image(buffer.getvalue()))
    plt.close(fig)


def summary(key, value):
    """Print a ``SUMMARY key: value`` line (collected by ``make run``)."""
    print(f"SUMMARY {key}: {value}")
