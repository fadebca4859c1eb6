"""Data preparation on tiny generated files: loading, splits, hash checks, offline fallback."""
import hashlib

import numpy as np
import pytest

import data_utils


def _write_tiny_mnist(path, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=np.arange(n_train) % 10, x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=np.arange(n_test) % 10)
    return path


def test_load_mnist_scales_and_splits(tmp_path):
    path = _write_tiny_mnist(tmp_path / "tiny.npz")
    data = data_utils.load_mnist(path, sha256=None, fallback=False, num_val=5)
    assert data["X_train"].shape == (25, 1, 28, 28) and data["X_val"].shape == (5, 1, 28, 28)
    assert data["X_test"].shape == (10, 1, 28, 28)
    assert data["X_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    assert 0.0 <= data["X_train"].min() and data["X_train"].max() <= 1.0
    raw = np.load(path)
    np.testing.assert_allclose(data["X_val"][:, 0], raw["x_train"][25:] / 255.0, rtol=1e-6)
    assert data["source"] == data_utils.MNIST_FULL_SOURCE


def test_hash_is_checked(tmp_path):
    path = _write_tiny_mnist(tmp_path / "mnist.npz")
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    assert data_utils.load_mnist_arrays(path, sha256=good, fallback=False)["x_train"].shape == (30, 28, 28)
    with pytest.raises(data_utils.DataUnavailableError, match="sha256.*not used"):
        data_utils.load_mnist_arrays(path, sha256="0" * 64, fallback=False)


def test_missing_file_offline_names_url_and_path(tmp_path):
    with pytest.raises(data_utils.DataUnavailableError) as info:
        data_utils.load_mnist_arrays(tmp_path / "absent.npz", fallback=False)
    message = str(info.value)
    assert data_utils.MNIST_URL in message and "absent.npz" in message and "HW4_OFFLINE" in message


def test_bad_contents_are_reported(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((3, 28, 27), np.uint8), y_train=np.zeros(3), x_test=np.zeros((1, 28, 28)),
             y_test=np.zeros(1))
    with pytest.raises(data_utils.DataUnavailableError, match="x_train has shape"):
        data_utils.load_mnist_arrays(path, sha256=None, fallback=False)


def test_wrong_hash_falls_back_to_the_real_offline_subset(tmp_path, capsys):
    path = _write_tiny_mnist(tmp_path / "mnist.npz")
    data = data_utils.load_mnist(path)  # the official hash cannot match a generated file
    out = capsys.readouterr().out
    assert "OFFLINE DEFAULT" in out and "is not used" in out.replace("\n!! ", " ")
    assert data["source"] == data_utils.MNIST_SUBSET_SOURCE
    assert data["X_train"].shape == (3500, 1, 28, 28) and data["X_val"].shape == (500, 1, 28, 28)
    assert data["X_test"].shape == (1000, 1, 28, 28)
    # stratified: every split holds every digit in equal numbers
    for split, size in (("y_train", 350), ("y_val", 50), ("y_test", 100)):
        assert np.all(np.bincount(data[split], minlength=10) == size)
    # disjoint splits of real digits
    X_all = np.concatenate([data["X_train"], data["X_val"], data["X_test"]]).reshape(5000, -1)
    assert np.unique(X_all, axis=0).shape[0] == 5000


def test_subset_build_is_reproducible(tmp_path):
    a = data_utils.build_mnist_subset(tmp_path / "a.npz")
    b = data_utils.build_mnist_subset(tmp_path / "b.npz")
    with np.load(a) as fa, np.load(b) as fb:
        for key in data_utils.MNIST_KEYS:
            np.testing.assert_array_equal(fa[key], fb[key])
