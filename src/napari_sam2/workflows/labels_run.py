"""One ``segment`` run's output: where the labels go, resume, the swap at the end, ``--status``.

* A new ``OUT`` is written in place, frame by frame: a cancelled or killed run
  keeps the frames it finished, and ``resume`` continues it.
* ``overwrite`` of an existing ``OUT`` writes the new labels beside it (in the
  run folder ``OUT.sam2-run/``) and swaps them in only when the run succeeded;
  until then ``OUT`` is untouched. An interrupted replacement is continued by
  ``resume`` too (and then swapped in).
* The whole run holds the output's lock (:class:`~napari_sam2.core.outputs.OutputLock`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..core.checkpoint import JournaledSink, RunJournal, differing_parameter
from ..core.errors import InputError
from ..core.outputs import describe, read_lock, remove_output, run_folder

__all__ = ["LabelsRun", "run_status", "stored_run"]

IN_PLACE = "OUT"


class LabelsRun:
    """The output side of one run, under the output's lock.

    Parameters
    ----------
    out : Path
        The labels output.
    overwrite, resume : bool
        As given to :func:`~.segment.segment_file`.
    """

    def __init__(self, out: Path, overwrite: bool, resume: bool):
        self.out, self.folder = out, run_folder(out)
        self.journal = RunJournal.load(self.folder)
        if self.journal is not None and not (resume or overwrite) and out.exists():
            raise InputError(f"{out} holds an unfinished run; {{fix}} to continue it (or pass "
                             "--overwrite to start over)", fix=("resume", True))
        if resume and self.journal is None and out.exists() and not overwrite:
            raise InputError(f"nothing to resume: {out} holds no unfinished run (it is complete); "
                             "choose another name or {fix} to redo it", fix=("overwrite", True))
        self.resuming = resume and self.journal is not None
        if self.journal is not None and not self.resuming:
            self.journal = None  # overwrite: start over
        self.target: Path | None = None

    @property
    def previous_params(self) -> dict | None:
        """The parameters of the run being resumed (None when starting a new one)."""
        return self.journal.data["params"] if self.resuming else None

    def check_resume(self, params: dict) -> None:
        """Refuse to resume with other parameters, naming the first that differs."""
        if not self.resuming:
            return
        differs = differing_parameter(self.journal.data["params"], params)
        if differs:
            raise InputError(f"cannot resume {self.out}: the interrupted run's {differs}; run with "
                             "the same parameters, or pass --overwrite to start over")

    def open(self, params: dict, shape: tuple[int, ...], metadata: dict, axes: str | None
             ) -> tuple[JournaledSink, bool]:
        """The journaled sink of this run; True when it continues from a checkpoint."""
        from ..core.sink import new_label_array, open_label_array

        if self.resuming:
            name = self.journal.data["target"]
            self.target = self.out if name == IN_PLACE else self.folder / name
            if self.journal.checkpoint is not None and self.target.exists():
                array = open_label_array(self.target, shape)
                return JournaledSink(array, self.journal, self.target), True
            target_name = name  # killed before the first checkpoint: start that output over
        else:
            target_name = IN_PLACE if not self.out.exists() else "new" + self.out.suffix.lower()
        self.target = self.out if target_name == IN_PLACE else self.folder / target_name
        if target_name != IN_PLACE or self.resuming:
            remove_output(self.target)  # ours: a partial output of an earlier run
        self.journal = RunJournal.start(self.folder, params, target_name, shape[0])
        array = new_label_array(self.target, shape, axes=axes, metadata=metadata)
        return JournaledSink(array, self.journal, self.target), False

    def kept(self) -> str:
        """What an interrupted run leaves, in one sentence."""
        if self.target is None:
            return "nothing was written"
        if self.target == self.out:
            return (f"the frames finished so far are kept in {self.out}; pass --resume to continue "
                    "the run")
        return (f"{self.out} is unchanged; the new labels so far are in {self.target} and "
                "--resume --overwrite continues them")

    def finish(self) -> None:
        """Swap a replacement into place (the run succeeded)."""
        from ..core.outputs import swap_in

        if self.target is not None and self.target != self.out:
            swap_in(self.target, self.out)


def stored_run(out: Path) -> dict | None:
    """The ``napari_sam2`` metadata a finished label output carries (None when it has none)."""
    from ..core.label_store import read_label_metadata

    return read_label_metadata(out)  # either zarr layout, or TIFF


def run_status(out: str | Path) -> str:
    """How far a run on ``out`` got, read-only (what ``napari-sam2 segment --status`` prints)."""
    out = Path(out)
    folder = run_folder(out)
    journal = RunJournal.load(folder) if folder.is_dir() else None
    volumes = folder / "volumes.json"  # a series of volumes (workflows/volumes.py)
    if journal is None and volumes.is_file():
        data = json.loads(volumes.read_text())
        n = data["params"]["stack_shape"][data["params"]["axes"].index("T")]
        return (f"{out}: unfinished run on a series of volumes; {len(data['done'])} of {n} time points "
                "done; --resume continues with the others")
    if journal is None:
        if not out.exists():
            return f"{out}: no such output and no run on it"
        meta = stored_run(out)
        if meta is None:
            return f"{out}: complete as far as napari-sam2 knows (it carries no napari-sam2 metadata)"
        params = meta.get("parameters", {})
        return (f"{out}: complete; {meta.get('n_frames', '?')} frames, "
                f"{len(meta.get('objects', []))} object(s), model {params.get('model')} "
                f"({params.get('preset')}, {params.get('precision')})")
    data = journal.data
    lines = [f"{out}: unfinished run, started {_when(data.get('started'))}, last update "
             f"{_when(data.get('updated'))}"]
    holder = read_lock(folder / "lock")
    if holder is not None:
        lines.append(f"  locked by job {describe(holder)}")
    for direction, done in data["done"].items():
        if done is not None:
            lines.append(f"  {direction}: frames {done[0]} to {done[1]} done")
    n = data.get("n_frames", "?")
    point = data.get("checkpoint")
    if point is None:
        lines.append(f"  of {n} frames; no checkpoint yet: --resume starts it over")
    else:
        where = "after the prompts" if point["frame"] is None else (
            f"at frame {point['frame']} ({point['direction']})")
        lines.append(f"  of {n} frames; --resume continues from the checkpoint {where}")
    target = data.get("target")
    if target != IN_PLACE:
        lines.append(f"  replacing {out} (kept as it was until the run finishes); new labels in "
                     f"{folder / target}")
    params = data["params"]
    lines.append("  parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()
                                              if k not in ("weights_sha256", "prompts_sha256")))
    return "\n".join(lines)


def _when(stamp) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "?"
