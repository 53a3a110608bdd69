"""Untracked ground truth, matching objects by overlap, per-object IoU not dominated by empty frames."""

import numpy as np
import pytest

from conftest import new_ids_every_frame
from napari_sam2.core.errors import InputError
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.evaluation.matching import check_tracking, match_objects
from napari_sam2.evaluation.metrics import evaluate_labels
from napari_sam2.evaluation.objects import object_iou


@pytest.fixture(scope="module")
def tracked():
    return synthetic_timelapse(n_frames=12, seed=3, divisions=False)[1]


def shuffled_ids_every_frame(truth, seed=0):
    """Ids 1..n on every frame, in a different order on each frame (like ../shared/data/c2c12)."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(truth)
    for t in range(len(truth)):
        ids = np.unique(truth[t])[1:]
        lut = np.zeros(int(truth.max()) + 1, truth.dtype)
        lut[ids] = rng.permutation(np.arange(1, len(ids) + 1)) if t else np.arange(1, len(ids) + 1)
        out[t] = lut[truth[t]]
    return out


def test_empty_frames_made_an_all_wrong_result_score_high_and_now_do_not(tracked):
    """The bug: new truth ids on every frame, a prediction that is right on frame 0 and empty after.

    The clicks protocol scored each frame-0 id over all frames: wherever the id is absent
    from the truth and the prediction is empty, J = F = 1.
    """
    truth = new_ids_every_frame(tracked)
    prediction = np.zeros_like(truth)
    prediction[0] = truth[0]
    ids = [int(i) for i in np.unique(truth[0]) if i]
    old = evaluate_labels(truth, prediction, ids, exclude_ends=False)
    assert old.j_and_f > 0.9  # "target reached" for cells lost on every frame after the first

    check = check_tracking(truth)
    assert not check.tracked and set(check.vanished) == set(ids)
    assert "not tracked over time" in check.message and "never appear again" in check.message

    # the tracked cells, lost after frame 0: per object IoU 1/12, J active 1/12, 11 lost frames
    table = object_iou(prediction, tracked, match="id")
    assert table.tracking.tracked
    for row in table.rows:
        assert row["IoU"] == pytest.approx(1 / 12, abs=0.02)
        assert row["J_active"] == pytest.approx(1 / 12) and row["active"] == 12
        assert row["lost_frames"] == 11 and row["last_IoU"] == 0 and row["lost"]
    assert table.lost == ids and "lost: " in table.text()


def test_shuffled_ids_every_frame_are_untracked(tracked):
    truth = shuffled_ids_every_frame(tracked)
    check = check_tracking(truth)
    assert not check.tracked and check.switched > check.kept and not check.vanished
    assert "overlap an object with another id on the next frame" in check.message
    assert check_tracking(tracked).tracked
    # a tracked truth with divisions (daughters get new ids) is still tracked
    assert check_tracking(synthetic_timelapse(n_frames=12, seed=3, divisions=True)[1]).tracked
    assert check_tracking(tracked[:1]).tracked  # one frame: nothing to check
    assert check_tracking(tracked.transpose(1, 0, 2), axis=1).tracked


def test_real_per_frame_labels_are_untracked(shared_data):
    data = shared_data / "c2c12" / "data_small.npz"
    if not data.is_file():
        pytest.skip(f"{data} not found")
    labels = np.load(data)["labels"]
    check = check_tracking(labels)
    assert not check.tracked and check.switched > 2 * check.kept
    # scored against itself with matching by id, the untracked truth is flagged on the table
    table = object_iou(labels, labels, match="id")
    assert not table.tracking.tracked and "WARNING: the ground truth is not tracked" in table.text()


def test_overlap_matching_is_one_to_one_and_says_how(tracked):
    ids = [int(i) for i in np.unique(tracked)[1:]]
    clicked = {100 + n: k for n, k in enumerate(ids[::-1])}  # the clicked objects' own ids
    lut = np.zeros(int(tracked.max()) + 1, np.uint16)
    for p, k in clicked.items():
        lut[k] = p
    prediction = lut[tracked]
    prediction[prediction == 100] = 0  # one truth object was not clicked
    missed = clicked.pop(100)
    prediction[:, :3, :3] = 7  # a false positive in a corner
    tracked = tracked.copy()
    tracked[:, :3, :3] = 0

    by_id = match_objects(tracked, prediction, by="id")
    assert by_id.pairs == {} and "0 object(s) matched by id" in by_id.describe()

    matching = match_objects(tracked, prediction)
    assert matching.pairs == clicked
    assert all(v == 1 for v in matching.iou.values()) and set(matching.frames.values()) == {0}
    assert matching.unmatched_pred == (7,) and matching.unmatched_truth == (missed,)
    line = matching.describe()
    assert "matched to true objects by overlap" in line and "on frame 0" in line
    assert "1 predicted object(s) overlap no true object" in line
    assert "1 true object(s) have no prediction" in line

    table = object_iou(prediction, tracked)
    scores = {r["pred"]: r["IoU"] for r in table.rows}
    assert scores == {7: 0.0, **{p: 1.0 for p in clicked}}
    assert table.mean_iou == pytest.approx(len(clicked) / (len(clicked) + 1))
    assert table.lost == []  # a false positive is not "lost"


def test_overlap_matching_on_a_given_frame_and_a_greedy_trap():
    """Hungarian, not greedy: pred 1 overlaps both truths best with truth 1, pred 2 only truth 1."""
    truth = np.zeros((2, 10, 20), np.uint8)
    truth[:, 0:10, 0:10] = 1
    truth[:, 0:10, 10:20] = 2
    pred = np.zeros_like(truth)
    pred[:, 0:10, 4:20] = 1  # IoU 0.4 with truth 1, 0.625 with truth 2
    pred[1, 0:10, 0:4] = 2  # present on frame 1 only: IoU 0.4 with truth 1
    pred[0, 0:10, 0:4] = 0
    matching = match_objects(truth, pred)
    assert matching.pairs == {1: 2, 2: 1} and matching.frames == {1: 0, 2: 1}
    assert match_objects(truth, pred, frames=1).frames == {1: 1, 2: 1}
    with pytest.raises(InputError, match="match must be one of"):
        match_objects(truth, pred, by="name")
    with pytest.raises(InputError, match="must be the same"):
        match_objects(truth, pred[:, :5])
