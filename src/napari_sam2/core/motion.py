"""Box motion for the ``motion`` memory policy: a constant-velocity Kalman filter on boxes.

The ``motion`` policy (:class:`~.motion_memory.MotionMemory`) follows the
idea of SAMURAI (Yang et al. 2024, arXiv 2411.11922), written here from the
paper's description: the filter predicts each object's box on the next
frame, and candidate masks whose box agrees with the prediction are preferred.
Velocity is per frame index, so going backward predicts with ``dt = -1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxKalman", "box_iou", "box_of"]


class BoxKalman:
    """Constant-velocity Kalman filter on ``(centre row, centre col, height, width)``.

    Noise scales with the box size (as in SORT-style trackers).
    """

    pos_noise, vel_noise = 1 / 20, 1 / 160

    @staticmethod
    def measure(box: np.ndarray) -> np.ndarray:
        """``(r0, c0, r1, c1)`` to ``(cr, cc, h, w)``."""
        r0, c0, r1, c1 = box
        return np.array([(r0 + r1) / 2, (c0 + c1) / 2, r1 - r0 + 1, c1 - c0 + 1])

    @staticmethod
    def box(mean: np.ndarray) -> np.ndarray:
        """The state's box as ``(r0, c0, r1, c1)``."""
        cr, cc, h, w = mean[:4]
        return np.array([cr - (h - 1) / 2, cc - (w - 1) / 2, cr + (h - 1) / 2, cc + (w - 1) / 2])

    def start(self, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Initial ``(mean, covariance)`` from a first box."""
        z = self.measure(box)
        size = max(z[2], z[3])
        std = np.r_[[2 * self.pos_noise * size] * 4, [10 * self.vel_noise * size] * 4]
        return np.r_[z, np.zeros(4)], np.diag(std ** 2)

    def predict(self, mean, cov, dt: int) -> tuple[np.ndarray, np.ndarray]:
        """The state ``dt`` frames later (negative: earlier)."""
        move = np.eye(8)
        move[:4, 4:] = dt * np.eye(4)
        size = max(mean[2], mean[3], 1.0)
        q = np.diag(np.r_[[self.pos_noise * size] * 4, [self.vel_noise * size] * 4] ** 2)
        return move @ mean, move @ cov @ move.T + q

    def update(self, mean, cov, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct the state with an observed box."""
        size = max(mean[2], mean[3], 1.0)
        h = np.eye(4, 8)
        r = np.diag(np.full(4, self.pos_noise * size) ** 2)
        s = h @ cov @ h.T + r
        gain = cov @ h.T @ np.linalg.inv(s)
        mean = mean + gain @ (self.measure(box) - h @ mean)
        return mean, (np.eye(8) - gain @ h) @ cov


def box_iou(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """IoU of two ``(r0, c0, r1, c1)`` boxes with inclusive ends (0 if either is None)."""
    if a is None or b is None:
        return 0.0
    rows = min(a[2], b[2]) - max(a[0], b[0]) + 1
    cols = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(rows, 0) * max(cols, 0)
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return float(inter / (area - inter)) if area > inter else 0.0


def box_of(mask: np.ndarray) -> np.ndarray | None:
    """``(r0, c0, r1, c1)`` of a bool mask (inclusive ends), None when empty."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    return np.array([rows[0], cols[0], rows[-1], cols[-1]], np.float64)
