"""Review of a track-all result: the flagged tracks of a Labels layer, and what a person does about them.

A :class:`Review` holds a Labels layer (time on axis 0; numpy or zarr, read
one frame at a time) and its :class:`~napari_sam2.core.lineage.Lineage`. It
lists the flags of the tracks not yet reviewed, most severe first; jumps the
viewer to a flag's frame and label; accepts a track (reviewed, its flags leave
the list), deletes one (its labels set to 0 on every frame, one undo step),
marks a division by hand, and writes the review state back to the zarr store
it came from. No Qt here: the dock widget is ``_qt/review_widget.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.lineage import FLAG_KINDS, Flag, Lineage
from ..core.track_exports import LINEAGE_ATTRS, read_lineage, write_lineage
from .review_edits import ReviewEdits

__all__ = ["LINEAGE_METADATA", "MODEL_METADATA", "SOURCE_METADATA", "Review", "ReviewRow",
           "read_track_result"]

#: the key of a Labels layer's ``metadata`` holding its Lineage (or its dict)
LINEAGE_METADATA = "napari_sam2_lineage"
#: the key of a Labels layer's ``metadata`` holding the zarr store it was read from
SOURCE_METADATA = "napari_sam2_source"
#: the key of a Labels layer's ``metadata`` naming the model that made it (``{"model", "preset"}``:
#: a Track all in the widget; a store names its own in its attributes)
MODEL_METADATA = "napari_sam2_model"


@dataclass(frozen=True)
class ReviewRow:
    """One line of the review list (a flag of a track not yet reviewed)."""

    kind: str
    track_id: int
    frame: int
    severity: float
    message: str


def _label_store(path):
    """The label array of a track output and the node holding its attributes (core/label_store.py)."""
    from ..core.label_store import label_group

    try:
        return label_group(path, mode="r+")
    except InputError as err:
        raise InputError(f"{err}; open the output of 'napari-sam2 track'") from None


def read_track_result(path) -> tuple[object, Lineage]:
    """The label array (zarr, lazy) and the lineage of a track output store."""
    array, owner = _label_store(path)
    lineage = read_lineage(owner)
    if lineage is None:
        raise InputError(f"{path} has no lineage in its attributes ({'/'.join(LINEAGE_ATTRS)}): "
                         "open the output of 'napari-sam2 track'")
    if array.ndim < 3:
        raise InputError(f"{path} holds a {array.ndim}D array: a label stack has time on axis 0")
    return array, lineage


class Review:
    """The review of one Labels layer and its lineage.

    Parameters
    ----------
    layer : napari.layers.Labels
        Time on axis 0. Its ``metadata`` may hold the lineage
        (:data:`LINEAGE_METADATA`) and the zarr store it came from
        (:data:`SOURCE_METADATA`).
    lineage : Lineage, optional
        Default: the one in the layer's metadata.
    """

    def __init__(self, layer, lineage: Lineage | None = None):
        if lineage is None:
            lineage = layer.metadata.get(LINEAGE_METADATA)
        if isinstance(lineage, dict):
            lineage = Lineage.from_dict(lineage)
        if lineage is None:
            raise InputError(f"layer '{layer.name}' has no lineage: open a track result instead")
        self.layer, self.lineage = layer, lineage
        layer.metadata[LINEAGE_METADATA] = lineage
        # the highest id seen: a new track never takes the id of one deleted in this review
        self._highest = max(lineage.tracks, default=0)
        #: the edits that changed the labels, so that Ctrl+Z on them puts their lineage back too
        self.edits = ReviewEdits(layer, lineage)

    @property
    def n_frames(self) -> int:
        return int(self.layer.data.shape[0])

    # ------------------------------------------------------------ the list
    def rows(self) -> list[ReviewRow]:
        """Flags of tracks not reviewed, most severe first (then flag kind, frame, track)."""
        tracks = self.lineage.tracks

        def order(flag: Flag):
            return (-flag.severity, FLAG_KINDS.index(flag.kind), flag.frame, flag.track_id)

        return [ReviewRow(f.kind, f.track_id, f.frame, f.severity, f.message)
                for f in sorted(self.lineage.flags, key=order)
                if f.track_id not in tracks or not tracks[f.track_id].reviewed]

    def frame(self, frame: int) -> np.ndarray:
        """One frame of the labels, read from the store."""
        return np.asarray(self.layer.data[int(frame)])

    def centre(self, track_id: int, frame: int) -> np.ndarray | None:
        """The label's centre on ``frame`` in data pixels (frame axes only), None when absent."""
        where = np.nonzero(self.frame(frame) == track_id)
        return np.array([w.mean() for w in where]) if where[0].size else None

    def jump(self, viewer, row: ReviewRow) -> None:
        """Show ``row``'s frame, select its label and centre the camera on it (when on that frame)."""
        layer = self.layer
        centre = self.centre(row.track_id, row.frame)
        point = np.concatenate([[row.frame], centre if centre is not None
                                else np.zeros(layer.ndim - 1)])
        world = np.asarray(layer.data_to_world(point))
        viewer.dims.set_point(0, world[0])
        layer.selected_label = row.track_id
        if centre is not None:
            shown = list(viewer.dims.displayed)
            camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
            camera.center = tuple(world[shown] if len(shown) == layer.ndim
                                  else world[-len(shown):])

    # ------------------------------------------------------------ actions
    def accept(self, track_id: int) -> None:
        """Mark the track reviewed: its flags leave the list."""
        self._track(track_id).reviewed = True

    def delete(self, track_id: int) -> int:
        """Set the track's labels to 0 on every frame (one undo step) and drop it from the lineage.

        Returns the number of pixels cleared.
        """
        track = self.lineage.tracks.get(int(track_id))
        frames = range(track.start, track.end + 1) if track is not None else range(self.n_frames)
        with self.edits.record(f"delete of track {track_id}"):
            cleared = self._relabel(track_id, 0, frames)
            self.lineage.remove(int(track_id))
        self._highest = max(self._highest, int(track_id))
        return cleared

    def mark_division(self, parent: int, daughters: tuple[int, int], frame: int) -> tuple[int, int]:
        """The parent ends before ``frame``; two tracks present on ``frame`` become its daughters.

        A daughter may be the parent's own id (a cell followed into one of its
        daughters): its labels from ``frame`` on get a new id, a new track.
        Returns the daughters' ids.
        """
        parent, frame = int(parent), int(frame)
        mother = self._track(parent)
        daughters = tuple(int(d) for d in daughters)
        if len(set(daughters)) != 2 or 0 in daughters:
            raise InputError("choose two different daughter labels (not 0)")
        if frame <= mother.start:
            raise InputError(f"track {parent} starts on frame {mother.start}: it cannot divide on {frame}")
        present = set(np.unique(self.frame(frame)).tolist())
        missing = [d for d in daughters if d not in present]
        if missing:
            raise InputError(f"label {missing[0]} is not on frame {frame}: choose labels you see there")
        if parent not in daughters and mother.end >= frame:
            raise InputError(f"track {parent} goes on after frame {frame - 1}: choose it as a daughter")
        for d in daughters:
            track = self.lineage.tracks.get(d)
            if d != parent and track is not None and track.start < frame:
                raise InputError(f"track {d} starts on frame {track.start}, before the division on "
                                 f"{frame}: it cannot be a daughter")
        with self.edits.record(f"division of track {parent} on frame {frame}"):
            result = []
            for d in daughters:
                if d == parent:
                    new = self._highest = max(self._highest, *self.lineage.tracks, *daughters) + 1
                    self._relabel(parent, new, range(frame, mother.end + 1))
                    self.lineage.tracks[new] = type(mother)(new, frame, mother.end, parent)
                    self.lineage.flags = [f if f.track_id != parent or f.frame < frame else
                                          Flag(new, f.frame, f.kind, f.severity, f.message)
                                          for f in self.lineage.flags]
                    d = new
                elif d in self.lineage.tracks:
                    self.lineage.tracks[d].parent = parent
                else:
                    self.lineage.add(d, frame, self._last_frame(d, frame), parent=parent)
                result.append(d)
            mother.end = frame - 1
            return tuple(result)

    def save(self, path=None) -> Path:
        """Write the lineage and review state to the zarr store (default: where the layer came from).

        The lineage is first brought in step with the labels (:meth:`sync`).
        """
        path = path or self.layer.metadata.get(SOURCE_METADATA)
        if path is None:
            raise InputError("these labels were not read from a track result: nowhere to save the review")
        self.sync()
        write_lineage(_label_store(path)[1], self.lineage)
        return Path(path)

    def sync(self) -> list[str]:
        """Undo (or redo) in the lineage the edits whose labels Ctrl+Z undid (redid); returns what changed."""
        return self.edits.sync()

    # ------------------------------------------------------------ helpers
    def _track(self, track_id: int):
        track = self.lineage.tracks.get(int(track_id))
        if track is None:
            raise InputError(f"there is no track {track_id} in the lineage")
        return track

    def _last_frame(self, label: int, frame: int) -> int:
        last = frame
        while last + 1 < self.n_frames and (self.frame(last + 1) == label).any():
            last += 1
        return last

    def _relabel(self, label: int, value: int, frames) -> int:
        """Set ``label`` to ``value`` on ``frames`` through the layer's history (one undo step)."""
        layer, changed = self.layer, 0
        with layer.block_history():
            for t in frames:
                where = np.nonzero(self.frame(t) == label)
                if where[0].size:
                    layer.data_setitem((np.full(where[0].size, t),) + where, value, refresh=False)
                    changed += where[0].size
        layer.refresh()
        return changed
