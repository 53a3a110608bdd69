"""The loop closes: a reviewed `track` output (label zarr + lineage) is fine-tuning data."""

from __future__ import annotations

import numpy as np
import tifffile

from napari_sam2.cli import main
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.synthetic import synthetic_tracking
from napari_sam2.core.track_exports import read_lineage, write_ctc_folder
from napari_sam2.training.data import reviewed_only


def _track_output(tmp_path, reviewed=(1, 3)):
    """A label store as `napari-sam2 track` writes it: uint16 zarr, lineage in its napari_sam2 attributes."""
    import zarr

    image, labels, lineage = synthetic_tracking(6, (64, 64), 3, seed=1, divisions=False)
    for i in reviewed:
        lineage.tracks[i].reviewed = True
    tifffile.imwrite(tmp_path / "image.tif", image)
    store = zarr.create_array(tmp_path / "labels.zarr", shape=labels.shape, dtype="uint16",
                              chunks=(1, 64, 64))
    store[:] = labels
    store.attrs["napari_sam2"] = {"n_frames": 6, "lineage": lineage.to_dict()}
    return tmp_path / "image.tif", tmp_path / "labels.zarr", labels, lineage


def test_read_lineage_from_store_ctc_folder_or_nothing(tmp_path):
    _, store, labels, lineage = _track_output(tmp_path)
    assert read_lineage(store).to_dict() == lineage.to_dict()
    write_ctc_folder(labels, lineage, tmp_path / "res")
    assert read_lineage(tmp_path / "res").to_ctc_text() == lineage.to_ctc_text()
    tifffile.imwrite(tmp_path / "plain.tif", labels)
    assert read_lineage(tmp_path / "plain.tif") is None


def test_only_reviewed_tracks_are_kept_when_any_is_reviewed(tmp_path):
    _, _, labels, lineage = _track_output(tmp_path, reviewed=(2,))
    kept, note = reviewed_only(labels, lineage)
    assert set(np.unique(kept)) == {0, 2} and np.array_equal(kept == 2, labels == 2)
    assert "1 reviewed tracks of 3" in note
    for track in lineage.tracks.values():
        track.reviewed = False
    same, note = reviewed_only(labels, lineage)
    assert np.array_equal(same, labels) and "no track marked reviewed" in note
    assert reviewed_only(labels, None)[1] == "" and reviewed_only(labels, Lineage())[1] == ""


def test_finetune_cli_trains_on_a_reviewed_track_output(tmp_path, capsys):
    image, store, _, _ = _track_output(tmp_path)
    args = ["finetune", "--images", str(image), "--labels", str(store), "--base", "random:tiny",
            "--image-size", "64", "--out", str(tmp_path / "model"), "--clip-length", "3", "--clips", "1",
            "--objects", "1", "--eval-every", "0", "--steps", "1"]
    assert main(args) == 0
    assert "training on the 2 reviewed tracks of 3" in capsys.readouterr().err
    assert (tmp_path / "model" / "config.json").exists()
