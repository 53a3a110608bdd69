"""The object list of a session as the widget shows it: rows, presence strips, hidden objects."""

from __future__ import annotations

import numpy as np

__all__ = ["object_rows", "presence_strip", "visibility_colormap"]


def object_rows(session, labels_layer, hidden=frozenset()) -> list[dict]:
    """One row per object: id, name, frames present (first, last), mean presence, colour, visible.

    Parameters
    ----------
    session : Session or None
    labels_layer : napari.layers.Labels
        Gives each object's colour.
    hidden : set of int
        Objects the user has hidden.
    """
    if session is None:
        return []
    rows = []
    for obj in session.objects.values():
        present = [f for f, score in obj.presence.items() if score > 0.5]
        scores = list(obj.presence.values())
        rows.append({"id": obj.obj_id, "name": obj.name, "frames": len(present),
                     "first": min(present, default=None), "last": max(present, default=None),
                     "presence": float(np.mean(scores)) if scores else float("nan"),
                     "color": labels_layer.get_color(obj.obj_id), "visible": obj.obj_id not in hidden})
    return rows


def presence_strip(session, obj_id: int) -> np.ndarray:
    """Presence probability per frame for one object (NaN where not computed)."""
    strip = np.full(session.source.n_frames, np.nan, np.float32)
    for frame, score in session.objects[obj_id].presence.items():
        strip[frame] = score
    return strip


def visibility_colormap(colormap, ids, hidden):
    """``colormap`` with the ``hidden`` ids transparent (None: nothing hidden, use ``colormap``).

    Parameters
    ----------
    colormap : napari label colormap
        The Labels layer's own colormap.
    ids : iterable of int
        The objects of the session.
    hidden : set of int
    """
    from napari.utils.colormaps import DirectLabelColormap

    if not hidden:
        return None
    colors = {i: colormap.map(np.array([i]))[0] for i in set(ids) | set(hidden)}
    colors.update(dict.fromkeys(hidden, np.zeros(4)))
    return DirectLabelColormap(color_dict={None: np.array([0.8, 0.8, 0.8, 1.0]), 0: np.zeros(4), **colors})
