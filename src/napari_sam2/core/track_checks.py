"""What a track-all run checks after each frame: ends, divisions, takeovers and review flags.

Every check compares an object's mask on the frame just computed with the
frame before it in the direction of tracking (label images, so neighbours are
seen): a vanished mask ends the track; a mask in two parts of comparable size
divides (forward in time); and the review flags of :data:`~.lineage.FLAG_KINDS`
are recorded, each naming its frame, once per run of consecutive frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .lineage import Lineage
from .records import FrameResult
from .reverse_divisions import Merge, find_merges
from .seeds import SeedParams

__all__ = ["TrackParams", "FrameChecks", "Outcome", "at_border"]


@dataclass(frozen=True)
class TrackParams:
    """Thresholds of a track-all run (see ``docs/track.md``).

    Attributes
    ----------
    seed_every : int
        Frames between two searches for new objects (0: never).
    coverage_drop : float
        Also search when the covered area fell by this share since the last search.
    new_free : float
        Share of a new seed's area no track may cover (else it is not a new object).
    division_share : float
        A mask in two parts divides when the smaller part holds at least this share.
    division_min_area : int
        Pixels of the smaller part of a division.
    takeover_growth : float
        A seed taking over part of a cell divides it when the cell grew by this factor.
    reverse_divisions : bool
        Going backward in time, two tracks whose masks merge into one are the
        daughters of a new mother track (:mod:`.reverse_divisions`).
    merge_cover : float
        Going backward, a track keeping at most ``1 - merge_cover`` of its area next to a
        comparable neighbour, both previous masks lying ``merge_cover`` inside the merged
        mask, merged with it.
    merge_area : float
        ... when the merged mask is within this factor of the two tracks' areas together
    merge_solidity : float
        ... and the merged mask is this convex (area / convex hull area): one cell, not two.
    iou_drop, presence_drop : float
        Flag a predicted IoU below ``iou_drop`` (and 0.15 under the track's median),
        a presence probability below ``presence_drop``.
    area_jump : float
        Flag an area changing by more than this factor from one frame to the next.
    overlap : float
        Flag a track losing this share of its area to a neighbour.
    jump : float
        Flag a mask lying this much on another cell's previous mask.
    min_length : int
        Flag tracks shorter than this (frames) that end before the last frame.
    border : int
        Pixels from the edge within which a track may end unflagged (it left the field).
    max_gap : int
        Gap closing (:mod:`.gap_closing`): a track ending inside the field is
        continued by a track without parent that starts near its last mask at
        most ``max_gap`` frames later (the cell lost for up to ``max_gap``
        frames keeps one id); 0: off.
    seeds : SeedParams
        Automatic seeds (the first frame and new objects).
    """

    seed_every: int = 5
    coverage_drop: float = 0.15
    new_free: float = 0.7
    division_share: float = 0.25
    division_min_area: int = 30
    takeover_growth: float = 1.4
    reverse_divisions: bool = True
    merge_cover: float = 0.7
    merge_area: float = 1.5
    merge_solidity: float = 0.9
    iou_drop: float = 0.5
    presence_drop: float = 0.8
    area_jump: float = 1.8
    overlap: float = 0.3
    jump: float = 0.5
    min_length: int = 3
    border: int = 2
    max_gap: int = 2
    seeds: SeedParams = field(default_factory=SeedParams)


@dataclass
class Outcome:
    """Tracks that ended on a frame, those that divide there ``{parent: (part, part)}``, and
    pairs that merge there going backward (daughters of a mother to start: :class:`.Merge`)."""

    ended: list[int] = field(default_factory=list)
    splits: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    merges: list[Merge] = field(default_factory=list)


class FrameChecks:
    """The per-frame checks of one run, writing flags into ``lineage``."""

    def __init__(self, lineage: Lineage, params: TrackParams, frame_shape: tuple[int, int]):
        self.lineage, self.params, self.shape = lineage, params, tuple(frame_shape)
        self.prev = np.zeros(self.shape, np.uint16)
        self.reverse = False
        self.ious: dict[int, list[float]] = {}
        self.areas: dict[int, list[int]] = {}  # each track's areas on the frames before, this pass
        self._flagged: dict[tuple[int, str], int] = {}

    def start_pass(self, labels: np.ndarray, reverse: bool) -> None:
        """A pass starts from ``labels`` (the seed frame's)."""
        self.prev, self.reverse = np.array(labels, copy=True), reverse
        counts = np.bincount(self.prev.ravel())
        self.areas = {int(i): [int(counts[i])] for i in np.flatnonzero(counts[1:]) + 1}

    def end_frame(self, labels: np.ndarray) -> None:
        """``labels`` (after divisions and new objects) are the next frame's previous frame."""
        self.prev = np.array(labels, copy=True)
        counts = np.bincount(self.prev.ravel())
        for obj_id in np.flatnonzero(counts[1:]) + 1:  # tracks born on this frame: their first area
            self.areas.setdefault(int(obj_id), [int(counts[obj_id])])

    def born(self, obj_id: int, frame: int) -> None:
        """A track started on ``frame`` (nothing to compare with yet)."""
        self.ious.pop(obj_id, None)
        self.areas.pop(obj_id, None)

    def flag(self, obj_id: int, frame: int, kind: str, severity: float, message: str) -> None:
        """Record a flag unless the same one was recorded on the neighbouring frame."""
        last = self._flagged.get((obj_id, kind))
        self._flagged[obj_id, kind] = frame
        if last is not None and abs(last - frame) == 1:
            return
        self.lineage.flag(obj_id, frame, kind, round(float(severity), 3), message)

    def frame(self, result: FrameResult, reverse: bool) -> Outcome:
        """Check every object computed on ``result``'s frame."""
        from scipy import ndimage

        labels, frame, p = result.labels, result.frame, self.params
        before = frame + 1 if reverse else frame - 1
        boxes_now, boxes_then = ndimage.find_objects(labels), ndimage.find_objects(self.prev)
        outcome = Outcome()
        if reverse and p.reverse_divisions:
            outcome.merges = find_merges(self.prev, labels, [i for i in result.object_ids
                                                             if self._tracked_before(i, frame)],
                                         self.areas, p)
        merged = {i for merge in outcome.merges for i in merge.daughters}
        for i, obj_id in enumerate(result.object_ids):
            if obj_id in merged:  # daughters: they begin on the frame before, no flags here
                continue
            now = boxes_now[obj_id - 1] if obj_id <= len(boxes_now) else None
            then = boxes_then[obj_id - 1] if obj_id <= len(boxes_then) else None
            if now is None:
                outcome.ended.append(obj_id)
                self._ended(obj_id, frame, before, then, float(result.scores[i]), labels)
                continue
            self.lineage.extend(obj_id, frame)
            region = _union(now, then)
            cur, old = labels[region] == obj_id, self.prev[region] == obj_id
            area, old_area = int(cur.sum()), int(old.sum())
            self.areas.setdefault(obj_id, []).append(area)
            score, iou = float(result.scores[i]), float(result.ious[i])
            if score < p.presence_drop:
                self.flag(obj_id, frame, "presence_drop", 0.4 + 0.5 * (1 - score),
                          f"the model is unsure the cell is there on frame {frame} (presence {score:.2f})")
            self._check_iou(obj_id, frame, iou)
            split = None if reverse else self._split(obj_id, frame, cur, region)
            if split is not None:
                outcome.splits[obj_id] = split
            elif old_area and max(area / old_area, old_area / area) > p.area_jump:
                self.flag(obj_id, frame, "area_jump", 0.5, f"area went from {old_area} to {area} pixels "
                          f"between frames {before} and {frame}")
            self._check_neighbours(obj_id, frame, labels[region], self.prev[region], cur, old)
        return outcome

    def _tracked_before(self, obj_id: int, frame: int) -> bool:
        """Whether ``obj_id`` has a mask on a frame before ``frame`` in this pass (not born on it)."""
        track = self.lineage.tracks.get(obj_id)
        return track is not None and (track.end > frame if self.reverse else track.start < frame)

    def _ended(self, obj_id, frame, before, then, score, labels) -> None:
        if then is None:
            return
        if score > 0.5:
            self.flag(obj_id, frame, "overlap", 0.8, f"lost every pixel to its neighbours on frame {frame} "
                      "though the model sees it")
        if not self._at_border(then):
            what = "begins" if self.reverse else "ends"
            self.flag(obj_id, before, "ends_inside", 0.4,
                      f"{what} on frame {before} inside the field of view")

    def _check_iou(self, obj_id: int, frame: int, iou: float) -> None:
        if np.isnan(iou):
            return
        history = self.ious.setdefault(obj_id, [])
        if history and iou < self.params.iou_drop and np.median(history) - iou >= 0.15:
            self.flag(obj_id, frame, "iou_drop", 0.3 + 0.5 * (1 - iou),
                      f"the model's mask quality fell to {iou:.2f} on frame {frame} (usually "
                      f"{np.median(history):.2f})")
        history.append(iou)
        del history[:-20]

    def _check_neighbours(self, obj_id, frame, now, then, cur, old) -> None:
        """A mask on another cell's previous place (jump); a neighbour on this cell's place (overlap)."""
        under = then[cur]
        others = under[(under != 0) & (under != obj_id)]
        if len(others) and len(others) >= self.params.jump * cur.sum():
            other = int(np.bincount(others).argmax())
            self.flag(obj_id, frame, "jump", 0.9, f"moved onto cell {other} on frame {frame}")
        taken = now[old]
        taken = taken[(taken != 0) & (taken != obj_id)]
        if len(taken) and len(taken) >= self.params.overlap * old.sum():
            other = int(np.bincount(taken).argmax())
            share = len(taken) / old.sum()
            self.flag(obj_id, frame, "overlap", 0.7 + 0.2 * min(share, 1.0),
                      f"cell {other} took {share:.0%} of its area on frame {frame}")

    def _split(self, obj_id: int, frame: int, cur: np.ndarray, region):
        """Two parts of comparable size: ``(part, part)`` frame-sized masks, else None."""
        from scipy import ndimage

        track = self.lineage.tracks.get(obj_id)
        if track is None or track.start >= frame:
            return None
        parts, n = ndimage.label(cur)
        if n < 2:
            return None
        sizes = np.bincount(parts.ravel())[1:]
        order = np.argsort(-sizes)
        big, small = sizes[order[0]], sizes[order[1]]
        if small < self.params.division_min_area or small / (big + small) < self.params.division_share:
            return None
        out = []
        for k in order[:2]:
            mask = np.zeros(self.shape, bool)
            mask[region] = parts == k + 1
            out.append(mask)
        return out[0], out[1]

    def takeover(self, mask: np.ndarray, labels: np.ndarray, frame: int) -> int | None:
        """The grown cell a seed takes a comparable part of (a division), else None."""
        under = labels[mask]
        under = under[under != 0]
        if not len(under):
            return None
        cell_id = int(np.bincount(under).argmax())
        track = self.lineage.tracks.get(cell_id)
        cell = labels == cell_id
        inside, area = int(np.count_nonzero(cell & mask)), int(cell.sum())
        old_area = int(np.count_nonzero(self.prev == cell_id))
        p = self.params
        if (track is None or track.start >= frame or not old_area or area < p.takeover_growth * old_area
                or min(inside, area - inside) < p.division_min_area):
            return None
        return cell_id if p.division_share <= inside / area <= 1 - p.division_share else None

    def finish(self, n_frames: int) -> None:
        """Flag short tracks (after the whole run)."""
        for track in self.lineage.tracks.values():
            length = track.end - track.start + 1
            if length < self.params.min_length and track.end < n_frames - 1:
                self.flag(track.track_id, track.start, "short", 0.3,
                          f"tracked on {length} frame(s) only, from frame {track.start}")

    def _at_border(self, box) -> bool:
        return at_border(box, self.shape, self.params.border)


def at_border(box, shape, border: int) -> bool:
    """Whether the bounding slices ``box`` come within ``border`` pixels of the frame's edge."""
    return any(s.start <= border or s.stop >= size - border for s, size in zip(box, shape, strict=True))


def _union(a, b):
    """The bounding slices of two boxes (either may be None)."""
    if a is None or b is None:
        return a or b
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b, strict=True))
