"""Tests for Q3's data (hw4.data.hymenoptera, hw4.data.backbone): the hymenoptera images or their MNIST stand-in,
the ImageNet checkpoint checks and the offline source-task backbone. Offline (HW4_OFFLINE=1), on fake MNIST arrays,
at smoke scale."""
import hashlib
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

import transfer_learning as tl
from hw4 import files
from hw4.data import backbone, hymenoptera, loaders, mnist, registry
from test_transfer_learning import write_crafted_checkpoint

SMALL = {"train": (3, 2), "val": (2, 2)}


def _fake_mnist(seed=0):
    """MNIST-shaped arrays with distinct random images (so each saved PNG can be traced to its source)."""
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, size=(1500, 28, 28), dtype=np.uint8),
            "y_train": np.repeat(np.arange(10), 150).astype(np.int64),
            "x_test": rng.integers(0, 256, size=(1000, 28, 28), dtype=np.uint8),
            "y_test": np.repeat(np.arange(10), 100).astype(np.int64), "source": "fake MNIST"}


@pytest.fixture
def fake_mnist(monkeypatch):
    monkeypatch.setattr(mnist, "load_mnist_arrays", lambda *a, **k: _fake_mnist())


def _tree(folder):
    """{relative path: sha256} of every file below ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -------------------------------------------------------------------------------------------- the stand-in


def test_standin_layout_sizes_and_content(tmp_path):
    arrays = _fake_mnist()
    sizes = {"train": (23, 21), "val": (70, 83)}
    data_dir = hymenoptera.build_standin(tmp_path, arrays=arrays, sizes=sizes)
    assert data_dir == tmp_path / "hymenoptera_standin"
    for split, mnist_split in (("train", "train"), ("val", "test")):
        folder = torchvision.datasets.ImageFolder(data_dir / split)
        assert folder.classes == ["digit_3", "digit_8"]
        counts = np.bincount(folder.targets, minlength=2)
        assert tuple(counts) == sizes[split]
        sources = {arr.tobytes(): int(label) for arr, label in
                   zip(arrays[f"x_{mnist_split}"], arrays[f"y_{mnist_split}"])}
        seen = set()
        for path, label in folder.samples:
            pixels = np.asarray(Image.open(path))
            assert pixels.shape == (28, 28, 3) and pixels.dtype == np.uint8
            assert (pixels == pixels[..., :1]).all()  # grey digit copied to RGB
            digit = sources[pixels[..., 0].tobytes()]  # KeyError if not a real image of this MNIST split
            assert digit == (3, 8)[label]
            seen.add(pixels.tobytes())
        assert len(seen) == len(folder)  # no image twice
    assert "STAND-IN" in hymenoptera._read_standin_marker(data_dir)["description"]
    assert loaders.image_size_for(data_dir) == 64 and loaders.image_size_for(tmp_path) == 224


def test_standin_default_sizes_match_hymenoptera_and_builds_are_reproducible(tmp_path):
    first = hymenoptera.build_standin(tmp_path / "a", arrays=_fake_mnist())
    second = hymenoptera.build_standin(tmp_path / "b", arrays=_fake_mnist())
    assert len(torchvision.datasets.ImageFolder(first / "train")) == 244
    assert len(torchvision.datasets.ImageFolder(first / "val")) == 153
    assert _tree(first) == _tree(second)
    # A complete stand-in is reused without reading MNIST again.
    assert hymenoptera.build_standin(tmp_path / "a", arrays={"unused": None}) == first


def test_standin_rejects_too_few_images_and_bad_arguments(tmp_path):
    with pytest.raises(files.DataUnavailableError, match="only 150 images of digit 3"):
        hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes={"train": (151, 5), "val": (5, 5)})
    assert not (tmp_path / "hymenoptera_standin").exists()
    assert not list(tmp_path.glob(".*"))  # no half-built folder left behind
    with pytest.raises(ValueError, match="digits"):
        hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), digits=(3, 3))


@pytest.mark.parametrize("damage", ["zero bytes", "cut short", "missing"])
def test_damaged_standin_is_rebuilt_and_says_so(tmp_path, capsys, damage):
    """Issue 10 items 6 and 11: an empty or cut PNG is not a complete stand-in; a generated folder is rebuilt."""
    data_dir = hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes=SMALL)
    good = _tree(data_dir)
    victim = sorted((data_dir / "val" / "digit_8").glob("*.png"))[0]
    if damage == "missing":
        victim.unlink()
    else:
        victim.write_bytes(b"" if damage == "zero bytes" else victim.read_bytes()[:6])
    capsys.readouterr()
    assert hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes=SMALL) == data_dir
    assert "rebuilding" in capsys.readouterr().out
    assert _tree(data_dir) == good
    assert not list(tmp_path.glob(".*"))


def test_standin_folders_get_normal_permissions(tmp_path):
    """Issue 10 item 11: folders are created 0777 minus the umask, not mkdtemp's 0700."""
    previous = os.umask(0o022)
    try:
        data_dir = hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes=SMALL)
    finally:
        os.umask(previous)
    for folder in (data_dir, data_dir / "train", data_dir / "val" / "digit_3"):
        assert folder.stat().st_mode & 0o777 == 0o755, folder


