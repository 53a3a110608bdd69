"""segment_volumes_file end to end with the demo model: scores, output, resume, checks before the model."""

import json

import numpy as np
import pytest

from napari_sam2.core import models
from napari_sam2.core.errors import InputError
from napari_sam2.core.label_store import open_labels, read_label_metadata
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.core.volume_sweeps import Sweeper
from napari_sam2.evaluation.volumes import score_volumes_ctc, volume_iou
from napari_sam2.workflows.volumes import segment_volumes_file


def box_prompts(truth, folder, time=0):
    """One box per nucleus on the plane where it is largest at ``time``; and the box-cylinder baseline."""
    objects, baseline = [], np.zeros_like(truth)
    for i in sorted(set(np.unique(truth[time])) - {0}):
        mask = truth[time] == i
        z = int(mask.sum(axis=(1, 2)).argmax())
        rows, cols = np.nonzero(mask[z])
        box = [int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())]
        baseline[:, :, box[0]:box[2] + 1, box[1]:box[3] + 1] = i
        objects.append({"id": int(i), "name": f"nucleus {i}",
                        "prompts": [{"frame": time, "plane": z, "box": box}]})
    path = folder / "prompts.json"
    path.write_text(json.dumps({"objects": objects}))
    return path, baseline


@pytest.fixture(scope="module")
def series():
    return synthetic_volumes(n_times=4, n_planes=6, shape=(64, 64), n_nuclei=2, leaving=0, seed=2)


def test_demo_model_tracks_nuclei_through_volumes_better_than_a_box_baseline(series, tmp_path):
    image, truth = series
    prompts, baseline = box_prompts(truth, tmp_path)
    summary = segment_volumes_file(image, prompts, tmp_path / "labels.zarr", axes="TZYX", model="demo",
                                   progress=False, workers=2, scale=(1, 2.0, 0.5, 0.5))
    assert "4 volumes of 6 x 64 x 64" in summary
    labels = open_labels(tmp_path / "labels.zarr")
    assert labels.shape == truth.shape and labels.dtype == np.uint16
    assert labels.metadata.dimension_names == ("t", "z", "y", "x")  # OME-Zarr: the array at labels.zarr/0
    assert read_label_metadata(tmp_path / "labels.zarr")["scale"] == [1, 2.0, 0.5, 0.5]
    table = volume_iou(labels[:], truth, match="id")
    floor = volume_iou(baseline, truth, match="id").mean_iou
    # the demo model segments one of the two nuclei poorly even from its box (a 2D check shows it),
    # so the mean is modest; the other is followed through t and z closely
    assert table.mean_iou > max(0.4, floor + 0.1), (table.text(), floor)
    assert max(row["IoU"] for row in table.rows) > 0.7, table.text()
    assert not (tmp_path / "labels.zarr.sam2-run").exists()  # a finished run leaves no run folder
    scores = score_volumes_ctc(labels[:], truth, tmp_path / "ctc")
    boxes = score_volumes_ctc(baseline, truth, tmp_path / "ctc-baseline")
    assert 0 <= scores["TRA"] <= 1 and scores["SEG"] > boxes["SEG"] + 0.05, (scores, boxes)


def test_resume_sweeps_only_unfinished_volumes_and_does_not_track_again(series, tmp_path, monkeypatch):
    image, truth = series
    prompts, _ = box_prompts(truth, tmp_path)
    args = dict(axes="ZTYX", model="demo", progress=False, follow="largest")
    stored = np.ascontiguousarray(np.moveaxis(image, 0, 1))  # stored as ZTYX
    whole = tmp_path / "whole.tif"
    segment_volumes_file(stored, prompts, whole, **args)
    import tifffile

    expected = tifffile.imread(whole)

    sweep, probe, swept, probes = Sweeper.sweep, Sweeper.largest_plane, [], []

    def failing(self, t, inputs):
        if t == 2:
            raise KeyboardInterrupt
        return sweep(self, t, inputs)

    monkeypatch.setattr(Sweeper, "sweep", failing)
    out = tmp_path / "cut.tif"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        segment_volumes_file(stored, prompts, out, **args)
    journal = json.loads((tmp_path / "cut.tif.sam2-run" / "volumes.json").read_text())
    assert journal["done"] == [0, 1]
    from napari_sam2.workflows.labels_run import run_status

    assert "2 of 4 time points done" in run_status(out)
    with pytest.raises(InputError, match="unfinished run"):
        segment_volumes_file(stored, prompts, out, **args)

    def counting(self, t, inputs):
        swept.append(t)
        return sweep(self, t, inputs)

    monkeypatch.setattr(Sweeper, "sweep", counting)
    monkeypatch.setattr(Sweeper, "largest_plane", lambda *a: probes.append(a) or probe(*a))
    summary = segment_volumes_file(stored, prompts, out, resume=True, **args)
    assert "resumed: 2 volume(s) kept" in summary
    assert swept == [2, 3] and probes == []  # finished volumes and the saved track are not redone
    np.testing.assert_array_equal(tifffile.imread(out), expected)


def test_everything_is_checked_before_the_model_loads(series, tmp_path, monkeypatch):
    image, truth = series
    prompts, _ = box_prompts(truth, tmp_path)
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    out = tmp_path / "out.zarr"
    with pytest.raises(InputError, match="name 3 axes but the image has 4"):
        segment_volumes_file(image, prompts, out, axes="TYX")
    with pytest.raises(InputError, match="T, Z, Y, X once each"):
        segment_volumes_file(image, prompts, out, axes="TCYX")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[5, 5]]}]}]}))
    with pytest.raises(InputError, match='needs "plane"'):
        segment_volumes_file(image, bad, out, axes="TZYX")
    bad.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "plane": 6,
                                                                 "points": [[5, 5]]}]}]}))
    with pytest.raises(InputError, match="plane 6 does not exist"):
        segment_volumes_file(image, bad, out, axes="TZYX")
    out.mkdir()
    (out / "zarr.json").write_text("{}")
    with pytest.raises(InputError, match="already exists"):
        segment_volumes_file(image, prompts, out, axes="TZYX")
    with pytest.raises(InputError, match="overwrite the input"):
        segment_volumes_file(image, prompts, tmp_path / "in.zarr", axes="TZYX",
                             image_path=tmp_path / "in.zarr")
    assert not list(tmp_path.glob("*.sam2-run"))
