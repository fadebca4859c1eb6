"""Files we write and the messages about them: atomic writes, paths shown without this machine's folders, and the
shared "cannot be read / is in the way / cannot be written" messages of the data code.

Every file the package writes goes through atomic_path / write_text_atomic / write_bytes_atomic (a temporary name
next to the target, then os.replace) and every folder it builds through atomic_dir, so an interrupted run never
leaves a half-written result, and nothing we did not create is ever replaced or removed.
"""
import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MAKE_DATA = "`make data`"


class DataUnavailableError(RuntimeError):
    """A data file is missing, corrupt, or cannot be downloaded; the message says how to get it."""



def announce(message):
    """Print ``message`` (without this machine's paths) inside a banner that cannot be missed in a notebook or a
    log."""
    bar = "!" * 78
    lines = [bar] + ["!! " + line for line in without_machine_paths(message).splitlines()] + [bar]
    print("\n".join(lines), flush=True)


def display_path(path):
    """``path`` as it should appear in messages and notebook outputs: relative to the repository when inside
    it, ``~/...`` when inside the home folder, else as given. Never this machine's absolute repository path."""
    path = Path(path)
    try:
        resolved = path.resolve()
    except OSError:
        return str(path)
    for base, prefix in ((REPO_ROOT, ""), (Path.home(), "~/")):
        try:
            return prefix + resolved.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


def without_machine_paths(text):
    """``text`` with this repository's absolute path made relative and the home folder written ``~``."""
    text = str(text).replace(str(REPO_ROOT) + os.sep, "").replace(str(REPO_ROOT), ".")
    home = str(Path.home())
    return text.replace(home + os.sep, "~/") if home not in ("", os.sep) else text


def misplaced_error(path, what, found="a folder (or not a regular file)"):
    """A DataUnavailableError for ``found`` sitting at ``path``, where ``what`` belongs (it is never removed)."""
    return DataUnavailableError(f"{display_path(path)} is {found} where {what} belongs: "
                                f"move it away (it is not removed automatically), then run {MAKE_DATA}.")


def error_summary(exc, limit=200):
    """``Type: first line of the message`` of ``exc`` (at most ``limit`` characters of it), without this machine's
    paths: how a message names the error that made a file unreadable."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {without_machine_paths(lines[0] if lines else '')[:limit]}"


def unreadable_error(path, exc, fix):
    """A DataUnavailableError for the file at ``path`` that raised ``exc`` when read: it names the file, the error
    and ``fix`` (what to do about a truncated or damaged file)."""
    return DataUnavailableError(f"{display_path(path)} cannot be read ({error_summary(exc)}); it is truncated or "
                                f"damaged: {fix}.")


# Errors that mean "this folder cannot be written to", whatever the file.
WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def cannot_write_error(path, what, exc):
    """A DataUnavailableError saying why ``path`` (``what``) could not be written and what to do."""
    folder = display_path(Path(path).parent)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free some disk space on the drive holding {folder}/"
    else:
        fix = (f"make {folder}/ writable (e.g. `chmod u+w {folder}`), or work in a copy of the repository you "
               f"can write to")
    return DataUnavailableError(f"Cannot write {what} to {display_path(path)} ({exc.strerror or exc}): {fix}, "
                                f"then run {MAKE_DATA}.")


@contextlib.contextmanager
def writing_data(path, what):
    """Turn a permission, read-only or full-disk error while writing ``path`` into a DataUnavailableError
    (see cannot_write_error); other errors pass through."""
    try:
        yield
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:
            raise cannot_write_error(path, what, exc) from exc
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Write a file all at once: yield a temporary path next to ``path``, then ``os.replace`` it.

    The temporary name keeps ``path``'s suffix (np.savez and matplotlib pick the format from it). If the
    body raises, or the process dies, ``path`` is left as it was (a stale ``.NAME.*.tmp`` may remain after a
    kill; it is never read). The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600.

        with atomic_path("data/x.npz") as tmp:
            np.savez(tmp, ...)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see atomic_path)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically (see atomic_path)."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path, replaceable=None):
    """Build a folder all at once: yield an empty temporary folder next to ``path``, then rename it to ``path``.

    ``path`` must not exist (FileExistsError, before any work, and again at the rename: a folder that
    appeared meanwhile is never replaced or merged into), unless ``replaceable(path)`` returns True (both
    before the build and at the rename): then the old folder is renamed aside, the new one takes its place,
    and only then is the old one removed. Give ``replaceable`` only for a folder the caller itself generated
    (e.g. it checks that every entry is one the builder writes). If the body raises, the temporary folder
    (ours) is removed and ``path`` is untouched. The folder gets the usual permissions (0777 minus the umask).
    """
    path = Path(path)

    def may_replace():
        return replaceable is not None and path.is_dir() and not path.is_symlink() and replaceable(path)

    if (path.exists() or path.is_symlink()) and not may_replace():
        raise FileExistsError(f"{display_path(path)} already exists; it is not replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if path.exists() or path.is_symlink():
            if not may_replace():
                raise FileExistsError(f"{display_path(path)} appeared or changed while it was being built; "
                                      f"it is not replaced")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rename(path, old / path.name)
        try:
            os.rename(tmp, path)
        except OSError:
            if old is not None:
                os.rename(old / path.name, path)
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if old is not None:
            shutil.rmtree(old)


def sha256sum(path):
    """Hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path):
    """The JSON object at ``path``, or None when it is absent, unreadable or not an object."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
