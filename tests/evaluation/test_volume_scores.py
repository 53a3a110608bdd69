"""3D IoU over time and CTC scores of a 3D+t label series."""

import numpy as np
import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.evaluation.volumes import iou_over_time, score_volumes_ctc, volume_iou


@pytest.fixture(scope="module")
def truth():
    return synthetic_volumes(n_times=5, n_planes=6, shape=(48, 48), n_nuclei=3, leaving=1, seed=4)[1]


def test_volume_iou_pools_voxels_over_time_and_matches_by_3d_overlap(truth):
    shifted = np.roll(truth, 1, axis=1)  # one plane off in z
    renamed = np.where(shifted > 0, shifted + 10, 0).astype(np.uint16)
    table = volume_iou(renamed, truth)
    assert table.matching.pairs == {11: 1, 12: 2, 13: 3}
    for row in table.rows:
        k, j = row["pred"], row["truth"]
        inter = ((renamed == k) & (truth == j)).sum()
        union = ((renamed == k) | (truth == j)).sum()
        assert row["IoU"] == pytest.approx(inter / union)
    assert 0.2 < table.mean_iou < 0.9
    assert volume_iou(truth, truth, match="id").mean_iou == 1.0
    with pytest.raises(InputError, match="4D"):
        volume_iou(truth[0], truth[0])


def test_iou_over_time_is_nan_where_both_are_absent(truth):
    gone = [t for t in range(5) if not (truth[t] == 3).any()]
    assert gone  # the leaving nucleus
    scores = iou_over_time(truth, truth)
    assert np.isnan(scores[3][gone]).all() and (scores[1] == 1).all()
    empty = iou_over_time(np.zeros_like(truth), truth, pairs={1: 1})
    assert (empty[1] == 0).all()


def test_ctc_scores_of_volumes(truth, tmp_path):
    assert score_volumes_ctc(truth, truth, tmp_path / "same") == {"SEG": 1.0, "TRA": 1.0}
    eroded = truth.copy()
    eroded[:, :, ::2] = 0
    scores = score_volumes_ctc(eroded, truth, tmp_path / "eroded")
    assert scores["SEG"] < 0.8
    with pytest.raises(InputError, match="not empty"):
        score_volumes_ctc(truth, truth, tmp_path / "same")
