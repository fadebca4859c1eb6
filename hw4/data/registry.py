"""Every file the homework downloads, in one pooch registry: official URL and sha256 (None where none is published).

``fetch`` returns a verified local copy: a file already there is checked against its hash (and never replaced:
a mismatch is a message saying what to do), a missing one is downloaded with a progress bar and a short timeout,
unless ``HW4_OFFLINE=1``. ``unzipped`` unpacks an archive with pooch.Unzip into a temporary folder that the
caller moves into place (``move_missing``), so a dataset folder appears whole or not at all.
"""
import contextlib
import copy
import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import pooch

from hw4.data import DATA_DIR
from hw4.files import (MAKE_DATA, DataUnavailableError, WRITE_ERRNOS, cannot_write_error, display_path,
                       error_summary, misplaced_error, sha256sum, without_machine_paths, writing_data)

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"   # torchvision's ResNet18_Weights.DEFAULT
# Hashes: None where none is published (coco_captioning.zip: the digest is printed after the download, to be
# recorded). torchvision names its checkpoint after the first digits of its sha256, checked on use.
REGISTRY = pooch.create(
    path=DATA_DIR, base_url="", allow_updates=False,
    registry={
        "mnist.npz": "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        "coco_captioning.zip": None,
        "hymenoptera_data.zip": "sha256:fbc41b31d544714d18dd1230b1e2b455e1557766e13e67f9f5a7a23af7c02209",
        Path(RESNET18_URL).name: None,
    },
    urls={
        "mnist.npz": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "coco_captioning.zip": "http://cs231n.stanford.edu/coco_captioning.zip",
        "hymenoptera_data.zip": "https://download.pytorch.org/tutorial/hymenoptera_data.zip",
        Path(RESNET18_URL).name: RESNET18_URL,
    })
KNOWN = "known"     # fetch's default: the registry's hash


def offline():
    """True when ``HW4_OFFLINE=1``: never touch the network (tests and smoke runs set it)."""
    return os.environ.get("HW4_OFFLINE", "") == "1"


def url_of(name):
    """The official URL of the registry's file ``name``."""
    return REGISTRY.get_url(name)


def sha256_of(name):
    """The registry's sha256 of ``name`` (hex), or None when none is published."""
    known = REGISTRY.registry[name]
    return known and known.split(":", 1)[1]


def _manual_steps(url, path, sha256):
    shown = display_path(path)
    check = f"\n  then check:  sha256sum {shown}   (expected {sha256})" if sha256 else ""
    return f"To get it by hand, download\n  {url}\nand save it as\n  {shown}{check}"


@contextlib.contextmanager
def _quiet_pooch():
    """pooch logs absolute paths ("Downloading data from URL to file '/abs/path'"); we print our own lines."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _download(name, path, sha256, timeout):
    """The registry's ``name`` downloaded to ``path`` by pooch (a temporary file, hash-checked, then moved)."""
    fetcher = copy.copy(REGISTRY)          # the same entry, kept where the caller wants it
    fetcher.path = path.parent
    fetcher.registry = {path.name: sha256 and f"sha256:{sha256}"}
    fetcher.urls = {path.name: url_of(name)}
    with _quiet_pooch():
        fetcher.fetch(path.name, downloader=pooch.HTTPDownloader(progressbar=True, timeout=timeout))


def fetch(name, path=None, *, sha256=KNOWN, description=None, timeout=15):
    """Return the path of a verified local copy of the registry's file ``name``, downloading it if needed.

    Inputs:
    - name: a file of the REGISTRY, e.g. 'mnist.npz'.
    - path: where the file lives locally (default data/NAME; its folder is created).
    - sha256: expected hex digest; the registry's by default, None to skip the check (a file you made yourself;
      after a download the digest is then printed so it can be recorded).
    - description: a few words naming the data, used in messages (default: the name).
    - timeout: seconds before a connection attempt is abandoned.

    Returns a pathlib.Path. Raises DataUnavailableError, whose message says what to download and where, when
    the file is absent and cannot be downloaded (offline, no network), fails its hash check (it is then left as
    it is), or a folder sits in its place.
    """
    path = Path(DATA_DIR / name if path is None else path)
    sha256 = sha256_of(name) if sha256 == KNOWN else sha256
    description = description or name
    url, shown = url_of(name), display_path(path)
    if path.exists() and not path.is_file():
        raise misplaced_error(path, f"the file {description}")
    if path.exists():
        actual = sha256 and sha256sum(path)
        if actual == sha256:
            return path
        raise DataUnavailableError(
            f"{shown} ({description}) has sha256 {actual}, expected {sha256}: the file is corrupt or not the "
            f"official one, so it is not used. Delete it and run {MAKE_DATA}.\n" + _manual_steps(url, path, sha256))
    if offline():
        raise DataUnavailableError(f"{description} is not at {shown} and HW4_OFFLINE=1 forbids downloading it.\n"
                                   + _manual_steps(url, path, sha256))
    with writing_data(path, description):
        path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Downloading {description} from {url} to {shown} ...", flush=True)
    try:
        _download(name, path, sha256, timeout)
    except Exception as exc:  # network errors come from requests/urllib3/pooch in many types
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            raise cannot_write_error(path, description, exc) from exc
        raise DataUnavailableError(f"Could not download {description} ({type(exc).__name__}: "
                                   f"{without_machine_paths(exc)}).\n" + _manual_steps(url, path, sha256)) from exc
    if sha256 is None:
        print(f"Downloaded {shown}; record its sha256: {sha256sum(path)}", flush=True)
    return path


@contextlib.contextmanager
def unzipped(zip_path, next_to, fix):
    """Unpack ``zip_path`` with pooch.Unzip into a new temporary folder beside ``next_to``; yield that folder and
    remove it afterwards (what the caller moved out of it stays).

    A member path that is absolute or climbs out ('..') refuses the whole archive before anything is extracted.
    An archive that cannot be read is a DataUnavailableError naming it and ``fix``."""
    zip_path, next_to = Path(zip_path), Path(next_to)
    with writing_data(next_to, f"the unpacked {zip_path.name}"):
        next_to.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{next_to.name}.unzip-", suffix=".tmp", dir=next_to.parent))
    try:
        _extract(zip_path, tmp, next_to, fix)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # our temporary folder (what is left of the unpacked zip)


def _extract(zip_path, folder, next_to, fix):
    shown = display_path(zip_path)
    unreadable = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError, NotImplementedError,
                  OSError)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            unsafe = [n for n in archive.namelist() if Path(n).is_absolute() or ".." in Path(n).parts]
        if unsafe:
            raise DataUnavailableError(f"{shown} holds the unsafe member path {unsafe[0]!r}; it is not extracted: "
                                       f"{fix}.")
        print(f"Unzipping {shown} ...", flush=True)
        with writing_data(next_to, f"the unpacked {zip_path.name}"), _quiet_pooch():
            # absolute: pooch joins a relative extract_dir to the archive's folder
            pooch.Unzip(extract_dir=str(Path(folder).resolve()))(str(zip_path), "download", None)
    except unreadable as exc:
        raise DataUnavailableError(f"Could not unzip {shown} ({error_summary(exc)}); it is truncated or damaged: "
                                   f"{fix}.") from exc


def move_missing(source, target):
    """Move the entries of the folder ``source`` that ``target`` lacks into ``target``; return their names (entries
    already in ``target`` are never replaced)."""
    moved = []
    for item in sorted(Path(source).iterdir()):
        if not ((target / item.name).exists() or (target / item.name).is_symlink()):
            os.rename(item, target / item.name)
            moved.append(item.name)
    return moved
