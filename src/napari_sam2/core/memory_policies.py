"""Memory policies: which candidate mask a tracked object keeps, and what enters SAM2's memory.

SAM2 tracks each object on its own: on every frame the mask decoder proposes
three candidate masks, the one with the highest predicted IoU is kept, and
that mask is encoded into the object's memory whatever it looks like. When a
mask slides onto a touching neighbour, the neighbour enters the memory and the
track follows it from then on. A :class:`MemoryPolicy` is consulted by
:class:`~.tracker.TransformersTracker` on every frame, for all objects of the
frame at once:

1. :meth:`MemoryPolicy.choose` picks one object's candidate mask while it is
   tracked (not on prompted frames: there the user's prompt decides);
2. :meth:`MemoryPolicy.settle` sees every object computed on the frame, may
   remove pixels from an object's mask (a pixel two objects claim belongs to
   one) and may keep a frame out of the memory (``store = False``);
3. :meth:`MemoryPolicy.forget` drops what it keeps about frames that a
   correction made stale;
4. :meth:`MemoryPolicy.kept_frames` names tracked frames whose memory the
   tracker keeps past SAM2's recent window (``dam``, :mod:`.distractor_memory`).

A policy keeps its own per-object history indexed by frame (never a
"previous step"), so forward and backward passes, resumed propagation and
corrections see the right neighbour: the frame before in the direction of
tracking. ``sam2`` is SAM2's own behaviour, exactly (no hooks are installed).
"""

from __future__ import annotations

import numpy as np

from .distractor_memory import DistractorMemory
from .errors import InputError
from .memory_base import SUPPRESSED, MemoryPolicy, ObjectFrame, _resize, iou
from .motion import BoxKalman, box_iou, box_of

__all__ = ["MEMORY_POLICIES", "DEFAULT_MEMORY", "MemoryPolicy", "Sam2Memory", "ExclusiveMemory",
           "CellsMemory", "MotionMemory", "DistractorMemory", "ObjectFrame", "make_policy", "apply_policy",
           "iou"]

Sam2Memory = MemoryPolicy


class ExclusiveMemory(MemoryPolicy):
    """Non-overlap in memory: a pixel claimed by several objects stays only in the highest logit's mask.

    The session already paints such pixels with the highest logit; SAM2's
    memory encoder however sees every object's raw mask, so a mask spreading
    over its neighbour feeds the neighbour into its memory. This is SAM2's
    ``non_overlap_masks_for_mem_enc`` option, applied to objects tracked together.
    """

    name = "exclusive"
    settles = True

    def settle(self, frame, reverse, objects):
        winner = _winners(objects, [None] * len(objects))
        for i, obj in enumerate(objects):
            if not obj.prompted:
                obj.keep = (winner == i) | (winner < 0)


