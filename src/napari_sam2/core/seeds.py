"""Seeds of a track-all run: automatic masks from a grid of points, or masks from a label image.

Automatic seeds follow SAM's automatic mask generator: a grid of single-point
prompts on one frame, decoded in batches on the frame's one image embedding
(every candidate of the multimask output), kept when the model's predicted IoU
and the mask's *stability* (the IoU between the mask thresholded at
``+offset`` and at ``-offset`` of the logits) are high enough and its area is
within bounds, then de-duplicated by non-maximum suppression on mask IoU
(and containment: a part of a kept cell is not a second cell). The kept masks
are made exclusive (each pixel to the best-scored mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .sink import LABEL_DTYPE

__all__ = ["SeedParams", "MAX_SEEDS", "grid_points", "grid_seeds", "filter_candidates", "seeds_from_labels",
           "check_seed_count", "stability_score"]

#: most objects one run tracks (each costs a memory-attention pass per frame: see docs/track.md)
MAX_SEEDS = 1000


@dataclass(frozen=True)
class SeedParams:
    """How automatic seeds are found (defaults measured on the synthetic time-lapse, docs/track.md).

    Attributes
    ----------
    points_per_side : int
        Grid of ``points_per_side x points_per_side`` point prompts over the frame.
    batch : int
        Points decoded at once.
    pred_iou : float
        Minimum predicted IoU of a candidate mask.
    stability : float
        Minimum stability score.
    stability_offset : float
        Logit offset of the stability score.
    nms_iou : float
        Two masks with a higher mask IoU are one object (the better scored stays).
    contained : float
        A mask lying this much (share of its own area) inside a better one is dropped.
    min_area, max_area : int or float
        Area bounds in frame pixels; ``max_area`` below 1 is a share of the frame.
    """

    points_per_side: int = 16
    batch: int = 64
    pred_iou: float = 0.7
    stability: float = 0.6
    stability_offset: float = 1.0
    nms_iou: float = 0.5
    contained: float = 0.7
    min_area: int = 30
    max_area: float = 0.2


def grid_points(frame_shape: tuple[int, int], per_side: int, free: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2)`` ``(row, col)`` centres of a ``per_side`` grid's cells, on ``free`` pixels only."""
    rows, cols = frame_shape
    r = ((np.arange(per_side) + 0.5) * rows / per_side).astype(int)
    c = ((np.arange(per_side) + 0.5) * cols / per_side).astype(int)
    points = np.stack(np.meshgrid(r, c, indexing="ij"), -1).reshape(-1, 2)
    if free is not None:
        points = points[free[points[:, 0], points[:, 1]]]
    return points


def stability_score(logits: np.ndarray, offset: float) -> np.ndarray:
    """Per mask ``(n, h, w)``: area above ``+offset`` over area above ``-offset`` (1 when both empty)."""
    high = (logits > offset).sum(axis=(-2, -1))
    low = (logits > -offset).sum(axis=(-2, -1))
    return np.where(low > 0, high / np.maximum(low, 1), 1.0)