def test_standin_folder_with_a_user_file_is_never_replaced(tmp_path):
    """Issue 10 item 7: an incomplete stand-in holding a file we did not write is reported, not removed."""
    data_dir = hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes=SMALL)
    sorted(data_dir.rglob("*.png"))[0].unlink()
    (data_dir / "train" / "digit_3" / "my_notes.txt").write_text("mine")
    before = _tree(data_dir)
    with pytest.raises(files.DataUnavailableError, match="did not write.*Move it away"):
        hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes=SMALL)
    assert _tree(data_dir) == before


def test_prepare_offline_without_zip_builds_the_standin(tmp_path, fake_mnist, capsys):
    data_dir, source = hymenoptera.prepare_hymenoptera_data(tmp_path)
    assert data_dir == tmp_path / "hymenoptera_standin" and "STAND-IN" in source
    out = capsys.readouterr().out
    assert hymenoptera.HYMENOPTERA_URL in out and "OFFLINE STAND-IN" in out


def test_prepare_missing_data_names_url_and_destination(tmp_path):
    with pytest.raises(files.DataUnavailableError) as info:
        hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    message = str(info.value)
    assert hymenoptera.HYMENOPTERA_URL in message
    assert files.display_path(tmp_path / "hymenoptera_data.zip") in message
    assert "hymenoptera_data" in message and not (tmp_path / "hymenoptera_standin").exists()


# ------------------------------------------------------------------------------------- the hymenoptera zip


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _jpeg_bytes(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _fake_hymenoptera_zip():
    return _zip_bytes({f"hymenoptera_data/{split}/{cls}/{i}.jpg": _jpeg_bytes((40 * i, 90, 200))
                       for split in ("train", "val") for cls in ("ants", "bees") for i in range(2)})


def _registry_expects(monkeypatch, payload):
    """The registry's sha256 for hymenoptera_data.zip becomes that of ``payload``."""
    digest = hashlib.sha256(payload).hexdigest()
    monkeypatch.setitem(registry.REGISTRY.registry, "hymenoptera_data.zip", f"sha256:{digest}")


@pytest.fixture
def verified_zip(tmp_path, monkeypatch):
    """A fake hymenoptera zip in tmp_path whose sha256 is the one expected."""
    payload = _fake_hymenoptera_zip()
    (tmp_path / "hymenoptera_data.zip").write_bytes(payload)
    _registry_expects(monkeypatch, payload)
    return tmp_path / "hymenoptera_data.zip"


def test_wrong_hash_zip_is_rejected(tmp_path, fake_mnist, capsys):
    (tmp_path / "hymenoptera_data.zip").write_bytes(_fake_hymenoptera_zip())
    with pytest.raises(files.DataUnavailableError, match="sha256"):
        hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    assert not (tmp_path / "hymenoptera_data").exists()
    data_dir, source = hymenoptera.prepare_hymenoptera_data(tmp_path)
    assert data_dir.name == "hymenoptera_standin" and not (tmp_path / "hymenoptera_data").exists()
    assert "not used" in capsys.readouterr().out


def test_verified_zip_is_unpacked_and_then_reused(tmp_path, verified_zip):
    previous = os.umask(0o022)
    try:
        data_dir, source = hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    finally:
        os.umask(previous)
    assert data_dir == tmp_path / "hymenoptera_data" and source == hymenoptera.REAL_SOURCE
    assert data_dir.stat().st_mode & 0o777 == 0o755
    dataloaders, sizes, class_names = loaders.make_dataloaders(data_dir, image_size=32, num_workers=0)
    assert class_names == ["ants", "bees"] and sizes == {"train": 4, "val": 4}
    verified_zip.unlink()  # the unpacked folder is enough from now on
    assert hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)[0] == data_dir
    assert not list(tmp_path.glob(".*"))


