"""One pass over a label stack, a frame at a time: ids, areas and centroids of every cell on every frame."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["check_stack", "frame_objects", "track_nodes", "presence"]


def check_stack(labels) -> None:
    """A one-line error unless ``labels`` is a (T, Y, X) or (T, Z, Y, X) integer stack."""
    if np.ndim(labels) not in (3, 4):
        raise InputError(f"labels must be a (T, Y, X) or (T, Z, Y, X) stack, got shape {np.shape(labels)}")
    if not np.issubdtype(np.dtype(labels.dtype), np.integer):
        raise InputError(f"labels must be integer track ids, not {labels.dtype}")


def frame_objects(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, pixel counts and centroids of the objects of one frame.

    Parameters
    ----------
    frame : array of int, shape (Y, X) or (Z, Y, X)

    Returns
    -------
    ids : int64 array (N,)
        Nonzero ids, ascending.
    areas : int64 array (N,)
        Pixels (voxels) per id.
    centroids : float64 array (N, frame.ndim)
        Mean pixel coordinate per id, in ``frame``'s axis order.

    Each object is measured inside its bounding box, so memory stays at
    the size of the largest cell's box, not a coordinate grid per frame.
    """
    from scipy import ndimage

    frame = np.asarray(frame)
    if frame.dtype.kind == "u" and frame.dtype.itemsize >= 8 or frame.dtype == np.bool_:
        frame = frame.astype(np.int64)
    ids, areas, centroids = [], [], []
    for i, box in enumerate(ndimage.find_objects(frame), 1):
        if box is None:
            continue
        coords = np.nonzero(frame[box] == i)
        ids.append(i)
        areas.append(len(coords[0]))
        centroids.append([c.mean() + s.start for c, s in zip(coords, box, strict=True)])
    return (np.array(ids, np.int64), np.array(areas, np.int64),
            np.array(centroids, float).reshape(len(ids), frame.ndim))


def track_nodes(labels) -> dict[str, np.ndarray]:
    """One row per (track id, frame) with pixels: ``track_id``, ``t``, ``centroid``, ``area``.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Read one frame at a time.

    Returns
    -------
    dict
        ``track_id`` (int64, N), ``t`` (int64, N), ``centroid`` (float64, N x D
        with D = 2 or 3, ``(y, x)`` or ``(z, y, x)``) and ``area`` (int64, N),
        sorted by track id then frame.
    """
    check_stack(labels)
    ids, times, centres, areas = [], [], [], []
    for t in range(labels.shape[0]):
        i, a, c = frame_objects(labels[t])
        ids.append(i), areas.append(a), centres.append(c), times.append(np.full(len(i), t))
    dim = np.ndim(labels) - 1
    track_id = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    t = np.concatenate(times).astype(np.int64) if times else np.zeros(0, np.int64)
    order = np.lexsort((t, track_id))
    return {"track_id": track_id[order], "t": t[order],
            "centroid": (np.concatenate(centres) if centres else np.zeros((0, dim)))[order],
            "area": (np.concatenate(areas) if areas else np.zeros(0, np.int64))[order]}


def presence(labels) -> dict[int, list[int]]:
    """``{id: [frames with pixels, ascending]}`` of a label stack, read one frame at a time."""
    frames: dict[int, list[int]] = {}
    for t in range(labels.shape[0]):
        for i in np.unique(np.asarray(labels[t])):
            if i:
                frames.setdefault(int(i), []).append(t)
    return frames