def grid_seeds(tracker, geometry, frame: int, params: SeedParams = SeedParams(),
               free: np.ndarray | None = None) -> list[np.ndarray]:
    """Automatic seed masks on ``frame``, best first (frame-sized bool arrays, disjoint).

    Parameters
    ----------
    tracker
        Has ``decode_points(frame, points_xy) -> (logits, ious, presence)``
        (:meth:`~.tracker.TransformersTracker.decode_points`).
    geometry : FrameGeometry
        Frame <-> model coordinates.
    frame : int
    params : SeedParams
    free : bool array (rows, cols), optional
        Where grid points may lie (e.g. not on tracked cells).
    """
    points = grid_points(geometry.frame_shape, params.points_per_side, free)
    logits, scores = [], []
    for start in range(0, len(points), params.batch):
        xy = geometry.points_to_model(points[start:start + params.batch])
        low, ious, presence = tracker.decode_points(frame, xy)
        low, ious = low.reshape(-1, *low.shape[-2:]), ious.reshape(-1)
        present = np.repeat(presence > 0, len(ious) // max(len(presence), 1))
        keep = present & (ious >= params.pred_iou)
        keep &= stability_score(low, params.stability_offset) >= params.stability
        logits.append(low[keep])
        scores.append(ious[keep])
    if not logits or not sum(len(s) for s in scores):
        return []
    logits, scores = np.concatenate(logits), np.concatenate(scores)
    order = np.argsort(-scores, kind="stable")
    masks = [geometry.logits_to_frame(logits[i:i + 1])[0] > 0 for i in order]
    return filter_candidates(masks, params)


def filter_candidates(masks: list[np.ndarray], params: SeedParams) -> list[np.ndarray]:
    """Area bounds, NMS on mask IoU and containment, then exclusive pixels; ``masks`` best first."""
    frame_area = masks[0].size if masks else 1
    max_area = params.max_area * frame_area if params.max_area < 1 else params.max_area
    kept: list[np.ndarray] = []
    taken = np.zeros(masks[0].shape, bool) if masks else None
    for mask in masks:
        area = int(mask.sum())
        if not params.min_area <= area <= max_area:
            continue
        if any(_overlaps(mask, area, other, params) for other in kept):
            continue
        kept.append(mask)
    out = []
    for mask in kept:
        own = mask & ~taken
        if own.sum() >= max(params.min_area, 0.5 * mask.sum()):
            out.append(own)
            taken |= own
    return out


def _overlaps(mask: np.ndarray, area: int, other: np.ndarray, params: SeedParams) -> bool:
    inter = int(np.count_nonzero(mask & other))
    if not inter:
        return False
    union = area + int(other.sum()) - inter
    return inter / union > params.nms_iou or inter / area > params.contained


def check_seed_count(n: int, limit: int = MAX_SEEDS) -> None:
    """Refuse more than ``limit`` seeds, in one line saying what to do."""
    if n > limit:
        raise InputError(f"{n} seeds: more than the {limit} objects one track run follows (each costs a "
                         "model pass per frame); crop the image or split the labels into regions")


def seeds_from_labels(labels, frame_shape: tuple[int, int], frame: int = 0, n_frames: int | None = None,
                      source: str = "seeds") -> dict[int, np.ndarray]:
    """Seed masks ``{id: bool mask}`` from a label image (Cellpose, StarDist, manual...).

    Parameters
    ----------
    labels : array-like
        ``(rows, cols)``, or a stack ``(n_frames, rows, cols)`` from which ``frame`` is taken.
    frame_shape : (rows, cols)
        The stack's frame shape.
    frame : int
        The frame the seeds are on.
    n_frames : int, optional
        Frames of the stack (to check a label stack).
    source : str
        How to name the labels in errors.
    """
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]
    if labels.ndim == 3:
        if n_frames is not None and labels.shape[0] != n_frames:
            raise InputError(f"{source} has shape {labels.shape}: a label stack needs {n_frames} frames of "
                             f"{frame_shape}, or give one label image {frame_shape}")
        labels = labels[frame]
    if labels.shape != tuple(frame_shape):
        raise InputError(f"{source} has shape {labels.shape}, the frames are {tuple(frame_shape)}: give a "
                         "label image of the frame's shape (check the axes)")
    if labels.dtype.kind == "f":
        if not np.all(np.mod(labels, 1) == 0):
            raise InputError(f"{source} holds fractional values: it must be a label image (integer ids)")
    elif labels.dtype.kind not in "iub":
        raise InputError(f"{source} has dtype {labels.dtype}: it must be a label image (integer ids)")
    top = np.iinfo(LABEL_DTYPE).max
    low, high = (labels.min(), labels.max()) if labels.size else (0, 0)
    if low < 0:
        raise InputError(f"{source} has negative ids (min {low}): label ids are 1 to {top}, 0 background")
    if high > top:
        raise InputError(f"{source} has ids up to {int(high)}, above {top} (uint16 labels): relabel them "
                         "1..N (skimage.segmentation.relabel_sequential)")
    labels = labels.astype(LABEL_DTYPE)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    check_seed_count(len(ids))
    return {int(i): labels == i for i in ids}
