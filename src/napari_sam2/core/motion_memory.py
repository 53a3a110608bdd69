"""The ``motion`` memory policies: a Kalman filter on each box, motion-aware candidates and memory.

Written from the description of SAMURAI (Yang et al. 2024, arXiv 2411.11922):

* **motion-aware choice**: a constant-velocity Kalman filter on the object's
  box (:class:`~.motion.BoxKalman`) predicts where it will be on the next
  frame. Once the track is stable (``stable`` frames in a row with a kept
  mask whose predicted IoU is above ``stable_iou``), the decoder's candidate
  with the highest ``weight`` x IoU(its box, the predicted box) +
  (1 - ``weight``) x predicted IoU is kept; before that, SAM2's choice.
* **motion-aware memory**: a tracked frame of a present object enters the
  memory only if the kept mask's predicted IoU is at least ``min_iou`` and
  its box agrees with the prediction (box IoU at least ``min_motion``);
  frames where the object is absent enter it when ``store_absent`` (SAM2
  stores them; SAMURAI keeps them out). SAMURAI then reads the most recent
  frames that passed, reaching further back than SAM2's window when some
  failed: here the last ``reach`` good frames are named by
  :meth:`MotionMemory.kept_frames`, and the tracker shows those behind its
  window as conditioning memories.
* The filter is corrected only with boxes of frames that entered the memory
  (a mask that slid onto a neighbour does not drag the motion), and restarts
  on every prompted frame (a correction says where the object is).

``motion-cells`` adds the microscopy prior of
:class:`~.memory_policies.CellsMemory` and ``exclusive``: the candidate
score also gets + IoU with the object's own previous mask - the share lying
on other objects' previous masks, and a pixel two objects claim stays only
in the highest logit's mask and memory.

Velocity is per frame index (going backward predicts with ``dt = -1``) and
every state is stored per frame, so both directions, resumed propagation and
corrections see the state of the frame before in their direction.
"""

from __future__ import annotations

import numpy as np

from .memory_base import MemoryPolicy, _winners, drop_frames, iou
from .motion import BoxKalman, box_iou, box_of

__all__ = ["MotionMemory"]

#: frames around the last one whose memory verdict is kept (SAMURAI's pool of candidates is 15)
POOL = 16


