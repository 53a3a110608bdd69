"""A test double at the model boundary that follows a scripted label stack (the "world").

The model space is the frame (square frames of ``image_size``, logits at full
resolution), so prompts and masks pass unchanged. A tracked object follows
the world's cell that overlaps its last mask most; a point prompt
(``decode_points``) returns the cell under the point. Divisions, entering and
vanishing cells are written into the world's labels.
"""

from __future__ import annotations

import numpy as np

from napari_sam2.core.tracker import TrackOutput


class WorldTracker:
    """Follows ``world`` (uint16 ``(frames, size, size)``): each object stays on its cell."""

    def __init__(self, world: np.ndarray, iou: float = 0.95):
        self.world = np.asarray(world)
        self.image_size = self.world.shape[-1]
        self.iou = iou
        self.last: dict[int, np.ndarray] = {}
        self.steps: list[tuple[int, tuple[int, ...]]] = []
        self.decoded: list[int] = []

    def attach(self, source):
        self.source = source

    def _mask(self, frame, previous):
        under = self.world[frame][previous]
        under = under[under > 0]
        if not len(under):
            return np.zeros(self.world.shape[1:], bool)
        return self.world[frame] == np.bincount(under).argmax()

    def step(self, frame, steps, reverse):
        self.steps.append((frame, tuple(s.obj_id for s in steps)))
        masks = []
        for s in steps:
            if s.prompt is not None and s.prompt.mask is not None:
                mask = s.prompt.mask > 0
            else:
                mask = self._mask(frame, self.last.get(s.obj_id, np.zeros(self.world.shape[1:], bool)))
            self.last[s.obj_id] = mask
            masks.append(mask)
        logits = np.where(np.array(masks), 10.0, -10.0).astype(np.float32)
        presence = np.array([5.0 if m.any() else -5.0 for m in masks], np.float32)
        return TrackOutput(logits, presence, np.full(len(masks), self.iou, np.float32))

    def decode_points(self, frame, points_xy):
        self.decoded.append(frame)
        cols, rows = np.floor(np.asarray(points_xy)).astype(int).T
        ids = self.world[frame][rows, cols]
        masks = np.array([self.world[frame] == i if i else np.zeros(self.world.shape[1:], bool) for i in ids])
        logits = np.where(masks, 10.0, -10.0).astype(np.float32)[:, None]
        ious = np.where(ids > 0, 0.95, 0.1).astype(np.float32)[:, None]
        return logits, ious, np.where(ids > 0, 5.0, -5.0).astype(np.float32)

    def forget(self, obj_id, frames):
        pass

    def forget_object(self, obj_id):
        self.last.pop(obj_id, None)

    def encode(self, frame):
        pass


def disk(shape, centre, radius):
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius ** 2


def world_with_events(n_frames=12, size=96):
    """Cells 1 (moving right), 2 (divides on frame 5 into 4 and 5), 3 (vanishes after frame 7,
    inside the field), 6 (enters on frame 6 at the top edge)."""
    world = np.zeros((n_frames, size, size), np.uint16)
    for t in range(n_frames):
        frame = world[t]
        frame[disk(frame.shape, (20, 15 + 2 * t), 7)] = 1
        if t < 5:
            frame[disk(frame.shape, (60, 30), 8)] = 2
        elif t == 5:  # the mother in two parts (one label) on the frame it divides
            frame[disk(frame.shape, (60, 22), 6)] = 2
            frame[disk(frame.shape, (60, 38), 6)] = 2
        else:
            frame[disk(frame.shape, (60, 22 - (t - 5)), 6)] = 4
            frame[disk(frame.shape, (60, 38 + (t - 5)), 6)] = 5
        if t <= 7:
            frame[disk(frame.shape, (70, 75), 7)] = 3
        if t >= 6:
            frame[disk(frame.shape, (4 + 3 * (t - 6), 60), 7)] = 6
    return world
