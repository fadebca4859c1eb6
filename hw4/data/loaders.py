"""Q3's loaders: the PyTorch tutorial's transforms and shuffled ImageFolder loaders (batch 4), seeded.

224-pixel inputs for the photos, 64 for the 28-pixel digits of the stand-in (224 would only blow them up, at 12
times the compute). Shapes: images (N, 3, S, S) float32 normalized with the ImageNet mean/std; labels (N,) int64.
"""
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets, transforms

from hw4.data.hymenoptera import PHASES, STANDIN_MARKER
from hw4.files import display_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH_SIZE = 4
REAL_IMAGE_SIZE = 224
STANDIN_IMAGE_SIZE = 64


def seed_everything(seed=0):
    """Seed Python's, NumPy's and PyTorch's generators (augmentation draws from torch's)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def image_size_for(data_dir):
    """Network input side for an ImageFolder root: 64 for the MNIST stand-in, 224 (the tutorial's) otherwise."""
    return STANDIN_IMAGE_SIZE if (Path(data_dir) / STANDIN_MARKER).exists() else REAL_IMAGE_SIZE


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
