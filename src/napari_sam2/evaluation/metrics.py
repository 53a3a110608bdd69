"""DAVIS semi-supervised video object segmentation metrics: J, F and J&F.

Conventions follow the DAVIS reference evaluation (davis2017-evaluation):

* J is the mask IoU; a frame where ground truth and prediction are both empty
  scores 1.
* F is the F-measure of boundary precision and recall. Boundaries are the
  one-pixel maps of ``seg2bmap``; a boundary pixel is matched when a pixel of
  the other boundary lies within a disk of radius ``ceil(0.008 * diagonal)``
  (``x**2 + y**2 <= r**2``), which is the same as dilating the other boundary
  with that disk. No thinning is applied (the 2017 code does not thin).
* Sequence statistics use frames ``1 .. n-2`` (the prompted first frame and
  the last frame are excluded): mean, recall (fraction of frames > 0.5) and
  decay (mean of the first quarter minus mean of the last quarter).
* A label stack is scored per object id (one binary mask per id); sequence
  means are the means over objects and J&F is the mean of J-mean and F-mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

BOUNDARY_TOLERANCE = 0.008


def jaccard(gt, pred) -> float:
    """Region similarity J (intersection over union) of two binary masks.

    Parameters
    ----------
    gt, pred : array_like of bool, shape (Y, X)
        Ground-truth and predicted masks (nonzero is foreground).

    Returns
    -------
    float
        ``|gt & pred| / |gt | pred|``; 1.0 when both masks are empty.
    """
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"shapes differ: ground truth {gt.shape}, prediction {pred.shape}")
    union = np.count_nonzero(gt | pred)
    if union == 0:
        return 1.0
    return np.count_nonzero(gt & pred) / union


def seg2bmap(mask) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask, as in DAVIS ``seg2bmap``.

    A pixel is on the boundary when it differs from its right, lower or
    lower-right neighbour; outside the image the nearest border pixel is
    repeated, so the image border itself is never a boundary.

    Parameters
    ----------
    mask : array_like, shape (Y, X)
        Binary mask (nonzero is foreground).

    Returns
    -------
    numpy.ndarray of bool, shape (Y, X)
    """
    seg = np.asarray(mask, dtype=bool)
    padded = np.pad(seg, ((0, 1), (0, 1)), mode="edge")
    right, down, diag = padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]
    return (seg != right) | (seg != down) | (seg != diag)