class MotionMemory(MemoryPolicy):
    """SAMURAI-like motion-aware candidate choice and memory (see the module docstring).

    Parameters
    ----------
    weight : float
        Share of the motion score (box IoU with the prediction) in a candidate's score.
    min_iou : float
        Predicted IoU a present object's kept mask needs to enter the memory.
    min_motion : float
        Box IoU with the prediction a present object's kept mask needs to enter the memory.
    stable, stable_iou : int, float
        Frames in a row with a predicted IoU above ``stable_iou`` before the motion score is used.
    store_absent : bool
        Whether frames where the object is absent enter its memory (as in SAM2).
    reach : int
        Good frames the memory reads, reaching behind SAM2's window (0: only the window).
    cells : bool
        Add the non-overlap rule of ``cells`` / ``exclusive`` (``motion-cells``).
    """

    name = "motion"
    chooses = settles = True

    def __init__(self, weight: float = 0.25, min_iou: float = 0.0, min_motion: float = 0.3,
                 stable: int = 3, stable_iou: float = 0.3, store_absent: bool = True, reach: int = 0,
                 cells: bool = False):
        super().__init__()
        self.weight, self.min_iou, self.min_motion = weight, min_iou, min_motion
        self.stable, self.stable_iou, self.store_absent = stable, stable_iou, store_absent
        self.reach, self.cells = reach, cells
        if cells:
            self.name = "motion-cells"
        self.kalman = BoxKalman()
        self._chosen: dict[tuple[int, int], tuple[float, float]] = {}  # quality, motion score
        self._good: dict[int, dict[int, bool]] = {}  # per object: frame -> entered the memory
        self._reverse: dict[int, bool] = {}

    def _prediction(self, obj_id: int, frame: int, reverse: bool):
        """``(mean, cov, stable count)`` predicted on ``frame`` from the frame before, or None."""
        prev = self.previous(obj_id, frame, reverse)
        if prev is None or "mean" not in prev.extra:
            return None
        mean, cov = self.kalman.predict(prev.extra["mean"], prev.extra["cov"], -1 if reverse else 1)
        return mean, cov, prev.extra["stable"]

    def choose(self, obj_id, frame, reverse, logits, ious, presence):
        predicted = self._prediction(obj_id, frame, reverse)
        if predicted is None or len(logits) < 2:
            chosen = int(np.argmax(ious))
            self._chosen[(obj_id, frame)] = (float(ious[chosen]), float("nan"))
            return chosen
        box = self.kalman.box(predicted[0])
        masks = logits > 0
        motion = np.array([box_iou(box_of(m), box) for m in masks])
        scores = np.asarray(ious, np.float64).copy()
        if predicted[2] >= self.stable:
            scores = self.weight * motion + (1 - self.weight) * scores
        if self.cells:
            scores += self._cells_terms(obj_id, frame, reverse, masks)
        chosen = int(np.argmax(scores))
        self._chosen[(obj_id, frame)] = (float(ious[chosen]), float(motion[chosen]))
        return chosen

    def _cells_terms(self, obj_id, frame, reverse, masks) -> np.ndarray:
        """+ IoU with the object's own previous mask - share on other objects' previous masks."""
        own = self.previous(obj_id, frame, reverse)
        if own is None or not own.mask.any():
            return np.zeros(len(masks))
        others = self.others(obj_id, frame, reverse)
        terms = []
        for candidate in masks:
            area = candidate.sum()
            steal = (candidate & others).sum() / area if others is not None and area else 0.0
            terms.append(iou(candidate, own.mask) - steal)
        return np.array(terms)

    def settle(self, frame, reverse, objects):
        if self.cells and objects:
            winner = _winners(objects, [None] * len(objects))
            for i, obj in enumerate(objects):
                if not obj.prompted:
                    obj.keep = (winner == i) | (winner < 0)
        for obj in objects:
            quality, motion = self._chosen.get((obj.obj_id, frame), (float("nan"), float("nan")))
            if obj.prompted or quality != quality:
                continue
            if obj.presence <= 0:
                obj.store = self.store_absent
            else:
                obj.store = quality >= self.min_iou and not motion < self.min_motion

    def record(self, frame, reverse, objects, low_res):
        super().record(frame, reverse, objects, low_res)
        for obj in objects:
            quality, _ = self._chosen.pop((obj.obj_id, frame), (float("nan"), float("nan")))
            record = self.history[obj.obj_id][frame]
            predicted = None if obj.prompted else self._prediction(obj.obj_id, frame, reverse)
            self._remember_verdict(obj.obj_id, frame, reverse, obj.store and not obj.prompted)
            if predicted is None:
                if record.box is not None:
                    mean, cov = self.kalman.start(record.box)
                    record.extra.update(mean=mean, cov=cov, stable=1)
                continue
            mean, cov, stable = predicted
            if record.box is not None and obj.store:
                mean, cov = self.kalman.update(mean, cov, record.box)
                stable = stable + 1 if quality > self.stable_iou else 0
            elif record.box is not None:
                stable = 0
            record.extra.update(mean=mean, cov=cov, stable=stable)

    def _remember_verdict(self, obj_id: int, frame: int, reverse: bool, good: bool) -> None:
        verdicts = self._good.setdefault(obj_id, {})
        verdicts[frame] = good
        self._reverse[obj_id] = reverse
        for old in [f for f in verdicts if abs(f - frame) > POOL]:
            del verdicts[old]

    def kept_frames(self, obj_id: int) -> frozenset[int]:
        """The last ``reach`` tracked frames of ``obj_id`` that entered its memory (direction of tracking)."""
        if not self.reach:
            return frozenset()
        good = sorted((f for f, ok in self._good.get(obj_id, {}).items() if ok),
                      reverse=not self._reverse.get(obj_id, False))
        return frozenset(good[:self.reach])

    def reset(self) -> None:
        super().reset()
        self._chosen.clear()
        self._good.clear()
        self._reverse.clear()

    def forget(self, obj_id: int, frames=None) -> None:
        super().forget(obj_id, frames)
        drop_frames(self._good, obj_id, frames)