class CellsMemory(MemoryPolicy):
    """Identity for touching cells: the candidate that keeps to the object's own cell.

    * **choice** (``cells``): among the decoder's candidates, the one
      maximising its predicted IoU + its IoU with the object's own mask on the
      previous frame - the share of it lying on other objects' previous masks.
    * **claims** (``cells-claims`` adds them): a pixel two objects claim goes
      to the object whose previous mask held it (the highest logit when
      neither or both did); the loser's mask and memory lose the pixel. A
      frame enters an object's memory only if its mask did not jump: it
      overlaps its own previous mask at least as much as any other object's,
      and its area did not grow more than ``growth`` times.
    """

    name = "cells"
    chooses = settles = True

    def __init__(self, steal_weight: float = 1.0, own_weight: float = 1.0, growth: float = 1.8,
                 claims: bool = False):
        super().__init__()
        self.steal_weight, self.own_weight, self.growth = steal_weight, own_weight, growth
        self.claims = claims
        if claims:
            self.name = "cells-claims"

    def _others(self, obj_id: int, frame: int, reverse: bool) -> np.ndarray | None:
        """Union of the other objects' masks on ``frame`` (where known) or on its predecessor."""
        union = None
        for other, frames in self.history.items():
            if other == obj_id:
                continue
            record = frames.get(frame) or frames.get(frame + 1 if reverse else frame - 1)
            if record is not None:
                union = record.mask.copy() if union is None else union | record.mask
        return union

    def choose(self, obj_id, frame, reverse, logits, ious, presence):
        own = self.previous(obj_id, frame, reverse)
        if own is None or not own.mask.any() or len(logits) < 2:
            return None
        others = self._others(obj_id, frame, reverse)
        scores = []
        for k, candidate in enumerate(logits > 0):
            area = candidate.sum()
            steal = (candidate & others).sum() / area if others is not None and area else 0.0
            scores.append(ious[k] + self.own_weight * iou(candidate, own.mask)
                          - self.steal_weight * steal)
        return int(np.argmax(scores))

    def settle(self, frame, reverse, objects):
        if not self.claims:
            return
        previous = [self.previous(o.obj_id, frame, reverse) for o in objects]
        shape = objects[0].logits.shape if objects else None
        held = [_resize(p.mask, shape) if p is not None else None for p in previous]
        winner = _winners(objects, held)
        for i, obj in enumerate(objects):
            if obj.prompted:
                continue
            obj.keep = (winner == i) | (winner < 0)
            mask = obj.keep & (obj.logits > 0)
            prev = held[i]
            if prev is None or not prev.any() or obj.presence <= 0:
                continue
            own = iou(mask, prev)
            jumped = any(iou(mask, h) > own for j, h in enumerate(held) if j != i and h is not None)
            if jumped or mask.sum() > self.growth * prev.sum():
                obj.store = False


def _winners(objects: list[ObjectFrame], held: list) -> np.ndarray:
    """Per pixel, the index of the object that owns it (-1: nobody).

    Claims are positive logits of present objects. Prompted objects win
    (the user said so); then an object whose ``held`` mask holds the pixel
    when it is the only claimant that does; then the highest logit.
    """
    shape = objects[0].logits.shape
    best = np.full(shape, -np.inf, np.float32)
    winner = np.full(shape, -1, np.intp)
    holders = sum(h.astype(np.int32) for h in held if h is not None)
    for i, obj in enumerate(objects):
        if obj.presence <= 0:
            continue
        score = obj.logits.astype(np.float32, copy=True)
        claim = score > 0
        score[~claim] = -np.inf
        if held[i] is not None:
            score[claim & held[i] & (holders == 1)] += 1e4
        if obj.prompted:
            score[claim] += 1e6
        better = score > best
        best[better] = score[better]
        winner[better] = i
    return winner



class MotionMemory(MemoryPolicy):
    """SAMURAI-like: Kalman box motion scores the candidates; only good frames enter the memory.

    Parameters
    ----------
    weight : float
        Share of the motion score in a candidate's score.
    min_iou : float
        Predicted IoU a present object's mask needs to enter the memory.
    stable : int
        Observed frames before the motion score is used.
    """

    name = "motion"
    chooses = settles = True

    def __init__(self, weight: float = 0.25, min_iou: float = 0.5, stable: int = 3):
        super().__init__()
        self.weight, self.min_iou, self.stable = weight, min_iou, stable
        self.kalman = BoxKalman()
        self._chosen: dict[tuple[int, int], float] = {}

    def _predicted(self, obj_id: int, frame: int, reverse: bool):
        prev = self.previous(obj_id, frame, reverse)
        if prev is None or "mean" not in prev.extra:
            return None
        return self.kalman.predict(prev.extra["mean"], prev.extra["cov"], -1 if reverse else 1), prev

    def choose(self, obj_id, frame, reverse, logits, ious, presence):
        chosen = int(np.argmax(ious))
        predicted = self._predicted(obj_id, frame, reverse)
        if predicted is not None and predicted[1].extra["seen"] >= self.stable and len(logits) > 1:
            box = self.kalman.box(predicted[0][0])
            scores = [self.weight * box_iou(box_of(c), box) + (1 - self.weight) * ious[k]
                      for k, c in enumerate(logits > 0)]
            chosen = int(np.argmax(scores))
        self._chosen[(obj_id, frame)] = float(ious[chosen])
        return chosen

    def settle(self, frame, reverse, objects):
        for obj in objects:
            quality = self._chosen.pop((obj.obj_id, frame), None)
            if not obj.prompted and obj.presence > 0 and quality is not None and quality < self.min_iou:
                obj.store = False

    def record(self, frame, reverse, objects, low_res):
        super().record(frame, reverse, objects, low_res)
        for obj in objects:
            record = self.history[obj.obj_id][frame]
            predicted = self._predicted(obj.obj_id, frame, reverse)
            if predicted is None:
                if record.box is not None:
                    mean, cov = self.kalman.start(record.box)
                    record.extra.update(mean=mean, cov=cov, seen=1)
                continue
            (mean, cov), prev = predicted
            seen = prev.extra["seen"]
            if record.box is not None:
                mean, cov = self.kalman.update(mean, cov, record.box)
                seen += 1
            record.extra.update(mean=mean, cov=cov, seen=seen)


