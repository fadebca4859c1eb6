"""Q3: transfer learning with PyTorch (EECS 545 HW4), after the PyTorch transfer-learning tutorial.

Two scenarios on a small two-class ImageFolder (hymenoptera: ants vs bees):
- ``finetune``: start from ImageNet ResNet-18, replace its classifier, train every layer.
- ``freeze``: the same network used as a fixed feature extractor; only the new classifier is trained.

Everything runs offline: when ``hymenoptera_data.zip`` cannot be had, ``prepare_hymenoptera_data``
builds a stand-in ImageFolder of two real MNIST digit classes, and when the ImageNet weights are not in
torchvision's cache and cannot be downloaded, ResNet-18 is built with ``weights=None``. Both fallbacks
are announced loudly, because their numbers are not a transfer-learning result on ants and bees.
The repository's data_utils.py (verified downloads, MNIST) is used when present; without it (the file
alone, as submitted) everything works except the MNIST stand-in.

Shapes: images are (N, 3, H, W) float32 tensors normalized with the ImageNet mean/std; labels (N,) int64.
"""
import copy
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torch import nn, optim
from torch.optim import lr_scheduler
from torchvision import datasets, transforms

try:  # the repository's data helpers (verified downloads, offline defaults); see _fetch for life without them
    import data_utils
except ImportError:  # the course's copy of this file travels alone
    data_utils = None

HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
HYMENOPTERA_SHA256 = "fbc41b31d544714d18dd1230b1e2b455e1557766e13e67f9f5a7a23af7c02209"
HYMENOPTERA_DIRNAME = "hymenoptera_data"
HYMENOPTERA_CLASSES = ("ants", "bees")
REAL_SOURCE = "hymenoptera_data.zip (real ants vs bees photos)"

STANDIN_DIRNAME = "hymenoptera_standin"
STANDIN_MARKER = "STANDIN.json"
STANDIN_DIGITS = (3, 8)
# Per-class image counts of the real ImageFolder (train: 123 ants + 121 bees; val: 70 ants + 83 bees).
STANDIN_SIZES = {"train": (123, 121), "val": (70, 83)}

RESNET18_WEIGHTS = torchvision.models.ResNet18_Weights.DEFAULT

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SIZE = 224
BATCH_SIZE = 4
PHASES = ("train", "val")


if data_utils is not None:
    DataUnavailableError = data_utils.DataUnavailableError
else:
    class DataUnavailableError(RuntimeError):
        """A data file is missing, corrupt, or cannot be downloaded; the message says how to get it."""


def _announce(message):
    """A banner that cannot be missed (data_utils.announce when the repository's helpers are here)."""
    if data_utils is not None:
        data_utils.announce(message)
        return
    bar = "!" * 78
    print("\n".join([bar] + ["!! " + line for line in str(message).splitlines()] + [bar]), flush=True)


def _sha256sum(path):
    if data_utils is not None:
        return data_utils.sha256sum(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url, path, sha256, *, description):
    """Path of a verified local copy of ``url`` (see data_utils.fetch_file); raises DataUnavailableError.

    Without the repository's data_utils.py (the course's copy of this file), a present file is checked
    and used, and a missing one is downloaded with torch.hub's helper unless HW4_OFFLINE=1.
    """
    if data_utils is not None:
        return data_utils.fetch_file(url, path, sha256, description=description)
    path = Path(path)
    manual = f"Download {url} and save it as {path.resolve()}."
    if not path.exists():
        if os.environ.get("HW4_OFFLINE", "") == "1":
            raise DataUnavailableError(f"{description} is not at {path} and HW4_OFFLINE=1 forbids downloading "
                                       f"it. {manual}")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(path), progress=True)
        except Exception as exc:  # network errors come in many types
            raise DataUnavailableError(f"Could not download {description} ({type(exc).__name__}: {exc}). "
                                       f"{manual}") from exc
    if sha256 is not None and _sha256sum(path) != sha256:
        raise DataUnavailableError(f"{path} ({description}) does not have sha256 {sha256}: it is corrupt or not "
                                   f"the official file, so it is not used. Delete it and run again. {manual}")
    return path


