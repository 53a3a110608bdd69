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
   tracker keeps past SAM2's recent window (``dam``, :mod:`.distractor_memory`;
   ``motion`` with ``reach``, :mod:`.motion_memory`).

A policy keeps its own per-object history indexed by frame (never a
"previous step"), so forward and backward passes, resumed propagation and
corrections see the right neighbour: the frame before in the direction of
tracking. ``sam2`` is SAM2's own behaviour, exactly (no hooks are installed).
"""

from __future__ import annotations

import numpy as np

from .distractor_memory import DistractorMemory
from .errors import InputError
from .memory_base import SUPPRESSED, MemoryPolicy, ObjectFrame, _resize, _winners, iou
from .motion_memory import MotionMemory

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

    def choose(self, obj_id, frame, reverse, logits, ious, presence):
        own = self.previous(obj_id, frame, reverse)
        if own is None or not own.mask.any() or len(logits) < 2:
            return None
        others = self.others(obj_id, frame, reverse)
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
            "motion-cells": lambda: MotionMemory(cells=True, min_motion=0.0), "dam": DistractorMemory}


#: the names ``memory=`` takes
MEMORY_POLICIES = ("sam2", "exclusive", "cells", "cells-claims", "motion", "motion-cells", "dam")
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
