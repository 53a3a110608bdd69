"""Gap closing: one cell lost for a few frames and found again keeps one track id.

After a track-all run (:mod:`.track_all`), a cell whose mask blinked out (a
dim frame, a missed mask) ends its track, and the new-object search later
starts a second track on the same cell. :func:`close_gaps` joins such pairs
on a finished :class:`~.lineage.Lineage` and its label stack:

* the *earlier* track ends inside the frame (its last mask is more than
  ``border`` pixels from the edge), before the last frame, and is not the
  mother of a division;
* the *later* track has no parent and starts on frame ``s`` with
  ``e < s <= e + 1 + max_gap`` (``e``: the earlier track's last frame; ``max_gap`` 0: off);
* the later track's first mask is near the earlier's last mask: its centroid
  lies within ``reach`` of the earlier mask's centroid, ``reach`` being the
  cell's radius (of its area) times ``1 + growth * missing frames``;
* the later track's first mask does not lie more on another track alive on
  both frames than on the earlier track's last mask (read on frame ``e``):
  a piece of a neighbour is not the lost cell;
* the pairs are one-to-one (Hungarian assignment on distance / reach).

A join relabels the later track's pixels to the earlier id (one frame at a
time: zarr stacks stay on disk), moves its daughters to the earlier track,
extends the earlier track's end and removes the later track. The flags the
join makes moot go (``ends_inside`` at the gap, ``short``); the gap itself is
a ``gap`` flag on its first missing frame. In a CTC export the id is absent
on the gap's frames: :func:`.track_exports.ctc_lineage` writes the part after
the gap as a track of its own whose parent is the part before (the CTC way).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .lineage import Flag, Lineage
from .track_checks import at_border

__all__ = ["Join", "find_gaps", "close_gaps", "GAP_SEVERITY"]

#: severity of a ``gap`` flag (between ``ends_inside`` 0.4 and ``short`` 0.3)
GAP_SEVERITY = 0.35


@dataclass(frozen=True)
class Join:
    """Track ``later`` (frames ``start``-``last``) continues track ``earlier`` (last frame ``end``)."""

    earlier: int
    later: int
    end: int
    start: int
    distance: float
    last: int = -1

    @property
    def frames(self) -> range:
        """The frames whose labels the join rewrites (the later track's)."""
        return range(self.start, self.last + 1)

    @property
    def missing(self) -> int:
        """Frames without the cell between the two tracks."""
        return self.start - self.end - 1


class _Frames:
    """Read and write one frame of a label stack or a label sink (``read`` / ``write``)."""

    def __init__(self, labels):
        self.labels = labels
        self.n = labels.shape[0]

    def read(self, t: int) -> np.ndarray:
        read = getattr(self.labels, "read", None)
        return np.asarray(read(t) if read is not None else self.labels[t])

    def write(self, t: int, frame: np.ndarray) -> None:
        write = getattr(self.labels, "write", None)
        if write is not None:
            write(t, frame)
        else:
            self.labels[t] = frame


@dataclass
class _Mask:
    """One track's mask on one frame: box, the mask inside it, centroid and radius."""

    box: tuple
    crop: np.ndarray
    centroid: np.ndarray
    radius: float


def _mask(frame: np.ndarray, box, track_id: int) -> _Mask:
    crop = frame[box] == track_id
    coords = np.nonzero(crop)
    centroid = np.array([c.mean() + s.start for c, s in zip(coords, box, strict=True)])
    return _Mask(box, crop, centroid, float(np.sqrt(crop.sum() / np.pi)))


def _masks(frames: _Frames, wanted: dict[int, list[int]], border: int | None) -> dict[int, _Mask]:
    """``{track: its mask}`` on the frames of ``wanted`` ``{frame: [track ids]}``; None at the border."""
    from scipy import ndimage

    out = {}
    for t, ids in sorted(wanted.items()):
        frame = frames.read(t)
        boxes = ndimage.find_objects(frame)
        for i in ids:
            box = boxes[i - 1] if i <= len(boxes) else None
            if box is None or (border is not None and at_border(box, frame.shape, border)):
                continue
            out[i] = _mask(frame, box, i)
    return out


def find_gaps(labels, lineage: Lineage, max_gap: int, border: int = 2, growth: float = 0.5) -> list[Join]:
    """The joins :func:`close_gaps` makes, without changing anything.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X), or a label sink
        Track ids consistent over time; read one frame at a time.
    lineage : Lineage
        The tracks of ``labels``.
    max_gap : int
        Frames a cell may be missing (``e < s <= e + 1 + max_gap``; a track
        starting right after the earlier one ended is joined too); 0: off.
    border : int
        A track whose last mask is within this many pixels of the edge left
        the field: it is not continued.
    growth : float
        How much the reach grows per missing frame, in cell radii.

    Returns
    -------
    list of Join
        One-to-one, sorted by the later track's first frame.
    """
    if max_gap <= 0 or not lineage.tracks:
        return []
    frames = _Frames(labels)
    tracks = lineage.tracks
    mothers = {t.parent for t in tracks.values() if t.parent}
    enders = [t for t in tracks.values() if t.end < frames.n - 1 and t.track_id not in mothers]
    starters = [t for t in tracks.values() if not t.parent and t.start > 0]
    pairs = [(a, b) for a in enders for b in starters
             if a.track_id != b.track_id and a.end < b.start <= a.end + 1 + max_gap]
    if not pairs:
        return []
    ends: dict[int, list[int]] = {}
    starts: dict[int, list[int]] = {}
    for a, b in pairs:
        ends.setdefault(a.end, []).append(a.track_id)
        starts.setdefault(b.start, []).append(b.track_id)
    last = _masks(frames, ends, border)
    first = _masks(frames, starts, None)
    near = []
    for a, b in pairs:
        m, n = last.get(a.track_id), first.get(b.track_id)
        if m is None or n is None:
            continue
        reach = max(m.radius, 1.0) * (1 + growth * (b.start - a.end - 1))
        distance = float(np.linalg.norm(m.centroid - n.centroid))
        if distance <= reach:
            near.append((a, b, distance, reach))
    near = _not_a_neighbour(frames, near, first, tracks)
    return _assign(near)


def _not_a_neighbour(frames: _Frames, near, first: dict[int, _Mask], tracks) -> list:
    """Drop pairs whose later mask lies more on another track alive across the gap than on the earlier."""
    by_end: dict[int, list] = {}
    for pair in near:
        by_end.setdefault(pair[0].end, []).append(pair)
    kept = []
    for e, group in sorted(by_end.items()):
        frame = frames.read(e)
        for a, b, distance, reach in group:
            mask = first[b.track_id]
            under = frame[mask.box][mask.crop]
            counts = np.bincount(under[under > 0].astype(np.int64))
            own = int(counts[a.track_id]) if a.track_id < len(counts) else 0
            others = [int(c) for i, c in enumerate(counts) if c and i != a.track_id
                      and i in tracks and tracks[i].end >= b.start]
            if not others or max(others) <= own:
                kept.append((a, b, distance, reach))
    return kept


def _assign(near) -> list[Join]:
    """One-to-one pairs minimising distance / reach (a shorter gap first on ties)."""
    if not near:
        return []
    from scipy.optimize import linear_sum_assignment

    rows = sorted({a.track_id for a, *_ in near})
    cols = sorted({b.track_id for _, b, *_ in near})
    cost = np.full((len(rows), len(cols)), 1e6)
    found = {}
    for a, b, distance, reach in near:
        i, j = rows.index(a.track_id), cols.index(b.track_id)
        cost[i, j] = distance / reach + 1e-3 * (b.start - a.end)
        found[i, j] = Join(a.track_id, b.track_id, a.end, b.start, round(distance, 2), b.end)
    joins = [found[i, j] for i, j in zip(*linear_sum_assignment(cost), strict=True) if (i, j) in found]
    return sorted(joins, key=lambda j: (j.start, j.later))


def close_gaps(labels, lineage: Lineage, max_gap: int, border: int = 2, growth: float = 0.5,
               min_length: int = 3) -> list[Join]:
    """Join the tracks of cells lost for at most ``max_gap`` frames (see the module docstring).

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X), or a label sink
        Track ids consistent over time; read and rewritten one frame at a
        time (only the later tracks' frames are written).
    lineage : Lineage
        Changed in place: tracks joined, daughters moved, flags updated.
    max_gap, border, growth
        See :func:`find_gaps`.
    min_length : int
        A joined track shorter than this (frames, the gap included) that ends
        before the last frame keeps a ``short`` flag.

    Returns
    -------
    list of Join
        What was joined (``earlier`` is the id kept; in a chain, the first).

    Examples
    --------
    >>> joins = close_gaps(session.sink, engine.lineage, max_gap=2)  # doctest: +SKIP
    >>> [(j.earlier, j.later, j.missing) for j in joins]  # doctest: +SKIP
    [(3, 9, 1)]
    """
    joins = find_gaps(labels, lineage, max_gap, border, growth)
    if not joins:
        return []
    frames = _Frames(labels)
    root: dict[int, int] = {}
    done = []
    for join in joins:  # by the later track's start: a chain a -> b -> c ends on a
        keep = root.get(join.earlier, join.earlier)
        _relabel(frames, lineage.tracks[join.later], keep)
        _join_lineage(lineage, keep, join)
        root[join.later] = keep
        done.append(replace(join, earlier=keep))
    for keep in {j.earlier for j in done}:
        track = lineage.tracks[keep]
        length = track.end - track.start + 1
        if length < min_length and track.end < frames.n - 1:
            lineage.flag(keep, track.start, "short", 0.3,
                         f"tracked on {length} frame(s) only (gaps included), from frame {track.start}")
    return done


def _relabel(frames: _Frames, later, keep: int) -> None:
    for t in range(later.start, later.end + 1):
        frame = frames.read(t)
        hit = frame == later.track_id
        if hit.any():
            frame = frame.copy()
            frame[hit] = keep
            frames.write(t, frame)


def _join_lineage(lineage: Lineage, keep: int, join: Join) -> None:
    """Track ``join.later`` becomes part of track ``keep``: end, daughters, flags."""
    earlier, later = lineage.tracks[keep], lineage.tracks[join.later]
    end = earlier.end
    earlier.end = max(earlier.end, later.end)
    earlier.reviewed = earlier.reviewed and later.reviewed
    for track in lineage.tracks.values():
        if track.parent == join.later:
            track.parent = keep
    moot = {(keep, "ends_inside", end), (join.later, "ends_inside", later.start)}
    flags = []
    for flag in lineage.flags:
        if (flag.track_id, flag.kind, flag.frame) in moot or (
                flag.kind == "short" and flag.track_id in (keep, join.later)):
            continue
        flags.append(replace(flag, track_id=keep) if flag.track_id == join.later else flag)
    lineage.flags = flags
    del lineage.tracks[join.later]
    if join.missing:
        gap = (f"frame {end + 1}" if join.missing == 1 else f"frames {end + 1}-{join.start - 1}")
        message = f"lost on {gap}, found again on frame {join.start} (was track {join.later})"
    else:
        message = f"ids changed on frame {join.start} (track {join.later} continued it)"
    lineage.flags.append(Flag(keep, end + 1, "gap", GAP_SEVERITY, message))
