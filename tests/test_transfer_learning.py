"""Tests for transfer_learning.py (train_model, finetune, freeze, visualize_model, load_resnet18) and the loaders of
hw4.data.loaders, on tiny generated ImageFolders (32x32), weights=None, num_workers=0."""
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

import transfer_learning as tl
from hw4.data import loaders as td
from hw4.figures import transfer as plots

CLASSES = ("blue", "red")


def _write_images(folder, color_channel, count, rng, size=32):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
        pixels[..., color_channel] += 180  # the class is the dominant colour: learnable, not trivial noise
        Image.fromarray(pixels).save(folder / f"img_{i:02d}.png")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """ImageFolder root with train (6 per class) and val (5 per class) 32x32 RGB PNGs."""
    root = tmp_path_factory.mktemp("tiny_imagefolder")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 5)):
        _write_images(root / split / "blue", 2, count, rng)
        _write_images(root / split / "red", 0, count, rng)
    return root


@pytest.fixture
def loaders(tiny_folder):
    torch.manual_seed(0)
    return td.make_dataloaders(tiny_folder, image_size=32, batch_size=4, num_workers=0)


def _spy_on_train_model(monkeypatch):
    """Record the model state, optimizer and scheduler that finetune/freeze hand to train_model."""
    calls = []
    real = tl.train_model

    def spy(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs=25,
            history=None):
        calls.append({"state": copy.deepcopy(model.state_dict()), "optimizer": optimizer,
                      "scheduler": scheduler, "num_epochs": num_epochs, "model": model})
        return real(device, dataloaders, dataset_sizes, model, criterion, optimizer, scheduler, num_epochs,
                    history)

    monkeypatch.setattr(tl, "train_model", spy)
    return calls


def _changed_keys(before, after):
    assert before.keys() == after.keys()
    return {key for key in before if not torch.equal(before[key], after[key])}


def test_hello(capsys):
    tl.hello()
    assert "transfer_learning.py" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- freeze


def test_freeze_trains_only_fc_and_keeps_everything_else_frozen(loaders, monkeypatch, capsys):
    dataloaders, sizes, class_names = loaders
    calls = _spy_on_train_model(monkeypatch)
    torch.manual_seed(0)
    history = []
    model = tl.freeze("cpu", dataloaders, sizes, class_names, num_epochs=2, weights=None, history=history)

    assert [c["num_epochs"] for c in calls] == [0, 2]  # one evaluation, then training
    before = calls[0]["state"]
    changed = _changed_keys(before, model.state_dict())
    assert changed == {"fc.weight", "fc.bias"}  # BatchNorm running statistics of the backbone included
    assert model.fc.out_features == len(class_names) and model.fc.in_features == 512
    for name, param in model.named_parameters():
        assert param.requires_grad == name.startswith("fc."), name
    optimizer = calls[1]["optimizer"]
    assert calls[0]["optimizer"] is optimizer
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.fc.parameters()}
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.SGD) and group["momentum"] == 0.9
    assert group["initial_lr"] == 0.001
    scheduler = calls[1]["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.StepLR)
    assert (scheduler.step_size, scheduler.gamma) == (7, 0.1)
    out = capsys.readouterr().out
    assert len(re.findall(r"^train Loss: \d+\.\d{4} Acc: \d\.\d{4}$", out, re.M)) == 2
    assert len(re.findall(r"^val Loss: \d+\.\d{4} Acc: \d\.\d{4}$", out, re.M)) == 3
    assert [entry["epoch"] for entry in history] == [0, 1, 2]


def test_finetune_changes_convolutional_weights(loaders, monkeypatch):
    dataloaders, sizes, class_names = loaders
    calls = _spy_on_train_model(monkeypatch)
    torch.manual_seed(0)
    model = tl.finetune("cpu", dataloaders, sizes, class_names, num_epochs=1, weights=None)

    changed = _changed_keys(calls[0]["state"], model.state_dict())
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight", "bn1.running_mean",
                "fc.weight", "fc.bias"):
        assert key in changed, key
    assert all(p.requires_grad for p in model.parameters())
    optimizer = calls[1]["optimizer"]
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.parameters()}
    assert optimizer.param_groups[0]["initial_lr"] == 0.001 and optimizer.param_groups[0]["momentum"] == 0.9
    assert (calls[1]["scheduler"].step_size, calls[1]["scheduler"].gamma) == (7, 0.1)
    assert model.fc.out_features == len(class_names)


# ----------------------------------------------------------------------------------------- train_model


