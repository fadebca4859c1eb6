"""Q3's starting weights: ImageNet ResNet-18 from torchvision's cache (or the registry's download), checked. Without
it, a *source-task backbone*: ResNet-18 trained here on the eight MNIST digits that are not the stand-in's classes,
a task disjoint from the target one, so that finetuning and freezing still transfer something offline.

The backbone is written with a JSON record next to it (settings, accuracy, sha256): a file whose record matches is
reused, a damaged or outdated one rebuilt, a file without our record never touched.
"""
import hashlib
import io
import json
import math
import re
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision import transforms

from hw4.data import DATA_DIR, data_step, registry
from hw4.data import mnist as mnist_data
from hw4.data.hymenoptera import STANDIN_DIGITS
from hw4.data.loaders import IMAGENET_MEAN, IMAGENET_STD, STANDIN_IMAGE_SIZE, _resize_center_crop
from hw4.files import (MAKE_DATA, DataUnavailableError, announce, display_path, error_summary, misplaced_error,
                       read_json, sha256sum, write_bytes_atomic, write_text_atomic, writing_data)

RESNET18_WEIGHTS = torchvision.models.ResNet18_Weights.DEFAULT
BACKBONE_PATH = DATA_DIR / "resnet18_mnist_source.pt"
BACKBONE_BUILDER = "hw4.data.backbone.build_source_backbone"
BUILDERS = (BACKBONE_BUILDER, "transfer_data.build_source_backbone")   # the second: records from before hw4/
# Source-task training (ours, not the course's recipe): 8 digits x 400 images, 4 epochs of one-cycle SGD at
# batch 64 take about 1.5 minutes on one CPU thread and reach ~98% on the held-out digits.
BACKBONE_SETTINGS = {"image_size": STANDIN_IMAGE_SIZE, "epochs": 4, "per_class": 400, "held_out_per_class": 100,
                     "batch_size": 64, "lr": 0.05, "seed": 0}
# Seconds, not minutes: what smoke runs (HW4_SMOKE=1) and tests build.
SMOKE_BACKBONE = {"image_size": 32, "epochs": 1, "per_class": 8, "held_out_per_class": 4, "batch_size": 16}


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
                                   f"({error_summary(exc)}): {fix}") from exc
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
    path = registry.fetch(path.name, path, description=f"ImageNet ResNet-18 weights ({path.name})")
    fix = f"delete it and run {MAKE_DATA} (or download {weights.url} and save it there)."
    prefix = re.search(r"-([a-f0-9]*)\.", path.name).group(1)
    digest = sha256sum(path)
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
        raise misplaced_error(path, "the source-task backbone file", found="a folder")
    if not path.exists():
        return "missing"
    record = read_json(_record_path(path))
    if record is None or record.get("builder") not in BUILDERS or record.get("file") != path.name:
        raise DataUnavailableError(
            f"{display_path(path)} was not built by {BACKBONE_BUILDER} (no record {_record_path(path).name} next "
            f"to it), so it is neither used nor replaced. Move it away (or delete it), then run {MAKE_DATA}.")
    if sha256sum(path) != record.get("sha256"):
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

    Inputs: path; arrays: as hw4.data.mnist.load_mnist_arrays() returns (loaded when None); target_digits:
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
        arrays = mnist_data.load_mnist_arrays()
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
    with writing_data(path, "the source-task backbone"):
        # Record first: a build cut short in between leaves a record that matches no file, so the next run
        # rebuilds; never a file without its record (which would look like a user's file).
        write_text_atomic(_record_path(path), json.dumps(record, indent=1) + "\n")
        write_bytes_atomic(path, buffer.getvalue())
    print(f"Source-task backbone ready in {seconds:.0f} s: held-out accuracy {accuracy:.4f} on "
          f"{len(held_out[1])} images of digits {classes}.", flush=True)
    return path


def backbone_record(path=BACKBONE_PATH):
    """The JSON record build_source_backbone wrote next to ``path`` (a dict), or None."""
    return read_json(_record_path(path))


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
        announce(f"{reason}\n\nNor is the offline source-task backbone:\n{exc}\n\n"
                  f"BUILDING RESNET-18 WITH weights=None (RANDOM INITIALIZATION).\n"
                  f"The numbers that follow are NOT a transfer-learning result: nothing is transferred.")
        warnings.warn("ResNet-18 ImageNet weights and the source-task backbone unavailable: using weights=None "
                      "(random initialization)", RuntimeWarning, stacklevel=2)
        return None
    announce(f"{reason}\n\nUSING THE OFFLINE SOURCE-TASK BACKBONE INSTEAD OF IMAGENET:\n{describe_weights(path)}.\n"
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


def make_data_step():
    """`make data`'s Q3 weights step: the ImageNet checkpoint, else the source-task backbone (built here)."""
    return data_step("Q3 weights", lambda: resolve_resnet18_weights("auto"), describe_weights)