def hello():
    """Check that the module imports."""
    print("Hello from transfer_learning.py!")


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators (augmentation draws from torch's)."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------------
# Data: the real hymenoptera ImageFolder, or an offline stand-in of two MNIST digit classes.
# ----------------------------------------------------------------------------------------------------

def _has_class_folders(split_dir, class_names):
    return all((Path(split_dir) / name).is_dir() for name in class_names)


def _has_real_layout(data_dir):
    return all(_has_class_folders(Path(data_dir) / split, HYMENOPTERA_CLASSES) for split in PHASES)


def _unzip_hymenoptera(zip_path, root):
    """Unpack ``zip_path`` so that ``root/hymenoptera_data/{train,val}/{ants,bees}`` exists.

    Extraction goes to a temporary folder first, so an interrupted run never leaves half a dataset.
    Raises DataUnavailableError for a zip with unsafe member paths or without the expected layout.
    """
    root = Path(root)
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts:
                raise DataUnavailableError(
                    f"{zip_path} holds the unsafe member path {name!r}; it is not extracted. Delete it "
                    f"and download {HYMENOPTERA_URL} again.")
        staging = Path(tempfile.mkdtemp(prefix=".hymenoptera_unzip_", dir=root))
        try:
            archive.extractall(staging)
            if not _has_real_layout(staging / HYMENOPTERA_DIRNAME):
                raise DataUnavailableError(
                    f"{zip_path} does not contain {HYMENOPTERA_DIRNAME}/{{train,val}}/{{ants,bees}}; delete "
                    f"it and download {HYMENOPTERA_URL} again.")
            target = root / HYMENOPTERA_DIRNAME
            if not _has_real_layout(target):
                shutil.rmtree(target, ignore_errors=True)
                (staging / HYMENOPTERA_DIRNAME).rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root / HYMENOPTERA_DIRNAME


def standin_class_names(digits=STANDIN_DIGITS):
    """Folder (= class) names of the stand-in, e.g. ['digit_3', 'digit_8']: they say what they hold."""
    return [f"digit_{digit}" for digit in digits]


def _standin_description(digits, sizes, mnist_source):
    num_train, num_val = sum(sizes["train"]), sum(sizes["val"])
    return (f"STAND-IN, not ants/bees: real MNIST digits {digits[0]} vs {digits[1]} as RGB images "
            f"({mnist_source}); {num_train} train / {num_val} val")


def _read_standin_marker(data_dir):
    try:
        return json.loads((Path(data_dir) / STANDIN_MARKER).read_text())
    except (OSError, ValueError):
        return None


def _standin_complete(data_dir, digits, sizes, seed):
    marker = _read_standin_marker(data_dir)
    if marker is None or marker.get("digits") != list(digits) or marker.get("seed") != seed:
        return False
    if marker.get("sizes") != {split: list(counts) for split, counts in sizes.items()}:
        return False
    for split, counts in sizes.items():
        for name, count in zip(standin_class_names(digits), counts):
            folder = Path(data_dir) / split / name
            if not folder.is_dir() or len(list(folder.glob("*.png"))) != count:
                return False
    return True


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

    Returns the Path of the stand-in folder. A complete folder built with the same digits, sizes and
    seed is reused as is.
    """
    from PIL import Image

    _check_standin_args(digits, sizes)
    root = Path(root)
    target = root / STANDIN_DIRNAME
    if _standin_complete(target, digits, sizes, seed):
        return target
    if arrays is None:
        if data_utils is None:
            raise DataUnavailableError(
                f"The offline stand-in is built from MNIST by the solution repository's data_utils.py, which is "
                f"not here. Download {HYMENOPTERA_URL} and save it as {(root / 'hymenoptera_data.zip').resolve()}.")
        arrays = data_utils.load_mnist_arrays()
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    staging = Path(tempfile.mkdtemp(prefix=".standin_build_", dir=root))
    try:
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
        marker = {"digits": list(digits), "sizes": {s: list(c) for s, c in sizes.items()}, "seed": seed,
                  "mnist_source": arrays.get("source", "unknown MNIST source"),
                  "description": _standin_description(digits, sizes, arrays.get("source", "unknown MNIST source"))}
        (staging / STANDIN_MARKER).write_text(json.dumps(marker, indent=1) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same build first: keep its copy if it is complete.
            if not _standin_complete(target, digits, sizes, seed):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
        zip_path = _fetch(HYMENOPTERA_URL, root / "hymenoptera_data.zip", HYMENOPTERA_SHA256,
                          description="the hymenoptera images (hymenoptera_data.zip)")
        return _unzip_hymenoptera(zip_path, root), REAL_SOURCE
    except DataUnavailableError as exc:
        reason = (f"{exc}\nThe zip is unpacked to {real_dir.resolve()} automatically on the next run "
                  f"(or unzip it into {root.resolve()} yourself).")
        if not allow_standin:
            raise DataUnavailableError(reason) from exc
    data_dir = build_standin(root, seed=seed)
    source = _read_standin_marker(data_dir)["description"]
    _announce(f"The real hymenoptera data (ants vs bees) is not available:\n{reason}\n\n"
                        f"USING THE OFFLINE STAND-IN {data_dir}:\n{source}.\n"
                        f"Accuracies on it say nothing about ants and bees.")
    return data_dir, source


def data_transforms(image_size=IMAGE_SIZE):
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
        "val": transforms.Compose([transforms.Resize(round(image_size * 256 / 224)),
                                   transforms.CenterCrop(image_size), transforms.ToTensor(), normalize]),
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


def make_dataloaders(data_dir, *, image_size=IMAGE_SIZE, batch_size=BATCH_SIZE, num_workers=None,
                     max_per_class=None, seed=0):
    """ImageFolder datasets and shuffled loaders for ``data_dir/train`` and ``data_dir/val``.

    Inputs:
    - data_dir: folder with train/ and val/, each holding one subfolder per class.
    - image_size: side of the square network input (224 for the real run).
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
            raise FileNotFoundError(f"{data_dir / split} is missing: data_dir must hold train/ and val/ "
                                    f"ImageFolders (run prepare_hymenoptera_data first)")
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
# Pretrained weights: torchvision's cache, a download, or none (announced).
# ----------------------------------------------------------------------------------------------------

def resnet18_checkpoint_path(weights=RESNET18_WEIGHTS):
    """Where torchvision caches ``weights``: TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _as_resnet18_weights(weights):
    if isinstance(weights, torchvision.models.ResNet18_Weights):
        return weights
    if isinstance(weights, str) and weights in torchvision.models.ResNet18_Weights.__members__:
        return torchvision.models.ResNet18_Weights[weights]
    raise TypeError(f"weights must be 'auto', None, a ResNet18_Weights or one of its names "
                    f"{list(torchvision.models.ResNet18_Weights.__members__)}, got {weights!r}")


def _ensure_checkpoint(weights):
    """Path of a verified local checkpoint for ``weights`` (downloaded unless offline).

    torchvision names checkpoints ``<name>-<sha256 prefix>.pth``; the prefix is checked here because
    torchvision itself checks it only while downloading, not for a file already in the cache.
    """
    path = resnet18_checkpoint_path(weights)
    existed = path.exists()
    path = _fetch(weights.url, path, None, description=f"ImageNet ResNet-18 weights ({path.name})")
    prefix = re.search(r"-([a-f0-9]*)\.", path.name).group(1)
    digest = _sha256sum(path)
    if not digest.startswith(prefix):
        if not existed:
            path.unlink()
        raise DataUnavailableError(
            f"{path} has sha256 {digest}, which does not start with {prefix}: it is corrupt or not the "
            f"official file, so it is not used. Delete it and run again (or download {weights.url} "
            f"and save it there).")
    return path


def resolve_resnet18_weights(weights="auto"):
    """Decide which ResNet-18 weights to build with; returns a ResNet18_Weights or None.

    - 'auto': ResNet18_Weights.DEFAULT (ImageNet) when its checkpoint is in torchvision's cache or can
      be downloaded (not when HW4_OFFLINE=1); otherwise None, with a loud banner and a RuntimeWarning,
      because a randomly initialized network transfers nothing.
    - None: random initialization, as asked.
    - a ResNet18_Weights or its name ('DEFAULT', 'IMAGENET1K_V1'): those weights, or
      DataUnavailableError saying what to download and where.
    """
    if weights is None:
        return None
    required = not (isinstance(weights, str) and weights == "auto")
    resolved = _as_resnet18_weights(weights) if required else RESNET18_WEIGHTS
    try:
        _ensure_checkpoint(resolved)
        return resolved
    except DataUnavailableError as exc:
        if required:
            raise
        reason = str(exc)
    _announce(
        f"Pretrained ImageNet weights for ResNet-18 are not available:\n{reason}\n\n"
        f"BUILDING RESNET-18 WITH weights=None (RANDOM INITIALIZATION).\n"
        f"The numbers that follow are NOT a transfer-learning result: nothing is transferred.")
    warnings.warn("ResNet-18 ImageNet weights unavailable: using weights=None (random initialization)",
                  RuntimeWarning, stacklevel=2)
    return None


def describe_weights(weights):
    """Human-readable name of a resolved weights value (a ResNet18_Weights or None)."""
    if weights is None:
        return "none (weights=None, random initialization)"
    return f"ImageNet {weights.name} ({Path(urlparse(weights.url).path).name})"


def load_resnet18(weights="auto"):
    """``(model, resolved_weights)``: torchvision's ResNet-18 (1000-way fc) built with the weights that
    ``resolve_resnet18_weights(weights)`` chooses."""
    resolved = resolve_resnet18_weights(weights)
    print(f"ResNet-18 weights: {describe_weights(resolved)}")
    return torchvision.models.resnet18(weights=resolved), resolved


# ----------------------------------------------------------------------------------------------------
# Training.
# ----------------------------------------------------------------------------------------------------

def _check_num_epochs(num_epochs):
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int):
        raise TypeError(f"num_epochs must be an int, got {type(num_epochs).__name__} {num_epochs!r}")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")


def _check_phase_dicts(dataloaders, dataset_sizes, phases):
    for arg_name, value in (("dataloaders", dataloaders), ("dataset_sizes", dataset_sizes)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg_name} must be a dict keyed by phase, got {type(value).__name__}")
        missing = [phase for phase in phases if phase not in value]
        if missing:
            raise ValueError(f"{arg_name} has no entry for {missing}; expected keys {list(phases)}")
    for phase in phases:
        size = dataset_sizes[phase]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"dataset_sizes[{phase!r}] must be a positive int, got {size!r}")


def _check_class_names(class_names):
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or len(class_names) < 2:
        raise ValueError(f"class_names must be a list of at least 2 names, got {class_names!r}")


def _enter_train_mode(model):
    """model.train(), except BatchNorm layers whose parameters are all frozen stay in eval mode.

    A frozen layer should be a fixed function: in train mode BatchNorm would normalize with batch
    statistics and overwrite its running statistics, so "frozen" features would still change.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                module.eval()


def _module_modes(model):
    return [(module, module.training) for module in model.modules()]


def _restore_modes(modes):
    # Set flags one by one: module.train(mode) would also overwrite the children's own flags.
    for module, training in modes:
        module.training = training


def _run_phase(device, model, loader, criterion, optimizer, expected_size, phase):
    """One pass over ``loader``; returns (mean loss, accuracy). Trains (optimizer steps) iff phase=='train'."""
    training = phase == "train"
    running_loss, running_corrects, seen = 0.0, 0, 0
    for inputs, labels in loader:
        inputs, labels = inputs.to(device), labels.to(device)
        if training:
            optimizer.zero_grad()
        with torch.set_grad_enabled(training):
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            if training:
                loss.backward()
                optimizer.step()
        running_loss += loss.item() * inputs.size(0)
        running_corrects += (outputs.argmax(dim=1) == labels).sum().item()
        seen += inputs.size(0)
    if seen != expected_size:
        raise ValueError(f"dataset_sizes[{phase!r}] is {expected_size} but its loader yielded {seen} images")
    epoch_loss, epoch_acc = running_loss / seen, running_corrects / seen
    if not math.isfinite(epoch_loss):
        raise FloatingPointError(f"{phase} loss is {epoch_loss}: the model's outputs are not finite "
                                 f"(diverged training or NaN/inf weights)")
    print(f"{phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f}")
    return epoch_loss, epoch_acc


def _evaluate_only(device, dataloaders, dataset_sizes, model, criterion, history):
    modes = _module_modes(model)
    model.eval()
    start = time.time()
    try:
        val_loss, val_acc = _run_phase(device, model, dataloaders["val"], criterion, None,
                                       dataset_sizes["val"], "val")
    finally:
        _restore_modes(modes)
    if history is not None:
        done = sum(1 for entry in history if entry["train_loss"] is not None)
        history.append({"epoch": done, "train_loss": None, "train_acc": None, "val_loss": val_loss,
                        "val_acc": val_acc, "lr": None, "seconds": time.time() - start})
    return model


def train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs=25,
                history=None):
    """Train ``model`` and return it holding the weights of its best validation epoch.

    Each epoch runs phase 'train' (model.train(), gradients, one optimizer step per batch) then 'val'
    (model.eval(), no gradients), printing '{phase} Loss: {loss:.4f} Acc: {acc:.4f}'. The scheduler
    steps once per epoch, after that epoch's optimizer steps. A deep copy of the state dict with the
    highest val accuracy is kept (earliest epoch on ties) and loaded at the end. BatchNorm layers whose
    parameters are all frozen (requires_grad=False) stay in eval mode while training, so a frozen
    backbone keeps its running statistics too.

    Inputs:
    - device: torch.device (or str) the model already lives on; batches are moved there.
    - dataloaders: {'train': DataLoader, 'val': DataLoader} yielding (images (B, 3, H, W), labels (B,)).
    - dataset_sizes: {'train': int, 'val': int}, images per phase (checked against the loaders).
    - model: nn.Module mapping (B, 3, H, W) to class scores (B, C).
    - criterion: loss on (scores (B, C), labels (B,)), e.g. nn.CrossEntropyLoss().
    - optimizer: torch optimizer over the parameters to train.
    - scheduler: learning-rate scheduler stepped once per epoch, or None.
    - num_epochs: epochs to train; 0 only evaluates on val (prints, changes nothing, restores modes).
    - history: optional list; one dict per epoch is appended with keys epoch (epochs trained so far in
      this history), train_loss, train_acc, val_loss, val_acc, lr, seconds. An evaluation-only call
      appends train_loss = train_acc = lr = None.

    Returns model (the same object).
    Raises FloatingPointError if a loss is not finite, ValueError/TypeError for malformed arguments.
    """
    _check_num_epochs(num_epochs)
    device = torch.device(device)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if num_epochs == 0:
        _check_phase_dicts(dataloaders, dataset_sizes, ("val",))
        return _evaluate_only(device, dataloaders, dataset_sizes, model, criterion, history)
    _check_phase_dicts(dataloaders, dataset_sizes, PHASES)

    since = time.time()
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = -1.0
    done = 0 if history is None else sum(1 for entry in history if entry["train_loss"] is not None)
    for epoch in range(num_epochs):
        print(f"Epoch {epoch}/{num_epochs - 1}")
        print("-" * 10)
        epoch_start = time.time()
        lr = optimizer.param_groups[0]["lr"]
        _enter_train_mode(model)
        train_loss, train_acc = _run_phase(device, model, dataloaders["train"], criterion, optimizer,
                                           dataset_sizes["train"], "train")
        if scheduler is not None:
            scheduler.step()  # after this epoch's optimizer steps, as PyTorch >= 1.1 requires
        model.eval()
        val_loss, val_acc = _run_phase(device, model, dataloaders["val"], criterion, None,
                                       dataset_sizes["val"], "val")
        if val_acc > best_acc:
            best_acc = val_acc
            best_model_wts = copy.deepcopy(model.state_dict())
        if history is not None:
            history.append({"epoch": done + epoch + 1, "train_loss": train_loss, "train_acc": train_acc,
                            "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
                            "seconds": time.time() - epoch_start})
        print()

    elapsed = time.time() - since
    print(f"Training complete in {elapsed // 60:.0f}m {elapsed % 60:.0f}s")
    print(f"Best val Acc: {best_acc:.4f}")
    model.load_state_dict(best_model_wts)
    return model