class ScriptedOptimizer(torch.optim.Optimizer):
    """Ignores gradients: during epoch k it writes script[k] into the parameters (a known val accuracy)."""

    def __init__(self, params, script, steps_per_epoch):
        super().__init__(params, {"lr": 0.1})
        self.script, self.steps_per_epoch, self.steps = script, steps_per_epoch, 0

    @torch.no_grad()
    def step(self, closure=None):
        weights = self.script[self.steps // self.steps_per_epoch]
        for param, value in zip(self.param_groups[0]["params"], weights):
            param.copy_(value)
        self.steps += 1


def _colour_model():
    """Scores from the mean colour: (B, 3, H, W) -> (B, 2); class 0 'blue', class 1 'red'."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2))


GOOD = (torch.tensor([[-1.0, 0.0, 1.0], [1.0, 0.0, -1.0]]), torch.zeros(2))  # blue vs red: val acc 1
BAD = (-GOOD[0], torch.zeros(2))  # every prediction flipped: val acc 0


@pytest.mark.parametrize("script, best", [((GOOD, BAD, BAD), 0), ((BAD, GOOD, BAD), 1), ((BAD, BAD, GOOD), 2)])
def test_train_model_returns_best_val_weights(loaders, script, best, capsys):
    dataloaders, sizes, _ = loaders
    model = _colour_model()
    steps_per_epoch = len(dataloaders["train"])
    optimizer = ScriptedOptimizer(model.parameters(), script, steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    history = []
    returned = tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(), optimizer, scheduler,
                              num_epochs=3, history=history)

    assert returned is model
    assert torch.equal(model[2].weight, script[best][0]) and torch.equal(model[2].bias, script[best][1])
    expected_acc = [1.0 if weights is GOOD else 0.0 for weights in script]
    assert [entry["val_acc"] for entry in history] == expected_acc
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    out = capsys.readouterr().out
    assert "Best val Acc: 1.0000" in out and "Training complete in" in out
    assert out.count("train Loss:") == 3 and out.count("val Loss:") == 3


def test_train_model_history_matches_an_independent_evaluation(loaders):
    dataloaders, sizes, _ = loaders
    torch.manual_seed(0)
    model = _colour_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    history = []
    tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(), optimizer, None, num_epochs=1,
                   history=history)
    # Oracle: loss/accuracy over the whole val set computed in one batch by hand.
    batches = list(dataloaders["val"])  # one pass: the loader reshuffles on every pass
    images, labels = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
    with torch.no_grad():
        scores = model(images)
    assert history[0]["val_loss"] == pytest.approx(nn.functional.cross_entropy(scores, labels).item(), rel=1e-5)
    assert history[0]["val_acc"] == pytest.approx((scores.argmax(1) == labels).double().mean().item())


def test_num_epochs_zero_changes_nothing(loaders, capsys):
    dataloaders, sizes, _ = loaders
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(512, 2)
    model.train()
    model.layer2.eval()  # a mixed mode must come back exactly
    modes = [m.training for m in model.modules()]
    before = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    history = []
    returned = tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(), optimizer, scheduler,
                              num_epochs=0, history=history)

    assert returned is model
    assert _changed_keys(before, model.state_dict()) == set()  # BatchNorm buffers included
    assert [m.training for m in model.modules()] == modes
    assert optimizer.state_dict()["state"] == {} and scheduler.last_epoch == 0
    assert all(p.grad is None for p in model.parameters())
    out = capsys.readouterr().out
    assert re.search(r"^val Loss: \d+\.\d{4} Acc: \d\.\d{4}$", out, re.M) and "train Loss" not in out
    assert len(history) == 1 and history[0]["train_loss"] is None and history[0]["epoch"] == 0


@pytest.mark.filterwarnings("error")
def test_no_scheduler_order_warning(loaders):
    dataloaders, sizes, class_names = loaders
    torch.manual_seed(0)
    tl.finetune("cpu", dataloaders, sizes, class_names, num_epochs=2, weights=None)
    tl.freeze("cpu", dataloaders, sizes, class_names, num_epochs=2, weights=None)


def test_scheduler_order_warning_exists_so_the_test_above_can_fail():
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7)
    with pytest.warns(UserWarning, match="lr_scheduler.step()"):
        scheduler.step()
        optimizer.step()


def test_scheduler_steps_once_per_epoch(loaders):
    dataloaders, sizes, _ = loaders
    model = _colour_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = []
    tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(), optimizer, scheduler, num_epochs=3,
                   history=history)
    assert [entry["lr"] for entry in history] == pytest.approx([0.1, 0.05, 0.025])
    assert scheduler.last_epoch == 3 and optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_train_model_raises_on_non_finite_loss(loaders):
    dataloaders, sizes, _ = loaders
    model = _colour_model()
    with torch.no_grad():
        model[2].weight.fill_(float("nan"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match="train loss is nan"):
        tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(), optimizer, None, num_epochs=1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_epochs": -1}, ValueError, "num_epochs"),
    ({"num_epochs": 1.5}, TypeError, "num_epochs"),
    ({"num_epochs": True}, TypeError, "num_epochs"),
    ({"dataset_sizes": {"train": 12}}, ValueError, r"dataset_sizes has no entry for \['val'\]"),
    ({"dataset_sizes": {"train": 99, "val": 10}}, ValueError, r"dataset_sizes\['train'\] is 99"),
    ({"dataloaders": [1, 2]}, TypeError, "dataloaders must be a dict"),
    ({"model": "resnet"}, TypeError, "model must be a torch.nn.Module"),
])
def test_train_model_rejects_bad_arguments(loaders, kwargs, error, match):
    dataloaders, sizes, _ = loaders
    model = _colour_model()
    args = {"device": "cpu", "dataloaders": dataloaders, "dataset_sizes": dict(sizes), "model": model,
            "criterion": nn.CrossEntropyLoss(), "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
            "scheduler": None, "num_epochs": 1}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        tl.train_model(**args)


def test_train_model_does_not_mutate_its_dict_arguments(loaders):
    dataloaders, sizes, _ = loaders
    sizes_before, loaders_before = dict(sizes), dict(dataloaders)
    model = _colour_model()
    tl.train_model("cpu", dataloaders, sizes, model, nn.CrossEntropyLoss(),
                   torch.optim.SGD(model.parameters(), lr=0.1), None, num_epochs=1)
    assert sizes == sizes_before and dataloaders == loaders_before


# ------------------------------------------------------------------------------------- visualize_model


@pytest.mark.parametrize("num_images", [1, 3, 6])
@pytest.mark.parametrize("start_in_train_mode", [True, False])
def test_visualize_model_count_captions_and_mode(loaders, num_images, start_in_train_mode):
    dataloaders, _, class_names = loaders
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    model.train(start_in_train_mode)
    model.layer3.train(not start_in_train_mode)
    modes = [m.training for m in model.modules()]
    before = copy.deepcopy(model.state_dict())

    images, captions = tl.visualize_model("cpu", dataloaders, model, class_names, num_images=num_images)

    assert [m.training for m in model.modules()] == modes
    assert _changed_keys(before, model.state_dict()) == set()
    assert images.shape == (num_images, 3, 32, 32) and images.device.type == "cpu"
    assert len(captions) == num_images
    # Oracle: the model's own eval-mode predictions on the returned images.
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(1)
    for caption, pred in zip(captions, predicted):
        true, _, shown = caption.partition("\npredicted: ")
        assert true in class_names and shown == class_names[int(pred)]


def test_visualize_model_true_labels_match_the_images(loaders):
    dataloaders, _, class_names = loaders
    model = _colour_model()
    images, captions = tl.visualize_model("cpu", dataloaders, model, class_names, num_images=6)
    pixels = plots.denormalize(images)  # (6, 32, 32, 3); red images have a larger red than blue mean
    for picture, caption in zip(pixels, captions):
        colour = "red" if picture[..., 0].mean() > picture[..., 2].mean() else "blue"
        assert caption.startswith(colour + "\n")


def test_visualize_model_rejects_bad_counts(loaders):
    dataloaders, sizes, class_names = loaders
    model = _colour_model()
    with pytest.raises(ValueError, match="num_images"):
        tl.visualize_model("cpu", dataloaders, model, class_names, num_images=0)
    with pytest.raises(ValueError, match=f"holds only {sizes['val']} images"):
        tl.visualize_model("cpu", dataloaders, model, class_names, num_images=sizes["val"] + 1)


# ------------------------------------------------------------------------------- transforms and loaders


def test_dataloaders_shapes_sizes_and_normalization(loaders):
    dataloaders, sizes, class_names = loaders
    assert sizes == {"train": 12, "val": 10} and class_names == list(CLASSES)
    images, labels = next(iter(dataloaders["val"]))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32 and labels.dtype == torch.int64
    # Oracle: torchvision's own Normalize applied to the val-transformed PIL image.
    image = Image.open(sorted((Path(dataloaders["val"].dataset.root) / "red").glob("*.png"))[0])
    expected = (torchvision.transforms.functional.to_tensor(
        torchvision.transforms.functional.center_crop(torchvision.transforms.functional.resize(image, 37), 32))
        - torch.tensor(td.IMAGENET_MEAN)[:, None, None]) / torch.tensor(td.IMAGENET_STD)[:, None, None]
    assert torch.allclose(td.data_transforms(32)["val"](image), expected, atol=1e-6)
    assert np.allclose(plots.denormalize(expected), np.asarray(
        torchvision.transforms.functional.center_crop(torchvision.transforms.functional.resize(image, 37), 32))
        / 255.0, atol=1e-6)


def test_max_per_class_subset_is_balanced(tiny_folder):
    dataloaders, sizes, _ = td.make_dataloaders(tiny_folder, image_size=32, num_workers=0, max_per_class=2)
    assert sizes == {"train": 4, "val": 4}
    labels = torch.cat([y for _, y in dataloaders["train"]])
    assert sorted(labels.tolist()) == [0, 0, 1, 1]


def test_default_num_workers_is_zero_off_linux(monkeypatch):
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(td.sys, "platform", platform)
        assert td.default_num_workers() == 0
    monkeypatch.setattr(td.sys, "platform", "linux")
    monkeypatch.setattr(td.os, "cpu_count", lambda: 2)
    assert td.default_num_workers() == 0


# ----------------------------------------------------------------------------------------------- weights


class _RunsCode:
    """Unpickling this calls os.mkdir(marker): what a crafted checkpoint could do with weights_only=False."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def write_crafted_checkpoint(path, marker):
    """A checkpoint whose loading with weights_only=False would run code (create the folder ``marker``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"fc.weight": _RunsCode(marker), "fc.bias": torch.zeros(2)}, path)


def test_load_resnet18_reads_a_state_dict_file(tmp_path):
    torch.manual_seed(0)
    source = torchvision.models.resnet18(weights=None, num_classes=8)
    torch.save(source.state_dict(), tmp_path / "backbone.pt")
    model = tl.load_resnet18(tmp_path / "backbone.pt")
    assert model.fc.out_features == 8 and _changed_keys(source.state_dict(), model.state_dict()) == set()
    assert tl.load_resnet18(None).fc.out_features == 1000
    with pytest.raises(ValueError, match="weights must be None"):
        tl.load_resnet18("imagenet")  # neither a weights name nor a file
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no 'fc.weight'"):
        tl.load_resnet18(tmp_path / "other.pt")


def test_load_resnet18_reads_imagenet_weights_from_torch_hubs_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    torch.manual_seed(0)
    cached = torchvision.models.resnet18(weights=None)
    path = tmp_path / "torch_home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(cached.state_dict(), path)
    for weights in ("DEFAULT", torchvision.models.ResNet18_Weights.IMAGENET1K_V1):
        model = tl.load_resnet18(weights)  # HW4_OFFLINE=1 and no network: read from the cache, not downloaded
        assert _changed_keys(cached.state_dict(), model.state_dict()) == set()


def test_load_resnet18_never_runs_code_from_a_checkpoint(tmp_path, monkeypatch):
    """Issue 10 item 8: checkpoints are read with weights_only=True, from a path and from torch.hub's cache."""
    marker = tmp_path / "code_ran"
    write_crafted_checkpoint(tmp_path / "crafted.pt", marker)
    with pytest.raises(Exception, match="(?i)weights.only"):
        tl.load_resnet18(tmp_path / "crafted.pt")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    write_crafted_checkpoint(tmp_path / "torch_home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth", marker)
    with pytest.raises(Exception, match="(?i)weights.only"):
        tl.load_resnet18("DEFAULT")
    assert not marker.exists()


# ------------------------------------------------------------------------- without the repository helpers

STANDALONE_PROBE = r"""
import sys
sys.path.insert(0, ".")
import torch
import transfer_learning as tl
for name in ("hw4", "coco_utils", "solver"):
    assert name not in sys.modules, name + " was imported"
torch.manual_seed(0)
images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 2
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=4)
loaders, sizes = {"train": loader, "val": loader}, {"train": 8, "val": 8}
torch.save(tl.load_resnet18(None).state_dict(), "backbone.pt")
model = tl.freeze("cpu", loaders, sizes, ["a", "b"], num_epochs=1, weights="backbone.pt")
model = tl.finetune("cpu", loaders, sizes, ["a", "b"], num_epochs=1, weights=None)
shown, captions = tl.visualize_model("cpu", loaders, model, ["a", "b"], num_images=2)
print("STANDALONE OK", tuple(shown.shape), len(captions))
"""


def test_module_works_without_the_repository_helpers(tmp_path):
    """The course receives transfer_learning.py alone: it imports and trains beside nothing of ours."""
    shutil.copy(Path(tl.__file__), tmp_path / "transfer_learning.py")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update({"HW4_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch_home"), "OMP_NUM_THREADS": "1"})
    result = subprocess.run([sys.executable, "-I", "-c", STANDALONE_PROBE], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "STANDALONE OK (2, 3, 32, 32) 2" in result.stdout
