"""The per-frame checks of track-all: each review flag from label images, naming its frame."""

import numpy as np

from napari_sam2.core.lineage import Lineage
from napari_sam2.core.records import FrameResult
from napari_sam2.core.track_checks import FrameChecks, TrackParams
from world import disk

SHAPE = (80, 80)


def checks_with(prev_cells, tracks=(1, 2)):
    lineage = Lineage()
    for t in tracks:
        lineage.add(t, start=0, end=3)
    checks = FrameChecks(lineage, TrackParams(), SHAPE)
    prev = np.zeros(SHAPE, np.uint16)
    for cell_id, mask in prev_cells.items():
        prev[mask] = cell_id
    checks.start_pass(prev, reverse=False)
    return checks, lineage


def result(frame, cells, scores=None, ious=None):
    labels = np.zeros(SHAPE, np.uint16)
    for cell_id, mask in cells.items():
        labels[mask & (labels == 0)] = cell_id
    ids = tuple(cells)
    n = len(ids)
    return FrameResult(frame, ids, np.array([labels == i for i in ids]),
                       np.array(scores or [0.99] * n, np.float32), labels,
                       None if ious is None else np.array(ious, np.float32))


def kinds(lineage, track=None):
    return {(f.track_id, f.kind, f.frame) for f in lineage.flags if track in (None, f.track_id)}


def test_area_jump_and_presence_and_iou_drop():
    a, b = disk(SHAPE, (20, 20), 6), disk(SHAPE, (60, 60), 6)
    checks, lineage = checks_with({1: a, 2: b})
    for frame in (1, 2, 3):
        checks.frame(result(frame, {1: a, 2: b}, ious=[0.9, 0.9]), False)
        checks.end_frame(result(frame, {1: a, 2: b}).labels)
    checks.frame(result(4, {1: disk(SHAPE, (20, 20), 12), 2: b}, scores=[0.99, 0.6], ious=[0.9, 0.3]), False)
    assert kinds(lineage) == {(1, "area_jump", 4), (2, "presence_drop", 4), (2, "iou_drop", 4)}
    message = next(f.message for f in lineage.flags if f.kind == "area_jump")
    assert "frames 3 and 4" in message


def test_a_jump_onto_a_neighbour_and_the_neighbour_losing_its_place():
    a, b = disk(SHAPE, (20, 20), 6), disk(SHAPE, (20, 36), 6)
    checks, lineage = checks_with({1: a, 2: b})
    outcome = checks.frame(result(5, {1: disk(SHAPE, (20, 35), 6), 2: disk(SHAPE, (20, 44), 6)}), False)
    assert not outcome.ended and not outcome.splits
    assert (1, "jump", 5) in kinds(lineage) and (2, "overlap", 5) in kinds(lineage)
    assert "cell 2" in next(f.message for f in lineage.flags if f.kind == "jump")


def test_flags_are_not_repeated_on_consecutive_frames():
    a = disk(SHAPE, (20, 20), 6)
    checks, lineage = checks_with({1: a})
    for frame in (1, 2, 3):
        checks.frame(result(frame, {1: a}, scores=[0.5]), False)
        checks.end_frame(result(frame, {1: a}).labels)
    checks.frame(result(5, {1: a}, scores=[0.5]), False)
    assert sorted(f.frame for f in lineage.flags) == [1, 5]


def test_ends_split_and_short_tracks():
    a, b = disk(SHAPE, (40, 40), 8), disk(SHAPE, (2, 40), 5)
    checks, lineage = checks_with({1: a, 2: b})
    parts = disk(SHAPE, (40, 30), 6) | disk(SHAPE, (40, 52), 6)
    outcome = checks.frame(result(4, {1: parts, 2: np.zeros(SHAPE, bool)}), False)
    assert outcome.ended == [2]  # left at the top edge: no flag
    assert not any(f.kind == "ends_inside" for f in lineage.flags)
    first, second = outcome.splits[1]
    assert first.sum() == second.sum() and not (first & second).any()
    lineage.add(9, start=2, end=3)
    checks.finish(n_frames=10)
    assert (9, "short", 2) in kinds(lineage)


def test_reverse_checks_do_not_split_and_name_the_begin():
    a = disk(SHAPE, (40, 40), 8)
    checks, lineage = checks_with({1: a})
    checks.start_pass(checks.prev, reverse=True)
    parts = disk(SHAPE, (40, 30), 6) | disk(SHAPE, (40, 52), 6)
    assert not checks.frame(result(2, {1: parts}), True).splits
    checks.end_frame(result(2, {1: a}).labels)
    outcome = checks.frame(result(1, {1: np.zeros(SHAPE, bool)}, scores=[0.1]), True)
    assert outcome.ended == [1]
    flag = next(f for f in lineage.flags if f.kind == "ends_inside")
    assert flag.frame == 2 and "begins on frame 2" in flag.message