def _new_classifier(model, class_names):
    """Replace ``model.fc`` by a freshly initialized nn.Linear(512, len(class_names)) (requires grad)."""
    model.fc = nn.Linear(model.fc.in_features, len(class_names))
    return model


def finetune(device, dataloaders, dataset_sizes, class_names, num_epochs=10, *, weights="auto", history=None):
    """Finetuning: ImageNet ResNet-18 with a new classifier, every layer trained.

    SGD(lr=0.001, momentum=0.9) over all parameters, StepLR(step_size=7, gamma=0.1), cross-entropy.
    The model is evaluated once before training (train_model with num_epochs=0), then trained.

    Inputs: device, dataloaders, dataset_sizes as in train_model; class_names: list of C names;
    num_epochs: training epochs; weights: see resolve_resnet18_weights ('auto' = ImageNet when it can
    be had); history: optional list filled by train_model.

    Returns the trained model (its best-val weights), on ``device``.
    """
    _check_class_names(class_names)
    model, _ = load_resnet18(weights)
    model = _new_classifier(model, class_names).to(device)
    return _evaluate_then_train(device, dataloaders, dataset_sizes, model, model.parameters(), num_epochs,
                                history)


def _evaluate_then_train(device, dataloaders, dataset_sizes, model, trainable, num_epochs, history):
    """The course recipe shared by finetune and freeze: cross-entropy, SGD(lr=0.001, momentum=0.9) over
    ``trainable``, StepLR(step_size=7, gamma=0.1); one val evaluation, then num_epochs of training."""
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(trainable, lr=0.001, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    print("Before training:")
    train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs=0,
                history=history)
    return train_model(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler,
                       num_epochs=num_epochs, history=history)


