"""Fix one flagged track of a review: clicks on a frame, that object re-tracked from there on.

:class:`TrackFix` checks the fix, gives the re-track's frames
(:func:`~napari_sam2.workflows.retrack.retrack_object`, run in a worker by the
dock), writes each into the review's Labels layer (the whole fix is one undo
step) and updates the lineage at the end. No Qt here: the dock is
``_qt/review_widget.py``.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np

from ..core.errors import InputError
from ..workflows.retrack import RetrackStep, retrack_object
from .layer_sink import LayerSink
from .layers import StackAxes

__all__ = ["FIX_POINTS", "TrackFix", "fix_points", "fix_images", "load_fix_model"]

#: the name of the Points layer holding the clicks of a fix
FIX_POINTS = "SAM2 fix points"


def fix_points(points_layer, labels_layer, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """The clicks of ``points_layer`` on ``frame``: ``(row, col)`` pixels of the labels and 1/0 labels.

    The layer's ``positive`` feature (default all positive) tells positive from negative clicks.
    """
    data = np.asarray(points_layer.data, float).reshape(-1, points_layer.ndim)
    if len(data) == 0:
        return np.zeros((0, 2)), np.zeros(0, int)
    pixels = np.array([labels_layer.world_to_data(points_layer.data_to_world(p)) for p in data])
    features = points_layer.features
    positive = (features["positive"].to_numpy().astype(bool) if "positive" in features
                else np.ones(len(data), bool))
    here = np.round(pixels[:, 0]).astype(int) == int(frame)
    return pixels[here][:, -2:], positive[here].astype(int)


def fix_images(layers, labels_layer) -> list:
    """The Image layers of ``layers`` whose frames fit ``labels_layer`` (grey ``(t, y, x)`` or RGB)."""
    from napari.layers import Image

    shape = tuple(labels_layer.data.shape)
    return [layer for layer in layers if isinstance(layer, Image) and not layer.multiscale
            and tuple(layer.data.shape[:3]) == shape and layer.data.ndim == (4 if layer.rgb else 3)]


def fix_model_name(labels_layer) -> tuple[str, str]:
    """``(model, preset)`` of the run that made the labels, else the demo's.

    The run is named by the layer's metadata (a Track all in the widget) or by
    the attributes of the store the labels were read from (``napari-sam2 track``).
    """
    from ..core.label_store import read_label_metadata
    from ..core.models import DEFAULT_PRESET
    from .review import MODEL_METADATA, SOURCE_METADATA

    source = labels_layer.metadata.get(SOURCE_METADATA)
    parameters = labels_layer.metadata.get(MODEL_METADATA) or (
        ((read_label_metadata(source) or {}).get("parameters") or {}) if source else {})
    return str(parameters.get("model") or "demo"), str(parameters.get("preset") or DEFAULT_PRESET)


def load_fix_model(labels_layer):
    """Load the model that made the labels when it can be (no download), else the bundled demo."""
    from ..core.models import load_model

    name, preset = fix_model_name(labels_layer)
    try:
        return load_model(name, preset=preset, offline=True)
    except InputError:
        return load_model("demo")


class TrackFix:
    """Re-track track ``track_id`` of ``review`` from ``frame`` on, from clicks on ``frame``.

    A track that divides (it has daughters) is re-tracked only up to its
    recorded end; its daughters are never changed.

    Parameters
    ----------
    review : Review
    track_id : int
    frame : int
        The frame of the clicks: the first frame rewritten.
    """

    def __init__(self, review, track_id: int, frame: int):
        self.review, self.track_id, self.frame = review, int(track_id), int(frame)
        track = review._track(self.track_id)
        self.daughters = review.lineage.daughters(self.track_id)
        self.last = track.end if self.daughters else review.n_frames - 1
        if self.frame > self.last:
            raise InputError(f"track {self.track_id} divides after frame {track.end}: fix its "
                             f"daughters {self.daughters} instead")
        self.present: dict[int, bool] = {}
        self.changed = 0
        layer = review.layer  # (t, y, x) labels: written as the main widget writes its own
        self._sink = LayerSink(layer, StackAxes(0, (1, 2)), review.n_frames, layer.data.shape[1:])
        self._history: ExitStack | None = None

    def steps(self, image, points, point_labels, model, **source):
        """The re-track's frames (checked now; computed lazily, e.g. in a worker).

        ``image`` is the stack the labels were made from; ``source`` goes to
        :func:`~napari_sam2.workflows.retrack.retrack_object` (``channel_axis``,
        ``channels``); ``model`` as there (a function: loaded in the worker).
        """
        return retrack_object(image, self.review.layer.data, self.track_id, self.frame, points,
                              point_labels, model, last_frame=self.last, **source)

    def begin(self) -> None:
        """Open the layer's history: every frame applied until :meth:`finish` is one undo step."""
        self._history = ExitStack()
        self._history.enter_context(self.review.layer.block_history())

    def apply(self, step: RetrackStep, refresh: bool = True) -> None:
        """Write one frame into the layer (GUI thread); ``refresh=False`` for a frame not on screen."""
        self.changed += self._sink.apply(step.frame, step.labels, refresh=refresh)
        self.present[step.frame] = step.present

    def finish(self, cancelled: bool = False) -> str:
        """Close the undo step, update the lineage (the track is now reviewed); returns what happened.

        The track's end is its last frame with a mask (its old end when a
        cancel left later frames as they were); its flags from the fix frame
        on are dropped. A track left without any pixel leaves the lineage.
        Ctrl+Z on the labels undoes the lineage's change too (:meth:`Review.sync`).
        """
        with self.review.edits.record(f"re-track of track {self.track_id} from frame {self.frame}"):
            if self._history is not None:
                self._history.close()
                self._history = None
            self.review.layer.refresh()
            return self._update_lineage(cancelled)

    def _update_lineage(self, cancelled: bool) -> str:
        lineage, tid = self.review.lineage, self.track_id
        track = lineage.tracks[tid]
        if not self.present:
            return f"track {tid}: nothing re-tracked"
        done = max(self.present)
        present = [t for t, here in self.present.items() if here]
        if done < self.last and track.end > done:
            end = track.end  # cancelled: the frames after keep their old labels
        else:
            end = max(present) if present else self.frame - 1
        start = min(track.start, *present) if present else track.start
        lineage.flags = [f for f in lineage.flags if f.track_id != tid or f.frame < self.frame]
        if end < start:
            lineage.remove(tid)
            return f"track {tid} has no pixels left from frame {self.frame} on: removed"
        track.start, track.end, track.reviewed = start, end, True
        said = [f"track {tid} re-tracked on frames {self.frame}-{done} ({self.changed} pixels "
                "changed; Ctrl+Z on the labels undoes it, lineage included)"]
        if cancelled and done < self.last:
            said.append(f"cancelled: frames after {done} keep their old labels")
        elif present and max(present) < done:
            said.append(f"lost after frame {max(present)}: its old labels after it were cleared")
        if self.daughters and done == self.last:
            said.append(f"stopped at its division (frame {self.last}); daughters "
                        f"{', '.join(map(str, self.daughters))} untouched")
        return "; ".join(said)
