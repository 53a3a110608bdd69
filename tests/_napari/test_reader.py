"""The napari reader of our label outputs, in a real viewer: both zarr layouts, axes, scale, lineage."""

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_sam2._napari.reader import get_reader
from napari_sam2.core.label_metadata import label_metadata
from napari_sam2.core.label_store import write_label_metadata
from napari_sam2.core.sink import new_label_array
from review_data import synthetic_track_result
from tracking_cases import dividing_cells


def track_output(path, ome_zarr=True):
    """A track-like output written the way the workflows write it (new_label_array, then the lineage)."""
    labels, lineage = dividing_cells()
    meta = label_metadata(labels.shape[0], path.parent / "cells.tif", "TYX", [10.0, 0.5, 0.5],
                          {"model": "demo"}, [(i, f"cell {i}") for i in sorted(lineage.tracks)])
    meta["units"] = {"y": "micrometer", "x": "micrometer"}
    array = new_label_array(path, labels.shape, axes="TYX", metadata=meta, ome_zarr=ome_zarr)
    array[:] = labels
    write_label_metadata(path, meta, lineage=lineage.to_dict())
    return labels, lineage


@pytest.mark.parametrize("ome_zarr", [True, False])
def test_viewer_opens_a_track_output_as_lazy_labels_with_axes_and_its_tracks(make_napari_viewer, tmp_path,
                                                                             ome_zarr):
    path = tmp_path / "cells_tracked.zarr"
    labels, lineage = track_output(path, ome_zarr)
    viewer = make_napari_viewer()
    layers = viewer.open(path, plugin="napari-sam2")
    assert [layer._type_string for layer in layers] == ["labels", "tracks"]
    layer, tracks = layers
    assert layer.name == "cells_tracked" and isinstance(layer.data, da.Array)
    assert tuple(layer.axis_labels) == ("t", "y", "x")
    np.testing.assert_allclose(layer.scale, [10.0, 0.5, 0.5])
    assert [str(u) for u in layer.units][1:] == ["micrometer", "micrometer"]
    np.testing.assert_array_equal(np.asarray(layer.data), labels)
    assert layer.features.set_index("index").loc[2, "name"] == "cell 2"
    assert layer.metadata["napari_sam2"]["parameters"] == {"model": "demo"}
    assert tracks.graph == {2: [1], 3: [1]} and sorted(np.unique(tracks.data[:, 0])) == sorted(lineage.tracks)
    np.testing.assert_allclose(tracks.scale, [10.0, 0.5, 0.5])
    viewer.dims.set_current_step(0, 4)
    assert viewer.dims.axis_labels == ("t", "y", "x")


def test_an_output_of_earlier_versions_opens_too(make_napari_viewer, tmp_path):
    labels, _ = synthetic_track_result(tmp_path / "old.zarr")  # one zarr array, lineage in its attrs
    viewer = make_napari_viewer()
    layer, tracks = viewer.open(tmp_path / "old.zarr", plugin="napari-sam2")
    np.testing.assert_array_equal(np.asarray(layer.data), labels)
    assert len(tracks.data) > 0


def test_segment_output_without_lineage_is_one_labels_layer(tmp_path):
    path = tmp_path / "seg.zarr"
    new_label_array(path, (3, 8, 8), axes="ZYX", metadata=label_metadata(3, None, "ZYX", [2.0, 1.0, 1.0]))
    [(data, kwargs, kind)] = get_reader(path)(path)
    assert kind == "labels" and kwargs["axis_labels"] == ["z", "y", "x"] and kwargs["scale"] == [2.0, 1, 1]
    assert "features" not in kwargs and "units" not in kwargs


def test_other_zarr_stores_are_left_to_other_readers(make_napari_viewer, tmp_path):
    zarr.open_array(str(tmp_path / "plain.zarr"), mode="w", shape=(2, 4, 4), dtype="uint8")
    image = zarr.open_group(str(tmp_path / "image.zarr"), mode="w", zarr_format=3)
    image.create_array("0", shape=(2, 4, 4), dtype="uint8", dimension_names=["t", "y", "x"])
    image.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}], "axes": [
        {"name": n} for n in "tyx"]}]}
    (tmp_path / "cells.tif").write_bytes(b"")
    for path in ("plain.zarr", "image.zarr", "cells.tif", "missing.zarr"):
        assert get_reader(str(tmp_path / path)) is None
    assert get_reader([str(tmp_path / "plain.zarr"), str(tmp_path / "image.zarr")]) is None
    viewer = make_napari_viewer()
    with pytest.raises(ValueError, match="napari-sam2"):
        viewer.open(tmp_path / "image.zarr", plugin="napari-sam2")