def freeze(device, dataloaders, dataset_sizes, class_names, num_epochs=10, *, weights="auto", history=None):
    """ConvNet as a fixed feature extractor: every pretrained parameter frozen, only the new fc trained.

    Same recipe as ``finetune`` (SGD lr=0.001 momentum=0.9, StepLR(7, 0.1), cross-entropy, one
    evaluation before training) but the pretrained parameters get requires_grad=False and the optimizer
    sees only the new ``fc`` parameters. Frozen BatchNorm layers also keep their running statistics
    (see train_model). Returns the trained model (its best-val weights), on ``device``.
    """
    _check_class_names(class_names)
    model, _ = load_resnet18(weights)
    for param in model.parameters():
        param.requires_grad = False
    model = _new_classifier(model, class_names).to(device)
    return _evaluate_then_train(device, dataloaders, dataset_sizes, model, model.fc.parameters(), num_epochs,
                                history)


def visualize_model(device, dataloaders, model, class_names, num_images=6):
    """Predict the first ``num_images`` images the val loader yields.

    Returns (images, captions): images a CPU float32 tensor (num_images, 3, H, W) as the loader gave them
    (normalized; see denormalize), captions a list of '{true}\\npredicted: {pred}' strings. The model is
    run in eval mode without gradients and every module's train/eval flag is restored afterwards.
    Raises ValueError when num_images is not a positive int or the val set is smaller.
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}")
    _check_class_names(class_names)
    _check_phase_dicts(dataloaders, {"val": 1}, ("val",))
    device = torch.device(device)
    modes = _module_modes(model)
    model.eval()
    images, captions = [], []
    try:
        with torch.no_grad():
            for inputs, labels in dataloaders["val"]:
                preds = model(inputs.to(device)).argmax(dim=1).cpu()
                take = min(num_images - len(images), inputs.size(0))
                images.extend(inputs[:take].cpu())
                captions.extend(f"{class_names[int(t)]}\npredicted: {class_names[int(p)]}"
                                for t, p in zip(labels[:take], preds[:take]))
                if len(images) == num_images:
                    break
    finally:
        _restore_modes(modes)
    if len(images) < num_images:
        raise ValueError(f"num_images={num_images} but the val loader holds only {len(images)} images")
    return torch.stack(images), captions


# ----------------------------------------------------------------------------------------------------
# Figures (the notebook drives them; matplotlib is imported only when one is drawn).
# ----------------------------------------------------------------------------------------------------

def denormalize(images):
    """Undo the ImageNet normalization: (N, 3, H, W) or (3, H, W) tensor -> (N, H, W, 3) / (H, W, 3)
    float NumPy array clipped to [0, 1], ready for plt.imshow."""
    array = images.detach().cpu().numpy()
    channel_axis = array.ndim - 3
    shape = [1] * array.ndim
    shape[channel_axis] = 3
    mean, std = np.reshape(IMAGENET_MEAN, shape), np.reshape(IMAGENET_STD, shape)
    return np.clip(np.moveaxis(array * std + mean, channel_axis, -1), 0.0, 1.0)


def plot_image_grid(images, titles, nrows, ncols, suptitle=None, cell_size=2.0):
    """Figure with ``images`` (sequence of (H, W, 3) arrays or PIL images) on an nrows x ncols grid."""
    import matplotlib.pyplot as plt

    if len(images) != len(titles) or len(images) > nrows * ncols:
        raise ValueError(f"{len(images)} images and {len(titles)} titles do not fit a {nrows}x{ncols} grid")
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    height = nrows * (cell_size + 0.22 * title_lines) + (0.5 if suptitle else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell_size * ncols, height), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_predictions(images, captions, title, ncols=3):
    """2x3 (for 6 images) grid of visualize_model's output, titled ``title``."""
    nrows = math.ceil(len(captions) / ncols)
    return plot_image_grid(list(denormalize(images)), captions, nrows, ncols, title, cell_size=2.6)


