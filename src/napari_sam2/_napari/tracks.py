"""A napari Tracks layer from a label stack and its lineage, so divisions show as branches."""

from __future__ import annotations

import numpy as np

from ..core.lineage import Lineage
from ..core.track_nodes import track_nodes

__all__ = ["tracks_layer_data", "tracks_layer"]


def tracks_layer_data(labels, lineage: Lineage | None = None) -> tuple[np.ndarray, dict, dict]:
    """napari Tracks ``data``, ``graph`` and ``properties`` of a label stack.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Track ids consistent over time; read one frame at a time.
    lineage : Lineage, optional
        Parents (divisions) and review state.

    Returns
    -------
    data : float array (N, 4) or (N, 5)
        Rows ``(track_id, t, y, x)`` or ``(track_id, t, z, y, x)`` at each
        cell's centroid, sorted by track then frame.
    graph : dict of int to list of int
        ``{daughter: [mother]}`` for every division whose tracks both have pixels.
    properties : dict of str to array
        Per row: ``track_id``, ``area`` (pixels) and ``reviewed``.
    """
    lineage = lineage or Lineage()
    nodes = track_nodes(labels)
    ids = nodes["track_id"]
    data = np.column_stack([ids, nodes["t"], nodes["centroid"]]).astype(float)
    present = set(ids.tolist())
    graph = {t.track_id: [t.parent] for t in lineage.tracks.values()
             if t.parent and t.track_id in present and t.parent in present}
    reviewed = {i: t.reviewed for i, t in lineage.tracks.items()}
    properties = {"track_id": ids, "area": nodes["area"],
                  "reviewed": np.array([reviewed.get(int(i), False) for i in ids], bool)}
    return data, graph, properties


def tracks_layer(labels, lineage: Lineage | None = None, name: str = "tracks", scale=None):
    """A ``napari.layers.Tracks`` of :func:`tracks_layer_data` (not added to any viewer).

    ``scale`` is the label layer's scale, ``(t, [z,] y, x)``.
    """
    from napari.layers import Tracks

    data, graph, properties = tracks_layer_data(labels, lineage)
    return Tracks(data, graph=graph, properties=properties, name=name, scale=scale,
                  tail_length=30, color_by="track_id")
