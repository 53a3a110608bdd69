"""Qt-free parts of the widget's "Track all": seeds from a Labels layer, the lineage and tracks layers.

The lineage of a track-all run is kept with its labels in
``labels_layer.metadata[LINEAGE_KEY]`` (a :class:`~napari_sam2.core.lineage.Lineage`),
where the review dock and other tools read it.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.lineage import Lineage
from ..core.seeds import seeds_from_labels
from .review import LINEAGE_METADATA as LINEAGE_KEY  # one key for Track all and the review dock

__all__ = ["LINEAGE_KEY", "seeds_from_layer", "summary", "show_lineage"]


def seeds_from_layer(layer, sink, frame: int, frame_shape: tuple[int, int], n_frames: int) -> dict:
    """Seed masks ``{id: mask}`` from a Labels layer on ``frame``.

    A layer shaped like the image is read at the frame's plane (``sink.index``);
    a 2D layer is one frame of seeds; a (T, Y, X) layer gives its ``frame``.
    """
    data = layer.data
    if data.ndim == sink.layer.ndim and data.ndim > 2 and tuple(data.shape) == tuple(sink.layer.data.shape):
        data = np.asarray(data[sink.index(frame)])
    return seeds_from_labels(data, frame_shape, frame, n_frames, source=f"labels layer '{layer.name}'")


def summary(lineage: Lineage) -> str:
    """``N tracks, M divisions, K flags to review`` (``1 track``, ``1 division``, ``1 flag``)."""
    divisions = len({t.parent for t in lineage.tracks.values() if t.parent})
    return (f"{_count(len(lineage.tracks), 'track')}, {_count(divisions, 'division')}, "
            f"{_count(len(lineage.flags), 'flag')} to review")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def show_lineage(viewer, labels_layer, lineage: Lineage, name: str = "tracks"):
    """Keep ``lineage`` in the layer's metadata and show it as a Tracks layer (replaced if present).

    Returns the Tracks layer, or None when there is nothing to draw (no
    pixels, or labels that are not a (T, Y, X) stack).
    """
    from .tracks import tracks_layer_data

    labels_layer.metadata[LINEAGE_KEY] = lineage
    if labels_layer.ndim != 3:
        return None
    data, graph, properties = tracks_layer_data(labels_layer.data, lineage)
    if not len(data):
        return None
    if name in viewer.layers:
        viewer.layers.remove(name)
    from .tracks import tracks_layer

    layer = tracks_layer(labels_layer.data, lineage, name=name, scale=labels_layer.scale)
    layer.translate = labels_layer.translate
    viewer.add_layer(layer)
    return layer


def check_can_track(session, axes) -> None:
    """Track all needs a started session on a stack, with no objects yet."""
    if session is None:
        raise InputError("press Start (and wait for the model) before Track all")
    if axes.axis is None:
        raise InputError("Track all needs a stack (time-lapse): this image is a single frame")
    if session.objects:
        raise InputError("Track all starts from an empty session: delete the objects, or press Start "
                         "again on the image")
