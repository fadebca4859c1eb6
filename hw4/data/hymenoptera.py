"""Q3's images: the hymenoptera ants/bees ImageFolder (hymenoptera_data.zip from the registry, sha256-checked,
unpacked with pooch.Unzip), or, when it cannot be had, a stand-in ImageFolder of two real MNIST digit classes
(3 vs 8) with the real dataset's counts, announced loudly.

Every folder is built under a temporary name and renamed into place; a stand-in that fails its checks is rebuilt
(and says so); a file or folder we did not make is never replaced or deleted.
"""
import json
import re
from pathlib import Path

import numpy as np

from hw4.data import DATA_DIR, data_step, registry
from hw4.data import mnist as mnist_data
from hw4.files import MAKE_DATA, DataUnavailableError, announce, atomic_dir, display_path, read_json, writing_data

PHASES = ("train", "val")
HYMENOPTERA_URL = registry.url_of("hymenoptera_data.zip")
HYMENOPTERA_DIRNAME = "hymenoptera_data"
HYMENOPTERA_CLASSES = ("ants", "bees")
REAL_SOURCE = "hymenoptera_data.zip (real ants vs bees photos)"

STANDIN_DIRNAME = "hymenoptera_standin"
STANDIN_MARKER = "STANDIN.json"
STANDIN_DIGITS = (3, 8)
# Per-class image counts of the real ImageFolder (train: 123 ants + 121 bees; val: 70 ants + 83 bees).
STANDIN_SIZES = {"train": (123, 121), "val": (70, 83)}
# The only files build_standin writes: what may be replaced when a stand-in has to be rebuilt.
STANDIN_FILE = re.compile(r"(STANDIN\.json|(train|val)/digit_\d/mnist_(train|test)_\d{5}\.png)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _has_real_layout(data_dir):
    return all((Path(data_dir) / split / name).is_dir() for split in PHASES for name in HYMENOPTERA_CLASSES)


def _unzip_hymenoptera(zip_path, root):
    """Unpack ``zip_path`` into ``root/hymenoptera_data`` (holding {train,val}/{ants,bees}); return that path.

    Only when that folder does not exist: the zip is unpacked (pooch.Unzip) into a temporary folder whose
    hymenoptera_data/ goes into place whole, so an interrupted run leaves nothing half-written and a folder
    already there (perhaps holding a user's own photos) is never modified. Raises DataUnavailableError naming
    the folder or the zip and the fix.
    """
    target = Path(root) / HYMENOPTERA_DIRNAME
    if target.exists():
        raise DataUnavailableError(
            f"{display_path(target)} exists but does not hold {{train,val}}/{{ants,bees}}; it is left as it is "
            f"and {display_path(zip_path)} is not unpacked over it. Complete it, or move it away and run "
            f"{MAKE_DATA}.")
    fix = f"delete it and run {MAKE_DATA} (or download {HYMENOPTERA_URL} again)"
    with registry.unzipped(zip_path, target, fix) as unpacked:
        if not _has_real_layout(unpacked / HYMENOPTERA_DIRNAME):
            raise DataUnavailableError(f"{display_path(zip_path)} does not contain "
                                       f"{HYMENOPTERA_DIRNAME}/{{train,val}}/{{ants,bees}}: {fix}.")
        with writing_data(target, "the hymenoptera images"), atomic_dir(target) as tmp:
            registry.move_missing(unpacked / HYMENOPTERA_DIRNAME, tmp)
    return target


def standin_class_names(digits=STANDIN_DIGITS):
    """Folder (= class) names of the stand-in, e.g. ['digit_3', 'digit_8']: they say what they hold."""
    return [f"digit_{digit}" for digit in digits]


def _read_standin_marker(data_dir):
    return read_json(Path(data_dir) / STANDIN_MARKER)


def _is_png(path):
    try:
        with open(path, "rb") as f:
            return f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE and path.stat().st_size > len(PNG_SIGNATURE)
    except OSError:
        return False


def _standin_complete(data_dir, digits, sizes, seed):
    """True when ``data_dir`` is a finished build with these settings: the marker agrees and every class
    folder holds its count of PNG files that are not empty or cut short at the signature."""
    marker = _read_standin_marker(data_dir)
    if marker is None or marker.get("digits") != list(digits) or marker.get("seed") != seed:
        return False
    if marker.get("sizes") != {split: list(counts) for split, counts in sizes.items()}:
        return False
    for split, counts in sizes.items():
        for name, count in zip(standin_class_names(digits), counts):
            files = sorted((Path(data_dir) / split / name).glob("*.png"))
            if len(files) != count or not all(_is_png(f) for f in files):
                return False
    return True


def _only_standin_files(folder):
    """True when every file below ``folder`` is one build_standin writes (so rebuilding loses nothing)."""
    return all(p.is_dir() and not p.is_symlink() or STANDIN_FILE.fullmatch(p.relative_to(folder).as_posix())
               for p in folder.rglob("*"))


def _check_standin_args(digits, sizes):
    if len(digits) != 2 or len(set(digits)) != 2 or not all(0 <= int(d) <= 9 for d in digits):
        raise ValueError(f"digits must be two different MNIST labels 0..9, got {digits!r}")
    if set(sizes) != set(PHASES):
        raise ValueError(f"sizes must have keys {PHASES}, got {sorted(sizes)}")
    for split, counts in sizes.items():
        if len(counts) != 2 or any(int(c) < 1 for c in counts):
            raise ValueError(f"sizes[{split!r}] must be two positive per-class counts, got {counts!r}")


def build_standin(root=DATA_DIR, *, arrays=None, digits=STANDIN_DIGITS, sizes=STANDIN_SIZES, seed=0):
    """Build (or reuse) the offline stand-in ImageFolder ``root/hymenoptera_standin``.

    Layout: ``{train,val}/digit_<d>/*.png``, 28x28 RGB PNGs (the grey digit copied to 3 channels) of
    real MNIST digits; train images come from MNIST's training split and val images from its test
    split, so the two never share an image. Counts default to the real dataset's (244 / 153).

    Inputs:
    - root: data folder.
    - arrays: dict as returned by ``hw4.data.mnist.load_mnist_arrays()`` (x_train uint8 (N, 28, 28),
      y_train (N,), x_test (M, 28, 28), y_test (M,), source str); loaded when None.
    - digits: the two MNIST labels used as the two classes.
    - sizes: {'train': (count0, count1), 'val': (count0, count1)} images per class.
    - seed: seeds which images are drawn.

    Returns the Path of the stand-in folder. A complete folder built with the same settings is reused; an
    incomplete one (an empty or cut PNG, a missing file) or one built with other settings is rebuilt, saying
    so, but only when it holds nothing but files this function writes: otherwise DataUnavailableError.
    """
    from PIL import Image

    _check_standin_args(digits, sizes)
    target = Path(root) / STANDIN_DIRNAME
    if target.is_dir() and _standin_complete(target, digits, sizes, seed):
        return target
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink() or not _only_standin_files(target):
            raise DataUnavailableError(
                f"{display_path(target)} is incomplete and holds files the stand-in builder did not write; it is "
                f"left as it is. Move it away, then run {MAKE_DATA} to build the stand-in again.")
        print(f"{display_path(target)} is incomplete or was built with other settings: rebuilding it.", flush=True)
    if arrays is None:
        arrays = mnist_data.load_mnist_arrays()
    rng = np.random.default_rng(seed)
    with writing_data(target, "the Q3 stand-in images"), \
            atomic_dir(target, replaceable=_only_standin_files) as staging:
        for split, mnist_split in (("train", "train"), ("val", "test")):
            images, labels = arrays[f"x_{mnist_split}"], np.asarray(arrays[f"y_{mnist_split}"])
            for name, digit, count in zip(standin_class_names(digits), digits, sizes[split]):
                pool = np.flatnonzero(labels == digit)
                if pool.size < count:
                    raise DataUnavailableError(
                        f"MNIST x_{mnist_split} has only {pool.size} images of digit {digit}; the stand-in "
                        f"needs {count} for {split}/{name}.")
                folder = staging / split / name
                folder.mkdir(parents=True)
                # One file per image is what ImageFolder reads, so this loop is inherent.
                for index in np.sort(rng.choice(pool, size=count, replace=False)):
                    grey = np.asarray(images[index], dtype=np.uint8)
                    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(folder / f"mnist_{mnist_split}_{index:05d}.png")
        source = arrays.get("source", "unknown MNIST source")
        description = (f"STAND-IN, not ants/bees: real MNIST digits {digits[0]} vs {digits[1]} as RGB images "
                       f"({source}); {sum(sizes['train'])} train / {sum(sizes['val'])} val")
        marker = {"digits": list(digits), "sizes": {s: list(c) for s, c in sizes.items()}, "seed": seed,
                  "mnist_source": source, "description": description}
        (staging / STANDIN_MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    return target


def prepare_hymenoptera_data(root=DATA_DIR, *, allow_standin=True, seed=0):
    """Return ``(data_dir, source)``: an ImageFolder root with train/ and val/ subfolders.

    Order: an unpacked ``root/hymenoptera_data``; else ``root/hymenoptera_data.zip`` (downloaded unless
    offline, sha256-verified, then unpacked); else, when ``allow_standin``, the MNIST stand-in of
    ``build_standin`` (announced loudly). ``source`` is a string saying which one was used.

    Raises DataUnavailableError (naming the URL and where to save the zip) when the real data
    cannot be had and ``allow_standin`` is False. A zip whose sha256 does not match is never used.
    """
    root = Path(root)
    real_dir = root / HYMENOPTERA_DIRNAME
    if _has_real_layout(real_dir):
        return real_dir, REAL_SOURCE
    try:
        zip_path = registry.fetch("hymenoptera_data.zip", root / "hymenoptera_data.zip",
                                  description="the hymenoptera images (hymenoptera_data.zip)")
        return _unzip_hymenoptera(zip_path, root), REAL_SOURCE
    except DataUnavailableError as exc:
        reason = (f"{exc}\nThe zip is unpacked to {display_path(real_dir)} automatically on the next run "
                  f"(or unzip it into {display_path(root)} yourself).")
        if not allow_standin:
            raise DataUnavailableError(reason) from exc
    data_dir = build_standin(root, seed=seed)
    source = _read_standin_marker(data_dir)["description"]
    announce(f"The real hymenoptera data (ants vs bees) is not available:\n{reason}\n\n"
             f"USING THE OFFLINE STAND-IN {display_path(data_dir)}:\n{source}.\n"
             f"Accuracies on it say nothing about ants and bees.")
    return data_dir, source


def make_data_step():
    """`make data`'s Q3 images step (0 when ready, 1 with a message saying what to do)."""
    return data_step("Q3 images", prepare_hymenoptera_data, lambda found: f"{display_path(found[0])}: {found[1]}")
