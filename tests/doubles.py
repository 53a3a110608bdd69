"""A test double at the model boundary: paints a disk where the prompt is.

It implements the ``Tracker`` protocol in model space exactly like the real
adapter: prompts arrive as (x, y) in the model's square input, and it returns
low-resolution logits (``image_size // 4``). The disk of an object moves by
``drift`` model pixels along x per frame away from the frame it was prompted
on, so the written labels reveal the frame order and coordinates exactly.
"""

from __future__ import annotations

import numpy as np

from napari_sam2.core.tracker import TrackOutput


class DiskTracker:
    """Fake tracker: disk of ``radius`` model pixels at the object's last positive point."""

    def __init__(self, image_size=256, radius=16.0, drift=4.0, absent=None, offset=0.0):
        self.image_size = image_size
        self.radius = radius
        self.drift = drift
        self.offset = offset  # model pixels along x between the clicked point and the disk
        self.absent = absent or {}  # obj_id -> frames where the object is absent
        self.calls = []  # (frame, obj_ids, reverse, prompted, use_memory)
        self.anchor = {}  # obj_id -> (frame, x, y) of its latest prompt
        self.forgotten = []
        self.prompts = []  # (frame, obj_id, ModelPrompt) of every prompted step
        self.source = None

    def attach(self, source):
        self.source = source

    def step(self, frame, steps, reverse):
        self.source.frame(frame)  # read like the real model does
        self.calls.append((frame, tuple(s.obj_id for s in steps), reverse,
                           tuple(s.prompt is not None for s in steps),
                           tuple(s.use_memory for s in steps)))
        low = self.image_size // 4
        yy, xx = np.mgrid[0:low, 0:low] + 0.5  # low-res pixel centres, in low-res pixels
        logits, presence = [], []
        for step in steps:
            if step.prompt is not None:
                self.prompts.append((frame, step.obj_id, step.prompt))
                if step.prompt.box_xyxy is not None:
                    x0, y0, x1, y1 = step.prompt.box_xyxy
                    x, y = (x0 + x1) / 2, (y0 + y1) / 2
                elif step.prompt.mask is not None:
                    ys, xs = np.nonzero(step.prompt.mask)
                    x, y = xs.mean() + 0.5, ys.mean() + 0.5
                else:
                    pos = step.prompt.points_xy[step.prompt.labels == 1]
                    x, y = pos[-1] if len(pos) else self._position(step.obj_id, frame)
                self.anchor[step.obj_id] = (frame, x, y)
            x, y = self._position(step.obj_id, frame)
            d2 = (xx - x / 4) ** 2 + (yy - y / 4) ** 2
            logits.append(np.where(d2 <= (self.radius / 4) ** 2, 10.0, -10.0))
            presence.append(-5.0 if frame in self.absent.get(step.obj_id, ()) else 5.0)
        return TrackOutput(np.array(logits, np.float32), np.array(presence, np.float32))

    def _position(self, obj_id, frame):
        f0, x, y = self.anchor[obj_id]
        return x + self.offset + self.drift * (frame - f0), y

    def forget(self, obj_id, frames):
        self.forgotten.append((obj_id, sorted(frames)))

    def forget_object(self, obj_id):
        self.anchor.pop(obj_id, None)
        self.forgotten.append((obj_id, "all"))

    def encode(self, frame):
        self.source.frame(frame)


def cancel_propagation_after(monkeypatch, frames: int):
    """Make ``Session.propagate`` raise KeyboardInterrupt (a Ctrl+C) after ``frames`` frames.

    Returns the original method, to put back for a resumed run.
    """
    from napari_sam2.core.session import Session

    original = Session.propagate

    def cancelled(self, direction="both"):
        for n, result in enumerate(original(self, direction)):
            if n == frames:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(Session, "propagate", cancelled)
    return original
