"""CTC export, napari tracks from labels, and scoring with py-ctcmetrics."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from napari_sam2.evaluation.ctc import export_ctc, read_track_file, score_ctc, tracks_from_labels

CTC_GT = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctc_sim_tra" / "01_GT_TRA"
N_FRAMES = 12  # first frames of the 65, enough for the three divisions at frames 10-11; scoring is slow


def lineage_stack():
    """5 frames: 1 divides into 4 and 5 after frame 1; 2 vanishes at frame 2 and comes back."""
    labels = np.zeros((5, 32, 32), np.int32)
    labels[:2, 2:10, 2:10] = 1
    labels[2:, 2:6, 2:6] = 4
    labels[2:, 6:10, 6:10] = 5
    labels[[0, 1, 3, 4], 20:28, 20:28] = 2
    return labels


def test_export_writes_masks_and_track_file(tmp_path):
    res = export_ctc(lineage_stack(), tmp_path / "01_RES", parents={4: 1, 5: 1})
    assert sorted(p.name for p in res.glob("*.tif")) == [f"mask{t:03d}.tif" for t in range(5)]
    # id 2 is split at its gap: the comeback is label 6 (max id + 1) with track 2 as its parent
    assert (res / "res_track.txt").read_text() == "1 0 1 0\n2 0 1 0\n4 2 4 1\n5 2 4 1\n6 3 4 2\n"
    mask3 = tifffile.imread(res / "mask003.tif")
    assert mask3.dtype == np.uint16 and set(np.unique(mask3)) == {0, 4, 5, 6}
    np.testing.assert_array_equal(read_track_file(res / "res_track.txt")[:, 0], [1, 2, 4, 5, 6])
    with pytest.raises(FileExistsError):
        export_ctc(lineage_stack(), res)


def test_export_rejects_a_parent_that_does_not_end_before_its_child(tmp_path):
    with pytest.raises(ValueError, match="parent 5"):
        export_ctc(lineage_stack(), tmp_path / "01_RES", parents={4: 5})


def test_tracks_from_labels_are_centroids_sorted_by_track_then_time():
    labels = np.zeros((3, 20, 20), np.uint16)
    labels[:, 2:5, 10:13] = 3  # centroid (3, 11)
    labels[1:, 10:14, 0:2] = 1  # centroid (11.5, 0.5)
    np.testing.assert_allclose(
        tracks_from_labels(labels),
        [[1, 1, 11.5, 0.5], [1, 2, 11.5, 0.5], [3, 0, 3, 11], [3, 1, 3, 11], [3, 2, 3, 11]],
    )
    assert tracks_from_labels(np.zeros((2, 4, 4), int)).shape == (0, 4)


def gt_folder(root, masks, track_lines, seg_frames):
    """Lay out masks (paths) and man_track lines as a CTC ``01_GT`` with TRA and SEG."""
    (root / "TRA").mkdir(parents=True)
    (root / "SEG").mkdir()
    for t, path in enumerate(masks):
        shutil.copyfile(path, root / "TRA" / f"man_track{t:03d}.tif")
        if t in seg_frames:
            shutil.copyfile(path, root / "SEG" / f"man_seg{t:03d}.tif")
    (root / "TRA" / "man_track.txt").write_text(
        "".join(f"{lab} {b} {e} {p}\n" for lab, b, e, p in track_lines)
    )
    return root


def test_split_tracks_are_valid_for_py_ctcmetrics(tmp_path):
    pytest.importorskip("ctc_metrics", reason="CTC scoring needs py-ctcmetrics")
    res = export_ctc(lineage_stack(), tmp_path / "01_RES", parents={4: 1, 5: 1})
    gt = gt_folder(tmp_path / "01_GT", sorted(res.glob("*.tif")), read_track_file(res / "res_track.txt"), {2})
    assert score_ctc(gt, res) == {"SEG": 1.0, "TRA": 1.0, "DET": 1.0}
    (res / "res_track.txt").write_text("1 0 4 0\n")  # claims frames the masks do not have
    with pytest.raises(ValueError, match="invalid.*Label 1 in res_track but not in mask"):
        score_ctc(gt, res)


def test_round_trip_of_the_ctc_ground_truth_scores_perfectly(tmp_path):
    if not CTC_GT.is_dir():
        pytest.skip(f"CTC ground truth not found at {CTC_GT} (../shared/data/ctc_sim_tra)")
    pytest.importorskip("ctc_metrics", reason="CTC scoring needs py-ctcmetrics")
    files = sorted(CTC_GT.glob("man_track*.tif"))[:N_FRAMES]
    table = read_track_file(CTC_GT / "man_track.txt")
    table = [(lab, b, min(e, N_FRAMES - 1), p) for lab, b, e, p in table if b < N_FRAMES]
    gt_dir = gt_folder(tmp_path / "01_GT", files, table, seg_frames={0, 7, 11})
    labels = np.stack([tifffile.imread(f) for f in files])
    parents = {int(lab): int(p) for lab, _, _, p in table if p}
    assert any(b > 0 for _, b, _, p in table if p), "the subsample must contain divisions"

    res = export_ctc(labels, tmp_path / "01_RES", parents)
    perfect = score_ctc(gt_dir, res)
    assert perfect["TRA"] == 1.0 and perfect["DET"] == 1.0 and perfect["SEG"] == 1.0

    # every object eroded by 2 px: still detected and tracked, but the overlap (SEG) drops
    size = (1, 5, 5)
    eroded = np.where(ndimage.grey_erosion(labels, size) == ndimage.grey_dilation(labels, size), labels, 0)
    worse = score_ctc(gt_dir, export_ctc(eroded, tmp_path / "02_RES", parents))
    assert worse["SEG"] < perfect["SEG"] - 0.05
