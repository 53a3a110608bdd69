"""_napari/review_edits.py: Ctrl+Z on a review edit's labels puts its lineage back too (real zarr store)."""

import numpy as np
import pytest

from doubles import DiskTracker
from napari_sam2._napari.review import SOURCE_METADATA, read_track_result
from napari_sam2._napari.review_fix import TrackFix
from review_data import N_FRAMES, SHAPE, review_on_disk

IMAGE = np.random.default_rng(0).integers(0, 1000, (N_FRAMES, *SHAPE)).astype(np.uint16)


@pytest.fixture
def review(tmp_path):
    return review_on_disk(tmp_path / "tracks.zarr")


def _state(review):
    return review.lineage.to_dict()


def test_an_undone_delete_brings_the_track_and_its_flags_back_and_redo_removes_them(review):
    before = _state(review)
    review.delete(4)
    deleted = _state(review)
    assert 4 not in review.lineage.tracks
    assert review.sync() == []  # nothing undone yet: nothing changes
    review.layer.undo()
    assert review.sync() == ["undone: delete of track 4"]
    assert _state(review)["tracks"] == before["tracks"]
    assert sorted(map(str, _state(review)["flags"])) == sorted(map(str, before["flags"]))
    assert [r.track_id for r in review.rows()] == [1, 2, 3, 4]
    review.layer.redo()
    assert review.sync() == ["redone: delete of track 4"] and _state(review)["tracks"] == deleted["tracks"]


def test_save_after_an_undo_writes_the_lineage_of_the_labels_on_disk(review):
    review.delete(4)
    review.layer.undo()
    review.save()  # syncs first
    labels, saved = read_track_result(review.layer.metadata[SOURCE_METADATA])
    assert (np.asarray(labels[:]) == 4).any() and 4 in saved.tracks
    assert ("short", 4) in [(f.kind, f.track_id) for f in saved.flags]


def test_an_undone_division_drops_the_new_daughter_and_gives_the_mother_its_frames_back(review):
    before = _state(review)
    assert review.mark_division(2, (2, 3), frame=3) == (5, 3)
    review.layer.undo()
    assert review.sync() == ["undone: division of track 2 on frame 3"]
    assert _state(review)["tracks"] == before["tracks"] and review.lineage.edges() == []


def test_undo_of_a_fix_and_of_an_earlier_delete_keeps_an_accept_made_between_them(review):
    review.delete(4)
    review.accept(3)  # no pixel changes: Ctrl+Z does not undo it
    fix = TrackFix(review, 1, 3)
    fix.begin()
    for step in fix.steps(IMAGE, [(8, 40)], [1], DiskTracker()):
        fix.apply(step)
    fix.finish()
    assert review.lineage.tracks[1].reviewed and all(f.track_id != 1 for f in review.lineage.flags)
    review.layer.undo()
    assert review.sync() == ["undone: re-track of track 1 from frame 3"]
    flags = [(f.kind, f.track_id, f.frame) for f in review.lineage.flags]
    assert not review.lineage.tracks[1].reviewed and ("jump", 1, 5) in flags
    review.layer.undo()
    assert review.sync() == ["undone: delete of track 4"] and 4 in review.lineage.tracks
    assert review.lineage.tracks[3].reviewed  # the accept stays
    review.layer.redo()
    review.layer.redo()
    assert review.sync() == ["redone: delete of track 4", "redone: re-track of track 1 from frame 3"]
    assert 4 not in review.lineage.tracks and review.lineage.tracks[1].reviewed
