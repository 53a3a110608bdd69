"""A propagation run as one undo step of the Labels layer, and what its undo means for the session.

napari's Ctrl+Z on the labels layer puts the labels back as they were before
a run; the session must then count the run's frames as not done, so that the
next Propagate recomputes exactly those frames. A :class:`PropagationRun`
remembers each object's done-range before the run, the frames the run
computed per object, and a few pixels of the run's undo step (the labels
before and after), which tell whether the layer holds the run's labels or
the ones from before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PropagationRun", "UndoSample"]

#: pixels of the undo step compared with the layer to tell whether the run was undone
SAMPLE = 64


@dataclass(frozen=True)
class UndoSample:
    """A few pixels of one undo step of a Labels layer: where, the labels before it and after it.

    Build it from napari's history item (:meth:`from_item`); :meth:`state`
    then tells whether the layer shows the step done or undone (Ctrl+Z),
    reading only those pixels' bounding box (numpy, zarr or dask data).
    """

    indices: tuple
    old: np.ndarray
    new: np.ndarray

    @classmethod
    def from_item(cls, item) -> UndoSample | None:
        """The sample of a committed history item (a list of atoms); None for a step that changed nothing."""
        for atom in item or ():
            if isinstance(atom, tuple) and len(atom) == 3 and len(atom[0]) and atom[0][0].size:
                indices, old, new = atom
                pick = tuple(np.asarray(ix)[:SAMPLE] for ix in indices)
                new = np.broadcast_to(np.asarray(new), np.asarray(old).shape)[:SAMPLE]
                return cls(pick, np.asarray(old)[:SAMPLE].copy(), np.array(new))
        return None

    def state(self, layer) -> str | None:
        """``"undone"`` when the layer shows the labels from before the step, ``"done"`` when it shows
        the step's labels, None when neither (painted over since)."""
        key, inside = [], []  # read the pixels' bounding box with basic indexing (zarr, dask too)
        for ix in self.indices:
            low = int(ix.min())
            key.append(low if ix.max() == low else slice(low, int(ix.max()) + 1))
            if ix.max() != low:
                inside.append(ix - low)
        block = np.asarray(layer.data[tuple(key)])
        now = block[tuple(inside)] if inside else np.broadcast_to(block, self.old.shape)
        if np.array_equal(now, self.new):
            return "done"
        return "undone" if np.array_equal(now, self.old) else None


@dataclass
class PropagationRun:
    """One propagation: the objects' state before it and the frames it computed.

    Parameters
    ----------
    before : dict
        ``object id -> (anchor, backward_done, forward_done)`` before the run.
    """

    before: dict[int, tuple]
    frames: dict[int, set[int]] = field(default_factory=dict)
    sample: UndoSample | None = None  # a few pixels of the run's undo step

    @classmethod
    def start(cls, session) -> PropagationRun:
        """Remember the done-ranges of the session's objects before a run."""
        return cls({o.obj_id: (o.anchor, o.backward_done, o.forward_done) for o in session.objects.values()})

    def add(self, result) -> None:
        """Record a :class:`~napari_sam2.core.session.FrameResult` of the run."""
        for obj_id in result.object_ids:
            self.frames.setdefault(obj_id, set()).add(result.frame)

    def committed(self, item) -> None:
        """Keep a few pixels of the run's undo step (napari's history item: a list of atoms).

        A run that changed no pixel has no undo step (``item`` None or empty).
        """
        self.sample = UndoSample.from_item(item)

    def undone(self, layer) -> bool:
        """True when the layer shows the labels from before the run at the sampled pixels."""
        return self.sample is not None and self.sample.state(layer) == "undone"

    def mark_not_done(self, session) -> int:
        """Count the run's frames as not computed in ``session``; returns how many frames that makes.

        Each object's done-range shrinks back to where it was before the run (or
        stays narrower if a correction narrowed it since); the frames of the run
        outside it lose their presence score and the model's stored memory, as
        after a correction.
        """
        count = 0
        for obj_id, (anchor, backward, forward) in self.before.items():
            obj = session.objects.get(obj_id)
            if obj is None or anchor is None or obj.anchor != anchor:
                continue
            obj.forward_done = min(obj.forward_done, forward)
            obj.backward_done = max(obj.backward_done, backward)
            stale = sorted(f for f in self.frames.get(obj_id, ())
                           if not obj.backward_done <= f <= obj.forward_done and f not in obj.prompts)
            for frame in stale:
                obj.presence.pop(frame, None)
            session.tracker.forget(obj_id, stale)
            count += len(stale)
        return count
