"""The safety around every labels run (``segment``, a series of volumes, ``track``), in one place.

Before anything is written: an unfinished run is refused without ``resume``,
the output path is checked (never an input, a known suffix, a writable
folder, an existing output only with ``overwrite``), a complete output is
refused with ``resume`` (nothing to resume), and the disk must have room for
the labels. Then the output's lock is held for the whole run, an interrupted
swap is finished, and an interruption or a failed write is reworded into one
line naming what was kept. A finished run leaves no run folder; an
unfinished one keeps it for ``resume``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import InputError

__all__ = ["GuardedOutput", "guarded_output"]


class GuardedOutput:
    """What a guarded run tells its guard: the run object once made (for what an interruption keeps).

    Attributes
    ----------
    out : Path
        The checked output.
    run : object or None
        The run's output side, set by the caller as soon as it exists: it has
        ``kept()`` (one sentence on what an interrupted run leaves) and, for
        ``remove_untouched``, ``target`` and ``resuming``.
    """

    def __init__(self, out: Path, verb: str):
        self.out, self.verb = out, verb
        self.run = None

    def kept(self) -> str:
        if self.run is None:
            return "nothing was written"
        return self.run.kept().replace("continue the run", f"{self.verb} the run")

    def untouched(self) -> bool:
        """Nothing written and nothing to resume: the run folder holds nothing worth keeping."""
        run = self.run
        return run is None or (run.target is None and not run.resuming)


@contextmanager
def guarded_output(out, *, protect: Iterable = (), overwrite: bool = False, resume: bool = False,
                   shape: tuple, journal: str = "journal.json", verb: str = "continue",
                   remove_untouched: bool = False) -> Iterator[GuardedOutput]:
    """Check ``out``, then hold its lock while the ``with`` body writes it.

    Parameters
    ----------
    out : str or Path
        The labels output (``.zarr``, ``.tif``).
    protect : iterable of paths
        Inputs ``out`` may neither be, contain, nor lie inside (None entries are skipped).
    overwrite, resume : bool
        As given to the run.
    shape : tuple of int
        The labels' shape (for the free space needed).
    journal : str
        The name of the journal file in the run folder that marks an unfinished run.
    verb : {"continue", "restart"}
        What ``resume`` does to an unfinished run (in the messages).
    remove_untouched : bool
        Also remove the run folder when the run ends without writing anything
        and without resuming (a run that restarts keeps nothing of an earlier one).

    Yields
    ------
    GuardedOutput
        Set its ``run`` once the run's output side exists.

    Raises
    ------
    InputError
        A check failed (before anything is written), another job holds the
        lock, or a write failed (naming what was kept).
    KeyboardInterrupt
        Cancelled; its message names what was kept.
    """
    from ..core.outputs import (
        OutputLock,
        check_free_space,
        check_output_path,
        label_store_bytes,
        recover_swap,
        run_folder,
        write_error,
    )

    out = Path(out)
    unfinished = run_folder(out) / journal
    if out.exists() and not (overwrite or resume) and unfinished.exists():
        raise InputError(f"{out} holds an unfinished run; {{fix}} to {verb} it, or pass "
                         "--overwrite to start over", fix=("resume", True))
    out = check_output_path(out, protect, overwrite, exists_ok=resume)
    if resume and out.exists() and not unfinished.exists() and not overwrite:
        raise InputError(f"nothing to resume: {out} holds no unfinished run (it is complete); choose "
                         "another name or {fix} to redo it", fix=("overwrite", True))
    if not (resume and out.exists()):
        check_free_space(out, label_store_bytes(shape, out.suffix))
    guard = GuardedOutput(out, verb)
    lock = OutputLock(out).acquire()
    done = False
    try:
        recover_swap(out)
        yield guard
        done = True
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"cancelled; {guard.kept()}") from None
    except OSError as err:
        raise write_error(err, out, guard.kept()) from None
    finally:  # a finished run leaves no run folder; an unfinished one keeps it for resume
        lock.release(remove_folder=done or (remove_untouched and guard.untouched()))
