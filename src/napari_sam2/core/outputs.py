"""Output safety: never write over an input, one job per output, room on disk, clear write errors.

A labels output ``OUT`` (``.zarr`` or ``.tif``) gets a *run folder* beside it,
``OUT.sam2-run/``, for as long as a run on it is unfinished: the lock of the
job writing it (:class:`OutputLock`), the run's journal and checkpoint (see
:mod:`.checkpoint`) and, when an existing ``OUT`` is being replaced, the new
output (``new.zarr`` / ``new.tif``), which is swapped in only when the run
succeeds (:func:`swap_in`). Everything stays on the same file system as
``OUT``, so the swap is a rename.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

__all__ = ["OUTPUT_SUFFIXES", "check_output_path", "overlapping", "run_folder", "OutputLock",
           "check_free_space", "label_store_bytes", "swap_in", "recover_swap", "write_error",
           "remove_output"]

OUTPUT_SUFFIXES = (".zarr", ".tif", ".tiff")


def run_folder(out: str | Path) -> Path:
    """The folder beside ``out`` holding an unfinished run's lock, journal and checkpoint."""
    out = Path(out)
    return out.parent / f"{out.name}.sam2-run"


def overlapping(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` are the same path or one lies inside the other (symlinks resolved)."""
    a, b = Path(a).expanduser().resolve(), Path(b).expanduser().resolve()
    return a == b or a in b.parents or b in a.parents


def check_output_path(out: str | Path, protect: Iterable[str | Path] = (), overwrite: bool = False,
                      exists_ok: bool = False) -> Path:
    """Check a labels output before anything is written; returns it as a ``Path``.

    Parameters
    ----------
    out : str or Path
        ``.zarr``, ``.tif`` or ``.tiff``.
    protect : iterable of paths
        Inputs the output must neither be, contain, nor lie inside (the image,
        its folder store...), compared after resolving symlinks.
    overwrite : bool
        An existing ``out`` may be replaced.
    exists_ok : bool
        An existing ``out`` is fine (it is continued, e.g. on resume).
    """
    out = Path(out)
    for path in protect:
        if path is not None and overlapping(out, path):
            raise InputError(f"output {out} would overwrite the input {path} (the same path, or one "
                             "inside the other); choose an output outside the input")
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"output {out} must end in .zarr, .tif or .tiff")
    if not out.parent.is_dir():
        raise InputError(f"the folder {out.parent} for the output does not exist")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {out.parent} (no write permission); choose another folder")
    if out.exists() and not (overwrite or exists_ok):
        raise InputError(f"output {out} already exists; choose another name or {{fix}}",
                         fix=("overwrite", True))
    if out.exists() and out.suffix.lower() == ".zarr" and not _our_zarr(out):
        raise InputError(f"{out} is not a label store written by napari-sam2 (it holds other files); "
                         "it is never replaced: choose another name")
    return out


def _our_zarr(path: Path) -> bool:
    """A zarr store that an ``--overwrite`` may replace: a zarr array, or a group carrying our metadata."""
    if not path.is_dir():
        return False
    names = {p.name for p in path.iterdir()}
    if not names or not ("zarr.json" in names or ".zarray" in names) or names & {".zgroup"}:
        return False
    try:  # a zarr v3 group (an OME-Zarr label image) only if napari-sam2 wrote it
        meta = json.loads((path / "zarr.json").read_text()) if "zarr.json" in names else {}
    except (OSError, ValueError):
        return False
    return meta.get("node_type") != "group" or "napari_sam2" in (meta.get("attributes") or {})


def label_store_bytes(shape: tuple[int, ...], suffix: str) -> int:
    """Disk space a ``uint16`` label output of ``shape`` needs at most (TIFF: exactly, plus headers)."""
    n = 2
    for size in shape:
        n *= int(size)
    frames = int(shape[0]) if shape else 1
    if suffix.lower() == ".zarr":
        return n + frames * 4096 + 65536  # uncompressed chunks + one file system block each
    return n + frames * 512 + 65536


def check_free_space(out: str | Path, nbytes: int) -> None:
    """Refuse to start when the output's folder has less than ``nbytes`` free."""
    folder = Path(out).parent
    free = shutil.disk_usage(folder).free
    if free < nbytes:
        raise InputError(f"not enough space for {Path(out).name}: it needs up to {_size(nbytes)} "
                         f"and {folder} has {_size(free)} free; free some space or choose another "
                         "folder")


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"


def write_error(err: OSError, path: str | Path, kept: str) -> InputError:
    """A write that failed (disk full, read-only, no permission) as one line naming what was kept."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied"}
    reason = reasons.get(err.errno, err.strerror or str(err))
    return InputError(f"cannot write {path}: {reason}; {kept}")


def remove_output(path: Path) -> None:
    """Delete a label output (a zarr folder or a TIFF file) if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def swap_in(new: Path, out: Path) -> None:
    """Put the finished output ``new`` in place of ``out``; ``out`` is replaced only now.

    A file is replaced in one atomic rename. A zarr folder cannot be renamed
    over a folder: the old one is first renamed to ``old.zarr`` in the run
    folder, then the new one into place, then the old one deleted;
    :func:`recover_swap` finishes or undoes a swap that was interrupted
    between the renames.
    """
    if not out.exists() or not out.is_dir():
        os.replace(new, out)
        return
    old = new.with_name("old" + out.suffix)
    remove_output(old)
    os.replace(out, old)
    os.replace(new, out)
    remove_output(old)


def recover_swap(out: Path) -> None:
    """Finish a :func:`swap_in` that was killed between its renames (called under the lock)."""
    old = run_folder(out) / ("old" + out.suffix)
    if old.exists():
        if out.exists():
            remove_output(old)  # the new output is in place: the old one was being deleted
        else:
            os.replace(old, out)  # killed before the new one was moved in: put the old one back


class OutputLock:
    """One job per output: a lock file beside ``out``, held for the whole run.

    The lock is ``OUT.sam2-run/lock``, created atomically (``O_EXCL``) and
    holding the job's pid, host and start time. A second job on the same
    output fails at once with a message naming the first. A lock left by a
    job that no longer runs (its pid is gone on this host) is taken over with
    a warning. Use as a context manager, or :meth:`acquire` / :meth:`release`.

    Parameters
    ----------
    out : str or Path
        The labels output.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.folder = run_folder(self.out)
        self.path = self.folder / "lock"
        self.held = False
        self.created_folder = False

    def acquire(self) -> OutputLock:
        """Take the lock or raise :class:`InputError` naming the job holding it."""
        try:
            if not self.folder.exists():
                self.folder.mkdir()
                self.created_folder = True
            for _ in range(3):
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    self._take_over_or_refuse()
                    continue
                with os.fdopen(fd, "w") as file:
                    json.dump(_holder(), file)
                self.held = True
                return self
        except FileExistsError:
            pass
        except OSError as err:
            raise write_error(err, self.folder, "nothing was written") from None
        raise InputError(f"could not lock {self.out}: another job keeps taking the lock {self.path}")

    def _take_over_or_refuse(self) -> None:
        holder = read_lock(self.path)
        if holder is None:
            return  # gone between our open and our read: try again
        if self._stale(holder):
            stale = self.path.with_name(f"lock.stale-{os.getpid()}")
            try:
                os.rename(self.path, stale)  # atomic: one job wins a stale lock
            except FileNotFoundError:
                return
            stale.unlink()
            warnings.warn(f"taking over the lock of {self.out} left by job {describe(holder)}, which "
                          "no longer runs", stacklevel=4)
            return
        where = "" if holder.get("host") == socket.gethostname() else (
            "; if that job is no longer running, delete the lock file")
        raise InputError(f"{self.out} is being written by another job ({describe(holder)}); wait for "
                         f"it to finish or choose another output{where} ({self.path})")

    def _stale(self, holder: dict) -> bool:
        if not holder:  # killed between creating the lock and writing it
            try:
                return time.time() - self.path.stat().st_mtime > 30
            except FileNotFoundError:
                return False
        return holder.get("host") == socket.gethostname() and not _alive(holder.get("pid"))

    def release(self, remove_folder: bool = False) -> None:
        """Give up the lock; ``remove_folder`` deletes the run folder and all it holds."""
        if not self.held:
            return
        self.held = False
        if remove_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        self.path.unlink(missing_ok=True)
        if self.created_folder and not any(self.folder.iterdir()):
            self.folder.rmdir()

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_lock(path: Path) -> dict | None:
    """The job recorded in a lock file (None when the file is gone or unreadable)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    """``pid 123 on host, started 2026-01-01 10:00:00`` for a lock's job."""
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started {when}"


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
