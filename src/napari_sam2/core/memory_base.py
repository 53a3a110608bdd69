"""The base of the memory policies: what a policy sees of a frame and what it remembers.

See :mod:`.memory_policies` for how the tracker consults a policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .motion import box_of

__all__ = ["SUPPRESSED", "HISTORY", "ObjectFrame", "Record", "MemoryPolicy", "iou", "drop_frames"]


#: logit given to pixels a policy removes from a mask (SAM2's own value for non-overlap)
SUPPRESSED = -10.0
#: frames of history kept per object (around the last frame seen)
HISTORY = 8


@dataclass
class ObjectFrame:
    """One object on the frame being settled (what :meth:`MemoryPolicy.settle` sees).

    ``logits`` are the model-space mask logits ``(h, w)`` (the high-resolution
    ones when the model exposes them). A policy sets ``keep`` (bool, same
    shape: pixels outside it, which another object won, are removed from the
    mask and its memory) and
    ``store`` (False: this frame does not enter the object's memory).
    """

    obj_id: int
    prompted: bool
    presence: float
    logits: np.ndarray
    iou: float = float("nan")
    keep: np.ndarray | None = None
    store: bool = True


@dataclass
class Record:
    """What a policy remembers of one object on one frame."""

    mask: np.ndarray  # bool, low resolution
    box: np.ndarray | None  # (r0, c0, r1, c1) in low-res pixels, None when empty
    extra: dict = field(default_factory=dict)


class MemoryPolicy:
    """SAM2's behaviour; the base of the other policies (see the module docstring).

    Attributes
    ----------
    name : str
        The name users pass (``memory="..."``).
    chooses : bool
        Whether :meth:`choose` is consulted (a hook on the mask decoder).
    settles : bool
        Whether :meth:`settle` is consulted before memories are encoded.
    """

    name = "sam2"
    chooses = False
    settles = False

    def __init__(self):
        self.history: dict[int, dict[int, Record]] = {}

    def choose(self, obj_id: int, frame: int, reverse: bool, logits: np.ndarray,
               ious: np.ndarray, presence: float) -> int | None:
        """Index of the candidate to keep among ``logits`` ``(k, h, w)``; None: SAM2's choice."""
        return None

    def settle(self, frame: int, reverse: bool, objects: list[ObjectFrame]) -> None:
        """Edit ``keep`` / ``store`` of the objects computed on ``frame`` (in place)."""

    def kept_frames(self, obj_id: int) -> frozenset[int]:
        """Tracked frames of ``obj_id`` whose memory is kept past SAM2's recent window.

        The tracker keeps them whole and shows those behind the window to the
        model as conditioning memories; SAM2 keeps none.
        """
        return frozenset()

    def reset(self) -> None:
        """Forget everything (a new stack)."""
        self.history.clear()

    def forget(self, obj_id: int, frames=None) -> None:
        """Drop the history of ``obj_id`` on ``frames`` (all frames when None)."""
        drop_frames(self.history, obj_id, frames)

    def record(self, frame: int, reverse: bool, objects: list[ObjectFrame],
               low_res: tuple[int, int]) -> None:
        """Remember each object's final mask on ``frame`` (at ``low_res``), after :meth:`settle`."""
        for obj in objects:
            mask = obj.logits > 0
            if obj.keep is not None:
                mask &= obj.keep
            self.remember(obj.obj_id, frame, _resize(mask & (obj.presence > 0), low_res))

    # helpers shared by the policies
    def previous(self, obj_id: int, frame: int, reverse: bool) -> Record | None:
        """The record of the frame tracked just before ``frame`` in this direction."""
        return self.history.get(obj_id, {}).get(frame + 1 if reverse else frame - 1)

    def others(self, obj_id: int, frame: int, reverse: bool) -> np.ndarray | None:
        """Union of the other objects' masks on ``frame`` (where known) or on its predecessor."""
        union = None
        for other, frames in self.history.items():
            if other == obj_id:
                continue
            record = frames.get(frame) or frames.get(frame + 1 if reverse else frame - 1)
            if record is not None:
                union = record.mask.copy() if union is None else union | record.mask
        return union

    def remember(self, obj_id: int, frame: int, mask: np.ndarray, **extra) -> Record:
        """Store ``mask`` (bool, low resolution) as the object's record on ``frame``."""
        frames = self.history.setdefault(obj_id, {})
        record = Record(mask, box_of(mask), extra)
        frames[frame] = record
        for old in [f for f in frames if abs(f - frame) > HISTORY]:
            del frames[old]
        return record



def drop_frames(per_object: dict, obj_id: int, frames=None) -> None:
    """Drop ``frames`` of ``obj_id`` from a ``{obj_id: {frame: ...}}`` store (the object when None)."""
    if frames is None:
        per_object.pop(obj_id, None)
        return
    kept = per_object.get(obj_id, {})
    for frame in frames:
        kept.pop(frame, None)


def _resize(mask: np.ndarray, shape) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask (integer factors either way, or any size)."""
    if mask.shape == tuple(shape):
        return mask
    rows = (np.arange(shape[0]) * mask.shape[0] // shape[0])
    cols = (np.arange(shape[1]) * mask.shape[1] // shape[1])
    return mask[rows][:, cols]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


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
