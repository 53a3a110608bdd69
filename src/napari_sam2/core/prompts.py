"""Prompts in frame pixel coordinates: points, boxes and masks.

Coordinates are ``(row, col)`` of the frame, the centre of pixel ``(r, c)``
being ``(r, c)``. Boxes are ``(row_min, col_min, row_max, col_max)`` with both
corners inside the box. Nothing here knows about the model's (x, y) order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

__all__ = ["FramePrompt", "ModelPrompt", "PromptWarning", "check_prompt", "excluded_points", "as_points",
           "as_box"]


def as_points(points, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 2)`` float32 points and ``(N,)`` int32 labels (default all 1), or a clear error.

    Parameters
    ----------
    points : array-like
        ``[row, col]`` pairs (one pair may be given flat).
    labels : array-like, optional
        1 positive, 0 negative, one per point.
    """
    try:
        pts = np.asarray(points, np.float32)
    except (TypeError, ValueError):
        pts = None
    if pts is None or pts.size % 2 or pts.ndim > 2 or (pts.ndim == 2 and pts.shape[1] != 2):
        raise InputError("points must be [row, col] pairs of numbers")
    pts = pts.reshape(-1, 2)
    if labels is None:
        return pts, np.ones(len(pts), np.int32)
    lab = np.asarray(labels).reshape(-1)
    if lab.dtype.kind not in "biuf" or not np.isin(lab, (0, 1)).all():
        raise InputError("point labels must be 1 (positive) or 0 (negative)")
    return pts, lab.astype(np.int32)


def as_box(box) -> tuple[float, float, float, float]:
    """``(row_min, col_min, row_max, col_max)`` as floats, or a clear error."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4:
        raise InputError("a box is [row_min, col_min, row_max, col_max]")
    return values


class PromptWarning(UserWarning):
    """The model's answer contradicts a prompt (a positive point outside the mask)."""


@dataclass(frozen=True, eq=False)
class FramePrompt:
    """Everything the user said about one object on one frame.

    Parameters
    ----------
    points : array of shape (N, 2)
        ``(row, col)`` pixel coordinates.
    labels : array of shape (N,)
        1 for a positive point (object), 0 for a negative one (background).
    box : tuple of 4 floats, optional
        ``(row_min, col_min, row_max, col_max)``.
    mask : bool array of the frame's shape, optional
        A mask prompt; it replaces points and box on that frame.
    """

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None

    @property
    def is_empty(self) -> bool:
        """True when the prompt holds no point, box or mask."""
        return len(self.points) == 0 and self.box is None and self.mask is None

    def with_points(self, points, labels=None) -> FramePrompt:
        """A copy with more points, the box kept (a mask prompt is dropped)."""
        points, labels = as_points(points, labels)
        return FramePrompt(np.concatenate([self.points, points]),
                           np.concatenate([self.labels, labels]), self.box, None)

    def with_box(self, box) -> FramePrompt:
        """A copy with the box replaced, the points kept (a mask prompt is dropped)."""
        return FramePrompt(self.points, self.labels, as_box(box), None)


@dataclass(frozen=True, eq=False)
class ModelPrompt:
    """A prompt in the model's input space: (x, y) pixels of the resized square image."""

    points_xy: np.ndarray
    labels: np.ndarray
    box_xyxy: np.ndarray | None = None
    mask: np.ndarray | None = None


def check_prompt(prompt: FramePrompt, frame_shape: tuple[int, int], where: str) -> None:
    """Raise :class:`InputError` if ``prompt`` does not fit a frame of ``frame_shape``.

    Parameters
    ----------
    prompt : FramePrompt
        The prompt to check.
    frame_shape : (rows, cols)
        The frame's size.
    where : str
        Names the object and frame in the message, e.g. ``"object 2, frame 7"``.
    """
    rows, cols = frame_shape
    if prompt.is_empty:
        raise InputError(f"{where}: the prompt has no point, box or mask")
    if prompt.points.ndim != 2 or prompt.points.shape[1] != 2:
        raise InputError(f"{where}: points must be a list of [row, col] pairs")
    if len(prompt.labels) != len(prompt.points):
        raise InputError(
            f"{where}: {len(prompt.points)} points but {len(prompt.labels)} labels; "
            "give one label (1 positive, 0 negative) per point"
        )
    if not np.isin(prompt.labels, (0, 1)).all():
        raise InputError(f"{where}: point labels must be 1 (positive) or 0 (negative)")
    if not np.isfinite(prompt.points).all():
        raise InputError(f"{where}: point coordinates must be finite numbers")
    outside = (prompt.points < -0.5).any(axis=1) | (prompt.points[:, 0] > rows - 0.5) | (
        prompt.points[:, 1] > cols - 0.5
    )
    if outside.any():
        r, c = prompt.points[np.argmax(outside)]
        raise InputError(
            f"{where}: point ({r:g}, {c:g}) lies outside the {rows} x {cols} frame; "
            "points are [row, col] pixel coordinates"
        )
    if prompt.box is not None:
        r0, c0, r1, c1 = prompt.box
        if not (r0 <= r1 and c0 <= c1):
            raise InputError(f"{where}: box {prompt.box} must be [row_min, col_min, row_max, col_max]")
        if r0 < -0.5 or c0 < -0.5 or r1 > rows - 0.5 or c1 > cols - 0.5:
            raise InputError(f"{where}: box {prompt.box} reaches outside the {rows} x {cols} frame")
    if prompt.mask is not None:
        if prompt.mask.shape != (rows, cols):
            raise InputError(
                f"{where}: mask shape {prompt.mask.shape} differs from the frame shape {(rows, cols)}"
            )


def excluded_points(prompt: FramePrompt, mask, earlier: FramePrompt | None = None) -> list[tuple[int, int]]:
    """The positive points of ``prompt`` whose pixel lies outside ``mask``.

    Parameters
    ----------
    prompt : FramePrompt
    mask : bool array (rows, cols)
        The object's mask on the prompted frame.
    earlier : FramePrompt, optional
        The prompt it replaces: its points are left out (they were checked when they were new).

    Returns
    -------
    list of (row, col)
        Pixel of each excluded positive point (the point rounded to its pixel).
    """
    mask = np.asarray(mask, bool)
    known = set() if earlier is None else {tuple(p) for p in earlier.points.tolist()}
    out = []
    for (row, col), label in zip(prompt.points, prompt.labels, strict=True):
        if (row, col) in known:
            continue
        r = min(max(int(round(float(row))), 0), mask.shape[0] - 1)
        c = min(max(int(round(float(col))), 0), mask.shape[1] - 1)
        if label == 1 and not mask[r, c]:
            out.append((r, c))
    return out
