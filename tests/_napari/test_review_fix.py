"""_napari/review_fix.py: a flagged track fixed from clicks, one undo step, lineage updated (no viewer)."""

import numpy as np
import pytest
from napari.layers import Labels, Points

from doubles import DiskTracker
from napari_sam2._napari.review import (
    MODEL_METADATA,
)
from napari_sam2._napari.review_fix import TrackFix, fix_model_name, fix_points
from napari_sam2.core.errors import InputError
from review_data import N_FRAMES, SHAPE, review_on_disk


@pytest.fixture
def review(tmp_path):
    return review_on_disk(tmp_path / "tracks.zarr")


IMAGE = np.random.default_rng(0).integers(0, 1000, (N_FRAMES, *SHAPE)).astype(np.uint16)


def _run(fix, tracker, point=(8, 40)):
    fix.begin()
    for step in fix.steps(IMAGE, [point], [1], tracker):
        fix.apply(step)
    return fix.finish()


def test_a_fix_rewrites_that_track_from_the_frame_on_in_one_undo_step(review):
    before = np.asarray(review.layer.data[:]).copy()
    said = _run(TrackFix(review, 1, 3), DiskTracker())
    after = np.asarray(review.layer.data[:])
    assert np.array_equal(after[:3], before[:3])
    for t in range(3, N_FRAMES):
        rows, cols = np.nonzero(after[t] == 1)
        assert abs(rows.mean() - 8) < 1 and abs(cols.mean() - 40 - 0.8 * (t - 3)) < 1.5  # the disk
        assert not (after[t][before[t] == 1] == 1).any()  # the old pixels are gone
        others = (before[t] != 0) & (before[t] != 1)
        assert np.array_equal(after[t][others], before[t][others])
    track = review.lineage.tracks[1]
    assert track.reviewed and (track.start, track.end) == (0, N_FRAMES - 1)
    assert all(r.track_id != 1 for r in review.rows())  # its flag (frame 5) dropped, track reviewed
    assert "track 1 re-tracked on frames 3-5" in said
    review.layer.undo()
    assert np.array_equal(np.asarray(review.layer.data[:]), before)


def test_a_lost_object_ends_the_track_where_it_was_last_seen(review):
    said = _run(TrackFix(review, 1, 3), DiskTracker(absent={1: {4, 5}}))
    assert not (np.asarray(review.layer.data[4:]) == 1).any()
    assert review.lineage.tracks[1].end == 3 and "lost after frame 3" in said


def test_a_dividing_track_is_fixed_up_to_its_division_only(review):
    review.mark_division(2, (2, 3), frame=3)  # 2 ends on frame 2; daughters 5 and 3
    daughters = np.asarray(review.layer.data[3:]).copy()
    said = _run(TrackFix(review, 2, 1), DiskTracker(), point=(30, 10))
    labels = np.asarray(review.layer.data[:])
    assert np.array_equal(labels[3:], daughters) and (labels[1:3] == 2).any()
    assert review.lineage.tracks[2].end == 2 and review.lineage.edges() == [(2, 3), (2, 5)]
    assert "stopped at its division (frame 2); daughters 3, 5 untouched" in said
    with pytest.raises(InputError, match="fix its daughters"):
        TrackFix(review, 2, 4)


def test_bad_clicks_change_nothing(review):
    before = np.asarray(review.layer.data[:]).copy()
    fix = TrackFix(review, 1, 3)
    with pytest.raises(InputError, match="no positive point"):
        fix.steps(IMAGE, [[8, 40]], [0], DiskTracker())
    with pytest.raises(InputError, match="there is no track 9"):
        TrackFix(review, 9, 3)
    assert np.array_equal(np.asarray(review.layer.data[:]), before)


def test_fix_points_are_the_clicks_on_the_frame_in_label_pixels(review):
    layer = Labels(np.zeros((N_FRAMES, *SHAPE), np.uint16), scale=(1, 2, 2))
    points = Points(np.array([[3, 10, 20], [3, 30, 40], [4, 2, 2]], float), scale=(1, 2, 2),
                    features={"positive": [True, False, True]})
    pixels, labels = fix_points(points, layer, 3)
    np.testing.assert_allclose(pixels, [[10, 20], [30, 40]])
    assert labels.tolist() == [1, 0]
    assert fix_model_name(review.layer)[0] == "demo"  # the store names no model: the bundled one
    review.layer.metadata[MODEL_METADATA] = {"model": "random:tiny", "preset": "accurate"}  # Track all's
    assert fix_model_name(review.layer) == ("random:tiny", "accurate")
