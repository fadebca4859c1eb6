"""Q3 data and weights: the images transfer_learning.py trains on and the ResNet-18 weights it starts from.

- Images: the hymenoptera ants/bees ImageFolder (downloaded, sha256-checked, unpacked), or, when it cannot
  be had, a stand-in ImageFolder of two real MNIST digit classes (3 vs 8), announced loudly.
- Loaders: the tutorial's transforms and shuffled loaders (batch 4); 224-pixel inputs for the photos,
  64 for the 28-pixel digits (224 would only blow them up, at 12 times the compute).
- Weights: ImageNet ResNet-18 from torchvision's cache (or its download). Without it, a *source-task
  backbone*: ResNet-18 trained here on the eight MNIST digits that are not the stand-in's classes, a task
  disjoint from the target one, so that finetuning and freezing still transfer something offline.

Run ``python transfer_data.py`` (``make data``) to prepare the images and, when the ImageNet weights cannot
be had, the backbone. Every file is built under a temporary name and renamed into place; a generated file
that fails to read is rebuilt (and says so); a file or folder we did not make is never replaced or deleted.

Shapes: images (N, 3, S, S) float32 normalized with the ImageNet mean/std; labels (N,) int64.
"""
import hashlib
import io
import json
import math
import os
import random
import re
import sys
import time
import warnings
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision import datasets, transforms

import data_utils
from data_utils import DataUnavailableError, MAKE_DATA, display_path

DATA_DIR = Path("data")
PHASES = ("train", "val")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH_SIZE = 4

HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
HYMENOPTERA_SHA256 = "fbc41b31d544714d18dd1230b1e2b455e1557766e13e67f9f5a7a23af7c02209"
HYMENOPTERA_DIRNAME = "hymenoptera_data"
HYMENOPTERA_CLASSES = ("ants", "bees")
REAL_SOURCE = "hymenoptera_data.zip (real ants vs bees photos)"
REAL_IMAGE_SIZE = 224

