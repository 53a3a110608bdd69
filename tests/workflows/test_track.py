"""``track_file``: the call the batch runner makes for rows without prompts (arrays in, a store out)."""

import numpy as np

from napari_sam2.core.label_store import open_labels, read_label_metadata
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.core.track_all import TrackParams
from napari_sam2.workflows.track import track_file


def test_track_file_from_arrays_records_axes_scale_and_lineage(tmp_path):
    image, truth = synthetic_timelapse(4, (80, 80), n_cells=3, seed=5, divisions=False)
    data = np.moveaxis(image, 0, 2)  # (Y, X, T): the frames along the last axis
    out = tmp_path / "t.zarr"
    summary = track_file(data, out, seeds=truth[1], axis=2, model="demo", device="cpu", progress=False,
                         axes="YXT", scale=(0.5, 0.5, 60.0), seed_frame=1, params=TrackParams(seed_every=0))
    assert summary.startswith(f"wrote {out}") and "3 seeds" in summary
    array = open_labels(out)
    meta = read_label_metadata(out)
    assert array.shape == (4, 80, 80) and meta["axes"] == "tyx" and meta["scale"] == [60.0, 0.5, 0.5]
    lineage = Lineage.from_dict(meta["lineage"])
    assert set(lineage.tracks) >= set(np.unique(truth[1])[1:].tolist())
    assert (np.asarray(array[1]) == truth[1]).mean() > 0.95  # the seeds are the labels on their frame
    assert meta["parameters"]["seeds"] == "labels" and meta["parameters"]["seed_frame"] == 1


def test_a_bad_max_gap_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import pytest

    from napari_sam2.core.errors import InputError

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("napari_sam2.core.models.load_model", refuse)
    image, truth = synthetic_timelapse(3, (48, 48), n_cells=2, seed=1, divisions=False)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InputError, match=f"max_gap {bad!r}: give the number of frames"):
            track_file(image, tmp_path / "t.zarr", seeds=truth[0], model="demo", progress=False, max_gap=bad)
    assert not (tmp_path / "t.zarr").exists()
