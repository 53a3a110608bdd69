"""`segment` with --axes, --frames, --planes and files whose metadata lies, end to end (tiny model)."""

import json

import numpy as np
import pytest
import tifffile

from conftest import without_read_as
from napari_sam2.cli import main
from napari_sam2.core.label_store import open_labels, read_label_metadata
from napari_sam2.workflows import segment_file

RNG = np.random.default_rng(1)
TZYX = (RNG.random((6, 3, 32, 40)) * 4000).astype(np.uint16)  # the truth: T=6, Z=3
ONE_CLICK = {"objects": [{"id": 2, "prompts": [{"frame": 3, "points": [[12, 15]]}]}]}


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps(ONE_CLICK))
    return tmp_path


def test_lying_imagej_metadata_says_what_was_propagated(folder, tiny_model_dir, capsys):
    """The issue's case: T and Z saved as slices and channels. The run shows what it did."""
    tifffile.imwrite(folder / "lie.tif", TZYX, imagej=True, metadata={"axes": "ZCYX"})
    code = run("segment", folder / "lie.tif", "--prompts", folder / "p.json", "--out",
               folder / "o.zarr", "--model", tiny_model_dir, "--device", "cpu", "--direction",
               "forward")
    err = capsys.readouterr().err
    assert code == 0
    assert ("read as Z=6 C=3 Y=32 X=40 (from ImageJ metadata; --axes to change); propagating along "
            "Z (6); channel(s) 0 of C (3)") in err
    labels = open_labels(folder / "o.zarr")
    assert labels.shape == (6, 32, 40) and labels.metadata.dimension_names == ("z", "y", "x")


def test_axis_t_is_a_letter_of_the_users_terms(folder, tiny_model_dir, capsys):
    """`--axis t` on a TIFF tifffile calls QQYX: accepted; the old way (z as channels) still runs."""
    tifffile.imwrite(folder / "plain.tif", np.concatenate([TZYX, TZYX[:, :2]], axis=1))  # Z=5
    args = ("segment", folder / "plain.tif", "--prompts", folder / "p.json", "--out", folder / "o.tif",
            "--model", tiny_model_dir, "--device", "cpu", "--direction", "forward")
    assert run(*args, "--axis", "t") == 2
    err = without_read_as(capsys.readouterr().err)
    assert err == ("napari-sam2: error: propagating along T leaves Z (5) over (TZYX, guessed): take one "
                   "plane (pass --planes N), read Z as channels (channel axis), or leave the "
                   "propagation axis to the default to track volumes over time\n")
    assert run(*args, "--axis", "t", "--channel-axis", "z", "--channels", "2") == 0
    err = capsys.readouterr().err
    assert "read as T=6 Z=5 Y=32 X=40 (guessed; --axes to change); propagating along T (6); " \
           "channel(s) 2 of Z (5)" in err
    assert tifffile.imread(folder / "o.tif").shape == (6, 32, 40)


def test_frames_use_the_stored_numbers_and_the_output_records_them(folder, tiny_model_dir, capsys):
    stack = TZYX[:, 1]
    tifffile.imwrite(folder / "t.tif", stack, metadata={"axes": "TYX"})
    code = run("segment", folder / "t.tif", "--prompts", folder / "p.json", "--out",
               folder / "o.zarr", "--frames", "2:5", "--model", tiny_model_dir, "--device", "cpu")
    assert code == 0
    assert "read as T=3 Y=32 X=40 (from the TIFF description; --axes to change); selected T 2:5; " \
           "propagating along T (3)" in capsys.readouterr().err
    labels = open_labels(folder / "o.zarr")
    assert read_label_metadata(folder / "o.zarr")["selection"] == {"t": [2, 5]}
    (folder / "view.json").write_text(json.dumps(
        {"objects": [{"id": 2, "prompts": [{"frame": 1, "points": [[12, 15]]}]}]}))
    segment_file(stack[2:5], folder / "view.json", folder / "same.zarr", model=tiny_model_dir, device="cpu",
                 progress=False)  # the same frames given directly, the prompt in their numbers
    np.testing.assert_array_equal(labels[:], open_labels(folder / "same.zarr")[:])


def test_one_time_point_of_volumes_is_a_z_stack(folder, tiny_model_dir, capsys):
    tifffile.imwrite(folder / "v.tif", TZYX, imagej=True, metadata={"axes": "TZYX"})
    (folder / "z.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 1, "points": [[12, 15]]}]}]}))
    code = run("segment", folder / "v.tif", "--prompts", folder / "z.json", "--out", folder / "o.tif",
               "--frames", "4", "--model", tiny_model_dir, "--device", "cpu")
    assert code == 0
    assert "selected T 4; propagating along Z (3)" in capsys.readouterr().err
    with tifffile.TiffFile(folder / "o.tif") as tif:
        assert tif.series[0].axes == "ZYX" and tif.series[0].shape == (3, 32, 40)


def test_metadata_that_cannot_be_read_as_described(folder, tiny_model_dir, capsys):
    pages = TZYX.reshape(18, 32, 40)
    tifffile.imwrite(folder / "bad.tif", pages, metadata=None, description=(
        "ImageJ=1.11a\nimages=20\nslices=5\nframes=4\nhyperstack=true\n"))
    args = ("segment", folder / "bad.tif", "--prompts", folder / "p.json", "--out", folder / "o.zarr",
            "--model", tiny_model_dir, "--device", "cpu", "--direction", "forward")
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "slices=5, frames=4 (20 images) but the file holds 18 pages" in err
    assert "pass --axes with 3 letters" in err and not (folder / "o.zarr").exists()
    assert run(*args, "--axes", "TYX") == 0
    err = capsys.readouterr().err
    assert "read as T=18 Y=32 X=40 (from --axes" in err and "read as the plain pages" in err


def test_volumes_go_to_the_volumes_workflow(folder, tiny_model_dir, capsys):
    tifffile.imwrite(folder / "v.tif", TZYX)
    (folder / "v.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 2, "plane": 1, "points": [[12, 15]]}]}]}))
    code = run("segment", folder / "v.tif", "--axes", "TZYX", "--prompts", folder / "v.json", "--out",
               folder / "o.zarr", "--model", tiny_model_dir, "--device", "cpu")
    assert code == 0
    assert "volumes over time: T (6) and Z (3)" in capsys.readouterr().err
    assert open_labels(folder / "o.zarr").shape == TZYX.shape


def test_a_part_of_a_series_of_volumes_keeps_the_stored_frame_numbers(folder, tiny_model_dir):
    tifffile.imwrite(folder / "v.tif", TZYX)
    (folder / "v.json").write_text(json.dumps({"objects": [
        {"id": 1, "prompts": [{"frame": 2, "plane": 1, "points": [[12, 15]]}]},
        {"id": 2, "prompts": [{"frame": 0, "plane": 0, "points": [[5, 5]]},
                              {"frame": 3, "plane": 2, "points": [[20, 20]]}]}]}))
    with pytest.warns(UserWarning, match="object 2: 1 prompt"):
        segment_file(TZYX, folder / "v.json", folder / "o.zarr", axes="tzyx", frames="1:4",
                     model=tiny_model_dir, device="cpu", progress=False)
    out = open_labels(folder / "o.zarr")
    assert out.shape == (3, 3, 32, 40)
    assert read_label_metadata(folder / "o.zarr")["selection"] == {"t": [1, 4]}