def test_zip_is_never_unpacked_over_a_users_folder(tmp_path, verified_zip, fake_mnist, capsys):
    """Issue 10 item 7: a photo the user put into an incomplete hymenoptera_data/ survives."""
    photo = tmp_path / "hymenoptera_data" / "train" / "ants" / "my_ant.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"the user's own photo")
    with pytest.raises(files.DataUnavailableError, match="left as it is.*move it away"):
        hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    data_dir, _ = hymenoptera.prepare_hymenoptera_data(tmp_path)  # falls back to the stand-in, saying why
    assert data_dir.name == "hymenoptera_standin" and "is not unpacked over it" in capsys.readouterr().out
    assert photo.read_bytes() == b"the user's own photo"
    assert _tree(tmp_path / "hymenoptera_data") == {"train/ants/my_ant.jpg": hashlib.sha256(photo.read_bytes())
                                                   .hexdigest()}


def test_zip_with_unsafe_paths_is_not_extracted(tmp_path, monkeypatch):
    payload = _zip_bytes({"hymenoptera_data/train/ants/a.jpg": b"x", "../evil.txt": b"x"})
    (tmp_path / "hymenoptera_data.zip").write_bytes(payload)
    _registry_expects(monkeypatch, payload)
    with pytest.raises(files.DataUnavailableError, match="unsafe"):
        hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    assert not (tmp_path.parent / "evil.txt").exists() and not (tmp_path / "hymenoptera_data").exists()


