"""Conversions between frame pixels and the model's square input image.

This is the one place where ``(row, col)`` becomes ``(x, y)``: the model
takes points as (x, y) in pixels of its ``image_size x image_size`` input.
Frames are resized to that square without keeping the aspect ratio, as SAM2's
video predictor does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prompts import FramePrompt, ModelPrompt

__all__ = ["FrameGeometry", "BOX_CORNER_LABELS", "points_with_box"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the point labels SAM2 gives a box's top-left and bottom-right corners
BOX_CORNER_LABELS = (2, 3)


def points_with_box(points_xy, labels, box_xyxy=None) -> tuple[np.ndarray, np.ndarray]:
    """Points and a box as the model's one point list: the box is two corner points, first.

    Parameters
    ----------
    points_xy : array (N, 2)
        Model ``(x, y)``.
    labels : array (N,)
        1 positive, 0 negative.
    box_xyxy : array (4,), optional
        ``(x0, y0, x1, y1)``.

    Returns
    -------
    coords : float32 array (M, 2)
    labels : int32 array (M,)
    """
    coords = [np.asarray(points_xy, np.float32).reshape(-1, 2)]
    kinds = [np.asarray(labels, np.int32).reshape(-1)]
    if box_xyxy is not None:
        coords.insert(0, np.asarray(box_xyxy, np.float32).reshape(2, 2))
        kinds.insert(0, np.array(BOX_CORNER_LABELS, np.int32))
    return np.concatenate(coords), np.concatenate(kinds)


@dataclass(frozen=True)
class FrameGeometry:
    """Maps a ``frame_shape`` frame to the model's ``image_size`` square and back."""

    frame_shape: tuple[int, int]
    image_size: int

    @property
    def scale(self) -> np.ndarray:
        """Model pixels per frame pixel along (row, col)."""
        rows, cols = self.frame_shape
        return np.array([self.image_size / rows, self.image_size / cols], np.float32)

    def points_to_model(self, rows_cols: np.ndarray) -> np.ndarray:
        """Pixel centres ``(row, col)`` to model ``(x, y)``."""
        rc = (np.asarray(rows_cols, np.float32).reshape(-1, 2) + 0.5) * self.scale
        return rc[:, ::-1].copy()

    def box_to_model(self, box) -> np.ndarray:
        """``(row_min, col_min, row_max, col_max)`` (inclusive) to model ``(x0, y0, x1, y1)``."""
        r0, c0, r1, c1 = box
        sr, sc = self.scale
        return np.array([c0 * sc, r0 * sr, (c1 + 1) * sc, (r1 + 1) * sr], np.float32)

    def mask_to_model(self, mask: np.ndarray) -> np.ndarray:
        """A frame-sized mask to a binary ``image_size`` square (float32)."""
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(np.asarray(mask, np.float32))[None, None]
        size = (self.image_size, self.image_size)
        out = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (out[0, 0] >= 0.5).float().numpy()

    def prompt_to_model(self, prompt: FramePrompt) -> ModelPrompt:
        """Convert a frame prompt to the model's input space."""
        if prompt.mask is not None:
            return ModelPrompt(
                np.zeros((0, 2), np.float32), np.zeros(0, np.int32), None, self.mask_to_model(prompt.mask)
            )
        box = None if prompt.box is None else self.box_to_model(prompt.box)
        return ModelPrompt(self.points_to_model(prompt.points), prompt.labels.astype(np.int32), box)

    def logits_to_frame(self, logits) -> np.ndarray:
        """Low-resolution mask logits ``(n, h, w)`` to frame-sized logits ``(n, rows, cols)``."""
        import torch
        import torch.nn.functional as F

        t = torch.as_tensor(logits, dtype=torch.float32)[:, None]
        out = F.interpolate(t, size=self.frame_shape, mode="bilinear", align_corners=False)
        return out[:, 0].numpy()

    def image_to_model(self, frame: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        """A ``(row, col, 3)`` frame in [0, 1] to the model's normalised ``(3, S, S)`` tensor."""
        import torch
        import torch.nn.functional as F

        t = torch.from_numpy(np.ascontiguousarray(frame, np.float32)).permute(2, 0, 1)[None]
        size = (self.image_size, self.image_size)
        shrinking = frame.shape[0] > self.image_size or frame.shape[1] > self.image_size
        t = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=shrinking)
        mean_t = torch.tensor(mean, dtype=torch.float32)[:, None, None]
        std_t = torch.tensor(std, dtype=torch.float32)[:, None, None]
        return (t[0] - mean_t) / std_t