STANDIN_DIRNAME = "hymenoptera_standin"
STANDIN_MARKER = "STANDIN.json"
STANDIN_DIGITS = (3, 8)
# Per-class image counts of the real ImageFolder (train: 123 ants + 121 bees; val: 70 ants + 83 bees).
STANDIN_SIZES = {"train": (123, 121), "val": (70, 83)}
STANDIN_IMAGE_SIZE = 64
# The only files build_standin writes: what may be replaced when a stand-in has to be rebuilt.
STANDIN_FILE = re.compile(r"(STANDIN\.json|(train|val)/digit_\d/mnist_(train|test)_\d{5}\.png)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RESNET18_WEIGHTS = torchvision.models.ResNet18_Weights.DEFAULT
BACKBONE_PATH = DATA_DIR / "resnet18_mnist_source.pt"
BACKBONE_BUILDER = "transfer_data.build_source_backbone"
# Source-task training (ours, not the course's recipe): 8 digits x 400 images, 4 epochs of one-cycle SGD at
# batch 64 take about 1.5 minutes on one CPU thread and reach ~98% on the held-out digits.
BACKBONE_SETTINGS = {"image_size": STANDIN_IMAGE_SIZE, "epochs": 4, "per_class": 400, "held_out_per_class": 100,
                     "batch_size": 64, "lr": 0.05, "seed": 0}
# Seconds, not minutes: what smoke runs (HW4_SMOKE=1) and tests build.
SMOKE_BACKBONE = {"image_size": 32, "epochs": 1, "per_class": 8, "held_out_per_class": 4, "batch_size": 16}


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators (augmentation draws from torch's)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _announce(message):
    data_utils.announce(data_utils.without_machine_paths(message))


def _read_json(path):
    """The JSON object at ``path``, or None when it is absent, unreadable or not an object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# ----------------------------------------------------------------------------------------------------
# Images: the real hymenoptera ImageFolder, or an offline stand-in of two MNIST digit classes.
# ----------------------------------------------------------------------------------------------------

def _has_real_layout(data_dir):
    return all((Path(data_dir) / split / name).is_dir() for split in PHASES for name in HYMENOPTERA_CLASSES)


def _unzip_hymenoptera(zip_path, root):
    """Unpack ``zip_path`` into ``root/hymenoptera_data`` (holding {train,val}/{ants,bees}); return that path.

    Only when that folder does not exist: the zip is unpacked into a temporary folder that is renamed into
    place, so an interrupted run leaves nothing half-written and a folder already there (perhaps holding a
    user's own photos) is never modified. Raises DataUnavailableError naming the folder or the zip and the fix.
    """
    target = Path(root) / HYMENOPTERA_DIRNAME
    if target.exists():
        raise DataUnavailableError(
            f"{display_path(target)} exists but does not hold {{train,val}}/{{ants,bees}}; it is left as it is "
            f"and {display_path(zip_path)} is not unpacked over it. Complete it, or move it away and run "
            f"{MAKE_DATA}.")
    fix = f"delete it and run {MAKE_DATA} (or download {HYMENOPTERA_URL} again)"
    prefix = HYMENOPTERA_DIRNAME + "/"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [m for m in archive.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            for name in archive.namelist():
                if Path(name).is_absolute() or ".." in Path(name).parts:
                    raise DataUnavailableError(f"{display_path(zip_path)} holds the unsafe member path {name!r}; "
                                               f"it is not extracted: {fix}.")
            with data_utils.writing_data(target, "the hymenoptera images"), data_utils.atomic_dir(target) as tmp:
                for member in members:
                    # One file at a time so that the top folder of the zip becomes the temporary folder itself.
                    destination = tmp / member.filename[len(prefix):]
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(archive.read(member))
                if not _has_real_layout(tmp):
                    raise DataUnavailableError(f"{display_path(zip_path)} does not contain "
                                               f"{HYMENOPTERA_DIRNAME}/{{train,val}}/{{ants,bees}}: {fix}.")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise data_utils.unreadable_error(zip_path, exc, fix) from exc
    return target


def standin_class_names(digits=STANDIN_DIGITS):
    """Folder (= class) names of the stand-in, e.g. ['digit_3', 'digit_8']: they say what they hold."""
    return [f"digit_{digit}" for digit in digits]


def _read_standin_marker(data_dir):
    return _read_json(Path(data_dir) / STANDIN_MARKER)


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


def build_standin(root="data", *, arrays=None, digits=STANDIN_DIGITS, sizes=STANDIN_SIZES, seed=0):
    """Build (or reuse) the offline stand-in ImageFolder ``root/hymenoptera_standin``.

    Layout: ``{train,val}/digit_<d>/*.png``, 28x28 RGB PNGs (the grey digit copied to 3 channels) of
    real MNIST digits; train images come from MNIST's training split and val images from its test
    split, so the two never share an image. Counts default to the real dataset's (244 / 153).

    Inputs:
    - root: data folder.
    - arrays: dict as returned by ``data_utils.load_mnist_arrays()`` (x_train uint8 (N, 28, 28),
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
        arrays = data_utils.load_mnist_arrays()
    rng = np.random.default_rng(seed)
    with data_utils.writing_data(target, "the Q3 stand-in images"), \
            data_utils.atomic_dir(target, replaceable=_only_standin_files) as staging:
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


def prepare_hymenoptera_data(root="data", *, allow_standin=True, seed=0):
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
        zip_path = data_utils.fetch_file(HYMENOPTERA_URL, root / "hymenoptera_data.zip", HYMENOPTERA_SHA256,
                                         description="the hymenoptera images (hymenoptera_data.zip)")
        return _unzip_hymenoptera(zip_path, root), REAL_SOURCE
    except DataUnavailableError as exc:
        reason = (f"{exc}\nThe zip is unpacked to {display_path(real_dir)} automatically on the next run "
                  f"(or unzip it into {display_path(root)} yourself).")
        if not allow_standin:
            raise DataUnavailableError(reason) from exc
    data_dir = build_standin(root, seed=seed)
    source = _read_standin_marker(data_dir)["description"]
    _announce(f"The real hymenoptera data (ants vs bees) is not available:\n{reason}\n\n"
              f"USING THE OFFLINE STAND-IN {display_path(data_dir)}:\n{source}.\n"
              f"Accuracies on it say nothing about ants and bees.")
    return data_dir, source


def image_size_for(data_dir):
    """Network input side for an ImageFolder root: 64 for the MNIST stand-in, 224 (the tutorial's) otherwise."""
    return STANDIN_IMAGE_SIZE if (Path(data_dir) / STANDIN_MARKER).exists() else REAL_IMAGE_SIZE


# ----------------------------------------------------------------------------------------------------
# Transforms and loaders.
# ----------------------------------------------------------------------------------------------------

def _resize_center_crop(image_size):
    return [transforms.Resize(round(image_size * 256 / 224)), transforms.CenterCrop(image_size)]


def data_transforms(image_size=REAL_IMAGE_SIZE):
    """The tutorial's transforms: {'train': augmenting Compose, 'val': deterministic Compose}.

    train: RandomResizedCrop(image_size), RandomHorizontalFlip, ToTensor, Normalize(ImageNet mean/std).
    val: Resize(image_size * 256 / 224), CenterCrop(image_size), ToTensor, Normalize.
    Each maps a PIL image to a float32 tensor (3, image_size, image_size).
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    return {
        "train": transforms.Compose([transforms.RandomResizedCrop(image_size), transforms.RandomHorizontalFlip(),
                                     transforms.ToTensor(), normalize]),
        "val": transforms.Compose([*_resize_center_crop(image_size), transforms.ToTensor(), normalize]),
    }


def default_num_workers():
    """DataLoader workers that are safe here: 0 off Linux (spawned workers break inside notebooks on
    macOS/Windows); on Linux, the cores left after two for PyTorch's compute threads (max 4)."""
    if not sys.platform.startswith("linux"):
        return 0
    return min(4, max(0, (os.cpu_count() or 1) - 2))


def _subset_per_class(dataset, max_per_class, seed):
    targets = np.asarray(dataset.targets)
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(targets == c))[:max_per_class] for c in range(len(dataset.classes))]
    return torch.utils.data.Subset(dataset, np.sort(np.concatenate(keep)).tolist())


def make_dataloaders(data_dir, *, image_size=REAL_IMAGE_SIZE, batch_size=BATCH_SIZE, num_workers=None,
                     max_per_class=None, seed=0):
    """ImageFolder datasets and shuffled loaders for ``data_dir/train`` and ``data_dir/val``.

    Inputs:
    - data_dir: folder with train/ and val/, each holding one subfolder per class.
    - image_size: side of the square network input (224 for the photos, see image_size_for).
    - batch_size: images per batch (4 as in the tutorial).
    - num_workers: DataLoader workers; default_num_workers() when None.
    - max_per_class: keep at most this many images per class and split (seeded), for smoke runs.
    - seed: seeds the shuffling order (augmentation draws from torch's global generator).

    Returns (dataloaders, dataset_sizes, class_names): dicts keyed 'train'/'val' of DataLoader yielding
    (images (B, 3, image_size, image_size) float32, labels (B,) int64) and of int sizes, and the list of
    class names (sorted folder names).
    """
    data_dir = Path(data_dir)
    for split in PHASES:
        if not (data_dir / split).is_dir():
            raise FileNotFoundError(f"{display_path(data_dir / split)} is missing: data_dir must hold train/ and "
                                    f"val/ ImageFolders (run prepare_hymenoptera_data first)")
    if num_workers is None:
        num_workers = default_num_workers()
    tfms = data_transforms(image_size)
    image_datasets = {split: datasets.ImageFolder(data_dir / split, tfms[split]) for split in PHASES}
    class_names = image_datasets["train"].classes
    if image_datasets["val"].classes != class_names:
        raise ValueError(f"train classes {class_names} differ from val classes {image_datasets['val'].classes}")
    if max_per_class is not None:
        image_datasets = {s: _subset_per_class(d, max_per_class, seed) for s, d in image_datasets.items()}
    dataloaders = {
        split: torch.utils.data.DataLoader(image_datasets[split], batch_size=batch_size, shuffle=True,
                                           num_workers=num_workers,
                                           generator=torch.Generator().manual_seed(seed + i))
        for i, split in enumerate(PHASES)}
    dataset_sizes = {split: len(image_datasets[split]) for split in PHASES}
    return dataloaders, dataset_sizes, class_names


# ----------------------------------------------------------------------------------------------------
# ImageNet weights: torchvision's cache or its download, verified.
# ----------------------------------------------------------------------------------------------------

def resnet18_checkpoint_path(weights=RESNET18_WEIGHTS):
    """Where torchvision caches ``weights``: TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _as_resnet18_weights(weights):
    if isinstance(weights, torchvision.models.ResNet18_Weights):
        return weights
    if isinstance(weights, str) and weights in torchvision.models.ResNet18_Weights.__members__:
        return torchvision.models.ResNet18_Weights[weights]
    raise TypeError(f"weights must be 'auto', 'source', None, a path, a ResNet18_Weights or one of its names "
                    f"{list(torchvision.models.ResNet18_Weights.__members__)}, got {weights!r}")


def _read_state_dict(path, fix):
    """torch.load(path, weights_only=True): tensors only, so a crafted file cannot run code here.
    DataUnavailableError naming the file and ``fix`` when it cannot be read as a ResNet state dict."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickled objects refused by weights_only, ...: all "unreadable"
        raise DataUnavailableError(f"{display_path(path)} cannot be read as a checkpoint of tensors "
                                   f"({data_utils.error_summary(exc)}): {fix}") from exc
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise DataUnavailableError(f"{display_path(path)} is not a ResNet-18 state dict (no 'fc.weight'): {fix}")
    return state


def _verified_checkpoint(weights):
    """Path of a verified, readable local checkpoint for ``weights`` (downloaded unless offline).

    torchvision names checkpoints ``<name>-<sha256 prefix>.pth``; the prefix is checked here because
    torchvision itself checks it only while downloading, not for a file already in the cache.
    """
    path = resnet18_checkpoint_path(weights)
    existed = path.exists()
    path = data_utils.fetch_file(weights.url, path, None, description=f"ImageNet ResNet-18 weights ({path.name})")
    fix = f"delete it and run {MAKE_DATA} (or download {weights.url} and save it there)."
    prefix = re.search(r"-([a-f0-9]*)\.", path.name).group(1)
    digest = data_utils.sha256sum(path)
    if not digest.startswith(prefix):
        if not existed:
            path.unlink()  # our own download, not the official file
        raise DataUnavailableError(f"{display_path(path)} has sha256 {digest}, which does not start with {prefix}: "
                                   f"it is corrupt or not the official file, so it is not used: {fix}")
    _read_state_dict(path, fix)
    return path


# ----------------------------------------------------------------------------------------------------
# The offline source-task backbone: ResNet-18 trained here on the MNIST digits that are not the target's.
# ----------------------------------------------------------------------------------------------------

def _record_path(path):
    return Path(path).with_suffix(".json")


def _source_split(arrays, split, classes, per_class, image_size, rng):
    """Up to ``per_class`` seeded images per class of MNIST ``split``, as the stand-in's val transform sees
    them: (images (N, 3, S, S) float32 normalized, labels (N,) int64 indexing ``classes``)."""
    x, y = arrays[f"x_{split}"], np.asarray(arrays[f"y_{split}"])
    picks = [rng.permutation(np.flatnonzero(y == digit))[:per_class] for digit in classes]
    if any(p.size == 0 for p in picks):
        raise DataUnavailableError(f"MNIST x_{split} has no image of some source digit {list(classes)}")
    picks = np.sort(np.concatenate(picks))
    grey = torch.from_numpy(np.asarray(x[picks], dtype=np.uint8)).float().div(255.0)[:, None]
    view = transforms.Compose([*_resize_center_crop(image_size), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    return view(grey.expand(-1, 3, -1, -1)).contiguous(), torch.from_numpy(np.searchsorted(classes, y[picks]))


def _accuracy(model, images, labels, chunk=256):
    model.eval()
    with torch.no_grad():
        correct = sum((model(images[i:i + chunk]).argmax(1) == labels[i:i + chunk]).sum().item()
                      for i in range(0, len(images), chunk))
    return correct / len(images)


def _train_source_model(images, labels, num_classes, settings):
    """ResNet-18 (random init) trained on (images (N, 3, S, S), labels (N,)) with one-cycle SGD; seeded."""
    torch.manual_seed(settings["seed"])
    model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    batch_size, epochs = settings["batch_size"], settings["epochs"]
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr"], momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["lr"],
                                                    total_steps=epochs * math.ceil(len(images) / batch_size))
    order = torch.Generator().manual_seed(settings["seed"])
    start = time.time()
    for epoch in range(epochs):
        model.train()
        total_loss = 0.0
        for batch in torch.randperm(len(images), generator=order).split(batch_size):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(batch)
        print(f"  source epoch {epoch + 1}/{epochs}: train loss {total_loss / len(images):.4f} "
              f"({time.time() - start:.0f} s)", flush=True)
    return model


def _backbone_state(path, settings):
    """'ok', 'missing', 'rebuild: <why>' for the backbone at ``path``; DataUnavailableError for a file or
    folder there that build_source_backbone did not make (it is never replaced)."""
    path = Path(path)
    if path.is_dir():
        raise data_utils.misplaced_error(path, "the source-task backbone file", found="a folder")
    if not path.exists():
        return "missing"
    record = _read_json(_record_path(path))
    if record is None or record.get("builder") != BACKBONE_BUILDER or record.get("file") != path.name:
        raise DataUnavailableError(
            f"{display_path(path)} was not built by {BACKBONE_BUILDER} (no record {_record_path(path).name} next "
            f"to it), so it is neither used nor replaced. Move it away (or delete it), then run {MAKE_DATA}.")
    if data_utils.sha256sum(path) != record.get("sha256"):
        return "rebuild: it does not match its record (a damaged file or an interrupted build)"
    if any(record.get("settings", {}).get(key) != value for key, value in settings.items()):
        return "rebuild: it was built with other settings"
    return "ok"


def build_source_backbone(path=BACKBONE_PATH, *, arrays=None, target_digits=STANDIN_DIGITS, **settings):
    """Build (or reuse) the offline source-task backbone: ResNet-18 trained on the MNIST digits that are not
    ``target_digits``, saved as a state dict at ``path`` with a JSON record next to it (``path`` with .json).

    Training (ours; the course's recipe is for the target task): ``per_class`` seeded images of each source
    digit from MNIST's training split, shown at ``image_size`` pixels exactly as the stand-in's val transform
    shows its digits (resize, center crop, ImageNet normalization), ``epochs`` of SGD (momentum 0.9, weight
    decay 5e-4, one-cycle learning rate peaking at ``lr``, batches of ``batch_size``), seeded, on one CPU
    thread. Accuracy is measured on ``held_out_per_class`` images per digit of MNIST's test split.
    Settings default to BACKBONE_SETTINGS (SMOKE_BACKBONE builds in seconds).

    Inputs: path; arrays: as data_utils.load_mnist_arrays() returns (loaded when None); target_digits:
    the two digits left out; settings: keys of BACKBONE_SETTINGS.

    Returns ``path``. A file whose record matches it and these settings is reused; one that is damaged or
    from other settings is rebuilt (ours: the record says so); a file without our record is never replaced
    (DataUnavailableError). The record holds source classes, settings, held-out accuracy, seconds, sha256.
    """
    unknown = set(settings) - set(BACKBONE_SETTINGS)
    if unknown:
        raise TypeError(f"unknown backbone settings {sorted(unknown)}; expected keys of {sorted(BACKBONE_SETTINGS)}")
    settings = {**BACKBONE_SETTINGS, **settings}
    path = Path(path)
    state = _backbone_state(path, settings)
    if state == "ok":
        return path
    if state != "missing":
        print(f"{display_path(path)}: {state}.", flush=True)
    if arrays is None:
        arrays = data_utils.load_mnist_arrays()
    classes = [d for d in range(10) if d not in set(target_digits)]
    print(f"Training the source-task backbone {display_path(path)}: ResNet-18 on MNIST digits {classes} "
          f"({settings['epochs']} epochs at {settings['image_size']}x{settings['image_size']}, one CPU thread) ...",
          flush=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and two threads gain nothing on 2 shared vCPUs
    start = time.time()
    try:
        with torch.random.fork_rng(devices=[]):  # leave the caller's random stream as it was
            rng = np.random.default_rng(settings["seed"])
            train = _source_split(arrays, "train", classes, settings["per_class"], settings["image_size"], rng)
            held_out = _source_split(arrays, "test", classes, settings["held_out_per_class"],
                                     settings["image_size"], rng)
            model = _train_source_model(*train, len(classes), settings)
            accuracy = _accuracy(model, *held_out)
    finally:
        torch.set_num_threads(threads)
    seconds = time.time() - start
    record = {"builder": BACKBONE_BUILDER, "file": path.name, "architecture": "torchvision resnet18",
              "source_classes": classes, "target_classes_left_out": list(target_digits), "settings": settings,
              "train_images": len(train[1]), "held_out_images": len(held_out[1]),
              "held_out_accuracy": round(accuracy, 4), "seconds": round(seconds, 1),
              "mnist_source": arrays.get("source", "unknown MNIST source"), "torch": torch.__version__}
    buffer = io.BytesIO()  # not a temporary file: torch.save names its archive after the file (same seed, same bytes)
    torch.save(model.state_dict(), buffer)
    record["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    with data_utils.writing_data(path, "the source-task backbone"):
        # Record first: a build cut short in between leaves a record that matches no file, so the next run
        # rebuilds; never a file without its record (which would look like a user's file).
        data_utils.write_text_atomic(_record_path(path), json.dumps(record, indent=1) + "\n")
        data_utils.write_bytes_atomic(path, buffer.getvalue())
    print(f"Source-task backbone ready in {seconds:.0f} s: held-out accuracy {accuracy:.4f} on "
          f"{len(held_out[1])} images of digits {classes}.", flush=True)
    return path


def backbone_record(path=BACKBONE_PATH):
    """The JSON record build_source_backbone wrote next to ``path`` (a dict), or None."""
    return _read_json(_record_path(path))


# ----------------------------------------------------------------------------------------------------
# Which weights: ImageNet, else the source-task backbone, else random initialization (each announced).
# ----------------------------------------------------------------------------------------------------

def resolve_resnet18_weights(weights="auto", *, backbone_path=BACKBONE_PATH, **backbone_settings):
    """Decide which ResNet-18 weights to start from; returns what transfer_learning.load_resnet18 takes:
    a ResNet18_Weights (ImageNet), a Path (a state dict file) or None (random initialization).

    - 'auto': ImageNet (ResNet18_Weights.DEFAULT) when its checkpoint is in torchvision's cache or can be
      downloaded (not when HW4_OFFLINE=1) and passes its checks. Otherwise the source-task backbone at
      ``backbone_path`` (built first when missing or damaged: build_source_backbone with
      ``backbone_settings``), announced loudly. If that cannot be had either, None, with a loud banner and a
      RuntimeWarning, because a randomly initialized network transfers nothing.
    - 'source': the source-task backbone, or DataUnavailableError.
    - None: random initialization, as asked.
    - a ResNet18_Weights or its name ('DEFAULT', 'IMAGENET1K_V1'): those weights, or DataUnavailableError
      saying what to download and where.
    """
    if weights is None:
        return None
    if isinstance(weights, str) and weights == "source":
        return build_source_backbone(backbone_path, **backbone_settings)
    if not (isinstance(weights, str) and weights == "auto"):
        resolved = _as_resnet18_weights(weights)
        _verified_checkpoint(resolved)
        return resolved
    try:
        _verified_checkpoint(RESNET18_WEIGHTS)
        return RESNET18_WEIGHTS
    except DataUnavailableError as exc:
        reason = f"Pretrained ImageNet weights for ResNet-18 are not available:\n{exc}"
    try:
        path = build_source_backbone(backbone_path, **backbone_settings)
    except DataUnavailableError as exc:
        _announce(f"{reason}\n\nNor is the offline source-task backbone:\n{exc}\n\n"
                  f"BUILDING RESNET-18 WITH weights=None (RANDOM INITIALIZATION).\n"
                  f"The numbers that follow are NOT a transfer-learning result: nothing is transferred.")
        warnings.warn("ResNet-18 ImageNet weights and the source-task backbone unavailable: using weights=None "
                      "(random initialization)", RuntimeWarning, stacklevel=2)
        return None
    _announce(f"{reason}\n\nUSING THE OFFLINE SOURCE-TASK BACKBONE INSTEAD OF IMAGENET:\n{describe_weights(path)}.\n"
              f"What transfers is what ResNet-18 learned from other digits, not from ImageNet.")
    return path


def describe_weights(weights, short=False):
    """Human-readable name of a resolved weights value (a ResNet18_Weights, a backbone Path, or None);
    ``short``: a few words for a figure title."""
    if weights is None:
        return "random initialization" if short else "none (weights=None, random initialization)"
    if isinstance(weights, torchvision.models.ResNet18_Weights):
        return "ImageNet" if short else f"ImageNet {weights.name} ({Path(urlparse(weights.url).path).name})"
    record = backbone_record(weights)
    if record is None:
        return f"state dict {display_path(weights)}"
    if short:
        return f"backbone trained on MNIST digits {','.join(map(str, record['source_classes']))}"
    settings = record["settings"]
    return (f"source-task backbone {display_path(weights)}: ResNet-18 trained here on MNIST digits "
            f"{record['source_classes']} (not {record['target_classes_left_out']}), {record['train_images']} images "
            f"at {settings['image_size']}x{settings['image_size']}, {settings['epochs']} epochs, held-out accuracy "
            f"{record['held_out_accuracy']:.4f}")


def main():
    """``make data`` for Q3: the images, and the backbone when the ImageNet weights cannot be had."""
    return (data_utils.data_step("Q3 images", lambda: prepare_hymenoptera_data(DATA_DIR),
                                 lambda found: f"{display_path(found[0])}: {found[1]}")
            or data_utils.data_step("Q3 weights", lambda: resolve_resnet18_weights("auto"), describe_weights))


if __name__ == "__main__":
    sys.exit(main())
