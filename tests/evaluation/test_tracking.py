"""Tracking scores on hand-made cases with known answers; the overlap-linking baseline."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sam2.core.lineage import Lineage
from napari_sam2.evaluation.linking import link_by_overlap
from napari_sam2.evaluation.tracking import divisions, match_divisions, score_tracking
from tracking_cases import dividing_cells


def test_perfect_result_scores_one(tmp_path):
    labels, lineage = dividing_cells()
    scores = score_tracking(labels, lineage, labels, lineage, workdir=tmp_path)
    assert scores["DET"] == scores["SEG"] == scores["TRA"] == 1.0
    assert scores["division_recall"] == scores["division_precision"] == 1.0
    assert (tmp_path / "01_GT" / "TRA" / "man_track.txt").exists()


def test_missed_division_lowers_recall_and_tra():
    truth, true_lineage = dividing_cells()
    pred = truth.copy()
    pred[pred == 3] = 2  # the two daughters as one cell 2, which continues cell 1
    pred[pred == 2] = 1
    lineage = Lineage()
    for i in (1, 4):
        lineage.add(i, 0, 5)
    lineage.add(5, 2, 5)
    scores = score_tracking(pred, lineage, truth, true_lineage)
    assert scores["division_recall"] == 0.0 and np.isnan(scores["division_precision"])
    assert scores["TRA"] < 1.0 and scores["DET"] < 1.0


def test_spurious_division_lowers_precision():
    truth, true_lineage = dividing_cells()
    pred, lineage = truth.copy(), Lineage.from_dict(true_lineage.to_dict())
    half = np.zeros_like(pred[0], bool)
    half[:, :45] = True
    for t in range(3, 6):  # cell 4 splits into 6 (left half) and 7 (right half) on frame 3
        pred[t][(pred[t] == 4) & half] = 6
        pred[t][pred[t] == 4] = 7
    lineage.tracks[4].end = 2
    lineage.divide(4, 3, (6, 7))
    for d in (6, 7):
        lineage.extend(d, 5)
    scores = score_tracking(pred, lineage, truth, true_lineage)
    assert scores["division_recall"] == 1.0 and scores["division_precision"] == 0.5
    assert scores["matched_divisions"] == 1 and scores["predicted_divisions"] == 2


def test_division_one_frame_late_matches_within_tolerance_only():
    truth, true_lineage = dividing_cells(n_frames=8)
    pred = truth.copy()
    pred[3][(pred[3] == 2) | (pred[3] == 3)] = 1  # the mother still whole on frame 3
    lineage = Lineage()
    lineage.add(1, 0, 3)
    lineage.divide(1, 4, (2, 3))
    for i, start in ((4, 0), (5, 2)):
        lineage.add(i, start, 7)
    assert divisions(lineage)[0].frame == 4
    assert match_divisions(pred, lineage, truth, true_lineage)["division_recall"] == 1.0
    assert match_divisions(pred, lineage, truth, true_lineage, tolerance=0)["division_recall"] == 0.0


def test_empty_result_scores_zero():
    truth, true_lineage = dividing_cells()
    scores = score_tracking(np.zeros_like(truth), None, truth, true_lineage)
    assert scores["DET"] == scores["TRA"] == 0.0 and scores["division_recall"] == 0.0


def test_link_by_overlap_recovers_tracks_and_division():
    from conftest import new_ids_every_frame

    truth, true_lineage = dividing_cells()
    labels, lineage = link_by_overlap(new_ids_every_frame(truth))
    scores = score_tracking(labels, lineage, truth, true_lineage)
    assert scores["TRA"] == 1.0 and scores["division_recall"] == scores["division_precision"] == 1.0
    assert len(lineage.tracks) == 5 and len(divisions(lineage)) == 1


def test_link_by_overlap_3d_and_new_cells():
    truth, _ = dividing_cells(depth=7)
    labels, lineage = link_by_overlap(list(truth))
    assert labels.shape == truth.shape and len(lineage.tracks) == 5
    entering = lineage.tracks[int(labels[2][truth[2] == 5][0])]
    assert (entering.start, entering.end, entering.parent) == (2, 5, 0)


def test_link_by_overlap_does_not_link_distant_cells():
    frames = np.zeros((2, 32, 32), np.uint16)
    frames[0, 2:8, 2:8] = 1
    frames[1, 20:26, 20:26] = 1
    labels, lineage = link_by_overlap(frames)
    assert labels[0].max() == 1 and labels[1].max() == 2 and not lineage.edges()
    with pytest.raises(ValueError, match="same shape"):
        link_by_overlap([frames[0], frames[1][:10]])
