"""napari sample data: every manifest entry resolves; the time-lapse of volumes is 4D with its truth."""

import importlib
from pathlib import Path

import yaml

import napari_sam2
from napari_sam2._napari.samples import sample_volumes


def test_manifest_sample_commands_resolve():
    manifest = yaml.safe_load((Path(napari_sam2.__file__).parent / "napari.yaml").read_text())
    commands = {c["id"]: c["python_name"] for c in manifest["contributions"]["commands"]}
    keys = [s["key"] for s in manifest["contributions"]["sample_data"]]
    assert "volumes" in keys
    for sample in manifest["contributions"]["sample_data"]:
        module, name = commands[sample["command"]].split(":")
        assert callable(getattr(importlib.import_module(module), name))


def test_time_lapse_of_volumes_sample():
    (image, image_meta, image_kind), (labels, label_meta, label_kind) = sample_volumes()
    assert image.ndim == labels.ndim == 4 and image.shape == labels.shape
    assert (image_kind, label_kind) == ("image", "labels")
    assert image_meta["axis_labels"] == label_meta["axis_labels"] == ("t", "z", "y", "x")
    assert labels.max() > 0
