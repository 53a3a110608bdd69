"""Divisions found going backward in time: the rule on hand-made frames, the engine with a scripted
world seeded after a division (lineage, label ids, CTC and GEFF exports), touching cells that do not
divide, and the demo model on a synthetic time-lapse seeded after a division."""

import numpy as np
import pytest

from napari_sam2.core.frames import FrameSource
from napari_sam2.core.reverse_divisions import find_merges, solidity
from napari_sam2.core.session import Session
from napari_sam2.core.track_all import TrackAll, TrackParams
from world import WorldTracker, disk, world_with_events

PARAMS = TrackParams()
SIZE = (64, 64)


class TwoWayWorld(WorldTracker):
    """The world double, following each object from its last mask *in the direction tracked*
    (a run seeded mid-stack goes forward from the seed, as SAM2's memory does)."""

    def step(self, frame, steps, reverse):
        prompted = [s for s in steps if s.prompt is not None and s.prompt.mask is not None]
        for s in steps:  # the double reads self.last: give it this direction's last mask
            if (s.obj_id, reverse) in self.by_direction and s not in prompted:
                self.last[s.obj_id] = self.by_direction[s.obj_id, reverse]
        output = super().step(frame, steps, reverse)
        for s in steps:
            for way in ((False, True) if s in prompted else (reverse,)):
                self.by_direction[s.obj_id, way] = self.last[s.obj_id]
        return output

    def __init__(self, world):
        super().__init__(world)
        self.by_direction = {}


def frames(masks):
    """A label frame from ``{id: mask}``."""
    labels = np.zeros(SIZE, np.uint16)
    for obj_id, mask in masks.items():
        labels[mask] = obj_id
    return labels


def history(labels):
    counts = np.bincount(labels.ravel())
    return {int(i): [int(counts[i])] * 3 for i in np.flatnonzero(counts[1:]) + 1}


LEFT, RIGHT = disk(SIZE, (32, 24), 7), disk(SIZE, (32, 40), 7)
MOTHER = disk(SIZE, (32, 32), 10)


def test_solidity_tells_one_cell_from_two():
    assert solidity(MOTHER) > 0.9 and solidity(disk((64, 64), (32, 32), 20) & (np.arange(64) < 40)) > 0.95
    assert solidity(disk(SIZE, (32, 23), 9) | disk(SIZE, (32, 41), 9)) < 0.9  # two touching cells


def test_a_daughter_swallowed_by_its_sister_is_a_merge():
    prev = frames({1: LEFT, 2: RIGHT})
    now = frames({1: MOTHER & ~disk(SIZE, (32, 36), 2), 2: disk(SIZE, (32, 36), 2)})
    (merge,) = find_merges(prev, now, [1, 2], history(prev), PARAMS)
    assert merge.daughters == (1, 2) and np.array_equal(merge.mask, MOTHER)
    assert 0.9 < merge.size_ratio < 1.1 and not merge.unsure
    now = frames({1: MOTHER})  # the other daughter vanished altogether
    (merge,) = find_merges(prev, now, [1, 2], history(prev), PARAMS)
    assert merge.daughters == (1, 2)


@pytest.mark.parametrize("case", ["both kept", "jump onto the neighbour", "one mask over two cells",
                                  "tiny neighbour", "off", "not computed"])
def test_no_merge_without_a_mother_sized_mask_of_two_comparable_cells(case):
    prev = frames({1: LEFT, 2: RIGHT})
    now, ids, params = frames({1: MOTHER}), [1, 2], PARAMS
    if case == "both kept":  # touching neighbours, each on its own place
        now = frames({1: disk(SIZE, (32, 25), 7), 2: disk(SIZE, (32, 39), 7)})
    elif case == "jump onto the neighbour":  # 1 takes 2's place: the size of one cell
        now = frames({1: disk(SIZE, (32, 38), 7)})
    elif case == "one mask over two cells":  # the right size, but with a waist: two cells
        now = frames({1: LEFT | RIGHT | disk(SIZE, (32, 32), 2)})
    elif case == "tiny neighbour":
        prev = frames({1: MOTHER, 2: disk(SIZE, (32, 44), 3)})
    elif case == "off":
        params = TrackParams(reverse_divisions=False)
    else:
        ids = [1]
    if case == "off":
        engine, _ = run_world(dividing_world(), 8, params)
        assert not engine.lineage.edges()
        return
    assert find_merges(prev, now, ids, history(prev), params) == []


def lineage_of(labels, parents):
    """The true lineage of a label stack: each id from its first to its last frame, with ``parents``."""
    from napari_sam2.core.track_exports import ctc_lineage

    lineage, _ = ctc_lineage(labels)
    for daughter, parent in parents.items():
        lineage.tracks[daughter].parent = parent
    return lineage


def dividing_world():
    """:func:`world_with_events` with the mother one elongated cell on frame 5, its last frame (cell 2
    divides into 4 and 5, which begin on frame 6)."""
    world = world_with_events()
    rows, cols = np.mgrid[:96, :96]
    world[5][world[5] == 2] = 0
    world[5][((rows - 60) / 6.5) ** 2 + ((cols - 30) / 14) ** 2 <= 1] = 2
    return world


def run_world(world, frame, params=None):
    tracker = TwoWayWorld(world)
    session = Session(FrameSource(world * 100, axis=0), tracker)
    engine = TrackAll(session, params or TrackParams(seed_every=0))
    seeds = {int(i): world[frame] == i for i in np.unique(world[frame])[1:]}
    return engine, list(engine.run(seeds, frame=frame))


