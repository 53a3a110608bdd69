"""workflows/retrack.py: one object re-tracked from clicks on a frame, the other labels untouched."""

import numpy as np
import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.workflows.retrack import fixed_frame, retrack_object
from review_data import inside, jumped_track

N_FRAMES, FIX_FRAME, OBJ = 8, 3, 2


@pytest.fixture(scope="module")
def corrupted():
    """A synthetic time-lapse whose track 2 jumps to an empty spot from frame 3 on."""
    return jumped_track(N_FRAMES, FIX_FRAME, OBJ, (128, 128), n_cells=4, half=4, free_from=FIX_FRAME)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_a_click_inside_the_true_cell_recovers_the_track_and_leaves_the_others(corrupted):
    from napari_sam2.core.models import load_model

    image, truth, labels = corrupted
    assert _iou(labels[FIX_FRAME] == OBJ, truth[FIX_FRAME] == OBJ) == 0  # the broken track
    steps = list(retrack_object(image, labels, OBJ, FIX_FRAME, [inside(truth[FIX_FRAME] == OBJ)],
                                model=load_model("demo")))
    assert [s.frame for s in steps] == list(range(FIX_FRAME, N_FRAMES))
    assert all(s.computed and s.present for s in steps)
    fixed = labels.copy()
    for step in steps:
        fixed[step.frame] = step.labels
    assert np.array_equal(fixed[:FIX_FRAME], labels[:FIX_FRAME])
    for t in range(FIX_FRAME, N_FRAMES):
        assert _iou(fixed[t] == OBJ, truth[t] == OBJ) > 0.85  # measured 0.94..0.97
        others = (labels[t] != 0) & (labels[t] != OBJ)
        assert np.array_equal(fixed[t][others], labels[t][others])  # no other track's pixel taken
        assert not ((fixed[t] == OBJ) & (labels[t] != 0) & (labels[t] != OBJ)).any()


def test_the_track_stops_at_its_last_frame_and_a_lost_object_is_cleared(corrupted):
    from doubles import DiskTracker

    image, truth, labels = corrupted
    steps = list(retrack_object(image, labels, OBJ, FIX_FRAME, [[5, 5]], model=DiskTracker(),
                                last_frame=5))
    assert [s.frame for s in steps] == [3, 4, 5]
    empty = DiskTracker(absent={OBJ: {4, 5, 6, 7}})
    steps = list(retrack_object(image, labels, OBJ, FIX_FRAME, [[5, 5]], model=empty, lost_after=2))
    assert [(s.frame, s.computed) for s in steps] == [(3, True), (4, True), (5, True), (6, False),
                                                     (7, False)]
    assert not any((s.labels == OBJ).any() for s in steps[1:])


def test_fixed_frame_clears_the_old_pixels_and_never_takes_another_objects():
    old = np.array([[2, 2, 0], [1, 1, 0]], np.uint16)
    mask = np.array([[0, 1, 1], [1, 0, 0]], bool)
    assert fixed_frame(old, mask, 2).tolist() == [[0, 2, 2], [1, 1, 0]]


@pytest.mark.parametrize(("frame", "points", "labels", "message"), [
    (8, [[5, 5]], None, "frame 8 does not exist"),
    (-1, [[5, 5]], None, "frame -1 does not exist"),
    (2, [[5, 5]], [0], "no positive point on frame 2"),
    (2, [[5, 500]], None, "outside"),
    (2, [], None, "no positive point"),
])
def test_bad_input_is_refused_before_the_model_is_loaded(corrupted, frame, points, labels, message):
    image, _, stack = corrupted
    with pytest.raises(InputError, match=message):
        retrack_object(image, stack, OBJ, frame, points, labels, model="no-such-model")


def test_labels_that_do_not_fit_the_image_are_refused(corrupted):
    image, _, stack = corrupted
    with pytest.raises(InputError, match="choose the image the labels were made from"):
        retrack_object(image, stack[:, :64], OBJ, 2, [[5, 5]], model="no-such-model")
    with pytest.raises(InputError, match="between frame 4"):
        retrack_object(image, stack, OBJ, 4, [[5, 5]], model="no-such-model", last_frame=2)