def plot_history(history, title):
    """Loss and accuracy per epoch (train and val) from a train_model history list."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for phase, style in (("train", "o-"), ("val", "s-")):
            points = [(e["epoch"], e[f"{phase}_{key}"]) for e in history if e[f"{phase}_{key}"] is not None]
            if points:
                ax.plot(*zip(*points), style, label=phase)
        ax.set_xlabel("epoch (0 = before training)")
        ax.set_ylabel("cross-entropy loss" if key == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def random_samples(data_dir, split, count=25, seed=0):
    """``count`` distinct random (PIL image, class name) pairs of ``data_dir/split``, drawn with ``seed``."""
    folder = datasets.ImageFolder(Path(data_dir) / split)
    if count > len(folder):
        raise ValueError(f"count={count} but {Path(data_dir) / split} holds {len(folder)} images")
    picks = np.random.default_rng(seed).choice(len(folder), size=count, replace=False)
    samples = [folder[int(i)] for i in picks]
    return [image for image, _ in samples], [folder.classes[label] for _, label in samples]


def augmentation_demo(image, image_size=IMAGE_SIZE, count=7, seed=0):
    """The val view and ``count`` seeded train-augmented views of one PIL image: (views (count+1, 3, S, S)
    normalized tensor, titles)."""
    tfms = data_transforms(image_size)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        views = [tfms["val"](image)] + [tfms["train"](image) for _ in range(count)]
    finally:
        torch.random.set_rng_state(state)  # the demo must not shift the training runs' random draws
    return torch.stack(views), ["val transform"] + [f"train augmentation {i + 1}" for i in range(count)]
