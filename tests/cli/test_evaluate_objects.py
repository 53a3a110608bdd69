"""``napari-sam2 evaluate iou`` and the untracked-truth check of ``evaluate clicks``."""

import json

import numpy as np
import pytest
import tifffile

from conftest import new_ids_every_frame
from napari_sam2.cli import main
from napari_sam2.core.synthetic import synthetic_timelapse


def run(*args):
    return main([str(a) for a in args])


def error_line(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("napari-sam2: error: ")
    return lines[-1]


@pytest.fixture
def files(tmp_path):
    image, truth = synthetic_timelapse(n_frames=6, shape=(64, 64), n_cells=2, seed=3, divisions=False)
    tifffile.imwrite(tmp_path / "stack.tif", image, metadata={"axes": "TYX"})
    tifffile.imwrite(tmp_path / "truth.tif", truth, metadata={"axes": "TYX"})
    tifffile.imwrite(tmp_path / "untracked.tif", new_ids_every_frame(truth), metadata={"axes": "TYX"})
    return tmp_path, truth


def test_clicks_refuse_untracked_truth_before_loading_the_model(files, capsys):
    folder, _ = files
    # sam2.1-tiny cannot be downloaded here: had it been loaded, the error would be another one
    assert run("evaluate", "clicks", folder / "stack.tif", "--truth", folder / "untracked.tif",
               "--model", "sam2.1-tiny") == 2
    line = error_line(capsys)
    assert "the ground truth is not tracked over time" in line and "never appear again" in line
    assert line.endswith("pass --allow-untracked")


def test_clicks_on_untracked_truth_warn_and_show_the_per_object_table(files, tiny_model_dir, capsys):
    folder, _ = files
    assert run("evaluate", "clicks", folder / "stack.tif", "--truth", folder / "untracked.tif",
               "--clicks", 0, "--model", tiny_model_dir, "--device", "cpu", "--allow-untracked",
               "--out", folder / "r.json") == 0
    captured = capsys.readouterr()
    assert "napari-sam2: warning: the ground truth is not tracked over time" in captured.err
    assert "per object after the last round" in captured.out and "J active" in captured.out
    assert "WARNING: the ground truth is not tracked" in captured.out
    report = json.loads((folder / "r.json").read_text())
    assert report["untracked_truth"].startswith("the ground truth is not tracked")
    rows = report["object_table"]["objects"]
    assert [r["pred"] for r in rows] == report["objects"]
    for row in rows:  # each frame-0 id exists on frame 0 only: 1 truth frame, every active frame counted
        assert row["truth_frames"] == 1 and row["active"] >= 1


def test_clicks_on_real_per_frame_labels_are_refused(shared_data, tmp_path, capsys):
    data = shared_data / "c2c12" / "data_small.npz"
    if not data.is_file():
        pytest.skip(f"{data} not found")
    arrays = np.load(data)
    np.save(tmp_path / "images.npy", arrays["images"])
    np.save(tmp_path / "labels.npy", arrays["labels"])
    assert run("evaluate", "clicks", tmp_path / "images.npy", "--truth", tmp_path / "labels.npy",
               "--model", "sam2.1-tiny") == 2
    assert "overlap an object with another id on the next frame" in error_line(capsys)


def test_iou_matches_by_overlap_and_by_id(files, capsys):
    folder, truth = files
    prediction = np.where(truth > 0, truth + 40, 0).astype(np.uint16)  # same cells, other ids
    prediction[4:][prediction[4:] == 41] = 0  # object 41 lost on the last two frames
    tifffile.imwrite(folder / "pred.tif", prediction, metadata={"axes": "TYX"})
    assert run("evaluate", "iou", folder / "pred.tif", "--truth", folder / "truth.tif",
               "--out", folder / "iou.json") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["pred", "truth", "IoU", "J", "active", "active", "in", "pred", "in", "truth",
                                "lost", "last", "IoU"]
    first = lines[1].split()  # pooled IoU: the pixels of the 4 kept frames over those of all 6
    assert first[:2] == ["41", "1"] and 0.6 < float(first[2]) < 0.73
    assert first[3:] == ["0.667", "6", "4", "6", "2", "0.000", "LOST"]
    assert lines[2].split() == ["42", "2", "1.000", "1.000", "6", "6", "6", "0", "1.000"]
    assert "lost: 41" in out
    assert "matching: 2 predicted object(s) matched to true objects by overlap" in out and "frame 0" in out
    table = json.loads((folder / "iou.json").read_text())
    assert table["mean_IoU"] == pytest.approx((float(first[2]) + 1) / 2, abs=1e-3) and table["lost"] == [41]
    assert table["untracked_truth"] is None

    assert run("evaluate", "iou", folder / "pred.tif", "--truth", folder / "truth.tif", "--match", "id") == 0
    out = capsys.readouterr().out
    assert "mean IoU 0.000" in out and "0 object(s) matched by id" in out

    assert run("evaluate", "iou", folder / "pred.tif", "--truth", folder / "untracked.tif",
               "--frame", 5) == 0
    out = capsys.readouterr().out
    assert "on frame 5" in out and "WARNING: the ground truth is not tracked" in out


def test_iou_bad_input(files, capsys):
    folder, truth = files
    tifffile.imwrite(folder / "small.tif", truth[:, :32])
    tifffile.imwrite(folder / "float.tif", truth.astype(np.float32))
    assert run("evaluate", "iou", folder / "small.tif", "--truth", folder / "truth.tif") == 2
    assert "must be 3D label stacks of the same shape" in error_line(capsys)
    assert run("evaluate", "iou", folder / "float.tif", "--truth", folder / "truth.tif") == 2
    assert "must hold integer labels, not float32" in error_line(capsys)
    assert run("evaluate", "iou", folder / "truth.tif", "--truth", folder / "truth.tif", "--frame", 6) == 2
    assert "--frame 6 does not exist" in error_line(capsys)
    assert run("evaluate", "iou", folder / "truth.tif", "--truth", folder / "truth.tif", "--axis", 3) == 2
    assert "--axis 3 does not exist" in error_line(capsys)