def boundary_radius(shape, bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """Matching radius in pixels: ``bound_th`` if >= 1, else ``ceil(bound_th * diagonal)``.

    Parameters
    ----------
    shape : tuple of int
        Image shape (Y, X).
    bound_th : float
        Tolerance as a fraction of the image diagonal, or in pixels when >= 1.
        Use whole pixels: for a fractional pixel radius the DAVIS code builds
        an even-sized, off-centre disk, while this module uses a true
        Euclidean disk, so the two differ there.

    Returns
    -------
    float
    """
    return float(bound_th) if bound_th >= 1 else float(np.ceil(bound_th * np.hypot(*shape[-2:])))


def _matched(source: np.ndarray, target: np.ndarray, radius: float) -> int:
    """Number of ``source`` pixels with a ``target`` pixel within ``radius`` (Euclidean)."""
    if not target.any():
        return 0
    dist = ndimage.distance_transform_edt(~target)
    return int(np.count_nonzero(dist[source] <= radius))


def boundary_f(gt, pred, bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """Boundary F-measure of a predicted mask against the ground truth.

    Parameters
    ----------
    gt, pred : array_like of bool, shape (Y, X)
        Ground-truth and predicted masks (nonzero is foreground).
    bound_th : float
        Boundary tolerance as a fraction of the image diagonal (DAVIS: 0.008),
        or in pixels when >= 1.

    Returns
    -------
    float
        ``2 P R / (P + R)``; 1.0 when both boundaries are empty and 0.0 when
        only one of them is.
    """
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"shapes differ: ground truth {gt.shape}, prediction {pred.shape}")
    radius = boundary_radius(gt.shape, bound_th)
    gt_b, pred_b = seg2bmap(gt), seg2bmap(pred)
    n_gt, n_pred = np.count_nonzero(gt_b), np.count_nonzero(pred_b)
    if n_gt == 0 or n_pred == 0:
        return 1.0 if n_gt == n_pred else 0.0
    # Both boundaries are non-empty: crop to their joint bounding box (distances inside it are exact).
    rows = np.flatnonzero((gt_b | pred_b).any(axis=1))
    cols = np.flatnonzero((gt_b | pred_b).any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    gt_b, pred_b = gt_b[box], pred_b[box]
    precision = _matched(pred_b, gt_b, radius) / n_pred
    recall = _matched(gt_b, pred_b, radius) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def statistics(values) -> dict:
    """DAVIS mean, recall and decay of per-frame scores.

    Parameters
    ----------
    values : array_like of float, shape (N,)
        Per-frame J or F values of the evaluated frames.

    Returns
    -------
    dict
        ``mean``; ``recall``, the fraction of frames scoring above 0.5; and
        ``decay``, the mean of the first of four overlapping temporal bins
        minus the mean of the last one (NaN values are ignored).
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return {"mean": float("nan"), "recall": float("nan"), "decay": float("nan")}
    # Bin edges as in the DAVIS toolkit: 5 points spread over 1..N, rounded half up, 0-based,
    # each bin including its right edge.
    edges = (np.round(np.linspace(1, values.size, 5) + 1e-10) - 1).astype(int)
    first, last = values[edges[0] : edges[1] + 1], values[edges[3] : edges[4] + 1]
    return {
        "mean": float(np.nanmean(values)),
        "recall": float(np.mean(values > 0.5)),
        "decay": float(np.nanmean(first) - np.nanmean(last)),
    }


@dataclass(frozen=True)
class ObjectScores:
    """Per-frame J and F of one object over the evaluated frames.

    Attributes
    ----------
    frames : numpy.ndarray of int
        Indices of the evaluated frames.
    j, f : numpy.ndarray of float
        Per-frame region similarity and boundary F-measure.
    """

    frames: np.ndarray
    j: np.ndarray
    f: np.ndarray

    @property
    def j_stats(self) -> dict:
        """Mean, recall and decay of J."""
        return statistics(self.j)

    @property
    def f_stats(self) -> dict:
        """Mean, recall and decay of F."""
        return statistics(self.f)

    @property
    def j_and_f(self) -> float:
        """Mean of J-mean and F-mean."""
        return (self.j_stats["mean"] + self.f_stats["mean"]) / 2


@dataclass(frozen=True)
class SequenceScores:
    """DAVIS scores of a sequence: one :class:`ObjectScores` per object id."""

    objects: dict = field(default_factory=dict)

    def _mean(self, metric: str, stat: str) -> float:
        if not self.objects:
            return float("nan")
        return float(np.mean([getattr(o, f"{metric}_stats")[stat] for o in self.objects.values()]))

    def summary(self) -> dict:
        """Sequence means over objects, in the DAVIS table layout.

        Returns
        -------
        dict
            Keys ``J&F-Mean``, ``J-Mean``, ``J-Recall``, ``J-Decay``,
            ``F-Mean``, ``F-Recall``, ``F-Decay``.
        """
        out = {}
        for metric in ("j", "f"):
            for stat in ("mean", "recall", "decay"):
                out[f"{metric.upper()}-{stat.capitalize()}"] = self._mean(metric, stat)
        return {"J&F-Mean": (out["J-Mean"] + out["F-Mean"]) / 2, **out}

    @property
    def j_mean(self) -> float:
        """Mean over objects of the J-mean."""
        return self._mean("j", "mean")

    @property
    def f_mean(self) -> float:
        """Mean over objects of the F-mean."""
        return self._mean("f", "mean")

    @property
    def j_and_f(self) -> float:
        """Mean of :attr:`j_mean` and :attr:`f_mean`."""
        return (self.j_mean + self.f_mean) / 2


def _evaluated_frames(n: int, exclude_ends: bool) -> np.ndarray:
    if not exclude_ends:
        return np.arange(n)
    if n < 3:
        raise ValueError(f"{n} frames: excluding the first and last frame leaves nothing to score")
    return np.arange(1, n - 1)


def _score(gt, pred, object_ids, exclude_ends, bound_th, binary) -> SequenceScores:
    if len(gt) != len(pred):
        raise ValueError(f"frame counts differ: ground truth {len(gt)}, prediction {len(pred)}")
    frames = _evaluated_frames(len(gt), exclude_ends)
    gt_frames = [np.asarray(gt[t]) for t in frames] if object_ids is None else None
    if object_ids is None:
        object_ids = sorted({int(i) for g in gt_frames for i in np.unique(g) if i != 0})
    j = {k: np.empty(len(frames)) for k in object_ids}
    f = {k: np.empty(len(frames)) for k in object_ids}
    for n, t in enumerate(frames):
        g = gt_frames[n] if gt_frames is not None else np.asarray(gt[t])
        p = np.asarray(pred[t])
        for k in object_ids:
            gk, pk = (g != 0, p != 0) if binary else (g == k, p == k)
            j[k][n] = jaccard(gk, pk)
            f[k][n] = boundary_f(gk, pk, bound_th)
    return SequenceScores({k: ObjectScores(frames, j[k], f[k]) for k in object_ids})


def evaluate_masks(gt, pred, exclude_ends: bool = True, bound_th: float = BOUNDARY_TOLERANCE) -> ObjectScores:
    """Score one object given as binary mask stacks.

    Parameters
    ----------
    gt, pred : array_like, shape (T, Y, X)
        Ground-truth and predicted masks (nonzero is foreground); lazy arrays
        are read one frame at a time.
    exclude_ends : bool
        Skip the first and last frame, as in the DAVIS semi-supervised task.
    bound_th : float
        Boundary tolerance, see :func:`boundary_f`.

    Returns
    -------
    ObjectScores
    """
    return _score(gt, pred, [1], exclude_ends, bound_th, binary=True).objects[1]


def evaluate_labels(
    gt,
    pred,
    object_ids=None,
    exclude_ends: bool = True,
    bound_th: float = BOUNDARY_TOLERANCE,
) -> SequenceScores:
    """Score a label stack per object id, DAVIS semi-supervised style.

    Parameters
    ----------
    gt, pred : array_like of int, shape (T, Y, X)
        Ground-truth and predicted label stacks with the same ids for the same
        objects (0 is background); lazy arrays are read one frame at a time.
    object_ids : sequence of int, optional
        Ids to score. Default: every nonzero id of the ground truth in the
        evaluated frames. An id absent from the prediction scores as an empty
        mask.
    exclude_ends : bool
        Skip the first and last frame, as in the DAVIS semi-supervised task.
    bound_th : float
        Boundary tolerance, see :func:`boundary_f`.

    Returns
    -------
    SequenceScores
    """
    ids = None if object_ids is None else [int(k) for k in object_ids]
    return _score(gt, pred, ids, exclude_ends, bound_th, binary=False)


def absent_empty(truth, prediction, object_ids) -> tuple[int, int]:
    """Frames after the first where an object is absent from the truth, and how many of them its
    prediction leaves empty (the "absent-empty" score is their ratio).

    Parameters
    ----------
    truth, prediction : array of int (T, Y, X)
        Label stacks.
    object_ids : iterable of int
        The objects to count (prompted on frame 0).

    Returns
    -------
    (absent, empty) : (int, int)
    """
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    absent = empty = 0
    for obj in object_ids:
        gone = ~(truth == obj).any(axis=(1, 2))
        gone[0] = False
        absent += int(gone.sum())
        empty += int((~(prediction[gone] == obj).any(axis=(1, 2))).sum())
    return absent, empty
