"""A label output says what it is: axes, source image and scale, model and parameters, objects."""

import json

import numpy as np
import tifffile
import zarr

from doubles import cancel_propagation_after
from napari_sam2.cli import main
from napari_sam2.core.io import open_image
from napari_sam2.core.label_store import open_labels, read_label_metadata

STACK = (np.random.default_rng(2).random((4, 30, 36)) * 1000).astype(np.uint16)
PROMPTS = {"objects": [{"id": 3, "name": "nucleus A", "prompts": [{"frame": 0, "points": [[10, 10]]}]},
                       {"id": 7, "prompts": [{"frame": 2, "box": [5, 5, 20, 25]}]}]}


def run(tmp_path, image, out):
    (tmp_path / "p.json").write_text(json.dumps(PROMPTS))
    assert main(["segment", str(image), "--prompts", str(tmp_path / "p.json"), "--out", str(out),
                 "--model", "random:tiny", "--device", "cpu"]) == 0


def test_zarr_output_from_an_ome_zarr_z_stack(tmp_path):
    group = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    group.create_array("0", data=STACK)
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0", "coordinateTransformations": [
        {"type": "scale", "scale": [2.0, 0.25, 0.25]}]}], "axes": [
        {"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]}]
    run(tmp_path, tmp_path / "in.zarr", tmp_path / "labels.zarr")
    labels = open_labels(tmp_path / "labels.zarr")  # an OME-Zarr label image: the array at labels.zarr/0
    assert labels.metadata.dimension_names == ("z", "y", "x")
    ome = dict(zarr.open_group(str(tmp_path / "labels.zarr"), mode="r").attrs)["ome"]
    assert ome["version"] == "0.5"
    [multiscale] = ome["multiscales"]
    assert [a["name"] for a in multiscale["axes"]] == ["z", "y", "x"]
    assert [a["unit"] for a in multiscale["axes"]] == ["micrometer"] * 3
    assert multiscale["datasets"] == [{"path": "0", "coordinateTransformations": [
        {"type": "scale", "scale": [2.0, 0.25, 0.25]}]}]
    assert ome["image-label"]["properties"] == [{"label-value": 3, "name": "nucleus A"},
                                                {"label-value": 7, "name": ""}]
    assert ome["image-label"]["source"] == {"image": "../in.zarr"}
    meta = read_label_metadata(tmp_path / "labels.zarr")
    assert meta["source"] == str(tmp_path / "in.zarr") and meta["axes"] == "zyx"
    assert meta["units"] == {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
    assert meta["parameters"]["model"] == "random:tiny" and meta["parameters"]["preset"] == "accurate"
    assert len(meta["parameters"]["prompts_sha256"]) == 64
    assert open_image(tmp_path / "labels.zarr")[1] == "ZYX"  # our image reader too


def test_tif_output_is_an_imagej_hyperstack_with_the_scale(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", STACK, imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "TYX", "finterval": 5.0})
    run(tmp_path, tmp_path / "in.tif", tmp_path / "labels.tif")
    with tifffile.TiffFile(tmp_path / "labels.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "TYX"
        ij = tif.imagej_metadata
        assert ij["finterval"] == 5.0
        assert tif.pages[0].tags["XResolution"].value == (2, 1)
    meta = json.loads(ij["Info"])["napari_sam2"]
    assert meta["scale"] == [5.0, 0.5, 0.5] and meta["axes"] == "tyx"
    assert meta["objects"] == [{"id": 3, "name": "nucleus A"}, {"id": 7, "name": ""}]
    assert open_image(tmp_path / "labels.tif")[1] == "TYX"


def test_npy_without_axis_names(tmp_path):
    np.save(tmp_path / "in.npy", STACK)
    run(tmp_path, tmp_path / "in.npy", tmp_path / "labels.tif")
    with tifffile.TiffFile(tmp_path / "labels.tif") as tif:
        meta = tif.shaped_metadata[0]["napari_sam2"]
    assert meta["axes"] is None and meta["source"] == str(tmp_path / "in.npy")


def test_an_old_single_array_output_is_replaced_by_a_group_through_the_swap_and_resume(tmp_path, monkeypatch,
                                                                                      capsys):
    from napari_sam2.core.label_metadata import label_metadata
    from napari_sam2.core.label_store import is_ome_label_group
    from napari_sam2.core.session import Session
    from napari_sam2.core.sink import new_label_array

    tifffile.imwrite(tmp_path / "in.tif", STACK, imagej=True, metadata={"axes": "TYX"})
    out = tmp_path / "labels.zarr"
    old = new_label_array(out, STACK.shape, axes="TYX", metadata=label_metadata(4, None, "TYX"),
                          ome_zarr=False)
    old[:] = 9  # an output of an earlier version: one zarr array
    original = cancel_propagation_after(monkeypatch, 1)
    (tmp_path / "p.json").write_text(json.dumps(PROMPTS))
    args = ["segment", str(tmp_path / "in.tif"), "--prompts", str(tmp_path / "p.json"), "--out", str(out),
            "--model", "random:tiny", "--device", "cpu", "--overwrite", "--checkpoint-every", "1"]
    assert main(args) == 130
    assert (open_labels(out)[:] == 9).all() and not is_ome_label_group(out)  # untouched until the end
    assert is_ome_label_group(tmp_path / "labels.zarr.sam2-run" / "new.zarr")  # the unfinished group
    monkeypatch.setattr(Session, "propagate", original)
    assert main([*args, "--resume"]) == 0 and "resumed" in capsys.readouterr().out
    assert is_ome_label_group(out) and not (tmp_path / "labels.zarr.sam2-run").exists()
    labels = open_labels(out)[:]
    assert set(np.unique(labels)) <= {0, 3, 7} and read_label_metadata(out)["axes"] == "tyx"
    ome = zarr.open_group(str(out), mode="r").attrs["ome"]
    assert ome["image-label"]["source"] == {"image": "../in.tif"}  # relative to OUT, not the run folder
