"""DAVIS J / F / J&F: cases with known answers, and agreement with the DAVIS reference code."""

from pathlib import Path

import numpy as np
import pytest

from napari_sam2.evaluation.metrics import (
    boundary_f,
    boundary_radius,
    evaluate_labels,
    evaluate_masks,
    jaccard,
    seg2bmap,
    statistics,
)

DAVIS = Path(__file__).resolve().parents[3] / "shared" / "data" / "davis2016"

# Reference values for the OSVOS predictions shipped in ../shared/data/davis2016/osvos_results, produced by
# davisvideochallenge/davis2017-evaluation (commit ac7c43f, run from a scratch copy outside this repository,
# numpy 2.4, opencv-python-headless 5.0, scikit-image 0.26): DAVISEvaluation(task="semi-supervised",
# gt_set="val").evaluate(osvos_results) on a DAVIS root whose Annotations/480p/<seq> are the DAVIS-2016
# masks re-saved with 255 -> 1 (the reference reads 255 as "void") and ImageSets/2017/val.txt listing these
# four sequences. Keys: J/F mean, recall, decay per sequence (one object each).
REFERENCE = {
    "blackswan": dict(JM=0.9430200107, JR=1.0, JD=0.0014083923, FM=0.9740964785, FR=1.0, FD=-0.0004164093),
    "camel": dict(JM=0.8594593780, JR=1.0, JD=0.2000351907, FM=0.8905338723, FR=1.0, FD=0.1877090541),
    "cows": dict(JM=0.9522318621, JR=1.0, JD=0.0221094752, FM=0.9567269395, FR=1.0, FD=0.0334366643),
    "dog": dict(
        JM=0.7107922795, JR=0.7241379310, JD=0.1481500201, FM=0.6911087718, FR=0.7931034483, FD=0.1314403978
    ),
}


def square(shape=(100, 100), top=20, left=20, size=20):
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_identical_masks_score_one():
    m = square()
    assert jaccard(m, m) == 1.0 and boundary_f(m, m) == 1.0


def test_disjoint_masks_score_zero():
    a, b = square(top=5, left=5, size=10), square(top=60, left=60, size=20)
    assert jaccard(a, b) == 0.0 and boundary_f(a, b) == 0.0


def test_empty_ground_truth_and_prediction_score_one():
    empty = np.zeros((30, 40), bool)
    assert jaccard(empty, empty) == 1.0 and boundary_f(empty, empty) == 1.0
    assert jaccard(empty, square((30, 40), 5, 5, 10)) == 0.0
    assert boundary_f(empty, square((30, 40), 5, 5, 10)) == 0.0


def test_shifted_square_iou():
    # 20x20 squares offset by 5 columns: intersection 20*15 = 300, union 2*400 - 300 = 500
    assert jaccard(square(left=20), square(left=25)) == pytest.approx(0.6)


def test_boundary_within_tolerance_is_a_perfect_f():
    shape = (480, 854)
    assert boundary_radius(shape) == 8  # ceil(0.008 * 979.6)
    gt, pred = square(shape, 100, 100, 200), square(shape, 100, 108, 200)
    assert jaccard(gt, pred) < 1 and boundary_f(gt, pred) == 1.0
    # 9 px is beyond the 8 px tolerance: the two vertical edges no longer match
    assert boundary_f(gt, square(shape, 100, 109, 200)) < 1.0


def test_seg2bmap_is_one_pixel_ring_offset_towards_the_origin():
    bmap = seg2bmap(square((12, 12), 3, 3, 5))
    ring = np.zeros((12, 12), bool)
    ring[2:8, 2:8] = True
    ring[3:7, 3:7] = False
    np.testing.assert_array_equal(bmap, ring)
    assert not seg2bmap(np.ones((6, 7), bool)).any()  # the image border is no boundary


def test_statistics_mean_recall_decay():
    values = [1, 1, 1, 0.5, 0.5, 0, 0, 0]
    # DAVIS bins for 8 frames: [0:3], [2:5], [4:6], [5:8] -> first mean 1, last mean 0
    assert statistics(values) == {"mean": 0.5, "recall": 3 / 8, "decay": 1.0}


def test_label_stack_scores_per_object_and_skips_first_and_last_frame():
    gt = np.zeros((5, 60, 60), np.uint8)
    gt[:, 5:25, 5:25] = 1
    gt[:, 35:55, 35:55] = 2
    pred = gt.copy()
    pred[pred == 2] = 0  # object 2 is lost
    pred[0] = pred[-1] = 7  # garbage on the excluded frames
    scores = evaluate_labels(gt, pred)
    assert list(scores.objects) == [1, 2]
    np.testing.assert_array_equal(scores.objects[1].frames, [1, 2, 3])
    assert scores.objects[1].j_and_f == 1.0 and scores.objects[2].j_and_f == 0.0
    assert scores.j_mean == scores.f_mean == scores.j_and_f == 0.5
    summary = scores.summary()
    assert summary["J&F-Mean"] == 0.5 and summary["J-Recall"] == 0.5 and summary["F-Decay"] == 0.0
    assert evaluate_masks(gt == 1, pred == 1).j_stats["mean"] == 1.0


def test_too_few_frames_to_exclude_the_ends():
    with pytest.raises(ValueError, match="2 frames"):
        evaluate_masks(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)))
    assert evaluate_masks(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), exclude_ends=False).j_and_f == 1.0


@pytest.mark.parametrize("seq", sorted(REFERENCE))
def test_agrees_with_davis_reference_on_osvos(seq):
    if not (DAVIS / "osvos_results" / seq).is_dir():
        pytest.skip(f"DAVIS-2016 data not found at {DAVIS} (../shared/data/davis2016)")
    Image = pytest.importorskip("PIL.Image", reason="Pillow reads the DAVIS PNG masks")

    def load(folder):
        return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])

    gt = load(DAVIS / "Annotations" / "480p" / seq) > 127
    pred = load(DAVIS / "osvos_results" / seq) > 0
    scores = evaluate_masks(gt, pred)
    j, f, ref = scores.j_stats, scores.f_stats, REFERENCE[seq]
    ours = dict(JM=j["mean"], JR=j["recall"], JD=j["decay"], FM=f["mean"], FR=f["recall"], FD=f["decay"])
    assert ours == pytest.approx(ref, abs=1e-3)
    assert scores.j_and_f == pytest.approx((ref["JM"] + ref["FM"]) / 2, abs=1e-3)


def test_absent_empty_counts_frames_where_a_gone_object_is_left_empty():
    from napari_sam2.evaluation.metrics import absent_empty

    truth = np.zeros((4, 6, 6), np.uint16)
    truth[:2, 1:3, 1:3] = 1  # object 1 leaves after frame 1
    truth[:, 4:, 4:] = 2  # object 2 stays
    pred = truth.copy()
    pred[2, 0, 0] = 1  # a stray pixel of object 1 on frame 2: not empty there
    assert absent_empty(truth, pred, [1, 2]) == (2, 1)
    truth[0] = 0  # absent on the prompted frame does not count
    assert absent_empty(truth, truth, [1]) == (2, 2)
