"""The submitted notebooks rerun in the course's folder: the submitted .py/.ipynb files, the course-style helper files,
data in the course's layout, and no hw4 package (each notebook imports it behind one guard and otherwise takes the
course's path: the course's data files, plain prints, plt.savefig). Smoke mode (HW4_SMOKE=1), offline, small data."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from hw4.lines import COURSE_HELPERS, FILES
from test_coco_utils import write_coco

ROOT = Path(__file__).resolve().parents[1]


def write_mnist(path, num_train=5200, num_test=300, seed=0):
    """data/mnist.npz in Keras' layout (x uint8 (N, 28, 28), y uint8 (N,)); the course's split keeps the last 5000
    training images for validation, so there are more than that."""
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (num_train, 28, 28), dtype=np.uint8),
             y_train=(np.arange(num_train) % 10).astype(np.uint8),
             x_test=rng.integers(0, 256, (num_test, 28, 28), dtype=np.uint8),
             y_test=(np.arange(num_test) % 10).astype(np.uint8))


def write_hymenoptera(folder, per_class=4, seed=0):
    """data/hymenoptera_data/{train,val}/{ants,bees}/*.jpg, small pictures."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for name in ("ants", "bees"):
            (folder / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / name / f"{i}.jpg")


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory):
    """The course's folder: submitted files, helper files, data/ in the course's layout, a cached ResNet-18."""
    import torch
    import torchvision

    folder = tmp_path_factory.mktemp("course")
    for name in (*FILES, *COURSE_HELPERS):
        shutil.copy2(ROOT / name, folder / name)
    data = folder / "data"
    data.mkdir()
    write_mnist(data / "mnist.npz")
    write_coco(data / "coco_captioning")
    write_hymenoptera(data / "hymenoptera_data")
    checkpoint = folder / "torch_home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    checkpoint.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), checkpoint)   # stands in for ImageNet's
    return folder


@pytest.fixture
def course_env(course_folder, monkeypatch):
    """The kernel's environment: smoke mode, offline, headless, torch's cache in the folder, no PYTHONPATH (so
    neither the repository's modules nor hw4 can be imported from anywhere but the folder)."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    for key, value in {"HW4_SMOKE": "1", "HW4_OFFLINE": "1", "MPLBACKEND": "Agg",
                       "TORCH_HOME": str(course_folder / "torch_home")}.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


def test_the_package_is_not_importable_there(course_folder, course_env):
    probe = ("import importlib.util as u; print(u.find_spec('hw4') is None, u.find_spec('cnn') is not None, "
             "u.find_spec('coco_utils') is not None)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=course_folder, env=course_env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.split() == ["True", "True", "True"], result.stderr


def stdout(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.parametrize("name, figures", [("cnn.ipynb", ["cnn.png"]), ("rnn.ipynb", ["image_captioning_loss.png"]),
                                           ("svm.ipynb", ["svm_sklearn_boundaries.png", "svm_cvxopt_boundaries.png"]),
                                           ("transfer_learning.ipynb", ["transfer_finetune_predictions.png",
                                                                        "transfer_freeze_predictions.png"])])
def test_notebook_reruns_in_the_course_folder(course_folder, course_env, name, figures):
    nb = nbformat.read(course_folder / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(course_folder)}})
    client.execute()                      # raises CellExecutionError, naming the cell, when one fails
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = stdout(nb)
    assert "FINGERPRINT" not in text and "SUMMARY" not in text      # the course's path: plain prints
    for figure in figures:                                             # plt.savefig wrote them in the folder
        assert (course_folder / figure).stat().st_size > 0
    if name == "transfer_learning.ipynb":
        assert "ResNet-18 weights: DEFAULT" in text and "hymenoptera_data" in text