def test_zip_without_the_layout_leaves_nothing(tmp_path, monkeypatch):
    payload = _zip_bytes({"hymenoptera_data/train/ants/a.jpg": _jpeg_bytes((1, 2, 3))})
    (tmp_path / "hymenoptera_data.zip").write_bytes(payload)
    _registry_expects(monkeypatch, payload)
    with pytest.raises(files.DataUnavailableError, match=r"does not contain.*delete it and run `make data`"):
        hymenoptera.prepare_hymenoptera_data(tmp_path, allow_standin=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hymenoptera_data.zip"]


# ------------------------------------------------------------------------------------ the ImageNet checkpoint


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def _pretend_official(monkeypatch):
    """sha256sum reports the prefix torchvision's file name promises for the ImageNet checkpoint only."""
    real = files.sha256sum
    monkeypatch.setattr(backbone, "sha256sum",
                        lambda p: "f37072fd" + "0" * 56 if str(p).endswith("resnet18-f37072fd.pth") else real(p))


def test_weights_checkpoint_path_follows_torch_home(empty_torch_home):
    assert backbone.resnet18_checkpoint_path() == empty_torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"


def test_explicit_weights_raise_with_instructions_offline(empty_torch_home):
    with pytest.raises(files.DataUnavailableError) as info:
        backbone.resolve_resnet18_weights("DEFAULT")
    assert torchvision.models.ResNet18_Weights.DEFAULT.url in str(info.value)
    assert files.display_path(backbone.resnet18_checkpoint_path()) in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backbone.resolve_resnet18_weights(None) is None  # asked for: no warning
    with pytest.raises(TypeError, match="weights"):
        backbone.resolve_resnet18_weights("imagenet")


def test_cached_checkpoint_is_used_offline_and_a_corrupt_one_is_not(empty_torch_home, tmp_path, monkeypatch):
    path = backbone.resnet18_checkpoint_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the official checkpoint")
    with pytest.raises(files.DataUnavailableError, match="does not start with f37072fd"):
        backbone.resolve_resnet18_weights("DEFAULT")
    assert path.exists()  # the user's file is reported, not deleted
    # A file whose hash matches its name is used without any download (HW4_OFFLINE=1 here), and then the
    # backbone is neither built nor used.
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    _pretend_official(monkeypatch)
    source = tmp_path / "backbone.pt"
    weights = backbone.resolve_resnet18_weights("auto", backbone_path=source)
    assert weights is torchvision.models.ResNet18_Weights.DEFAULT
    assert not source.exists()


def test_unreadable_checkpoint_names_the_file_and_the_fix(empty_torch_home, monkeypatch):
    """Issue 10 item 6: a downloaded checkpoint that fails to read: a message, not a traceback; kept."""
    path = backbone.resnet18_checkpoint_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    _pretend_official(monkeypatch)
    with pytest.raises(files.DataUnavailableError, match=r"resnet18-f37072fd.pth cannot be read.*make data"):
        backbone.resolve_resnet18_weights("DEFAULT")
    assert path.read_bytes() == b"PK\x03\x04 truncated"


def test_folder_where_the_checkpoint_belongs(empty_torch_home, tmp_path, fake_mnist, capsys):
    """Issue 10 item 6: a folder in the checkpoint's place is named, never removed; 'auto' goes on without it."""
    path = backbone.resnet18_checkpoint_path()
    (path / "inside").mkdir(parents=True)
    with pytest.raises(files.DataUnavailableError, match=r"resnet18-f37072fd.pth is a folder.*move it away"):
        backbone.resolve_resnet18_weights("DEFAULT")
    weights = backbone.resolve_resnet18_weights("auto", backbone_path=tmp_path / "backbone.pt",
                                                **backbone.SMOKE_BACKBONE)
    assert weights == tmp_path / "backbone.pt" and (path / "inside").is_dir()
    assert "is a folder" in capsys.readouterr().out


def test_crafted_checkpoint_never_runs_code(empty_torch_home, tmp_path, monkeypatch):
    """Issue 10 item 8: a checkpoint with pickled code is refused (weights_only=True), with the file named."""
    marker = tmp_path / "code_ran"
    write_crafted_checkpoint(backbone.resnet18_checkpoint_path(), marker)
    _pretend_official(monkeypatch)
    with pytest.raises(files.DataUnavailableError, match="cannot be read as a checkpoint of tensors"):
        backbone.resolve_resnet18_weights("DEFAULT")
    assert not marker.exists()


# ---------------------------------------------------------------------------------- the source-task backbone


def _build(path, **settings):
    return backbone.build_source_backbone(path, arrays=_fake_mnist(), **{**backbone.SMOKE_BACKBONE, **settings})


def _state(path):
    return torch.load(path, weights_only=True)


def test_backbone_is_deterministic_for_a_seed(tmp_path):
    first, second, other = _build(tmp_path / "a.pt"), _build(tmp_path / "b.pt"), _build(tmp_path / "c.pt", seed=1)
    a, b, c = _state(first), _state(second), _state(other)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    assert backbone.backbone_record(first)["sha256"] == backbone.backbone_record(second)["sha256"]


def test_backbone_record_matches_the_file(tmp_path):
    path = _build(tmp_path / "backbone.pt", held_out_per_class=100)
    record = json.loads((tmp_path / "backbone.json").read_text())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["source_classes"] == [0, 1, 2, 4, 5, 6, 7, 9] and record["target_classes_left_out"] == [3, 8]
    assert record["settings"] == {**backbone.BACKBONE_SETTINGS, **backbone.SMOKE_BACKBONE, "held_out_per_class": 100}
    assert record["train_images"] == 8 * backbone.SMOKE_BACKBONE["per_class"] and record["held_out_images"] == 800
    # Oracle: the saved weights, evaluated here on every held-out source digit (MNIST test split).
    model = tl.load_resnet18(path).eval()
    assert model.fc.out_features == 8
    arrays, size = _fake_mnist(), record["settings"]["image_size"]
    keep = np.isin(arrays["y_test"], record["source_classes"])
    images = torch.from_numpy(arrays["x_test"][keep]).float().div(255)[:, None].expand(-1, 3, -1, -1)
    images = torchvision.transforms.functional.center_crop(
        torchvision.transforms.functional.resize(images, round(size * 256 / 224)), size)
    images = torchvision.transforms.functional.normalize(images, loaders.IMAGENET_MEAN, loaders.IMAGENET_STD)
    labels = torch.from_numpy(np.searchsorted(record["source_classes"], arrays["y_test"][keep]))
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).double().mean().item()
    assert record["held_out_accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_backbone_is_reused_and_rebuilt_when_settings_change(tmp_path, capsys):
    path = _build(tmp_path / "backbone.pt")
    before = path.stat().st_mtime_ns
    capsys.readouterr()
    assert backbone.build_source_backbone(path, arrays={"unused": None}, **backbone.SMOKE_BACKBONE) == path
    assert path.stat().st_mtime_ns == before and "Training" not in capsys.readouterr().out
    _build(path, epochs=2)
    assert "other settings" in capsys.readouterr().out and backbone.backbone_record(path)["settings"]["epochs"] == 2


def test_corrupt_backbone_is_rebuilt(tmp_path, capsys):
    path = _build(tmp_path / "backbone.pt")
    good = _state(path)
    path.write_bytes(path.read_bytes()[:1000])  # cut short, as by a full disk
    assert _build(path) == path
    assert "does not match its record" in capsys.readouterr().out
    rebuilt = _state(path)
    assert all(torch.equal(good[key], rebuilt[key]) for key in good)
    assert backbone.backbone_record(path)["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_backbone_builder_never_overwrites_a_file_it_did_not_make(tmp_path):
    path = tmp_path / "backbone.pt"
    path.write_bytes(b"the user's own weights")
    with pytest.raises(files.DataUnavailableError, match="was not built by.*neither used nor replaced"):
        _build(path)
    assert path.read_bytes() == b"the user's own weights" and not (tmp_path / "backbone.json").exists()
    path.unlink()
    path.mkdir()
    with pytest.raises(files.DataUnavailableError, match="is a folder where the source-task backbone"):
        _build(path)


def test_freeze_with_the_backbone_trains_only_fc(tmp_path):
    source = _build(tmp_path / "backbone.pt")
    data_dir = hymenoptera.build_standin(tmp_path, arrays=_fake_mnist(), sizes={"train": (4, 4), "val": (3, 3)})
    torch.manual_seed(0)
    dataloaders, sizes, class_names = loaders.make_dataloaders(data_dir, image_size=32, num_workers=0)
    model = tl.freeze("cpu", dataloaders, sizes, class_names, num_epochs=2, weights=source)
    before, after = _state(source), model.state_dict()
    assert {key for key in after if key.startswith("fc.")} == {"fc.weight", "fc.bias"}
    assert model.fc.out_features == 2
    # Every backbone tensor (BatchNorm running statistics included) is exactly the saved one.
    assert all(torch.equal(before[key], after[key]) for key in after if not key.startswith("fc."))


def test_auto_uses_the_backbone_offline_and_says_so(empty_torch_home, tmp_path, fake_mnist, capsys):
    path = backbone.resolve_resnet18_weights("auto", backbone_path=tmp_path / "backbone.pt", **backbone.SMOKE_BACKBONE)
    assert path == tmp_path / "backbone.pt"
    out = capsys.readouterr().out
    assert "USING THE OFFLINE SOURCE-TASK BACKBONE" in out and "resnet18-f37072fd.pth" in out
    assert "digits [0, 1, 2, 4, 5, 6, 7, 9]" in backbone.describe_weights(path)
    assert backbone.resolve_resnet18_weights("source", backbone_path=path, **backbone.SMOKE_BACKBONE) == path


def test_auto_falls_back_to_random_weights_loudly(empty_torch_home, tmp_path, capsys):
    (tmp_path / "backbone.pt").mkdir()  # the backbone cannot be had either
    with pytest.warns(RuntimeWarning, match="weights=None"):
        assert backbone.resolve_resnet18_weights("auto", backbone_path=tmp_path / "backbone.pt") is None
    out = capsys.readouterr().out
    assert "NOT a transfer-learning result" in out and "resnet18-f37072fd.pth" in out


# ------------------------------------------------------------------------------------------------ make data


@pytest.mark.parametrize("with_zip", [False, True])
def test_make_data_never_removes_a_users_file(tmp_path, monkeypatch, fake_mnist, empty_torch_home, with_zip):
    """`make data`'s Q3 steps on a data/ holding the user's files: each one survives, on each path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(backbone, "BACKBONE_SETTINGS", {**backbone.BACKBONE_SETTINGS, **backbone.SMOKE_BACKBONE})
    data = tmp_path / "data"
    (data / "hymenoptera_data" / "val" / "bees").mkdir(parents=True)
    (data / "hymenoptera_data" / "val" / "bees" / "mine.jpg").write_bytes(b"photo")
    (data / "notes.txt").write_text("mine")
    if with_zip:
        payload = _fake_hymenoptera_zip()
        (data / "hymenoptera_data.zip").write_bytes(payload)
        _registry_expects(monkeypatch, payload)
    users = _tree(data)
    assert hymenoptera.make_data_step() == 0 and backbone.make_data_step() == 0
    assert {k: v for k, v in _tree(data).items() if k in users} == users
    assert (data / "hymenoptera_standin").is_dir() and backbone.backbone_record(data / "resnet18_mnist_source.pt")
