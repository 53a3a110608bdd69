"""Resume a killed run exactly: a journal of finished frames, tracker checkpoints, an undo log.

A run writing labels to ``OUT`` keeps, in its run folder ``OUT.sam2-run/``
(:func:`.outputs.run_folder`):

* ``journal.json``: the run's parameters (model, weights hash, preset,
  precision, prompts hash, axes...), where the labels go, and per direction
  the frames finished so far (updated after each frame's labels are on disk,
  ``fsync`` included), and the last checkpoint;
* ``checkpoint-K.safetensors``: every ``every`` frames, the tracker's state
  (each object's memories and object pointers, :meth:`TransformersTracker.state_dict
  <.tracker.TransformersTracker.state_dict>`) and the session's bookkeeping
  (how far each object has been propagated);
* ``undo-K/``: before a frame is first written after checkpoint ``K``, its
  earlier labels (what other passes or prompts put there).

A resumed run loads the last checkpoint, puts back the frames written since
(from the undo log) and propagates on from there: its labels equal those of a
run that was never interrupted. Every file is written to a temporary name,
flushed and renamed, so a kill at any moment leaves a consistent folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .errors import InputError
from .sink import LabelSink

__all__ = ["CHECKPOINT_EVERY", "RunJournal", "JournaledSink", "session_state", "restore_session",
           "prompts_digest", "differing_parameter"]

#: frames between two checkpoints (see docs/benchmarks.md, "Resume": the overhead stays under 3 %)
CHECKPOINT_EVERY = 10


def session_state(session) -> dict:
    """How far each object of a :class:`~.session.Session` has been propagated (JSON-ready)."""
    return {str(o.obj_id): {"anchor": o.anchor, "forward_done": o.forward_done,
                            "backward_done": o.backward_done,
                            "presence": [[int(f), float(p)] for f, p in o.presence.items()]}
            for o in session.objects.values()}


def restore_session(session, objects, state: dict, tensors, layout) -> None:
    """Rebuild a session's objects and its tracker from a checkpoint, without running the model.

    Parameters
    ----------
    session : Session
        A new session over the same stack, sink and model.
    objects : list of ObjectPrompts
        The prompts the run was started with.
    state : dict
        :func:`session_state` at the checkpoint.
    tensors, layout
        The tracker's :meth:`~.tracker.TransformersTracker.state_dict`.
    """
    for obj in objects:
        session.add_object(obj.obj_id, obj.name)
        tracked = session.objects[obj.obj_id]
        tracked.prompts = dict(obj.prompts)
        saved = state[str(obj.obj_id)]
        tracked.anchor, tracked.forward_done = saved["anchor"], saved["forward_done"]
        tracked.backward_done = saved["backward_done"]
        tracked.presence = {int(f): float(p) for f, p in saved["presence"]}
    session.tracker.load_state_dict(tensors, layout)


def prompts_digest(objects) -> str:
    """sha256 of the prompts (ids, names, frames, points, labels, boxes, masks)."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.obj_id):
        digest.update(f"{obj.obj_id}:{obj.name}".encode())
        for frame, prompt in sorted(obj.prompts.items()):
            digest.update(f"|{frame}|{prompt.box}".encode())
            for part in (prompt.points, prompt.labels, prompt.mask):
                if part is not None:
                    part = np.ascontiguousarray(part)
                    digest.update(f"{part.dtype}{part.shape}".encode() + part.tobytes())
    return digest.hexdigest()


def differing_parameter(old: dict, new: dict) -> str | None:
    """The first run parameter that differs, as ``"name: old -> new"`` (None when all agree)."""
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            return f"{name} was {old.get(name)!r}, now {new.get(name)!r}"
    return None


def _write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as file:
        file.write(data)
        if sync:
            file.flush()
            os.fsync(file.fileno())
    os.replace(tmp, path)


