"""The command line end to end, with a tiny random-weight model folder."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import zarr

from conftest import CountingArray, without_read_as
from napari_sam2.cli import main
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.io import open_image
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker
from napari_sam2.workflows import segment_file

RNG = np.random.default_rng(0)
STACK = (RNG.random((6, 48, 64)) * 4000 + 32768).astype(np.uint16)
PROMPTS = {"objects": [
    {"id": 3, "name": "cell A", "prompts": [
        {"frame": 1, "points": [[20, 30], [40, 10]], "labels": [1, 0]},
        {"frame": 4, "box": [10, 10, 30, 40]}]},
    {"id": 8, "prompts": [{"frame": 2, "points": [[5, 5]]}]},
]}


@pytest.fixture
def files(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", STACK, metadata={"axes": "TYX"})
    (tmp_path / "prompts.json").write_text(json.dumps(PROMPTS))
    return tmp_path


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def expected_labels(tiny_model):
    """PROMPTS through the Python API with the same model: what the command line must write."""
    session = Session(FrameSource(STACK), TransformersTracker(tiny_model))
    session.add_object(3, "cell A")
    session.add_points(3, 1, [[20, 30], [40, 10]], [1, 0])
    session.add_box(3, 4, [10, 10, 30, 40])
    session.add_points(8, 2, [[5, 5]])
    list(session.propagate())
    labels = np.array(session.labels)
    assert {3, 8} <= set(np.unique(labels))  # both objects show (random weights, fixed seed)
    return labels


def check_labels(labels, shape=STACK.shape):
    assert labels.shape == shape and labels.dtype == np.uint16
    assert set(np.unique(labels)) <= {0, 3, 8}


@pytest.mark.parametrize("out", ["labels.zarr", "labels.tif"])
def test_segment_tif_to_zarr_or_tif(files, tiny_model_dir, expected_labels, out, capsys):
    code = run("segment", files / "stack.tif", "--prompts", files / "prompts.json",
               "--out", files / out, "--model", tiny_model_dir, "--device", "cpu")
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    labels = zarr.open_array(str(files / out), mode="r")[:] if out.endswith("zarr") else tifffile.imread(
        files / out)
    check_labels(labels)
    np.testing.assert_array_equal(labels, expected_labels)  # prompts read as (row, col), frame, id


def test_npy_zarr_and_ome_zarr_inputs(files, tiny_model_dir):
    """Every container of the same stack gives the same labels (one click, forward: cheap)."""
    (files / "click.json").write_text(json.dumps(
        {"objects": [{"id": 3, "prompts": [{"frame": 4, "points": [[20, 30]]}]}]}))
    np.save(files / "stack.npy", STACK)
    zarr.save_array(str(files / "plain.zarr"), STACK)
    group = zarr.open_group(str(files / "ome.zarr"), mode="w", zarr_format=2)
    group.create_array("0", data=STACK.transpose(1, 0, 2))  # stored as (y, t, x)
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}], "axes": [
        {"name": "y", "type": "space"}, {"name": "t", "type": "time"}, {"name": "x", "type": "space"}]}]
    v3 = zarr.open_group(str(files / "ome3.zarr"), mode="w", zarr_format=3)
    v3.create_array("s0", data=STACK)
    v3.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "s0"}], "axes": [
        {"name": "t"}, {"name": "y"}, {"name": "x"}]}]}
    tifffile.imwrite(files / "stack.ome.tif", STACK, ome=True, metadata={"axes": "TYX"})
    zarr.save_array(str(files / "v2.zarr"), STACK, zarr_format=2)
    outputs = {}
    for name in ("stack.tif", "stack.npy", "plain.zarr", "v2.zarr", "ome.zarr", "ome3.zarr", "stack.ome.tif"):
        out = files / f"out-{name}.zarr"
        assert run("segment", files / name, "--prompts", files / "click.json", "--out", out,
                   "--model", tiny_model_dir, "--direction", "forward") == 0
        outputs[name] = zarr.open_array(str(out), mode="r")[:]
        check_labels(outputs[name])
    reference = outputs.pop("stack.tif")
    assert not reference[:4].any() and (reference[4] == 3).any()
    for name, labels in outputs.items():
        np.testing.assert_array_equal(labels, reference, err_msg=name)
    assert open_image(files / "ome.zarr")[1] == "YTX"
    assert open_image(files / "ome3.zarr")[1] == "TYX"
    assert open_image(files / "stack.ome.tif")[1] == "TYX"


def test_multichannel_tif_with_named_axes_and_channels(files, tiny_model_dir):
    data = np.stack([STACK, STACK // 2, STACK // 3], axis=1)  # (t, c, y, x)
    tifffile.imwrite(files / "multi.tif", data, metadata={"axes": "TCYX"})
    out = files / "multi.zarr"
    assert run("segment", files / "multi.tif", "--prompts", files / "prompts.json", "--out", out,
               "--channels", "2,0", "--model", tiny_model_dir) == 0
    check_labels(zarr.open_array(str(out), mode="r")[:])


def test_csv_from_a_napari_points_layer_and_a_mask_file(files, tiny_model_dir):
    (files / "points.csv").write_text(
        "index,axis-0,axis-1,axis-2,object_id,positive\n"
        "0,1.0,20.0,30.0,3,True\n1,1.0,40.0,10.0,3,False\n2,2.0,5.0,5.0,8,True\n")
    out = files / "csv.zarr"
    assert run("segment", files / "stack.tif", "--prompts", files / "points.csv", "--out", out,
               "--model", tiny_model_dir, "--direction", "forward") == 0
    labels = zarr.open_array(str(out), mode="r")[:]
    check_labels(labels)
    assert not labels[0].any()  # forward only: nothing before the first prompt
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:30] = 1
    tifffile.imwrite(files / "m.tif", mask)
    (files / "mask.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 3, "mask": "m.tif"}]}]}))
    out = files / "mask.zarr"
    assert run("segment", files / "stack.tif", "--prompts", files / "mask.json", "--out", out,
               "--model", tiny_model_dir) == 0
    assert ((zarr.open_array(str(out), mode="r")[3] == 1) == mask.astype(bool)).mean() > 0.95


BAD = [
    ({"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[48, 5]]}]}]},
     "point (48, 5) lies outside the 48 x 64 frame"),
    ({"objects": [{"id": 1, "prompts": [{"frame": 6, "points": [[4, 5]]}]}]},
     "frame 6 does not exist: the stack has frames 0..5"),
    ({"objects": [{"id": 1, "prompts": []}]}, "object 1 has no prompts"),
    ({"objects": [{"id": 1, "prompts": [{"frame": 0}]}]}, "the prompt has no point, box or mask"),
    ({"objects": [{"name": "x"}]}, 'object #1 has no "id"'),
    ({"cells": []}, '"objects"'),
    ({"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 2, 3]}]}]}, "box must be"),
    ({"objects": [{"id": 1, "prompts": [{"frame": 0, "mask": "nope.tif"}]}]}, "does not exist"),
]


@pytest.mark.parametrize("prompts, message", BAD)
def test_bad_prompts_exit_2_with_one_line(files, prompts, message, capsys):
    (files / "bad.json").write_text(json.dumps(prompts))
    code = run("segment", files / "stack.tif", "--prompts", files / "bad.json", "--out",
               files / "o.zarr", "--model", "no-such-model")  # prompts are checked before the model
    err = capsys.readouterr().err
    assert code == 2 and message in err and without_read_as(err).count("\n") == 1
    assert not (files / "o.zarr").exists()


@pytest.mark.parametrize("args, message", [
    (["--axis", "3"], "axis 3 does not exist: the image has 3 dimensions (TYX, from the TIFF"),
    (["--axis", "q"], "'q' is neither a number nor one of the image's axes TYX (from the TIFF "
                      "description); pass --axes to name them"),
    (["--axes", "TQX"], "axes 'TQX' has 'Q': use only the letters T Z C Y X S (one letter per "
                        "dimension of (6, 48, 64), e.g. TYX)"),
    (["--axes", "TZYX"], "axes 'TZYX' has 4 letters but the image has 3 dimensions"),
    (["--axes", "TTX"], "axes 'TTX' repeats T"),
    (["--axes", "TZX"], "axes 'TZX' has no Y"),
    (["--frames", "7"], "frames 7 is outside 0..5"),
    (["--planes", "1"], "planes selects along Z, but the image has no Z axis (TYX, from the TIFF "
                        "description); pass --axes to name the axes"),
    (["--channels", "a"], "--channels must be comma-separated integers"),
    (["--model", "sam9"], "unknown model 'sam9'"),
])
def test_bad_options(files, tiny_model_dir, args, message, capsys):
    code = run("segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out",
               files / "o.zarr", *args)
    assert code == 2 and message in capsys.readouterr().err


def test_wrong_dimensions_and_not_a_checkpoint(files, capsys):
    tifffile.imwrite(files / "line.tif", STACK[0, 0])
    assert run("segment", files / "line.tif", "--prompts", files / "prompts.json", "--out",
               files / "o.zarr") == 2
    assert "image has 1 dimensions (64,); expected at least rows and columns" in capsys.readouterr().err
    tifffile.imwrite(files / "flat.tif", STACK[0])  # one image: prompts on other frames are refused
    assert run("segment", files / "flat.tif", "--prompts", files / "prompts.json", "--out",
               files / "o.zarr") == 2
    assert "frame 1 does not exist: the stack has frames 0..0" in capsys.readouterr().err
    assert not (files / "o.zarr").exists()
    assert run("segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out",
               files / "o.zarr", "--model", files) == 2
    assert "is not a SAM2-family checkpoint: it has no config.json" in capsys.readouterr().err


@pytest.mark.parametrize("image", ["grey", "rgb", "rgb-npy"])
def test_a_single_2d_image_gives_a_one_frame_label_image(files, tiny_model_dir, image, capsys):
    if image == "grey":
        tifffile.imwrite(files / "one.tif", STACK[2])  # axes YX
        path = files / "one.tif"
    else:
        rgb = (STACK[2, :, :, None] // 256 * np.array([1, 0.5, 0.2])).astype(np.uint8)
        path = files / ("one.tif" if image == "rgb" else "one.npy")
        tifffile.imwrite(path, rgb, photometric="rgb") if image == "rgb" else np.save(path, rgb)
    prompts = {"objects": [
        {"id": 3, "prompts": [{"frame": 0, "points": [[20, 30]], "box": [10, 10, 30, 40]}]},
        {"id": 8, "prompts": [{"frame": 0, "points": [[5, 5]]}]}]}
    (files / "one.json").write_text(json.dumps(prompts))
    code = run("segment", path, "--prompts", files / "one.json", "--out", files / "one_labels.tif",
               "--model", tiny_model_dir, "--device", "cpu")
    assert code == 0 and "1 frames of 48 x 64" in capsys.readouterr().out
    with tifffile.TiffFile(files / "one_labels.tif") as tif:
        assert len(tif.pages) == 1  # a stack of one frame (readers may squeeze it to 2D)
        labels = tif.asarray().reshape(-1, *STACK.shape[1:])
    check_labels(labels, (1, *STACK.shape[1:]))
    assert (labels == 3).any()  # the model's mask under the box (random weights: somewhere)


def test_existing_output_is_kept_unless_overwrite(files, tiny_model_dir, capsys):
    out = files / "labels.tif"
    tifffile.imwrite(out, np.full((2, 2), 7, np.uint16))
    args = ["segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out", out,
            "--model", tiny_model_dir]
    assert run(*args) == 2
    assert "already exists; choose another name or pass --overwrite" in capsys.readouterr().err
    assert tifffile.imread(out).tolist() == [[7, 7], [7, 7]]
    assert run(*args, "--overwrite", "--feature-cache", files / "features.zarr") == 0
    check_labels(tifffile.imread(out))
    import zarr

    assert len(list(zarr.open_group(str(files / "features.zarr"), mode="r").group_keys())) == len(STACK)


def test_unusable_feature_cache_stops_before_writing_the_output(files, tiny_model_dir, capsys):
    (files / "not_a_store").write_text("a file")
    out = files / "labels.zarr"
    assert run("segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out", out,
               "--model", tiny_model_dir, "--feature-cache", files / "not_a_store") == 2
    assert "not_a_store as a feature cache" in capsys.readouterr().err
    assert not out.exists()  # the next run is not refused with "already exists"


def test_missing_weights_offline_in_a_real_process(files, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    proc = subprocess.run(
        [sys.executable, "-m", "napari_sam2.cli", "segment", str(files / "stack.tif"), "--prompts",
         str(files / "prompts.json"), "--out", str(files / "o.zarr"), "--model", "sam2.1-tiny"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert without_read_as(proc.stderr).startswith(
        "napari-sam2: error: model 'sam2.1-tiny' (facebook/sam2.1-hiera-tiny)")
    assert "hf download facebook/sam2.1-hiera-tiny config.json model.safetensors" in proc.stderr
    assert not (files / "o.zarr").exists()


def test_help_has_examples(capsys):
    for command in (["segment"], ["models"], ["demo"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0
        assert "example:" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert "sam2.1-large" in capsys.readouterr().out


def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "demo"), "--frames", "4", "--model", "random:tiny"]) == 0
    assert "mean IoU against the ground truth" in capsys.readouterr().out
    from PIL import Image

    with Image.open(tmp_path / "demo" / "overview.png") as overview:  # 4 frames of 256 px, a legend below
        assert overview.size[0] == 4 * 256 + 3 * 4 and overview.size[1] > 256 and overview.mode == "RGB"
    assert main(["demo", str(tmp_path / "demo"), "--frames", "4", "--model", "random:tiny"]) == 2


def test_demo_bad_input_writes_nothing(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "a"), "--model", "no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert main(["demo", str(tmp_path / "a"), "--frames", "0", "--model", "random:tiny"]) == 2
    assert "--frames must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_real_hela_timelapse_end_to_end(shared_data, tiny_model_dir, tmp_path):
    """uint16 on a 32768 offset, 20 x 700 x 1100: runs, right shape and dtype, bounded reads."""
    data, axes = open_image(shared_data / "ctc_hela" / "Fluo_Hela_02_img.tif")
    assert data.shape == (20, 700, 1100) and data.dtype == np.uint16
    counting = CountingArray(data)
    prompts = {"objects": [
        {"id": 1, "prompts": [{"frame": 10, "points": [[350, 550]]}]},
        {"id": 2, "prompts": [{"frame": 0, "box": [100, 100, 160, 170]}]},
    ]}
    (tmp_path / "p.json").write_text(json.dumps(prompts))
    segment_file(counting, tmp_path / "p.json", tmp_path / "hela.zarr", model=tiny_model_dir,
                 device="cpu", progress=False)
    labels = zarr.open_array(str(tmp_path / "hela.zarr"), mode="r")
    assert labels.shape == (20, 700, 1100) and labels.dtype == np.uint16
    assert labels.chunks == (1, 700, 1100)
    assert set(counting.reads) == set(range(20))
    # normalisation sample (8 frames) + each object's pass (frames 1..9 are passed twice: forward for
    # object 2, backward for object 1) + at most one wasted read-ahead per pass
    assert max(counting.reads.values()) <= 3 and sum(counting.reads.values()) <= 20 + 8 + 10 + 2


def test_a_mask_that_excludes_a_clicked_point_is_reported_at_once(files, tiny_model_dir, monkeypatch, capsys):
    """The real model on the prompted frame, its answer replaced by an empty mask (as phase contrast can)."""
    from napari_sam2.core.tracker import TrackOutput, TransformersTracker

    real_step = TransformersTracker.step

    def step(self, frame, steps, reverse):
        output = real_step(self, frame, steps, reverse)
        if any(s.prompt is not None for s in steps):
            return TrackOutput(-np.abs(output.logits) - 1, output.presence)
        return output

    monkeypatch.setattr(TransformersTracker, "step", step)
    assert run("segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out",
               files / "o.zarr", "--model", tiny_model_dir) == 0
    err = capsys.readouterr().err
    assert ("napari-sam2: warning: object 3, frame 1: the mask excludes the positive point at row 20, "
            "col 30 (the mask is empty); add a point or a box to correct it") in err
    assert "object 8, frame 2: the mask excludes the positive point at row 5, col 5" in err


@pytest.mark.parametrize("memory", ["cells", "cells-claims", "motion-cells"])
def test_memory_policy_option(files, tiny_model_dir, memory, capsys):
    code = run("segment", files / "stack.tif", "--prompts", files / "prompts.json", "--out",
               files / "m.zarr", "--model", tiny_model_dir, "--memory", memory)
    assert code == 0
    check_labels(zarr.open_array(str(files / "m.zarr"), mode="r")[:])


def test_unknown_memory_policy_stops_before_writing(files, tiny_model_dir):
    from napari_sam2.core.errors import InputError

    with pytest.raises(InputError, match="memory must be one of sam2, exclusive, cells"):
        segment_file(STACK, files / "prompts.json", files / "m.zarr", model=tiny_model_dir,
                     memory="samurai")
    assert not (files / "m.zarr").exists()
