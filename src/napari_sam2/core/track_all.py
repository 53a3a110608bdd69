"""Track every cell: seeds, one propagation of all objects, new objects, divisions, review flags.

:class:`TrackAll` drives a :class:`~.session.Session` one frame at a time (a
generator: one yield per frame, closing it cancels between frames):

1. the seeds (automatic from a point grid, :mod:`.seeds`, or masks from labels)
   become objects prompted with their masks on the seed frame;
2. all objects are propagated together (each frame encoded once), backward
   from the seed frame to frame 0, then forward to the last frame;
3. after each frame (:mod:`.track_checks`): a track whose mask vanished ends;
   going forward, a mask that splits into two parts of comparable size divides
   (two daughter tracks with new ids, prompted by their masks on that frame,
   parent link in the :class:`~.lineage.Lineage`; the parent ends); review
   flags are recorded; going backward, two tracks whose masks merge into one
   (:mod:`.reverse_divisions`) are daughters of a new mother track, which
   continues backward from the merge frame with the merged mask;
4. every ``seed_every`` frames, and when the covered area drops, automatic
   seeds on the area no track covers start new tracks (a seed lying mostly on
   existing tracks is not new); a new object taking over part of a tracked
   cell that had grown is a division of that cell;
5. after the last frame, gap closing (:mod:`.gap_closing`, ``max_gap``): a
   cell lost for a few frames and found again by the new-object search keeps
   its first track's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .gap_closing import Join, close_gaps
from .lineage import Lineage
from .records import FrameResult
from .reverse_divisions import Merge
from .seeds import MAX_SEEDS, check_seed_count, grid_seeds
from .sink import LABEL_DTYPE
from .track_checks import FrameChecks, TrackParams

__all__ = ["TrackAll", "TrackParams", "TrackStep"]


@dataclass
class TrackStep:
    """What one frame of a track-all run did (yielded by :meth:`TrackAll.run`).

    ``direction`` is ``"seed"``, ``"backward"``, ``"forward"``, or ``"gaps"``
    for a frame gap closing relabelled after the last frame (after the
    :meth:`TrackAll.n_steps` frames).
    """

    frame: int
    direction: str
    result: FrameResult | None
    new: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    divided: list[int] = field(default_factory=list)


class TrackAll:
    """Track every object of a stack from seeds on one frame.

    Parameters
    ----------
    session : Session
        The stack, model and label output (empty: ids are allocated by the run).
    params : TrackParams
        Thresholds of new objects, divisions and flags (``params.seeds``: automatic seeds).

    Attributes
    ----------
    lineage : Lineage
        The tracks, parent links and review flags, filled as the run goes.
    joins : list of Join
        The gaps closed after the last frame (``params.max_gap``).

    Examples
    --------
    >>> engine = TrackAll(Session.from_array(stack, model="demo"))  # doctest: +SKIP
    >>> for step in engine.run(frame=0):  # doctest: +SKIP
    ...     print(step.frame, len(step.new), len(step.divided))
    >>> engine.lineage.to_ctc_text()  # doctest: +SKIP
    """

    def __init__(self, session, params: TrackParams | None = None):
        self.session = session
        self.params = params or TrackParams()
        self.lineage = Lineage()
        self.checks = FrameChecks(self.lineage, self.params, session.source.frame_shape)
        self.joins: list[Join] = []
        self._next_id = 1
        self._born_backward: set[int] = set()

    # ------------------------------------------------------------------ seeds
    def find_seeds(self, frame: int, free: np.ndarray | None = None) -> list[np.ndarray]:
        """Automatic seed masks on ``frame`` (see :func:`.seeds.grid_seeds`)."""
        return grid_seeds(self.session.tracker, self.session.geometry, frame, self.params.seeds, free)

    def n_steps(self, frame: int = 0) -> int:
        """Frames :meth:`run` yields: every frame of the stack (then any ``"gaps"`` steps)."""
        return self.session.source.n_frames

    def run(self, seeds: dict[int, np.ndarray] | list[np.ndarray] | None = None,
            frame: int = 0) -> Iterator[TrackStep]:
        """Seed ``frame`` and track through the whole stack, one yield per frame.

        Parameters
        ----------
        seeds : dict {id: mask} or list of masks, optional
            Seed masks on ``frame`` (ids kept from a dict); default automatic seeds.
        frame : int
            The seed frame.

        Raises
        ------
        InputError
            No cells found (no seeds), or too many seeds.
        """
        session = self.session
        n = session.source.n_frames
        if seeds is None:
            seeds = self.find_seeds(frame)
        if not isinstance(seeds, dict):
            seeds = {i + 1: m for i, m in enumerate(seeds)}
        seeds = {k: m for k, m in seeds.items() if np.any(m)}
        if not seeds:
            raise InputError(f"no cells found on frame {frame}: nothing to track (give seeds from labels, "
                             "or lower the seed thresholds)")
        check_seed_count(len(seeds))
        self._next_id = max(seeds) + 1
        for obj_id, mask in sorted(seeds.items()):
            session.add_mask(obj_id, frame, mask)
            self.lineage.add(obj_id, frame)
        first = session.sink.read(frame)
        self._drop_empty(frame, np.asarray(first))
        yield TrackStep(frame, "seed", None, new=sorted(self.lineage.tracks))
        for direction in ("backward", "forward"):
            yield from self._pass(direction, frame, n)
        self.checks.finish(n)
        if self.params.max_gap > 0:
            self.joins = close_gaps(session.sink, self.lineage, self.params.max_gap,
                                    border=self.params.border, min_length=self.params.min_length)
            for changed in sorted({t for join in self.joins for t in join.frames}):
                yield TrackStep(changed, "gaps", None)  # frames relabelled by gap closing

    def _drop_empty(self, frame: int, labels: np.ndarray) -> None:
        """Seeds whose mask lost every pixel (to an earlier seed) are no tracks."""
        present = set(np.unique(labels).tolist())
        for obj_id in [t for t in self.lineage.tracks if t not in present]:
            self.lineage.remove(obj_id)
            self.session.remove_object(obj_id)

    # ------------------------------------------------------------------ passes
    def _pass(self, direction: str, start: int, n: int) -> Iterator[TrackStep]:
        session, reverse = self.session, direction == "backward"
        frames = range(start - 1, -1, -1) if reverse else range(start + 1, n)
        if direction == "forward":  # objects found going backward are not followed forward
            for obj_id in self._born_backward & set(session.objects):
                session.stop(obj_id, "forward")
        active = [i for i in self.lineage.tracks if i in session.objects and not self._stopped(i, direction)]
        self.checks.start_pass(np.asarray(session.sink.read(start)), reverse)
        last_seeded, covered_then = start, None
        for frame in frames:
            result = self._step(direction) if active else None
            if result is not None and result.frame != frame:
                raise RuntimeError(f"track-all expected frame {frame}, the session computed {result.frame}")
            labels = np.asarray(session.sink.read(frame)) if result is None else result.labels
            step = TrackStep(frame, direction, result)
            if result is not None:
                outcome = self.checks.frame(result, reverse)
                for obj_id in outcome.ended:
                    session.stop(obj_id, direction)
                step.ended = outcome.ended
                for parent, parts in outcome.splits.items():
                    labels = self._divide(parent, frame, parts, labels)
                    step.divided.append(parent)
                for merge in outcome.merges:
                    mother, labels = self._merge_backward(merge, frame, labels)
                    step.divided.append(mother)
            covered = int(np.count_nonzero(labels))
            covered_then = covered if covered_then is None else covered_then
            due = abs(frame - last_seeded) >= self.params.seed_every
            dropped = covered < (1 - self.params.coverage_drop) * covered_then
            if (due or dropped) and self.params.seed_every > 0:
                labels, new, divided = self._seed_new(frame, labels, reverse)
                step.new, last_seeded, covered_then = new, frame, int(np.count_nonzero(labels))
                step.divided += divided
            self.checks.end_frame(labels)
            active = [i for i in self.lineage.tracks if i in session.objects
                      and not self._stopped(i, direction)]
            yield step

    def _stopped(self, obj_id: int, direction: str) -> bool:
        obj = self.session.objects[obj_id]
        if direction == "backward":
            return obj.backward_done == 0
        return obj.forward_done == self.session.source.n_frames - 1

    def _step(self, direction: str) -> FrameResult | None:
        """One frame of the session's propagation (closing the generator keeps its state)."""
        generator = self.session.propagate(direction)
        try:
            return next(generator, None)
        finally:
            generator.close()

    # ------------------------------------------------------------------ new tracks
    def _new_id(self) -> int:
        obj_id = self._next_id
        if obj_id > np.iinfo(LABEL_DTYPE).max:
            raise InputError("ran out of label ids (65535): track fewer objects or a shorter stack")
        self._next_id += 1
        return obj_id

    def _divide(self, parent: int, frame: int, parts, labels: np.ndarray) -> np.ndarray:
        """End ``parent`` before ``frame``; its ``parts`` start two daughter tracks on ``frame``."""
        session = self.session
        daughters = (self._new_id(), self._new_id())
        self.lineage.divide(parent, frame, daughters)
        session.stop(parent, "forward")
        cleared = np.where(labels == parent, 0, labels).astype(LABEL_DTYPE)
        session.sink.write(frame, cleared)
        for daughter, part in zip(daughters, parts, strict=True):
            session.add_mask(daughter, frame, part)
        self.lineage.flag(parent, frame, "division", 0.2,
                          f"divided into {daughters[0]} and {daughters[1]} on frame {frame}")
        return np.asarray(session.sink.read(frame))

    def _merge_backward(self, merge: Merge, frame: int, labels: np.ndarray) -> tuple[int, np.ndarray]:
        """A division seen going backward: the daughters begin after ``frame``, a new mother ends on it."""
        session = self.session
        mother = self._new_id()
        for daughter in merge.daughters:
            session.stop(daughter, "backward")
        self.lineage.add_mother(mother, frame + 1, merge.daughters)
        cleared = np.where(np.isin(labels, merge.daughters), 0, labels).astype(LABEL_DTYPE)
        session.sink.write(frame, cleared)
        session.add_mask(mother, frame, merge.mask)
        self._born_backward.add(mother)  # followed backward only
        self.checks.born(mother, frame)
        a, b = merge.daughters
        sure = "unsure: check it" if merge.unsure else "check it"
        self.lineage.flag(mother, frame, "division", 0.5 if merge.unsure else 0.2,
                          f"divided into {a} and {b} on frame {frame + 1} (seen going backward, merged "
                          f"area {merge.size_ratio:.2f}x the daughters'; {sure})")
        return mother, np.asarray(session.sink.read(frame))

    def _seed_new(self, frame: int, labels: np.ndarray, reverse: bool):
        """Seeds on the area no track covers start tracks; a takeover of a grown cell divides it."""
        from scipy import ndimage

        params = self.params
        free = ~ndimage.binary_dilation(labels > 0, iterations=params.border + 1)
        if not free.any():
            return labels, [], []
        new, divided = [], []
        direction = "backward" if reverse else "forward"
        room = MAX_SEEDS - sum(1 for t in self.lineage.tracks if t in self.session.objects
                               and not self._stopped(t, direction))
        for mask in self.find_seeds(frame, free):
            on = labels[mask]
            share = np.count_nonzero(on) / max(mask.sum(), 1)
            if share <= 1 - params.new_free:
                own = mask & (labels == 0)
                if own.sum() < params.seeds.min_area or len(new) >= room:  # at most MAX_SEEDS at once
                    continue
                obj_id = self._new_id()
                self.session.add_mask(obj_id, frame, own)
                self.lineage.add(obj_id, frame)
                self.checks.born(obj_id, frame)
                new.append(obj_id)
                if reverse:
                    self._born_backward.add(obj_id)
                labels = np.asarray(self.session.sink.read(frame))
            elif not reverse:
                parent = self.checks.takeover(mask, labels, frame)
                if parent is not None:
                    cell = labels == parent
                    labels = self._divide(parent, frame, (cell & mask, cell & ~mask), labels)
                    divided.append(parent)
        return labels, new, divided
