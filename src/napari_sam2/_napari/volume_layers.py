"""Qt-free parts of the widget on a 4D (t, z, y, x) image layer: which layers qualify, their prompts,
and writing one volume into the Labels layer with undo history."""

from __future__ import annotations

import numpy as np

from ..core.prompts import FramePrompt
from .layers import StackAxes, layer_axis_names

__all__ = ["volume_axes", "volume_objects", "volume_prompts", "write_volume"]


def volume_axes(layer) -> tuple[int, int] | None:
    """``(time axis, z axis)`` of a 4D image layer whose axes are named t, z, y, x (any order); else None."""
    if layer is None or layer.ndim != 4 or getattr(layer, "rgb", False):
        return None
    names = layer_axis_names(layer)
    if sorted(names) != ["t", "x", "y", "z"] or names.index("y") != 2 or names.index("x") != 3:
        return None
    return names.index("t"), names.index("z")


def stack_axes(time_axis: int) -> StackAxes:
    """The :class:`StackAxes` of the session layers (time as the stack axis; y, x the last two)."""
    return StackAxes(time_axis, (2, 3), None, False)


def volume_prompts(points_layer, shapes_layer, time_axis: int, z_axis: int) -> dict:
    """``{(object id, (t, z)): FramePrompt}`` of the points and boxes (layer data coordinates)."""
    grouped: dict = {}
    data = np.asarray(points_layer.data)
    features = points_layer.features
    for row, obj_id, positive in zip(data, features["object_id"], features["positive"], strict=True):
        key = (int(obj_id), (int(round(row[time_axis])), int(round(row[z_axis]))))
        points, labels, box = grouped.get(key, ([], [], None))
        grouped[key] = ([*points, row[2:4]], [*labels, int(bool(positive))], box)
    for corners, obj_id in zip(shapes_layer.data, shapes_layer.features["object_id"], strict=True):
        corners = np.asarray(corners)
        key = (int(obj_id), (int(round(corners[0, time_axis])), int(round(corners[0, z_axis]))))
        points, labels, _ = grouped.get(key, ([], [], None))
        low, high = corners[:, 2:4].min(axis=0), corners[:, 2:4].max(axis=0)
        grouped[key] = (points, labels, (low[0], low[1], high[0], high[1]))
    prompts = {}
    for key, (points, labels, box) in grouped.items():
        prompt = FramePrompt(np.array(points, np.float32).reshape(-1, 2), np.array(labels, np.int32))
        prompts[key] = prompt if box is None else prompt.with_box(box)
    return prompts


def write_volume(layer, time: int, labels: np.ndarray, time_axis: int, z_axis: int,
                 refresh: bool = True) -> None:
    """Put one time point's ``(Z, Y, X)`` labels into a 4D Labels layer, recording undo history."""
    index: list = [slice(None)] * 4
    index[time_axis] = time
    current = np.asarray(layer.data[tuple(index)])  # (z, y, x) after dropping t (z before y, x)
    z, rows, cols = np.nonzero(current != labels)
    if not len(z):
        return
    full = [None] * 4
    full[time_axis], full[z_axis], full[2], full[3] = np.full(len(z), time), z, rows, cols
    layer.data_setitem(tuple(full), labels[z, rows, cols], refresh=refresh)


def volume_objects(volume):
    """The volume session's objects as the object table reads a session: ``.objects`` (each
    object's time track, its presence per time point) and ``.source.n_frames`` (time points)."""
    from types import SimpleNamespace

    if volume is None:
        return None
    objects = {}
    for track in volume.objects.values():
        obj = track.session.objects[track.obj_id]
        obj.name = track.name
        objects[track.obj_id] = obj
    return SimpleNamespace(objects=objects, source=SimpleNamespace(n_frames=volume.n_times))
