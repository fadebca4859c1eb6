"""hw4.files, hw4.data.registry and hw4.data.mnist on tiny generated files: loading, splits, hash checks, offline
fallback; atomic writes; damaged files, folders in place of files, a read-only or full data/, messages without
machine paths, a real download through the pooch registry from a local server.

The fault injectors and checks here (disk_full, read_only, leftovers, current_umask, check_read_only_data_folder)
are imported by the other tests of generated files."""
import builtins
import errno
import fnmatch
import hashlib
import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from hw4 import files
from hw4.data import mnist, registry


def _write_tiny_mnist(path, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=np.arange(n_train) % 10, x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=np.arange(n_test) % 10)
    return path


def test_load_mnist_scales_and_splits(tmp_path):
    path = _write_tiny_mnist(tmp_path / "tiny.npz")
    data = mnist.load_mnist(path, sha256=None, fallback=False, num_val=5)
    assert data["X_train"].shape == (25, 1, 28, 28) and data["X_val"].shape == (5, 1, 28, 28)
    assert data["X_test"].shape == (10, 1, 28, 28)
    assert data["X_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    assert 0.0 <= data["X_train"].min() and data["X_train"].max() <= 1.0
    raw = np.load(path)
    np.testing.assert_allclose(data["X_val"][:, 0], raw["x_train"][25:] / 255.0, rtol=1e-6)
    assert data["source"] == mnist.MNIST_FULL_SOURCE


def test_hash_is_checked(tmp_path):
    path = _write_tiny_mnist(tmp_path / "mnist.npz")
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    assert mnist.load_mnist_arrays(path, sha256=good, fallback=False)["x_train"].shape == (30, 28, 28)
    with pytest.raises(files.DataUnavailableError, match="sha256.*not used"):
        mnist.load_mnist_arrays(path, sha256="0" * 64, fallback=False)


def test_missing_file_offline_names_url_and_path(tmp_path):
    with pytest.raises(files.DataUnavailableError) as info:
        mnist.load_mnist_arrays(tmp_path / "absent.npz", fallback=False)
    message = str(info.value)
    assert mnist.MNIST_URL in message and "absent.npz" in message and "HW4_OFFLINE" in message


def test_bad_contents_are_reported(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((3, 28, 27), np.uint8), y_train=np.zeros(3), x_test=np.zeros((1, 28, 28)),
             y_test=np.zeros(1))
    with pytest.raises(files.DataUnavailableError, match="x_train has shape"):
        mnist.load_mnist_arrays(path, sha256=None, fallback=False)


def test_wrong_hash_falls_back_to_the_real_offline_subset(tmp_path, capsys):
    path = _write_tiny_mnist(tmp_path / "mnist.npz")
    data = mnist.load_mnist(path)  # the official hash cannot match a generated file
    out = capsys.readouterr().out
    assert "OFFLINE DEFAULT" in out and "is not used" in out.replace("\n!! ", " ")
    assert data["source"] == mnist.MNIST_SUBSET_SOURCE
    assert data["X_train"].shape == (3500, 1, 28, 28) and data["X_val"].shape == (500, 1, 28, 28)
    assert data["X_test"].shape == (1000, 1, 28, 28)
    # stratified: every split holds every digit in equal numbers
    for split, size in (("y_train", 350), ("y_val", 50), ("y_test", 100)):
        assert np.all(np.bincount(data[split], minlength=10) == size)
    # disjoint splits of real digits
    X_all = np.concatenate([data["X_train"], data["X_val"], data["X_test"]]).reshape(5000, -1)
    assert np.unique(X_all, axis=0).shape[0] == 5000


def test_subset_build_is_reproducible(tmp_path):
    a = mnist.build_mnist_subset(tmp_path / "a.npz")
    b = mnist.build_mnist_subset(tmp_path / "b.npz")
    with np.load(a) as fa, np.load(b) as fb:
        for key in mnist.MNIST_KEYS:
            np.testing.assert_array_equal(fa[key], fb[key])


# ----------------------------------------------------------------------------------------------------
# Fault injection shared with the other test files (test_coco_utils, test_notebooks, test_submit, test_writeup)
# ----------------------------------------------------------------------------------------------------
def _inside(path, folder):
    try:
        Path(os.path.abspath(os.fspath(path))).relative_to(Path(folder).resolve())
        return True
    except (TypeError, ValueError):
        return False


class _FillingFile:
    """A file that accepts ``room`` bytes, then fails like a full disk (what is written so far stays)."""

    def __init__(self, raw, room):
        self._raw, self._room = raw, room

    def write(self, data):
        if len(data) > self._room:
            self._raw.write(data[:self._room])
            self._raw.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._raw.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._raw.close()

    def __getattr__(self, name):
        return getattr(self._raw, name)


def disk_full(monkeypatch, folder, room=64, names="*"):
    """From now on every file opened for writing inside ``folder`` whose name matches the glob ``names``
    (Python-level open, as used by pathlib, nbformat, zipfile, numpy, matplotlib and PIL) takes ``room`` bytes
    and then raises OSError(ENOSPC)."""
    real_open = io.open

    def full_open(file, mode="r", *args, **kwargs):
        raw = real_open(file, mode, *args, **kwargs)
        if (any(flag in mode for flag in "wax+") and _inside(file, folder)
                and fnmatch.fnmatch(os.path.basename(os.fspath(file)), names)):
            return _FillingFile(raw, room)
        return raw

    monkeypatch.setattr(io, "open", full_open)
    monkeypatch.setattr(builtins, "open", full_open)


def read_only(monkeypatch, folder):
    """Make ``folder`` behave as a read-only folder does for a normal user (the tests run as root, whom
    chmod does not stop): creating a file or a folder inside it raises PermissionError (EACCES)."""
    real_os_open, real_mkdir, real_io_open = os.open, os.mkdir, io.open

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR) and _inside(path, folder):
            denied(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if _inside(path, folder):
            denied(path)
        return real_mkdir(path, *args, **kwargs)

    def guarded_io_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+") and _inside(file, folder):
            denied(file)
        return real_io_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(io, "open", guarded_io_open)
    monkeypatch.setattr(builtins, "open", guarded_io_open)


def leftovers(folder):
    """Temporary files or folders left next to the results (atomic writes must clean up after a failure)."""
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp" in p.name or p.name.startswith("tmp"))


def current_umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_read_only_data_folder(tmp_path, monkeypatch, capsys, prepare, make_data_step):
    """With tmp_path/data read-only (and tmp_path the working folder), ``prepare()`` raises a DataUnavailableError
    naming the fix and ``make_data_step()`` prints it and returns 1, without a traceback; nothing is written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    read_only(monkeypatch, tmp_path / "data")
    with pytest.raises(files.DataUnavailableError, match=r"Permission denied(.|\n)*chmod u\+w data"):
        prepare()
    assert make_data_step() == 1
    err = capsys.readouterr().err
    assert "chmod u+w data" in err and "Traceback" not in err
    assert list((tmp_path / "data").iterdir()) == []


# ----------------------------------------------------------------------------------------------------
# atomic_path / write_text_atomic / write_bytes_atomic / atomic_dir
# ----------------------------------------------------------------------------------------------------
def test_atomic_path_writes_all_at_once_with_usual_permissions(tmp_path):
    target = tmp_path / "sub" / "x.npz"
    with files.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.endswith(".npz") and not target.exists()
        np.savez(tmp, a=np.arange(3))
    assert target.exists() and leftovers(target.parent) == []
    np.testing.assert_array_equal(np.load(target)["a"], np.arange(3))
    umask = current_umask()
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o777 & ~umask


def test_atomic_path_keeps_the_old_file_when_the_body_fails(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="midway"):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("midway")
    assert target.read_text() == "old" and leftovers(tmp_path) == []


@pytest.mark.parametrize("write", [lambda p: files.write_text_atomic(p, "new text " * 100),
                                   lambda p: files.write_bytes_atomic(p, b"new bytes " * 100)])
def test_write_atomic_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch, write):
    target = tmp_path / "x.txt"
    target.write_text("old")
    disk_full(monkeypatch, tmp_path)
    with pytest.raises(OSError, match="No space left"):
        write(target)
    monkeypatch.undo()
    assert target.read_text() == "old" and leftovers(tmp_path) == []
    write(target)
    assert target.read_text().startswith("new ")


def test_atomic_dir_builds_refuses_and_cleans_up(tmp_path):
    target = tmp_path / "built"
    with files.atomic_dir(target) as tmp:
        assert tmp.parent == tmp_path and not target.exists()
        (tmp / "a.txt").write_text("a")
    assert (target / "a.txt").read_text() == "a" and leftovers(tmp_path) == []
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~current_umask()          # not mkdtemp's 0700

    with pytest.raises(FileExistsError, match="not replaced"):      # an existing folder is never replaced...
        with files.atomic_dir(target):
            pytest.fail("the body must not run")
    with pytest.raises(FileExistsError, match="not replaced"):      # ...unless the caller says it is its own
        with files.atomic_dir(target, replaceable=lambda p: False):
            pass
    assert (target / "a.txt").read_text() == "a"

    with pytest.raises(RuntimeError):
        with files.atomic_dir(tmp_path / "failed") as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("midway")
    assert not (tmp_path / "failed").exists() and leftovers(tmp_path) == []

    with pytest.raises(FileExistsError, match="appeared"):          # appeared during the build: not merged into
        with files.atomic_dir(tmp_path / "raced") as tmp:
            (tmp_path / "raced").mkdir()
            (tmp_path / "raced" / "user.txt").write_text("user")
    assert (tmp_path / "raced" / "user.txt").read_text() == "user" and leftovers(tmp_path) == []


def test_atomic_dir_replaces_a_folder_the_caller_generated(tmp_path):
    target = tmp_path / "generated"
    with files.atomic_dir(target) as tmp:
        (tmp / "old.txt").write_text("old")
    ours = lambda folder: sorted(p.name for p in folder.iterdir()) == ["old.txt"]
    with files.atomic_dir(target, replaceable=ours) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"] and leftovers(tmp_path) == []

    (target / "user.txt").write_text("mine")                # checked again at the rename
    with pytest.raises(FileExistsError):
        with files.atomic_dir(target, replaceable=lambda folder: not (folder / "user.txt").exists()) as tmp:
            (tmp / "newer.txt").write_text("newer")
    assert (target / "user.txt").read_text() == "mine" and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------------------------
# MNIST under faults: damaged files, folders in place of files, read-only data/, no machine paths
# ----------------------------------------------------------------------------------------------------
def _damaged_copies(good, folder):
    """Truncated, CRC-damaged, deflate-damaged and empty copies of the npz file ``good``."""
    data = good.read_bytes()
    middle = bytearray(data)
    middle[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    start = bytearray(data)
    start[80:120] = bytes(range(40))                        # inside the first member's deflate stream
    copies = {"truncated": data[:len(data) // 2], "crc": bytes(middle), "deflate": bytes(start), "empty": b""}
    paths = {}
    for name, payload in copies.items():
        paths[name] = folder / f"{name}.npz"
        paths[name].write_bytes(payload)
    return paths


def _compressed_tiny_mnist(path):
    rng = np.random.default_rng(0)
    np.savez_compressed(path, x_train=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
                        y_train=np.arange(300) % 10, x_test=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
                        y_test=np.arange(50) % 10)
    return path


def test_a_damaged_user_file_is_a_message_naming_it_and_the_fix(tmp_path):
    good = _compressed_tiny_mnist(tmp_path / "good.npz")
    for kind, path in _damaged_copies(good, tmp_path).items():
        with pytest.raises(files.DataUnavailableError) as info:
            mnist.load_mnist_arrays(path, sha256=None, fallback=False)
        message = str(info.value)
        assert f"{kind}.npz" in message and "make data" in message and "delete it" in message, (kind, message)
        assert path.exists()                                  # a user's file is never deleted


def test_a_folder_where_mnist_belongs_is_reported_and_left_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "mnist.npz").mkdir(parents=True)
    (tmp_path / "data" / "mnist.npz" / "user.txt").write_text("mine")
    with pytest.raises(files.DataUnavailableError, match=r"data/mnist.npz is a folder(.|\n)*move it away"):
        mnist.load_mnist_arrays(fallback=False)
    monkeypatch.setattr(mnist, "build_mnist_subset", lambda path: _compressed_tiny_mnist(path))
    data = mnist.load_mnist_arrays()                        # falls back, saying why
    assert data["source"] == mnist.MNIST_SUBSET_SOURCE
    assert "is a folder" in capsys.readouterr().out
    assert (tmp_path / "data" / "mnist.npz" / "user.txt").read_text() == "mine"

    (tmp_path / "data" / "mnist_5k.npz").unlink()
    (tmp_path / "data" / "mnist_5k.npz").mkdir()
    with pytest.raises(files.DataUnavailableError, match=r"data/mnist_5k.npz is a folder(.|\n)*move it away"):
        mnist.load_mnist_arrays()
    assert (tmp_path / "data" / "mnist_5k.npz").is_dir()


@pytest.mark.parametrize("kind", ["truncated", "crc", "deflate", "empty"])
def test_a_damaged_generated_subset_is_rebuilt(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    good = _compressed_tiny_mnist(tmp_path / "good.npz")
    damaged = _damaged_copies(good, tmp_path)[kind]
    damaged.replace(tmp_path / "data" / "mnist_5k.npz")
    builds = []
    monkeypatch.setattr(mnist, "build_mnist_subset", lambda path: builds.append(path) or
                        files.write_bytes_atomic(path, good.read_bytes()))
    data = mnist.load_mnist_arrays()
    assert builds == [mnist.MNIST_SUBSET_PATH]
    assert data["x_test"].shape == (50, 28, 28) and data["source"] == mnist.MNIST_SUBSET_SOURCE
    out = capsys.readouterr().out
    assert "data/mnist_5k.npz cannot be read" in out and "rebuilt" in out


def test_subset_build_on_a_full_disk_keeps_the_previous_subset(tmp_path, monkeypatch):
    target = tmp_path / "mnist_5k.npz"
    good = _compressed_tiny_mnist(target).read_bytes()
    disk_full(monkeypatch, tmp_path, room=4096)
    with pytest.raises(files.DataUnavailableError, match="free some disk space"):
        mnist.build_mnist_subset(target)
    monkeypatch.undo()
    assert target.read_bytes() == good and leftovers(tmp_path) == []


def test_read_only_data_folder_is_a_clear_message(tmp_path, monkeypatch, capsys):
    check_read_only_data_folder(tmp_path, monkeypatch, capsys, mnist.load_mnist, mnist.make_data_step)


def test_messages_show_paths_relative_to_the_repository(monkeypatch):
    root = files.REPO_ROOT
    assert files.display_path(root / "data" / "mnist.npz") == "data/mnist.npz"
    assert files.display_path(Path.home() / ".cache" / "x.pth").startswith("~/")
    with pytest.raises(files.DataUnavailableError) as info:
        registry.fetch("mnist.npz", root / "data" / "hw4-test-absent.npz", sha256="0" * 64, description="x")
    assert "data/hw4-test-absent.npz" in str(info.value) and str(root) not in str(info.value)
    text = f"Unable to open {root}/data/x.h5 or {Path.home()}/.cache/y"
    cleaned = files.without_machine_paths(text)
    assert str(root) not in cleaned and "data/x.h5" in cleaned and "~/.cache/y" in cleaned


def test_a_download_prints_no_absolute_path(tmp_path, monkeypatch, capfd):
    """A real pooch download from a local HTTP server: pooch's own log line names the absolute target path."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    payload = b"0123456789" * 1000
    (served / "file.bin").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("HW4_OFFLINE", "0")
        monkeypatch.setattr(files, "REPO_ROOT", tmp_path)
        url = f"http://127.0.0.1:{server.server_address[1]}/file.bin"
        for name, known in (("file.bin", f"sha256:{hashlib.sha256(payload).hexdigest()}"), ("again.bin", None)):
            monkeypatch.setitem(registry.REGISTRY.registry, name, known)
            monkeypatch.setitem(registry.REGISTRY.urls, name, url)
        path = registry.fetch("file.bin", tmp_path / "data" / "file.bin", description="a test file")
        fetched_without_hash = registry.fetch("again.bin", tmp_path / "data" / "again.bin", description="again")
    finally:
        server.shutdown()
        thread.join()
    assert path.read_bytes() == payload and fetched_without_hash.read_bytes() == payload
    captured = capfd.readouterr()
    assert "data/file.bin" in captured.out and "data/again.bin" in captured.out
    assert str(tmp_path) not in captured.out + captured.err, captured
