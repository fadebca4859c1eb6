"""Q3's figures (transfer_learning.ipynb): image grids, prediction grids, training curves and an augmentation demo.

Every function returns a matplotlib Figure; the notebook saves it (hw4.nbtools.savefig) and shows it
with IPython.display.display (plt.show() shows nothing under the Agg backend that `make run` uses).
"""
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision import datasets

from hw4.data.loaders import IMAGENET_MEAN, IMAGENET_STD, data_transforms


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
    """Grid of transfer_learning.visualize_model's output (normalized images (N, 3, H, W), N captions)."""
    nrows = math.ceil(len(captions) / ncols)
    return plot_image_grid(list(denormalize(images)), captions, nrows, ncols, title, cell_size=2.6)


def plot_history(history, title):
    """Loss and accuracy per epoch (train and val) from a train_model history list."""
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


def augmentation_demo(image, image_size, count=7, seed=0):
    """The val view and ``count`` seeded train-augmented views of one PIL image: (views (count+1, 3, S, S)
    normalized tensor, titles)."""
    tfms = data_transforms(image_size)
    with torch.random.fork_rng(devices=[]):  # the demo must not shift the training runs' random draws
        torch.manual_seed(seed)
        views = [tfms["val"](image)] + [tfms["train"](image) for _ in range(count)]
    return torch.stack(views), ["val transform"] + [f"train augmentation {i + 1}" for i in range(count)]
