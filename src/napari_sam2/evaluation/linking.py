"""The tracking baseline: per-frame segmentations linked frame to frame by mask overlap.

This is what "segment every frame, then link" tools do at their simplest,
and the baseline ``napari-sam2 track`` is measured against
(``benchmarks/bench_track.py``). Frame ``t`` is linked to frame ``t - 1``:

* a division: two or more objects of frame ``t`` lie mostly inside one
  object of frame ``t - 1`` (at least ``inside`` of their area, and that
  object is the one they overlap most) and none of them is that object
  continued (IoU with it below ``continue_iou``: a daughter is about half
  its mother); the mother's track ends and each daughter starts a new track
  with the mother as parent;
* otherwise objects are paired one to one by IoU (Hungarian assignment,
  pairs below ``min_iou`` rejected) and a paired object continues its track;
* an unpaired object starts a new track.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.lineage import Lineage

__all__ = ["link_by_overlap", "overlap_table"]


def overlap_table(previous: np.ndarray, current: np.ndarray):
    """Pixel counts of every (previous id, current id) pair.

    Returns
    -------
    prev_ids, cur_ids : int arrays
        Nonzero ids of each frame.
    overlap : int array (len(prev_ids), len(cur_ids))
        Pixels shared by each pair.
    prev_area, cur_area : int arrays
    """
    prev_ids, prev_inv = np.unique(previous.ravel(), return_inverse=True)
    cur_ids, cur_inv = np.unique(current.ravel(), return_inverse=True)
    pairs = np.bincount(prev_inv * len(cur_ids) + cur_inv, minlength=len(prev_ids) * len(cur_ids))
    table = pairs.reshape(len(prev_ids), len(cur_ids))
    prev_keep, cur_keep = prev_ids != 0, cur_ids != 0
    table = table[prev_keep][:, cur_keep]
    prev_area = np.bincount(prev_inv, minlength=len(prev_ids))[prev_keep]
    cur_area = np.bincount(cur_inv, minlength=len(cur_ids))[cur_keep]
    return prev_ids[prev_keep], cur_ids[cur_keep], table, prev_area, cur_area


def _links(previous, current, min_iou: float, inside: float, continue_iou: float):
    """``(continued {cur: prev}, divided {prev: [cur, ...]})`` between two frames (their ids)."""
    from scipy.optimize import linear_sum_assignment

    prev_ids, cur_ids, table, prev_area, cur_area = overlap_table(previous, current)
    if not len(prev_ids) or not len(cur_ids):
        return {}, {}
    divided: dict = {}
    best_prev = table.argmax(axis=0)
    for c in range(len(cur_ids)):
        p = best_prev[c]
        if table[p, c] >= inside * cur_area[c]:
            divided.setdefault(p, []).append(c)
    iou = table / (prev_area[:, None] + cur_area[None, :] - table)
    divided = {p: cs for p, cs in divided.items() if len(cs) >= 2 and iou[p, cs].max() < continue_iou}
    taken = {c for cs in divided.values() for c in cs}
    iou[list(divided)] = 0
    iou[:, list(taken)] = 0
    rows, cols = linear_sum_assignment(-iou)
    continued = {int(cur_ids[c]): int(prev_ids[p]) for p, c in zip(rows, cols, strict=True)
                 if iou[p, c] >= min_iou}
    return continued, {int(prev_ids[p]): [int(cur_ids[c]) for c in cs] for p, cs in divided.items()}


def link_by_overlap(frame_labels, min_iou: float = 0.3, inside: float = 0.5,
                    continue_iou: float = 0.6, dtype=np.uint32) -> tuple[np.ndarray, Lineage]:
    """Link per-frame segmentations into tracks by overlap.

    Parameters
    ----------
    frame_labels : sequence of int arrays, shape (T, Y, X) or (T, Z, Y, X)
        One instance segmentation per frame; ids need not agree between frames.
        Read one frame at a time.
    min_iou : float
        Smallest IoU for an object to continue a track of the previous frame.
    inside : float
        Fraction of an object's area inside one previous object for it to
        count as that object's daughter (two or more daughters = a division).
    continue_iou : float
        A daughter this similar (IoU) to the object continues it: no division.
    dtype : numpy dtype
        Integer dtype of the returned stack.

    Returns
    -------
    labels : array (T, ...) of ``dtype``
        Track ids consistent over time (1, 2, ... in order of appearance).
    lineage : Lineage
        One track per id, parents at divisions.

    Raises
    ------
    InputError
        For frames of different shapes, or non-integer labels.
    """
    n = len(frame_labels)
    first = np.asarray(frame_labels[0]) if n else np.zeros((0, 0), int)
    if n and not np.issubdtype(first.dtype, np.integer):
        raise InputError(f"per-frame labels must be integers, not {first.dtype}")
    labels = np.zeros((n, *first.shape), dtype)
    lineage = Lineage()
    next_id = 1
    previous_raw = None
    mapping: dict[int, int] = {}  # raw id of the previous frame -> track id
    for t in range(n):
        raw = np.asarray(frame_labels[t])
        if raw.shape != first.shape:
            raise InputError(f"frame {t} has shape {raw.shape}, frame 0 {first.shape}; "
                             "every frame's labels must have the same shape")
        continued, divided = ({}, {}) if previous_raw is None else _links(
            previous_raw, raw, min_iou, inside, continue_iou)
        new_mapping = {}
        for cur, prev in continued.items():
            new_mapping[cur] = mapping[prev]
            lineage.extend(mapping[prev], t)
        for prev, daughters in divided.items():
            for cur in daughters:
                lineage.add(next_id, t, parent=mapping[prev])
                new_mapping[cur], next_id = next_id, next_id + 1
        for cur in np.unique(raw):
            if cur and int(cur) not in new_mapping:
                lineage.add(next_id, t)
                new_mapping[int(cur)], next_id = next_id, next_id + 1
        if new_mapping:
            lut = np.zeros(int(raw.max()) + 1, dtype)
            for cur, track in new_mapping.items():
                lut[cur] = track
            labels[t] = lut[raw]
        previous_raw, mapping = raw, new_mapping
    return labels, lineage
