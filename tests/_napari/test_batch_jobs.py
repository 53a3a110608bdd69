"""The open stacks as a batch manifest: file layers only, prompts beside them when there are any."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import tifffile

from napari_sam2._napari.batch_jobs import (
    open_stack_files,
    prompts_beside,
    write_open_stacks_manifest,
)
from napari_sam2.core.errors import InputError


def test_the_manifest_lists_file_layers_with_their_prompts(make_napari_viewer, tmp_path):
    for name in ("a.ome.tif", "b.tif"):
        tifffile.imwrite(tmp_path / name, np.zeros((2, 8, 8), np.uint16))
    (tmp_path / "a.prompts.json").write_text("{}")
    viewer = make_napari_viewer()
    viewer.open(str(tmp_path / "a.ome.tif"), plugin="napari")
    viewer.open(str(tmp_path / "b.tif"), plugin="napari")
    viewer.add_image(np.zeros((8, 8)), name="made in memory")
    viewer.add_labels(np.zeros((8, 8), int))
    assert open_stack_files(viewer.layers) == [tmp_path / "a.ome.tif", tmp_path / "b.tif"]
    assert prompts_beside(tmp_path / "a.ome.tif") == tmp_path / "a.prompts.json"
    assert prompts_beside(tmp_path / "b.tif") is None
    manifest = write_open_stacks_manifest(viewer.layers, tmp_path / "out")
    with open(manifest, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["image"], r["prompts"]) for r in rows] == [
        (str(tmp_path / "a.ome.tif"), str(tmp_path / "a.prompts.json")), (str(tmp_path / "b.tif"), "")]


def test_no_file_layer_is_refused_and_nothing_written(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 8)))
    with pytest.raises(InputError, match="no open image layer comes from a file"):
        write_open_stacks_manifest(viewer.layers, tmp_path / "out")
    assert not (tmp_path / "out").exists()
