"""The ``dam`` memory policy: a distractor-resolving memory beside SAM2's recent frames.

Written from the description of DAM4SAM (Videnovic et al., CVPR 2025, arXiv
2411.17576): SAM2's memory holds only the most recent frames, so once a target
has been next to a look-alike for longer than that window, the memory no
longer shows how the two differ. DAM4SAM splits the memory in a recent
appearance part (kept here as SAM2's own window) and a distractor-resolving
part: frames where a distractor is detected while the target is confidently
tracked, kept for longer.

A distractor is detected on a frame when the object is confidently tracked
(present, the chosen mask's predicted IoU at least ``min_iou`` and its IoU
with the object's mask on the frame before at least ``steady``), and

* an alternative candidate of the mask decoder nearly merged the object with
  something else: it covers most of the chosen mask (``cover``) and is at
  least ``grow`` times its area; or
* another object tracked with it touches it: their masks, dilated by
  ``touch`` low-resolution pixels, overlap.

Such a frame is kept (up to ``slots`` per object, the oldest replaced, at
least ``gap`` frames apart) and the tracker keeps its memory past SAM2's
window and shows it to the model as a conditioning memory (see
:meth:`~.tracker.TransformersTracker._run_object`). Nothing else changes:
the candidate choice is SAM2's and every frame enters the recent memory.
"""

from __future__ import annotations

import numpy as np

from .memory_base import MemoryPolicy, _resize, iou

__all__ = ["DistractorMemory"]


class DistractorMemory(MemoryPolicy):
    """DAM4SAM-like memory (see the module docstring).

    Parameters
    ----------
    slots : int
        Distractor frames kept per object.
    gap : int
        Minimum frames between two kept frames of one object.
    min_iou : float
        Predicted IoU of the kept mask needed (the target confidently tracked).
    cover, grow : float
        An alternative candidate is a near-merge when it holds ``cover`` of the
        chosen mask and is ``grow`` times its area or more.
    touch : int
        Dilation (low-resolution pixels) under which two objects touch.
    steady : float
        IoU with the object's own mask on the frame before needed (confidently tracked).
    """

    name = "dam"
    chooses = settles = True

    def __init__(self, slots: int = 3, gap: int = 3, min_iou: float = 0.7, cover: float = 0.8,
                 grow: float = 1.5, touch: int = 2, steady: float = 0.7):
        super().__init__()
        self.slots, self.gap, self.min_iou = slots, gap, min_iou
        self.cover, self.grow, self.touch, self.steady = cover, grow, touch, steady
        self.kept: dict[int, list[int]] = {}
        self._seen: dict[tuple[int, int], tuple[float, bool]] = {}

    def kept_frames(self, obj_id: int) -> frozenset[int]:
        return frozenset(self.kept.get(obj_id, ()))

    def choose(self, obj_id, frame, reverse, logits, ious, presence):
        chosen = int(np.argmax(ious))
        masks = logits > 0
        own = masks[chosen]
        area = own.sum()
        merged = False
        if area:
            for k, other in enumerate(masks):
                if k != chosen and (other & own).sum() >= self.cover * area \
                        and other.sum() >= self.grow * area:
                    merged = True
        self._seen[(obj_id, frame)] = (float(ious[chosen]), merged)
        return None  # SAM2's own choice

    def settle(self, frame, reverse, objects):
        low = [_dilate(_resize(o.logits > 0, _low_shape(o.logits.shape)), self.touch)
               if o.presence > 0 else None for o in objects]
        for i, obj in enumerate(objects):
            seen = self._seen.pop((obj.obj_id, frame), None)
            if obj.prompted:  # a prompted frame is a conditioning memory anyway
                self.forget(obj.obj_id, [frame])
            if obj.prompted or seen is None or obj.presence <= 0 or low[i] is None:
                continue
            quality, merged = seen
            prev = self.previous(obj.obj_id, frame, reverse)
            if quality < self.min_iou or prev is None or not prev.mask.any():
                continue
            if iou(_resize(obj.logits > 0, prev.mask.shape), prev.mask) < self.steady:
                continue  # not confidently tracked: the mask changed too much since the frame before
            touching = any(m is not None and j != i and (m & low[i]).any() for j, m in enumerate(low))
            if merged or touching:
                self._keep(obj.obj_id, frame)

    def _keep(self, obj_id: int, frame: int) -> None:
        frames = self.kept.setdefault(obj_id, [])
        if any(abs(frame - f) < self.gap for f in frames):
            return
        frames.append(frame)
        if len(frames) > self.slots:
            frames.pop(0)

    def reset(self) -> None:
        super().reset()
        self.kept.clear()
        self._seen.clear()

    def forget(self, obj_id: int, frames=None) -> None:
        super().forget(obj_id, frames)
        if frames is None:
            self.kept.pop(obj_id, None)
            return
        stale = set(frames)
        if obj_id in self.kept:
            self.kept[obj_id] = [f for f in self.kept[obj_id] if f not in stale]


def _low_shape(shape) -> tuple[int, int]:
    """A quarter of the mask's size (the decoder's low resolution for high-res logits), at least 1."""
    return max(shape[0] // 4, 1), max(shape[1] // 4, 1)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square dilation of a bool mask by ``radius`` pixels (shifts, no scipy)."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        out = grown
    return out