def apply_policy(policy: MemoryPolicy, frame: int, reverse: bool, entries) -> list[bool]:
    """Settle one frame's outputs with ``policy``; returns which frames enter each object's memory.

    ``entries`` are ``(obj_id, output dict, prompted)`` with transformers'
    output dicts (``pred_masks``, ``high_res_masks`` when the model keeps
    them, ``object_score_logits``); pixels a policy removes are set to
    :data:`SUPPRESSED` in both masks, in place.
    """
    if not (policy.settles or policy.chooses) or not entries:
        return [True] * len(entries)
    import torch
    import torch.nn.functional as F

    objects = []
    for obj_id, out, prompted in entries:
        masks = out.get("high_res_masks")
        masks = out["pred_masks"] if masks is None else masks
        objects.append(ObjectFrame(obj_id, prompted, float(out["object_score_logits"].reshape(-1)[0]),
                                   masks[0, 0].float().cpu().numpy()))
    if policy.settles:
        policy.settle(frame, reverse, objects)
    policy.record(frame, reverse, objects, tuple(entries[0][1]["pred_masks"].shape[-2:]))
    for obj, (_, out, _) in zip(objects, entries, strict=True):
        if obj.keep is None or obj.keep.all():
            continue
        keep = torch.from_numpy(obj.keep)[None, None].float()
        for key in ("high_res_masks", "pred_masks"):
            if out.get(key) is not None:
                masks = out[key]
                inside = F.interpolate(keep, size=masks.shape[-2:], mode="area") > 0.5
                out[key] = torch.where(inside.to(masks.device), masks, masks.clamp(max=SUPPRESSED))
    return [obj.store for obj in objects]


def _policies() -> dict:
    return {"sam2": Sam2Memory, "exclusive": ExclusiveMemory, "cells": CellsMemory,
            "cells-claims": lambda: CellsMemory(claims=True), "motion": MotionMemory,
            "dam": DistractorMemory}


#: the names ``memory=`` takes
MEMORY_POLICIES = ("sam2", "exclusive", "cells", "cells-claims", "motion", "dam")
#: the policy used when none is given (chosen by measurement: docs/benchmarks.md)
DEFAULT_MEMORY = "sam2"


def make_policy(memory: str | MemoryPolicy | None = None) -> MemoryPolicy:
    """A fresh policy from a name in :data:`MEMORY_POLICIES` (or a policy, returned as is)."""
    if isinstance(memory, MemoryPolicy):
        return memory
    name = DEFAULT_MEMORY if memory is None else memory
    policies = _policies()
    if name not in policies:
        raise InputError(f"memory must be one of {', '.join(MEMORY_POLICIES)}, not {name!r}",
                         fix=("memory", DEFAULT_MEMORY))
    return policies[name]()
