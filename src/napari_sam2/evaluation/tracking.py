"""Tracking scores of a label stack with lineage against the truth: CTC DET / SEG / TRA and divisions.

DET, SEG and TRA come from ``py-ctcmetrics`` (:func:`.ctc.score_ctc`) on CTC
folders written by :mod:`napari_sam2.core.track_exports`. Divisions are
scored separately: a predicted division matches a true one when it happens
within ``tolerance`` frames of it, the mothers overlap (IoU >= ``min_iou``
on the last frame before either division) and every true daughter overlaps
its own predicted daughter (IoU >= ``min_iou`` on the first frame after both
divisions). Each division matches at most one other (IoU above 0.5 makes
the masks' pairing unique).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.lineage import Lineage
from ..core.track_exports import write_ctc_folder, write_ctc_ground_truth
from .ctc import score_ctc

__all__ = ["Division", "divisions", "match_divisions", "score_tracking"]


@dataclass(frozen=True)
class Division:
    """``mother`` ends on ``frame - 1``; its ``daughters`` start on ``frame``."""

    mother: int
    daughters: tuple[int, ...]
    frame: int


def divisions(lineage: Lineage) -> list[Division]:
    """The divisions of a lineage: tracks with two or more daughters (one is a gap, not a division)."""
    found = []
    for track in sorted(lineage.tracks.values(), key=lambda t: t.track_id):
        daughters = lineage.daughters(track.track_id)
        if len(daughters) >= 2:
            start = min(lineage.tracks[d].start for d in daughters)
            found.append(Division(track.track_id, tuple(daughters), start))
    return found


class _Frames:
    """Frames of a lazy stack, read once each."""

    def __init__(self, labels):
        self.labels, self.cache = labels, {}

    def __call__(self, t: int):
        if not 0 <= t < len(self.labels):
            return None
        if t not in self.cache:
            self.cache[t] = np.asarray(self.labels[t])
        return self.cache[t]


def _iou(pred, true, pred_id: int, true_id: int, frames) -> float:
    best = 0.0
    for t in frames:
        p, g = pred(t), true(t)
        if p is None or g is None:
            continue
        a, b = p == pred_id, g == true_id
        union = np.count_nonzero(a | b)
        if union and a.any() and b.any():
            best = max(best, np.count_nonzero(a & b) / union)
    return best


def _same_division(pred, true, p: Division, g: Division, min_iou: float) -> bool:
    before = min(p.frame, g.frame) - 1
    if _iou(pred, true, p.mother, g.mother, (before, before - 1)) < min_iou:
        return False
    if len(p.daughters) != len(g.daughters):
        return False
    after = max(p.frame, g.frame)
    used = set()
    for true_daughter in g.daughters:
        match = [d for d in p.daughters if d not in used
                 and _iou(pred, true, d, true_daughter, (after, after + 1)) >= min_iou]
        if not match:
            return False
        used.add(match[0])
    return True


def match_divisions(pred_labels, pred_lineage: Lineage, true_labels, true_lineage: Lineage,
                    tolerance: int = 1, min_iou: float = 0.5) -> dict:
    """Division recall and precision.

    Parameters
    ----------
    pred_labels, true_labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Track ids consistent over time (read frame by frame, only around divisions).
    pred_lineage, true_lineage : Lineage
    tolerance : int
        Frames by which a predicted division may be early or late.
    min_iou : float
        Overlap for two masks to be the same cell (0.5 or more keeps pairs unique).

    Returns
    -------
    dict
        ``division_recall`` (matched / true; nan without true divisions),
        ``division_precision`` (matched / predicted; nan without predicted ones),
        ``true_divisions``, ``predicted_divisions``, ``matched_divisions``.
    """
    pred, true = _Frames(pred_labels), _Frames(true_labels)
    truth, predicted = divisions(true_lineage), divisions(pred_lineage)
    candidates = sorted(((abs(p.frame - g.frame), i, j) for i, p in enumerate(predicted)
                         for j, g in enumerate(truth) if abs(p.frame - g.frame) <= tolerance))
    used_pred, used_true = set(), set()
    for _, i, j in candidates:
        if i in used_pred or j in used_true:
            continue
        if _same_division(pred, true, predicted[i], truth[j], min_iou):
            used_pred.add(i), used_true.add(j)
    matched = len(used_true)
    return {"division_recall": matched / len(truth) if truth else float("nan"),
            "division_precision": matched / len(predicted) if predicted else float("nan"),
            "true_divisions": len(truth), "predicted_divisions": len(predicted),
            "matched_divisions": matched}


def score_tracking(pred_labels, pred_lineage: Lineage | None, true_labels, true_lineage: Lineage,
                   metrics=("DET", "SEG", "TRA"), workdir=None, threads: int = 1,
                   tolerance: int = 1) -> dict:
    """CTC DET / SEG / TRA (py-ctcmetrics) and division recall / precision.

    Parameters
    ----------
    pred_labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        The result: track ids consistent over time.
    pred_lineage : Lineage or None
        Its divisions (None: no divisions).
    true_labels : array-like of int, same shape
        The truth, a full segmentation of every frame.
    true_lineage : Lineage
    metrics : sequence of str
        py-ctcmetrics metric names.
    workdir : str or Path, optional
        Where to write ``01_GT`` and ``01_RES`` (kept); default a temporary folder.
    threads : int
        py-ctcmetrics worker processes.
    tolerance : int
        Frames of slack for divisions (:func:`match_divisions`).

    Returns
    -------
    dict
        ``{metric: float}`` plus the keys of :func:`match_divisions`. A result
        without any cell scores 0 on every CTC metric.
    """
    if np.shape(pred_labels) != np.shape(true_labels):
        raise ValueError(f"result shape {np.shape(pred_labels)} differs from the truth's "
                         f"{np.shape(true_labels)}")
    pred_lineage = pred_lineage or Lineage()
    scores = match_divisions(pred_labels, pred_lineage, true_labels, true_lineage, tolerance)
    empty = not any(np.asarray(pred_labels[t]).any() for t in range(len(pred_labels)))
    if empty:
        return {m: 0.0 for m in metrics} | scores
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(workdir) if workdir is not None else Path(scratch)
        write_ctc_ground_truth(true_labels, true_lineage, root / "01_GT", overwrite=True)
        write_ctc_folder(pred_labels, pred_lineage, root / "01_RES", overwrite=True)
        ctc = score_ctc(root / "01_GT", root / "01_RES", metrics, threads=threads)
    return ctc | scores
