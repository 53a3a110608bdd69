"""Track-all: the plumbing with a scripted world (divisions, new and vanishing cells, flags, both
directions, cancelling), then the demo model end to end on a synthetic time-lapse."""

import numpy as np
import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.seeds import SeedParams
from napari_sam2.core.session import Session
from napari_sam2.core.track_all import TrackAll, TrackParams
from world import WorldTracker, world_with_events

PARAMS = TrackParams(seed_every=2, seeds=SeedParams(points_per_side=16, min_area=20))


def engine_on(world, params=PARAMS):
    tracker = WorldTracker(world)
    session = Session(FrameSource(world * 100, axis=0), tracker)
    return TrackAll(session, params), tracker


def our_id(labels, truth, cell):
    """Our label covering most of the world's ``cell`` (0 when none)."""
    under = labels[truth == cell]
    under = under[under > 0]
    return int(np.bincount(under).argmax()) if len(under) else 0


def test_divisions_new_and_ending_cells_make_the_lineage():
    world = world_with_events()
    engine, _ = engine_on(world)
    steps = list(engine.run(frame=0))
    assert [s.frame for s in steps] == list(range(12))  # the seed frame, then forward
    labels, lineage = engine.session.labels, engine.lineage
    mother = our_id(labels[4], world[4], 2)
    daughters = lineage.daughters(mother)
    assert len(daughters) == 2
    assert lineage.tracks[mother].end == 4
    assert {our_id(labels[8], world[8], 4), our_id(labels[8], world[8], 5)} == set(daughters)
    assert all(lineage.tracks[d].start == 5 for d in daughters)
    # the moving cell keeps one id on every frame
    assert len({our_id(labels[t], world[t], 1) for t in range(12)}) == 1
    # the entering cell is found on the first search after it enters, and kept
    entering = our_id(labels[11], world[11], 6)
    assert entering and lineage.tracks[entering].start == 6 and lineage.tracks[entering].end == 11
    # the vanishing cell ends on frame 7, flagged as ending inside the field
    gone = our_id(labels[7], world[7], 3)
    assert lineage.tracks[gone].end == 7
    assert any(f.kind == "ends_inside" and f.frame == 7 for f in lineage.flags if f.track_id == gone)
    assert any(f.kind == "division" and f.frame == 5 for f in lineage.flags if f.track_id == mother)
    # every world cell on every frame is one of our tracks (nothing duplicated)
    for t in range(12):
        ids = [our_id(labels[t], world[t], c) for c in np.unique(world[t])[1:]]
        assert 0 not in ids and len(set(ids)) == len(ids)
        covered = set(np.unique(labels[t][world[t] > 0]).tolist()) - {0}
        assert set(np.unique(labels[t])[1:].tolist()) == covered  # nothing outside the cells


def test_seeds_on_a_middle_frame_are_tracked_both_ways():
    world = world_with_events()
    engine, tracker = engine_on(world, TrackParams(seed_every=0))
    seeds = {7: world[3] == 1, 9: world[3] == 3}
    frames = [s.frame for s in engine.run(seeds, frame=3)]
    assert frames == [3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11]
    tracks = engine.lineage.tracks
    assert (tracks[7].start, tracks[7].end) == (0, 11)
    assert (tracks[9].start, tracks[9].end) == (0, 7)
    assert (engine.session.labels[0] == 7).sum() == (world[0] == 1).sum()
    assert not tracker.decoded  # seed_every=0: no automatic search


def test_closing_the_generator_cancels_between_frames():
    world = world_with_events()
    engine, tracker = engine_on(world)
    run = engine.run(frame=0)
    for step in run:
        if step.frame == 3:
            break
    run.close()
    computed = [frame for frame, _ in tracker.steps]
    assert max(computed) == 3
    assert not engine.session.labels[4:].any()


def test_no_cells_found_is_said():
    world = np.zeros((4, 64, 64), np.uint16)
    engine, _ = engine_on(world)
    with pytest.raises(InputError, match="no cells found on frame 0"):
        next(engine.run(frame=0))


def test_a_duplicate_seed_does_not_start_a_track():
    world = world_with_events()
    engine, _ = engine_on(world, TrackParams(seed_every=1))
    list(engine.run(frame=0))
    starts = sorted(t.start for t in engine.lineage.tracks.values())
    assert starts == [0, 0, 0, 5, 5, 6]  # three seeds, two daughters, the entering cell


def test_the_engine_drives_the_demo_model_on_a_synthetic_timelapse():
    """Most cells found and followed, one id each, by the demo model with automatic seeds."""
    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(10, (192, 192), n_cells=6, seed=4, divisions=False)
    session = Session.from_array(image, model="demo", device="cpu")
    engine = TrackAll(session, TrackParams(seed_every=3))
    list(engine.run(frame=0))
    labels = np.asarray(session.labels)
    found, consistent, cells = 0, 0, np.unique(truth)[1:]
    for cell in cells:
        ids = []
        for t in range(10):
            ours = our_id(labels[t], truth[t], cell)
            inter = np.count_nonzero((labels[t] == ours) & (truth[t] == cell)) if ours else 0
            union = np.count_nonzero((labels[t] == ours) | (truth[t] == cell)) if ours else 1
            ids.append(ours if inter / union >= 0.5 else 0)
        matched = [i for i in ids if i]
        if len(matched) >= 7:
            found += 1
            consistent += np.bincount(matched).max() >= 0.9 * len(matched)
    assert found >= 0.6 * len(cells), (found, len(cells))
    assert consistent >= found - 1
    assert all(np.isfinite(f.severity) for f in engine.lineage.flags)


@pytest.mark.parametrize("max_gap", [0, 2])
def test_a_cell_missing_for_two_frames_keeps_its_id_with_gap_closing(max_gap):
    world = world_with_events()
    world[4:6][world[4:6] == 1] = 0  # cell 1 blinks out on frames 4 and 5
    engine, _ = engine_on(world, TrackParams(seed_every=2, max_gap=max_gap,
                                             seeds=SeedParams(points_per_side=16, min_area=20)))
    steps = list(engine.run(frame=0))
    labels, lineage = engine.session.labels, engine.lineage
    ids = {our_id(labels[t], world[t], 1) for t in (*range(4), *range(6, 12))}
    relabelled = [s.frame for s in steps if s.direction == "gaps"]  # for the widget to show
    assert relabelled == (list(engine.joins[0].frames) if max_gap else [])
    gaps = [f for f in lineage.flags if f.kind == "gap"]
    if max_gap:
        (cell,) = ids
        assert (lineage.tracks[cell].start, lineage.tracks[cell].end) == (0, 11)
        assert [(f.track_id, f.frame) for f in gaps] == [(cell, 4)] and len(engine.joins) == 1
        assert not any(f.kind == "ends_inside" and f.track_id == cell for f in lineage.flags)
        mother = our_id(labels[4], world[4], 2)
        assert len(lineage.daughters(mother)) == 2  # the division is untouched
    else:
        assert len(ids) == 2 and not gaps and engine.joins == []
