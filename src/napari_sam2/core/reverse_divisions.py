"""Divisions seen going backward in time: two daughter tracks that merge into their mother.

Tracking backward from a seed frame after a division, the two daughters
converge on the mother. SAM2 then gives the mother's place to one of them: on
the frame before the division one daughter's mask *swallows* the other's
(measured on the synthetic generator: the taker's mask covers the mother, the
other keeps a sliver or nothing). This is the forward rule of
:mod:`.track_checks` (one mask in two comparable parts) read in reverse: two
comparable masks become one. The rule, on frame ``t`` going backward (masks
of ``t + 1`` are the *previous* ones):

* a track ``B`` kept at most ``1 - merge_cover`` of its recent area (its
  largest over the last frames before ``t``); ``A`` is the track most present
  on ``B``'s previous place (grown by half ``B``'s radius: the daughters move
  apart between the two frames);
* ``A`` and ``B`` were comparable (the smaller >= ``division_share`` of the
  two recent areas, >= ``division_min_area`` pixels), like a division's parts;
* the merged mask (``A``'s and ``B``'s masks on ``t``) is about the size of the
  two daughters together: ``|merged| / (area A + area B)`` within
  ``[1 / merge_area, merge_area]``; a jump of ``A`` onto its neighbour's
  place (half the size) or a mask that spreads over the background is not a
  division;
* both daughters' previous masks lie mostly (>= ``merge_cover``) inside the
  merged mask, grown the same way.

Measured on the generator (3 stacks, ground-truth seeds on frame 12, demo
model): looser thresholds (``merge_cover`` 0.5, 0.7) found as many true
divisions but 2-3x the false ones (neighbours fighting over a place): the
default 0.85 wants a near-complete swallow (docs/track.md).

Then ``A`` and ``B`` start on ``t + 1`` as daughters of a new mother track that
starts on ``t`` with the merged mask and continues backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Merge", "find_merges"]

#: frames of area history a track's "recent area" looks back over
RECENT = 3
#: a merge whose size ratio lies outside [1 / SURE, SURE] is flagged as unsure
SURE = 1.25


@dataclass(frozen=True, eq=False)
class Merge:
    """Two tracks seen merging on one frame (going backward): a division in reverse.

    ``daughters`` is ``(taker, swallowed)``; ``mask`` the mother's frame-sized
    mask on the merge frame; ``size_ratio`` the merged area over the
    daughters' recent areas together; ``unsure`` when that ratio is far from 1.
    """

    daughters: tuple[int, int]
    mask: np.ndarray
    size_ratio: float
    unsure: bool


def recent_area(history: dict[int, list[int]], obj_id: int) -> int:
    """The largest area of ``obj_id`` over its last :data:`RECENT` frames (0 when none)."""
    return max(history.get(obj_id, [])[-RECENT:], default=0)


def find_merges(prev: np.ndarray, labels: np.ndarray, object_ids, history: dict[int, list[int]],
                params) -> list[Merge]:
    """Pairs of tracks that merge on the frame of ``labels`` (going backward).

    Parameters
    ----------
    prev, labels : uint16 arrays (rows, cols)
        The labels of the frame before (in the direction of tracking) and of this frame.
    object_ids : sequence of int
        The tracks computed on this frame (others are not candidates).
    history : dict {id: [area, ...]}
        Each track's areas on the frames before this one, oldest first.
    params : TrackParams
        ``merge_cover``, ``merge_area``, ``division_share``, ``division_min_area``.

    Returns
    -------
    list of Merge
        Each track in at most one merge.
    """
    from scipy import ndimage

    computed = set(int(i) for i in object_ids)
    merges: list[Merge] = []
    used: set[int] = set()
    for swallowed in sorted(computed, key=lambda i: recent_area(history, i)):
        old = prev == swallowed
        ref_b, now_b = recent_area(history, swallowed), int(np.count_nonzero(labels == swallowed))
        if swallowed in used or not old.any() or now_b > (1 - params.merge_cover) * ref_b:
            continue
        grow = max(1, round(0.5 * np.sqrt(ref_b / np.pi)))  # half the cell's radius: the daughters' motion
        takers = labels[ndimage.binary_dilation(old, iterations=grow)]
        takers = takers[(takers != 0) & np.isin(takers, list(computed - used - {swallowed}))]
        if not len(takers):
            continue
        taker = int(np.bincount(takers).argmax())
        ref_a = recent_area(history, taker)
        small, total = min(ref_a, ref_b), ref_a + ref_b
        if small < params.division_min_area or small / total < params.division_share:
            continue
        merged = (labels == taker) | (labels == swallowed)
        ratio = float(np.count_nonzero(merged)) / total
        if not 1 / params.merge_area <= ratio <= params.merge_area:
            continue
        near = ndimage.binary_dilation(merged, iterations=grow)
        if any(np.count_nonzero(near & (prev == i)) < params.merge_cover * np.count_nonzero(prev == i)
               for i in (taker, swallowed)):
            continue
        used |= {taker, swallowed}
        merges.append(Merge((taker, swallowed), merged, ratio, not 1 / SURE <= ratio <= SURE))
    return merges
