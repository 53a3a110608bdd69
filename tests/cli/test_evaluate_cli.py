"""``napari-sam2 evaluate``: DAVIS protocol, simulated clicks, CTC export, bad input."""

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.evaluation.clicks import Click, corrective_click, interior_point
from napari_sam2.evaluation.ctc import export_ctc

HERE = Path(__file__).resolve().parent


def run(*args):
    return main([str(a) for a in args])


def error_line(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("napari-sam2: error: ")
    return lines[-1]


@pytest.fixture
def davis(shared_data):
    root = shared_data / "davis2016"
    if not (root / "JPEGImages" / "480p").is_dir():
        pytest.skip(f"DAVIS-2016 not found at {root}")
    pytest.importorskip("PIL.Image", reason="Pillow reads the DAVIS JPEG/PNG files")
    return root


def moving_squares(n_frames=5, shape=(48, 64), n=3):
    """Labels of ``n`` squares drifting one pixel per frame, and a bright image of them."""
    labels = np.zeros((n_frames, *shape), np.uint16)
    for t in range(n_frames):
        for i in range(n):
            top, left = 4 + 14 * i, 4 + 16 * i + t
            labels[t, top : top + 10, left : left + 10] = i + 1
    image = (labels > 0) * 200 + np.random.default_rng(0).integers(0, 40, labels.shape)
    return image.astype(np.uint8), labels


def reference_scores():
    """The davis2017-evaluation reference numbers kept in tests/evaluation/test_metrics.py."""
    path = HERE.parent / "evaluation" / "test_metrics.py"
    spec = importlib.util.spec_from_file_location("_davis_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REFERENCE


# ------------------------------------------------------------------ DAVIS
def test_davis_protocol_end_to_end_with_random_weights(davis, tiny_model_dir, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "results"
    assert run("evaluate", "davis", davis, "--out", out, "--sequences", "blackswan,dog", "--max-frames", 6,
               "--model", tiny_model_dir, "--device", "cpu") == 0
    printed = capsys.readouterr().out
    assert "blackswan" in printed and "mean" in printed
    for seq in ("blackswan", "dog"):
        files = sorted((out / seq).glob("*.png"))
        assert [f.name for f in files] == [f"{t:05d}.png" for t in range(6)]
        image = Image.open(files[3])
        assert image.mode == "P" and image.size == (854, 480)
        assert set(np.unique(np.asarray(image))) <= {0, 1}
    with open(out / "davis_scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["sequence"] for r in rows] == ["blackswan", "dog", "mean"]
    assert [int(r["frames"]) for r in rows] == [6, 6, 12]
    for r in rows:
        j, f_, jf = float(r["J-Mean"]), float(r["F-Mean"]), float(r["J&F-Mean"])
        assert 0 <= j <= 1 and 0 <= f_ <= 1 and jf == pytest.approx((j + f_) / 2)
    report = json.loads((out / "davis_scores.json").read_text())
    assert report["mean"]["J&F-Mean"] == pytest.approx(float(rows[-1]["J&F-Mean"]))
    assert report["max_frames"] == 6 and len(report["sequences"]) == 2

    # the written predictions score the same when given back with --predictions
    assert run("evaluate", "davis", davis, "--out", tmp_path / "rescored", "--predictions", out,
               "--sequences", "blackswan,dog", "--max-frames", 6) == 0
    again = json.loads((tmp_path / "rescored" / "davis_scores.json").read_text())
    assert again["mean"] == pytest.approx(report["mean"])

    # an existing result is not replaced without --overwrite (checked before the model loads)
    assert run("evaluate", "davis", davis, "--out", out, "--sequences", "dog", "--max-frames", 6,
               "--model", tiny_model_dir) == 2
    assert "already holds predictions" in error_line(capsys)


def test_osvos_predictions_reproduce_the_davis_reference(davis, tmp_path, capsys):
    # two of the four sequences (the shortest, and the one with recall < 1): the metrics on all
    # four are checked against the reference in tests/evaluation/test_metrics.py
    reference = {seq: ref for seq, ref in reference_scores().items() if seq in ("blackswan", "dog")}
    assert run("evaluate", "davis", davis, "--out", tmp_path, "--predictions", davis / "osvos_results",
               "--sequences", ",".join(sorted(reference))) == 0
    rows = {r["sequence"]: r for r in json.loads((tmp_path / "davis_scores.json").read_text())["sequences"]}
    for seq, ref in reference.items():
        row = rows[seq]
        ours = [row[k] for k in ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")]
        assert ours == pytest.approx([ref[k] for k in ("JM", "JR", "JD", "FM", "FR", "FD")], abs=1e-3)
        assert row["J&F-Mean"] == pytest.approx((ref["JM"] + ref["FM"]) / 2, abs=1e-3)
    assert "blackswan" in capsys.readouterr().out


def test_multi_object_davis_folder(tiny_model, tmp_path):
    """A DAVIS-2017-style folder made here: indexed PNGs with two objects, RGB JPEG frames."""
    Image = pytest.importorskip("PIL.Image", reason="Pillow writes the JPEG/PNG files")
    from napari_sam2.core.imagefiles import read_mask, write_mask
    from napari_sam2.evaluation.davis import run_davis

    grey, truth = moving_squares(n_frames=4, n=2)
    for sub in ("JPEGImages", "Annotations"):
        (tmp_path / "D" / sub / "480p" / "cells").mkdir(parents=True)
    for t in range(4):
        rgb = Image.fromarray(np.stack([grey[t]] * 3, axis=-1))
        rgb.save(tmp_path / "D/JPEGImages/480p/cells" / f"{t:05d}.jpg")
        write_mask(tmp_path / "D/Annotations/480p/cells" / f"{t:05d}.png", truth[t])
    report = run_davis(tmp_path / "D", tmp_path / "out", model=tiny_model, progress=False)
    assert [r["sequence"] for r in report.rows] == ["cells"] and report.rows[0]["objects"] == 2
    assert report.mean["objects"] == 2 and report.info["model"] == tiny_model.name
    written = [read_mask(tmp_path / "out/cells" / f"{t:05d}.png") for t in range(4)]
    assert all(w.shape == (48, 64) and set(np.unique(w)) <= {0, 1, 2} for w in written)
    assert (tmp_path / "out" / "davis_scores.csv").is_file()


def test_davis_bad_input(davis, tmp_path, capsys):
    assert run("evaluate", "davis", tmp_path, "--out", tmp_path / "r") == 2
    assert "is not a DAVIS folder" in error_line(capsys)
    assert run("evaluate", "davis", davis, "--out", tmp_path / "r", "--sequences", "blackswan,nope") == 2
    assert "unknown sequence(s) nope" in error_line(capsys)
    assert run("evaluate", "davis", davis, "--out", tmp_path / "r", "--max-frames", 2) == 2
    assert "at least 3" in error_line(capsys)
    partial = tmp_path / "partial" / "dog"
    partial.mkdir(parents=True)
    for name in ("00000.png", "00001.png"):
        shutil.copyfile(davis / "osvos_results" / "dog" / name, partial / name)
    assert run("evaluate", "davis", davis, "--out", tmp_path / "r", "--predictions", partial.parent,
               "--sequences", "dog", "--max-frames", 5) == 2
    assert "00002.png is missing (3 of 5 for sequence dog)" in error_line(capsys)
    assert run("evaluate", "davis", davis, "--out", tmp_path / "r", "--predictions", tmp_path / "none") == 2
    assert "does not exist" in error_line(capsys)


# ----------------------------------------------------------------- clicks
def square(mask, top, left, size, value=True):
    mask[top : top + size, left : left + size] = value
    return mask


def test_interior_point_is_the_deepest_pixel_and_the_border_counts_as_edge():
    assert interior_point(square(np.zeros((30, 30), bool), 10, 12, 5)) == (12, 14)
    corner = np.zeros((30, 30), bool)
    corner[0:5, 0:10] = True  # depth 3 along row 2 (the image border is an edge), first at col 2
    assert interior_point(corner) == (2, 2)
    with pytest.raises(ValueError, match="empty"):
        interior_point(np.zeros((4, 4), bool))


def test_corrective_click_targets_the_largest_error_region():
    truth = square(np.zeros((40, 60), bool), 10, 10, 20)  # rows/cols 10..29
    missed_hole = square(truth.copy(), 18, 18, 5, False)  # a 5 x 5 hole centred on (20, 20)
    small_extra = square(missed_hole.copy(), 2, 40, 3)  # a 3 x 3 false positive centred on (3, 41)
    assert corrective_click(truth, small_extra) == Click(20, 20, True, 25)
    big_extra = square(missed_hole.copy(), 5, 40, 7)  # 7 x 7 false positive centred on (8, 43)
    assert corrective_click(truth, big_extra) == Click(8, 43, False, 49)
    two_holes = square(missed_hole.copy(), 11, 11, 3, False)  # the 5 x 5 hole is still the largest
    assert corrective_click(truth, two_holes) == Click(20, 20, True, 25)
    tie = square(square(truth.copy(), 20, 20, 3, False), 33, 40, 3)  # 3 x 3 miss vs 3 x 3 extra
    assert corrective_click(truth, tie) == Click(21, 21, True, 9)
    assert corrective_click(truth, truth) is None
    assert corrective_click(truth, np.zeros_like(truth)) == Click(19, 19, True, 400)


@pytest.fixture
def synthetic_files(tmp_path):
    image, truth = synthetic_timelapse(n_frames=6, shape=(64, 64), n_cells=2, seed=3)
    tifffile.imwrite(tmp_path / "stack.tif", image, metadata={"axes": "TYX"})
    tifffile.imwrite(tmp_path / "truth.tif", truth, metadata={"axes": "TYX"})
    return tmp_path, truth


def test_clicks_protocol_with_random_weights(synthetic_files, tiny_model_dir, capsys):
    folder, truth = synthetic_files
    ids = [int(i) for i in np.unique(truth[0]) if i]
    assert run("evaluate", "clicks", folder / "stack.tif", "--truth", folder / "truth.tif", "--frames", "0,3",
               "--clicks", 2, "--model", tiny_model_dir, "--device", "cpu", "--out", folder / "r.json") == 0
    printed = capsys.readouterr().out
    assert "J&F >= 0.9" in printed
    report = json.loads((folder / "r.json").read_text())
    assert report["objects"] == ids and report["frames"] == [0, 3]
    rounds = report["rounds"]
    assert len(rounds) == 3 and rounds[0]["clicks"] == len(ids)
    assert [r["clicks"] for r in rounds] == sorted(r["clicks"] for r in rounds)
    assert rounds[-1]["clicks"] <= len(ids) * (1 + 2 * 2)
    for r in rounds:
        assert 0 <= r["J&F"] <= 1 and r["J&F"] == pytest.approx((r["J"] + r["F"]) / 2)
        assert sorted(r["per_object"]) == [str(i) for i in ids]
    log = report["clicks_log"]
    assert len(log) == rounds[-1]["clicks"]
    assert all(c["frame"] == 0 and c["positive"] for c in log if c["round"] == 0)
    for c in log:  # positive clicks land on the object (missed pixels), negative ones off it (extra pixels)
        on_object = truth[c["frame"], c["row"], c["col"]] == c["object"]
        assert on_object == c["positive"] and c["region_pixels"] > 0
    assert set(report["clicks_to_target"]) == {"total", "per_object"}


def test_clicks_bad_input(synthetic_files, capsys):
    folder, truth = synthetic_files
    stack, good = folder / "stack.tif", folder / "truth.tif"
    tifffile.imwrite(folder / "small.tif", truth[:, :32])
    assert run("evaluate", "clicks", stack, "--truth", folder / "small.tif") == 2
    assert "the truth has shape (6, 32, 64); the image needs (6, 64, 64)" in error_line(capsys)
    assert run("evaluate", "clicks", stack, "--truth", good, "--frames", "9") == 2
    assert "frame 9 does not exist" in error_line(capsys)
    assert run("evaluate", "clicks", stack, "--truth", good, "--frames", "a") == 2
    assert "--frames must be comma-separated integers" in error_line(capsys)
    tifffile.imwrite(folder / "empty.tif", np.zeros_like(truth))
    assert run("evaluate", "clicks", stack, "--truth", folder / "empty.tif") == 2
    assert "no object on frame 0" in error_line(capsys)


# -------------------------------------------------------------------- CTC
def test_ctc_export_links_divisions_from_a_track_file(tmp_path, capsys):
    labels = np.zeros((4, 24, 24), np.uint16)
    labels[:2, 2:10, 2:10] = 1  # 1 divides into 4 and 5 after frame 1
    labels[2:, 2:6, 2:6] = 4
    labels[2:, 6:10, 6:10] = 5
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "lineage.txt").write_text("1 0 1 0\n4 2 3 1\n5 2 3 1\n")
    assert run("evaluate", "ctc", tmp_path / "labels.npy", "--out", tmp_path / "01_RES",
               "--parents", tmp_path / "lineage.txt") == 0
    assert (tmp_path / "01_RES" / "res_track.txt").read_text() == "1 0 1 0\n4 2 3 1\n5 2 3 1\n"
    assert "4 frames, 3 tracks" in capsys.readouterr().out


def test_ctc_export_and_score(tmp_path, capsys):
    pytest.importorskip("ctc_metrics", reason="CTC scoring needs py-ctcmetrics")
    _, labels = moving_squares(n_frames=5, n=3)
    reference = export_ctc(labels, tmp_path / "ref")
    gt = tmp_path / "01_GT"
    (gt / "TRA").mkdir(parents=True)
    (gt / "SEG").mkdir()
    for t, mask in enumerate(sorted(reference.glob("mask*.tif"))):
        shutil.copyfile(mask, gt / "TRA" / f"man_track{t:03d}.tif")
        if t in (0, 3):
            shutil.copyfile(mask, gt / "SEG" / f"man_seg{t:03d}.tif")
    shutil.copyfile(reference / "res_track.txt", gt / "TRA" / "man_track.txt")

    tifffile.imwrite(tmp_path / "labels.tif", labels)
    assert run("evaluate", "ctc", tmp_path / "labels.tif", "--out", tmp_path / "01_RES", "--gt", gt) == 0
    printed = capsys.readouterr().out
    assert "5 frames, 3 tracks" in printed
    assert "SEG: 1.0000" in printed and "TRA: 1.0000" in printed and "DET: 1.0000" in printed
    assert len(list((tmp_path / "01_RES").glob("mask*.tif"))) == 5

    thinned = labels.copy()
    thinned[:, ::4] = 0  # every 4th row erased: still found and tracked, less overlap
    np.save(tmp_path / "thinned.npy", thinned)
    assert run("evaluate", "ctc", tmp_path / "thinned.npy", "--out", tmp_path / "02_RES", "--gt", gt) == 0
    scores = dict(line.split(": ") for line in capsys.readouterr().out.splitlines()[1:])
    assert float(scores["SEG"]) < 0.9 and float(scores["DET"]) == 1.0

    assert run("evaluate", "ctc", tmp_path / "labels.tif", "--out", tmp_path / "01_RES") == 2
    assert "already holds a CTC result" in error_line(capsys)
    assert run("evaluate", "ctc", tmp_path / "labels.tif", "--out", tmp_path / "03", "--gt", tmp_path) == 2
    assert "not a CTC ground-truth folder" in error_line(capsys)
    assert run("evaluate", "ctc", tmp_path / "labels.tif", "--out", tmp_path / "5", "--parents", gt) == 2
    assert "cannot read the track file" in error_line(capsys)
    np.save(tmp_path / "float.npy", labels.astype(np.float32))
    assert run("evaluate", "ctc", tmp_path / "float.npy", "--out", tmp_path / "04_RES") == 2
    assert "must be an integer label stack" in error_line(capsys)
