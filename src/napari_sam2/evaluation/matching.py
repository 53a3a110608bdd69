"""Which predicted object is which true object, and whether the truth is tracked over time.

* :func:`match_objects` pairs the objects of a predicted label stack with those
  of a ground truth: by overlap (the Hungarian assignment maximising IoU on each
  predicted object's reference frame) or by id.
* :func:`check_tracking` tells whether a ground truth keeps one id per object
  over time. Per-frame labels (ids 1..n on every frame, or new ids on each
  frame) cannot score a tracked object: an id then names different cells on
  different frames, and frames where it is absent and the prediction is empty
  would score 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InputError
from .stack import frames_along

__all__ = ["Matching", "TrackingCheck", "check_tracking", "match_objects", "overlaps", "MATCHES"]

#: the ways :func:`match_objects` pairs objects
MATCHES = ("overlap", "id")


def overlaps(first, second) -> tuple[dict, dict, dict]:
    """Pixel counts of the ids of two label images and of their intersections.

    Parameters
    ----------
    first, second : array of int, shape (Y, X)

    Returns
    -------
    (sizes_first, sizes_second, intersections)
        ``{id: pixels}`` for each image (0 left out) and ``{(id_first, id_second): pixels}``.
    """
    a, b = np.asarray(first).ravel(), np.asarray(second).ravel()

    def sizes(x):
        ids, counts = np.unique(x[x != 0], return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}

    both = (a != 0) & (b != 0)
    if not both.any():
        return sizes(a), sizes(b), {}
    pairs, counts = np.unique(np.stack([a[both], b[both]]).astype(np.int64), axis=1, return_counts=True)
    inter = {(int(i), int(j)): int(c) for i, j, c in zip(pairs[0], pairs[1], counts, strict=True)}
    return sizes(a), sizes(b), inter


@dataclass(frozen=True)
class TrackingCheck:
    """Whether a label stack keeps one id per object over time.

    Attributes
    ----------
    tracked : bool
        False when most objects overlap an object with another id on the next
        frame, or most ids of the first frame vanish after it.
    kept, switched : int
        Over consecutive frame pairs, objects whose largest overlap on the next
        frame has the same id / another id.
    vanished : tuple of int
        Ids of the first frame found on no later frame.
    first_ids : int
        Ids on the first frame.
    """

    tracked: bool
    kept: int = 0
    switched: int = 0
    vanished: tuple = ()
    first_ids: int = 0

    @property
    def message(self) -> str:
        """Why the truth looks untracked (empty when it is tracked)."""
        if self.tracked:
            return ""
        reasons = []
        if self.switched > self.kept:
            reasons.append(f"{self.switched} of {self.kept + self.switched} objects overlap an object "
                           "with another id on the next frame")
        if self.vanished and 2 * len(self.vanished) > self.first_ids:
            reasons.append(f"{len(self.vanished)} of the {self.first_ids} ids of the first frame "
                           "never appear again")
        return ("the ground truth is not tracked over time (" + "; ".join(reasons) + "): its ids name "
                "different objects on different frames, so per-object scores over time are meaningless")


def check_tracking(truth, axis: int = 0) -> TrackingCheck:
    """Check that a ground-truth label stack is tracked: one id per object on every frame.

    Parameters
    ----------
    truth : array-like of int, 3D
        The label stack, read one frame at a time.
    axis : int
        The frame axis.

    Returns
    -------
    TrackingCheck
        Untracked when, over consecutive frames, more objects overlap another id
        than their own id on the next frame, or more than half of the first
        frame's ids never appear again (a stack of one frame is tracked).
    """
    frames = frames_along(truth, axis)
    kept = switched = 0
    first = later = None
    previous = None
    for t in range(len(frames)):
        current = frames[t]
        ids = set(np.unique(current).tolist()) - {0}
        if first is None:
            first, later = ids, set()
        else:
            later |= ids
        if previous is not None:
            _, _, inter = overlaps(previous, current)
            best: dict[int, tuple[int, int]] = {}
            for (i, j), n in inter.items():
                if n > best.get(i, (0, 0))[0]:
                    best[i] = (n, j)
            kept += sum(j == i for i, (_, j) in best.items())
            switched += sum(j != i for i, (_, j) in best.items())
        previous = current
    vanished = tuple(sorted(first - later)) if first and len(frames) > 1 else ()
    tracked = switched <= kept and not (vanished and 2 * len(vanished) > len(first))
    return TrackingCheck(tracked, kept, switched, vanished, len(first or ()))


@dataclass(frozen=True)
class Matching:
    """Predicted objects paired with true objects.

    Attributes
    ----------
    by : {"overlap", "id"}
    pairs : dict
        Predicted id -> true id.
    frames : dict
        Predicted id -> the frame it was matched on (overlap matching).
    iou : dict
        Predicted id -> its IoU with its true object on that frame.
    unmatched_pred, unmatched_truth : tuple of int
        Ids left without a partner.
    """

    by: str
    pairs: dict = field(default_factory=dict)
    frames: dict = field(default_factory=dict)
    iou: dict = field(default_factory=dict)
    unmatched_pred: tuple = ()
    unmatched_truth: tuple = ()

    def describe(self) -> str:
        """One line saying how the objects were matched and what was left out."""
        n = len(self.pairs)
        if self.by == "id":
            text = f"{n} object(s) matched by id (the same id in the prediction and the truth)"
        else:
            on = sorted(set(self.frames[p] for p in self.pairs))
            where = (f"frame {on[0]}" if len(on) == 1 else
                     "frames " + ", ".join(map(str, on[:6])) + (" ..." if len(on) > 6 else ""))
            text = (f"{n} predicted object(s) matched to true objects by overlap (largest total IoU, "
                    f"one to one) on {where}")
        if self.unmatched_pred:
            text += (f"; {len(self.unmatched_pred)} predicted object(s) overlap no true object "
                     "(scored 0)")
        if self.unmatched_truth:
            text += f"; {len(self.unmatched_truth)} true object(s) have no prediction (not scored)"
        return text


def match_objects(truth, prediction, axis: int = 0, by: str = "overlap", frames=None) -> Matching:
    """Pair the objects of a predicted label stack with the objects of the ground truth.

    Parameters
    ----------
    truth, prediction : array-like of int, 3D, same shape
        Label stacks (or :class:`~.stack.FramesAlong`), read one frame at a time.
    axis : int
        The frame axis (of arrays).
    by : {"overlap", "id"}
        ``"overlap"``: each predicted object is compared with the true objects
        on its reference frame, and the one-to-one assignment with the largest
        total IoU (Hungarian, ``scipy.optimize.linear_sum_assignment``) pairs
        them; a pair needs IoU > 0. ``"id"``: equal ids are paired.
    frames : int or dict, optional
        The reference frame (one for all, or predicted id -> frame, e.g. each
        object's prompted frame). Default: the first frame where the predicted
        object and some true object are both present.

    Returns
    -------
    Matching
    """
    from scipy.optimize import linear_sum_assignment

    if by not in MATCHES:
        raise InputError(f"match must be one of {', '.join(MATCHES)}, not {by!r}")
    if tuple(truth.shape) != tuple(prediction.shape):
        raise InputError(f"the labels have shape {tuple(prediction.shape)}, the ground truth "
                         f"{tuple(truth.shape)}; they must be the same")
    gt, pred = frames_along(truth, axis), frames_along(prediction, axis)
    truth_ids: set[int] = set()
    pred_ids: set[int] = set()
    rows: dict[int, dict[int, float]] = {}  # pred id -> {truth id: IoU} on its reference frame
    reference: dict[int, int] = {}
    for t in range(len(gt)):
        g, p = gt[t], pred[t]
        p_sizes, g_sizes, inter = overlaps(p, g)
        truth_ids |= set(g_sizes)
        pred_ids |= set(p_sizes)
        if by == "id":
            continue
        for k in p_sizes:
            wanted = frames if isinstance(frames, int) else (frames or {}).get(k)
            if k in rows or (wanted is not None and wanted != t) or (wanted is None and not g_sizes):
                continue
            reference[k] = t
            rows[k] = {j: n / (p_sizes[k] + g_sizes[j] - n) for (i, j), n in inter.items() if i == k}
    if by == "id":
        pairs = {k: k for k in sorted(pred_ids & truth_ids)}
        return Matching("id", pairs, {}, {}, tuple(sorted(pred_ids - truth_ids)),
                        tuple(sorted(truth_ids - pred_ids)))
    p_list = sorted(rows)
    t_list = sorted({j for row in rows.values() for j in row})
    pairs, ious = {}, {}
    if p_list and t_list:
        cost = np.array([[rows[i].get(j, 0.0) for j in t_list] for i in p_list])
        for r, c in zip(*linear_sum_assignment(cost, maximize=True), strict=True):
            if cost[r, c] > 0:
                pairs[p_list[r]], ious[p_list[r]] = t_list[c], float(cost[r, c])
    pairs = dict(sorted(pairs.items()))
    return Matching("overlap", pairs, {k: reference[k] for k in pairs}, ious,
                    tuple(sorted(pred_ids - set(pairs))), tuple(sorted(truth_ids - set(pairs.values()))))
