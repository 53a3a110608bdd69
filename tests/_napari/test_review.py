"""_napari/review.py: the review list and its actions on a Labels layer over a real zarr store (no viewer)."""

import numpy as np
import pytest
from napari.layers import Labels

from napari_sam2._napari.review import (
    LINEAGE_METADATA,
    SOURCE_METADATA,
    Review,
    read_track_result,
)
from napari_sam2.core.errors import InputError
from review_data import synthetic_track_result


@pytest.fixture
def review(tmp_path):
    path = tmp_path / "tracks.zarr"
    synthetic_track_result(path)
    data, lineage = read_track_result(path)
    layer = Labels(data, metadata={LINEAGE_METADATA: lineage, SOURCE_METADATA: str(path)})
    return Review(layer), path


def test_the_labels_stay_on_disk_and_the_list_is_sorted_by_severity(review):
    review, _ = review
    assert not isinstance(review.layer.data, np.ndarray)  # zarr, read frame by frame
    rows = review.rows()
    assert [(r.kind, r.track_id, r.frame) for r in rows] == [
        ("jump", 1, 5), ("area_jump", 2, 3), ("division", 3, 3), ("short", 4, 4)]


def test_centre_is_the_label_centre_on_the_flag_frame(review):
    review, _ = review
    np.testing.assert_allclose(review.centre(1, 5), [8.0, 16.0])  # rows 5..11, cols 13..19
    assert review.centre(4, 0) is None


def test_accept_takes_the_track_off_the_list_and_persists_after_save_and_reload(review):
    review, path = review
    review.accept(1)
    assert [r.track_id for r in review.rows()] == [2, 3, 4]
    assert not read_track_result(path)[1].tracks[1].reviewed  # not saved yet
    review.save()
    reloaded = Review(Labels(read_track_result(path)[0]), read_track_result(path)[1])
    assert reloaded.lineage.tracks[1].reviewed and not reloaded.lineage.tracks[2].reviewed
    assert [r.track_id for r in reloaded.rows()] == [2, 3, 4]


def test_delete_clears_the_labels_on_every_frame_in_one_undo_step(review, tmp_path):
    review, path = review
    before = np.asarray(review.layer.data[:]).copy()
    cleared = review.delete(4)
    after = np.asarray(read_track_result(path)[0][:])  # written through to the store
    assert cleared == (before == 4).sum() == 72
    assert not (after == 4).any() and np.array_equal(after[before != 4], before[before != 4])
    assert 4 not in review.lineage.tracks and all(r.track_id != 4 for r in review.rows())
    review.layer.undo()
    assert np.array_equal(np.asarray(review.layer.data[:]), before)


def test_a_division_marked_by_hand_gives_the_followed_daughter_a_new_id(review):
    review, _ = review
    new, other = review.mark_division(2, (2, 3), frame=3)
    assert (new, other) == (5, 3)
    lineage = review.lineage
    assert (lineage.tracks[2].start, lineage.tracks[2].end) == (0, 2)
    assert (lineage.tracks[5].start, lineage.tracks[5].end, lineage.tracks[5].parent) == (3, 5, 2)
    assert lineage.tracks[3].parent == 2 and lineage.edges() == [(2, 3), (2, 5)]
    labels = np.asarray(review.layer.data[:])
    assert not (labels[3:] == 2).any() and (labels[3:] == 5).sum() == 3 * 49 and (labels[:3] == 2).any()
    assert ("area_jump", 5, 3) in [(r.kind, r.track_id, r.frame) for r in review.rows()]


def test_impossible_divisions_are_refused_before_anything_changes(review):
    review, _ = review
    before = np.asarray(review.layer.data[:]).copy()
    with pytest.raises(InputError, match="not on frame 2"):
        review.mark_division(2, (2, 3), frame=2)
    with pytest.raises(InputError, match="goes on after frame 2"):
        review.mark_division(2, (1, 3), frame=3)  # 2 still has labels from frame 3 on
    with pytest.raises(InputError, match="starts on frame 0"):
        review.mark_division(2, (1, 3), frame=0)
    assert np.array_equal(np.asarray(review.layer.data[:]), before) and review.lineage.edges() == []


def test_a_store_without_lineage_is_a_one_line_error(tmp_path):
    import zarr

    zarr.open_array(str(tmp_path / "plain.zarr"), mode="w", shape=(2, 4, 4), dtype="uint8")
    with pytest.raises(InputError, match="no lineage"):
        read_track_result(tmp_path / "plain.zarr")
    with pytest.raises(InputError, match="not a zarr store"):
        read_track_result(tmp_path / "missing.zarr")