class RunJournal:
    """The journal, checkpoints and undo log of one run (see the module docstring).

    Parameters
    ----------
    folder : Path
        The run folder (:func:`.outputs.run_folder`), which exists.
    data : dict
        The journal's content.
    """

    def __init__(self, folder: Path, data: dict):
        self.folder = Path(folder)
        self.data = data
        self._undone: set[int] = set()

    @property
    def path(self) -> Path:
        return self.folder / "journal.json"

    @classmethod
    def load(cls, folder: Path) -> RunJournal | None:
        """The journal of an unfinished run in ``folder``, or None."""
        try:
            return cls(folder, json.loads((Path(folder) / "journal.json").read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise InputError(f"the journal in {folder} is unreadable ({err}); delete {folder} and "
                             "start over") from None

    @classmethod
    def start(cls, folder: Path, params: dict, target: str, n_frames: int) -> RunJournal:
        """A new journal (any earlier checkpoint and undo log in ``folder`` is removed)."""
        for path in list(folder.glob("checkpoint-*")) + list(folder.glob("undo-*")):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        journal = cls(folder, {"version": 1, "params": params, "target": target,
                               "n_frames": int(n_frames), "started": time.time(),
                               "done": {"forward": None, "backward": None}, "checkpoint": None})
        journal.save()
        return journal

    def save(self) -> None:
        """Write the journal (atomically, flushed to disk)."""
        self.data["updated"] = time.time()
        _write_atomic(self.path, json.dumps(self.data, indent=1).encode())

    def frame_done(self, frame: int, direction: str) -> None:
        """Record that ``frame``'s labels of the ``direction`` pass are on disk."""
        done = self.data["done"].get(direction)
        first = frame if done is None else done[0]
        self.data["done"][direction] = [first, frame]
        self.save()

    # ------------------------------------------------------------ checkpoints
    @property
    def checkpoint(self) -> dict | None:
        return self.data.get("checkpoint")

    def save_checkpoint(self, session, direction: str, frame: int | None) -> None:
        """Checkpoint the session and its tracker after ``frame`` of the ``direction`` pass.

        The labels written so far must be on disk (they are: :class:`JournaledSink`).
        """
        from safetensors.torch import save_file

        previous = self.checkpoint
        seq = 0 if previous is None else previous["seq"] + 1
        tensors, layout = session.tracker.state_dict()
        path = self.folder / f"checkpoint-{seq}.safetensors"
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(tensors, str(tmp), metadata={"layout": json.dumps(layout),
                                               "session": json.dumps(session_state(session))})
        with open(tmp, "rb") as file:
            os.fsync(file.fileno())
        os.replace(tmp, path)
        (self.folder / f"undo-{seq}").mkdir(exist_ok=True)
        self.data["checkpoint"] = {"seq": seq, "file": path.name, "direction": direction,
                                   "frame": frame, "time": time.time()}
        self.save()
        self._undone = set()
        if previous is not None:
            (self.folder / previous["file"]).unlink(missing_ok=True)
            shutil.rmtree(self.folder / f"undo-{previous['seq']}", ignore_errors=True)

    def load_checkpoint(self):
        """``(tensors, layout, session state)`` of the last checkpoint."""
        from safetensors import safe_open

        path = self.folder / self.checkpoint["file"]
        with safe_open(str(path), framework="pt") as file:
            meta = file.metadata()
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
        return tensors, json.loads(meta["layout"]), json.loads(meta["session"])

    # --------------------------------------------------------------- undo log
    def _undo_folder(self) -> Path | None:
        return None if self.checkpoint is None else self.folder / f"undo-{self.checkpoint['seq']}"

    def keep_before_write(self, frame: int, labels: np.ndarray) -> None:
        """Save a frame's labels before its first write since the last checkpoint."""
        folder = self._undo_folder()
        if folder is None or frame in self._undone:
            return
        flat = np.flatnonzero(labels)
        path = folder / f"{frame}.npz"
        tmp = folder / f".{frame}.npz.tmp"
        with open(tmp, "wb") as file:
            np.savez(file, index=flat.astype(np.int64), value=labels.reshape(-1)[flat])
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
        self._undone.add(frame)

    def undo(self, sink: LabelSink) -> list[int]:
        """Put back the labels of every frame written since the last checkpoint; returns the frames."""
        folder = self._undo_folder()
        frames = []
        for path in sorted(folder.glob("*.npz")) if folder is not None else []:
            frame = int(path.stem)
            with np.load(path, allow_pickle=False) as saved:
                labels = np.zeros(sink.shape[1:], sink.read(frame).dtype)
                labels.reshape(-1)[saved["index"]] = saved["value"]
            sink.write(frame, labels)
            frames.append(frame)
        return frames


class JournaledSink(LabelSink):
    """A file-backed :class:`~.sink.LabelSink` whose every write is durable and can be undone.

    Before a frame's first write since the journal's last checkpoint, its
    labels go to the undo log; after each write, the frame's data is flushed
    to disk (``fsync``).
    """

    def __init__(self, array, journal: RunJournal, path: Path):
        super().__init__(array)
        self.journal = journal
        self.path = Path(path)

    def write(self, frame: int, labels: np.ndarray) -> None:
        """Keep the old labels for the undo log, write, flush to disk."""
        self.journal.keep_before_write(frame, self.read(frame))
        super().write(frame, labels)
        self._sync(frame)

    def _sync(self, frame: int) -> None:
        if self.path.suffix.lower() != ".zarr":
            return  # TIFF: LabelSink.write has msync'ed the memory map
        key = self.array.metadata.encode_chunk_key((frame,) + (0,) * (self.array.ndim - 1))
        chunk = Path(self.array.store.root) / self.array.path / key  # OUT/0/c/... in an OME-Zarr group
        if chunk.exists():
            with open(chunk, "rb") as file:
                os.fsync(file.fileno())