def test_seeded_after_a_division_the_run_finds_the_mother_going_backward(tmp_path):
    from napari_sam2.core.track_exports import write_ctc_folder, write_ctc_ground_truth
    from napari_sam2.core.track_geff import read_geff, write_geff
    from napari_sam2.evaluation.ctc import score_ctc
    world = dividing_world()
    engine, steps = run_world(world, 8)
    labels, lineage = np.asarray(engine.session.labels), engine.lineage
    (mother,) = [t for t in lineage.tracks if lineage.daughters(t) == [4, 5]]
    assert mother not in (1, 4, 5, 6) and mother == max(lineage.tracks)  # a new id
    assert (lineage.tracks[mother].start, lineage.tracks[mother].end) == (0, 5)
    assert all((lineage.tracks[d].start, lineage.tracks[d].parent) == (6, mother) for d in (4, 5))
    assert [s.divided for s in steps if s.frame == 5 and s.direction == "backward"] == [[mother]]
    for t in range(6):  # the mother's pixels are the world's cell 2; no daughter before frame 6
        assert np.array_equal(labels[t] == mother, world[t] == 2)
        assert not np.isin(labels[t], (4, 5)).any()
    for t in range(12):  # every id on a frame is a track covering that frame
        for i in np.unique(labels[t])[1:]:
            assert lineage.tracks[i].start <= t <= lineage.tracks[i].end
    division = [f for f in lineage.flags if f.kind == "division"]
    assert [(f.track_id, f.frame) for f in division] == [(mother, 5)] and "backward" in division[0].message
    assert not any(f.track_id in (4, 5) and f.frame <= 6 and f.kind in ("overlap", "ends_inside")
                   for f in lineage.flags)
    res = write_ctc_folder(labels, lineage, tmp_path / "01_RES")
    assert f"4 6 11 {mother}" in (res / "res_track.txt").read_text()
    truth = world.copy()
    truth[:8][truth[:8] == 3] = 0  # cell 3 is not seeded (it is gone on frame 8): leave it out
    write_ctc_ground_truth(truth, lineage_of(truth, {4: 2, 5: 2}), tmp_path / "01_GT")
    scores = score_ctc(tmp_path / "01_GT", res)  # a ValueError if the folder were invalid
    off, _ = run_world(world, 8, TrackParams(seed_every=0, reverse_divisions=False))
    off_res = write_ctc_folder(np.asarray(off.session.labels), off.lineage, tmp_path / "off_RES")
    assert scores["TRA"] > score_ctc(tmp_path / "01_GT", off_res)["TRA"]
    write_geff(labels, lineage, tmp_path / "t.geff")
    read, _ = read_geff(tmp_path / "t.geff")
    assert read.tracks[4].parent == read.tracks[5].parent == mother


@pytest.mark.parametrize("frame_3", ["cell 2 gone", "one mask over both"])
def test_touching_cells_that_do_not_divide_are_not_merged(frame_3):
    world = np.zeros((8, 64, 64), np.uint16)
    for t in range(8):  # two cells side by side, touching, drifting together
        world[t][disk(SIZE, (32, 20 + t), 8)] = 1
        world[t][disk(SIZE, (32, 36 + t), 8)] = 2
    # frame 3: cell 2 is gone (cell 1's track must not take it over), or one label covers both
    # (the size of two cells, but with a waist: only the convexity test tells)
    world[3][world[3] == 2] = 0 if frame_3 == "cell 2 gone" else 1
    engine, _ = run_world(world, 7)
    assert not engine.lineage.edges()
    assert sorted(engine.lineage.tracks) == [1, 2]
    if frame_3 == "one mask over both":  # without the convexity test it would be a division
        loose, _ = run_world(world, 7, TrackParams(seed_every=0, merge_solidity=0.0))
        assert len(loose.lineage.edges()) == 2


def test_the_demo_model_seeded_after_a_division_finds_the_mother(tmp_path):
    """Synthetic stack (seed 12 of bench_track): cell 9 (entering on frame 5) divides into 16 and 17
    (first frame 10).
    Seeded with the true labels on frame 12 and tracked backward, the demo model's masks of 16
    and 17 merge into one: a mother with a new id over the true mother, exported as valid CTC."""
    from napari_sam2.core.synthetic import synthetic_tracking
    from napari_sam2.core.track_exports import read_ctc_folder, write_ctc_folder

    image, truth, true_lineage = synthetic_tracking(24, (256, 256), 8, seed=12, entering=0.15, speed=0.015)
    assert (true_lineage.tracks[16].parent, true_lineage.tracks[16].start) == (9, 10)
    image, truth = image[:13], truth[:13]  # frame 12 is the last: backward only
    session = Session.from_array(image, model="demo", device="cpu")
    engine = TrackAll(session, TrackParams(seed_every=0))
    seeds = {int(i): truth[12] == i for i in np.unique(truth[12])[1:]}
    list(engine.run(seeds, frame=12))
    labels, lineage = np.asarray(session.labels), engine.lineage
    mother = lineage.tracks[16].parent
    assert mother > max(seeds) and lineage.daughters(mother) == [16, 17]
    start = lineage.tracks[16].start
    assert abs(start - 10) <= 1 and lineage.tracks[17].start == start
    assert lineage.tracks[mother].end == start - 1
    assert abs(lineage.tracks[mother].start - true_lineage.tracks[9].start) <= 1  # it entered on frame 5
    ours, true_mother = labels[start - 1] == mother, truth[start - 1] == 9
    assert np.count_nonzero(ours & true_mother) / np.count_nonzero(ours | true_mother) > 0.5
    assert not np.isin(labels[:start], (16, 17)).any()
    written = write_ctc_folder(labels, lineage, tmp_path / "01_RES")
    _, read = read_ctc_folder(written)
    assert (read.tracks[16].parent, read.tracks[17].parent) == (mother, mother)
    assert read.tracks[mother].end == start - 1
