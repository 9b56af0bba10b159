"""Atomic writes: an interrupted run never leaves a file that looks complete.

Everything is written under a hidden temporary name in the destination's own
directory (so the final rename stays on one file system) and renamed into
place only once it is whole. The temporary name carries the writer's process
id: the next write to the same destination removes what a killed writer left
(its process is gone), and never touches a live writer's files.

What lands carries the permissions of a plain `open` or `mkdir` under the
process's umask, not the private 0600/0700 of the temporary it was staged in:
colleagues on a shared machine read results as they read any other file.
"""

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import AccelsimError


def sha256_of_file(path, chunk_bytes=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_key(*parts):
    """16 hex digits naming a result by everything it depends on (`parts`: JSON-able, or
    turned to text): cached results are named by it, so an input that changed gives a
    new name and a stale result is never reused."""
    text = json.dumps(list(parts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process
        return True
    return True


def remove_leftovers(path):
    """Remove the temporary files and directories that killed writers of `path` left."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    for kind in ("partial", "old"):
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.{kind}-*-*"):
            pid = leftover.name[len(f".{path.name}.{kind}-"):].split("-")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        leftover.unlink()


def _umask():
    """The process's umask, read without changing it where the system says it (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read by setting, and put back at once
    os.umask(mask)
    return mask


def _as_if_created(path, directory):
    """Give a staged temporary the mode `open`/`mkdir` would have given it, keeping the
    setgid bit a directory inherits from a shared project directory."""
    kept = os.stat(path).st_mode & 0o7000 if directory else 0
    os.chmod(path, ((0o777 if directory else 0o666) & ~_umask()) | kept)


def can_write_in(directory):
    """Whether a file can really be created in `directory` (a write, not os.access: that
    says yes to root on a read-only mount)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".accelsim-write-check-", dir=directory)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def _write_failed(path, exc):
    """The OSError of a write into `path`, as one line that names `path` and, when the file
    system is full (ENOSPC, or NumPy's "N requested and M written"), says so."""
    if exc.errno == errno.ENOSPC or "requested and" in str(exc):
        free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
        return AccelsimError(f"{path}: the disk is full ({free / 2**20:.0f} MiB free on its file "
                             "system); nothing was replaced")
    return AccelsimError(f"{path}: writing it failed ({exc.strerror or exc})")


def _temporary_prefix(path, kind):
    return f".{path.name}.{kind}-{os.getpid()}-"


def check_directory_replaceable(path, overwrite=False, replaceable=None):
    """`path` is new, or (with overwrite) a directory `replaceable(path)` says is what this
    kind of write produces (a trace, say): never a directory of the user's. Commands call it
    before any work; atomic_directory calls it again when it starts."""
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise AccelsimError(f"{path} already exists (pass --force to replace it)")
        if path.is_symlink() or not path.is_dir() or replaceable is None or not replaceable(path):
            raise AccelsimError(f"{path} exists and is not one that accelsim wrote; "
                                "--force replaces only those")
        if Path.cwd().resolve().is_relative_to(path.resolve()):
            raise AccelsimError(f"{path} holds the current directory; it cannot be replaced")
    return path


@contextlib.contextmanager
def atomic_directory(path, overwrite=False, replaceable=None):
    """Yield a temporary directory that becomes `path` when the block ends cleanly; an
    existing `path` is replaced only as check_directory_replaceable allows."""
    path = check_directory_replaceable(path, overwrite, replaceable)
    remove_leftovers(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(path, "partial"), dir=path.parent))
    try:
        _as_if_created(staging, directory=True)
        yield staging
        if path.exists() and not (overwrite and replaceable and replaceable(path)):
            # Checked again: something of the user's may have arrived while we worked.
            raise AccelsimError(f"{path} appeared or changed while it was being written and "
                                "now holds what accelsim did not write; nothing was replaced")
        if path.exists():
            # Move the old copy aside first: a crash between the two renames
            # leaves the old trace under a hidden name, never a mixed one.
            retired = Path(tempfile.mkdtemp(prefix=_temporary_prefix(path, "old"), dir=path.parent))
            os.replace(path, retired / "old")
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_failed(path, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """Yield an open temporary file that replaces `path` when the block ends cleanly."""
    path = Path(path)
    if path.is_dir():
        raise AccelsimError(f"{path} is a directory; a file was expected here")
    remove_leftovers(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(path, "partial"), dir=path.parent)
    try:
        _as_if_created(tmp_name, directory=False)
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise _write_failed(path, exc) from exc
        raise


def write_text_atomic(path, text):
    with atomic_file(path, "w") as handle:
        handle.write(text)
