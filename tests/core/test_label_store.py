"""Label outputs as OME-Zarr 0.5 label images: what other readers see, and both layouts read by ours."""

import json
import os

import numpy as np
import pytest
import zarr

from napari_sam2.core.checkpoint import JournaledSink, RunJournal
from napari_sam2.core.errors import InputError
from napari_sam2.core.label_metadata import label_metadata, ome_axis_names
from napari_sam2.core.label_store import (
    is_ome_label_group,
    open_labels,
    read_label_metadata,
    write_label_metadata,
)
from napari_sam2.core.outputs import check_output_path
from napari_sam2.core.sink import new_label_array, open_label_array

SHAPE = (4, 12, 16)


def write(path, ome_zarr=True, axes="TYX", objects=((3, "nucleus A"), (7, ""))):
    meta = label_metadata(SHAPE[0], path.parent / "image.tif", axes, [5.0, 0.5, 0.5], {"model": "demo"},
                          objects)
    array = new_label_array(path, SHAPE, axes=axes, metadata=meta, ome_zarr=ome_zarr)
    array[1, 2:5, 3:6] = 3
    array[2, 6:9, 8:12] = 7
    return meta


def test_an_independent_ome_zarr_reader_sees_labels_axes_scale_and_names(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Multiscales, Reader

    write(tmp_path / "labels.zarr")
    [node] = list(Reader(parse_url(str(tmp_path / "labels.zarr")))())
    assert node.load(Label) is not None and node.load(Multiscales) is not None
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "y", "x"]
    assert [a["type"] for a in node.metadata["axes"]] == ["time", "space", "space"]
    assert node.metadata["coordinateTransformations"] == [[{"type": "scale", "scale": [5.0, 0.5, 0.5]}]]
    assert node.metadata["properties"] == {3: {"name": "nucleus A"}, 7: {"name": ""}}
    assert set(node.metadata["color"]) == {3, 7}
    [data] = node.data
    assert data.shape == SHAPE and int(data[1].max()) == 3 and int(data[2].max()) == 7


def test_the_group_validates_against_the_ome_zarr_0_5_models(tmp_path):
    from ome_zarr_models.v05 import ImageLabel

    write(tmp_path / "labels.zarr")
    label = ImageLabel.from_zarr(zarr.open_group(str(tmp_path / "labels.zarr"), mode="r"))
    ome = label.attributes.ome
    assert ome.version == "0.5" and ome.image_label.source.image == "../image.tif"
    assert [p.label_value for p in ome.image_label.properties] == [3, 7]
    raw = json.loads((tmp_path / "labels.zarr" / "zarr.json").read_text())
    assert raw["node_type"] == "group" and raw["attributes"]["napari_sam2"]["parameters"] == {"model": "demo"}


@pytest.mark.parametrize("ome_zarr", [True, False])
def test_both_layouts_are_read_by_the_one_function(tmp_path, ome_zarr):
    path = tmp_path / "labels.zarr"
    meta = write(path, ome_zarr=ome_zarr)
    assert is_ome_label_group(path) == ome_zarr
    labels = open_labels(path)
    assert labels.shape == SHAPE and labels.dtype == np.uint16 and int(labels[2].max()) == 7
    assert read_label_metadata(path) == meta
    again = open_label_array(path, SHAPE)  # resume opens it for writing
    again[3] = 9
    assert int(open_labels(path)[3].max()) == 9
    with pytest.raises(InputError, match="needs"):
        open_label_array(path, (5, 12, 16))
    assert check_output_path(path, overwrite=True) == path  # ours: an --overwrite may replace it


@pytest.mark.parametrize("ome_zarr", [True, False])
def test_updated_objects_reach_the_image_label_block(tmp_path, ome_zarr):
    path = tmp_path / "labels.zarr"
    meta = write(path, ome_zarr=ome_zarr, objects=())
    meta["objects"] = [{"id": 5, "name": "cell 5"}]
    write_label_metadata(path, meta, lineage={"tracks": []})
    assert read_label_metadata(path)["lineage"] == {"tracks": []}
    owner = zarr.open(str(path), mode="r")
    label = owner.attrs["ome"]["image-label"] if ome_zarr else owner.attrs["image-label"]
    assert label["properties"] == [{"label-value": 5, "name": "cell 5"}]


def test_a_foreign_zarr_group_is_never_replaced(tmp_path):
    group = zarr.open_group(str(tmp_path / "image.zarr"), mode="w", zarr_format=3)
    group.create_array("0", shape=(2, 4, 4), dtype="uint8")
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}], "axes": []}]}
    with pytest.raises(InputError, match="not a label store written by napari-sam2"):
        check_output_path(tmp_path / "image.zarr", overwrite=True)
    assert read_label_metadata(tmp_path / "image.zarr") is None


def test_a_journaled_write_fsyncs_the_chunk_inside_the_group(tmp_path, monkeypatch):
    path = tmp_path / "labels.zarr"
    write(path)
    (tmp_path / "labels.zarr.sam2-run").mkdir()
    journal = RunJournal.start(tmp_path / "labels.zarr.sam2-run", {"model": "demo"}, "OUT", SHAPE[0])
    sink = JournaledSink(open_label_array(path, SHAPE), journal, path)
    synced = []
    monkeypatch.setattr("napari_sam2.core.checkpoint.os.fsync",
                        lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    sink.write(0, np.full(SHAPE[1:], 4, np.uint16))
    assert str(path / "0" / "c" / "0" / "0" / "0") in synced  # the frame is durable before the journal
    assert int(open_labels(path)[0].min()) == 4


@pytest.mark.parametrize("axes, names", [
    ("TYX", ["t", "y", "x"]), ("ZYX", ["z", "y", "x"]), ("TZYX", ["t", "z", "y", "x"]),
    (None, ["frame", "y", "x"]), ("YXT", ["frame", "y", "x"]), ("CYX", ["c", "y", "x"])])
def test_ome_axis_names_are_valid_ome_axes(tmp_path, axes, names):
    from ome_zarr_models.v05 import ImageLabel

    assert ome_axis_names(axes, len(names)) == names
    assert ome_axis_names(None, 4, spatial=(1, 2)) == ["frame", "y", "x", "dim_1"]  # written, not OME-valid
    shape = (2,) * (len(names) - 2) + (6, 8)
    new_label_array(tmp_path / "l.zarr", shape, axes=axes, metadata=label_metadata(2, None, axes))
    ImageLabel.from_zarr(zarr.open_group(str(tmp_path / "l.zarr"), mode="r"))  # raises if invalid
    assert open_labels(tmp_path / "l.zarr").metadata.dimension_names == tuple(names)


def test_a_replacement_records_the_source_relative_to_where_it_is_swapped_in(tmp_path):
    (tmp_path / "labels.zarr.sam2-run").mkdir()
    new_label_array(tmp_path / "labels.zarr.sam2-run" / "new.zarr", SHAPE, axes="TYX",
                    metadata=label_metadata(SHAPE[0], tmp_path / "image.tif", "TYX"))
    ome = zarr.open_group(str(tmp_path / "labels.zarr.sam2-run" / "new.zarr"), mode="r").attrs["ome"]
    assert ome["image-label"]["source"] == {"image": "../image.tif"}  # right once it is labels.zarr
