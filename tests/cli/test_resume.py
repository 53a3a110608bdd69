"""Resume: a run killed mid-way (SIGKILL) continues with --resume and gives the uninterrupted labels."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.core.label_store import open_labels

RNG = np.random.default_rng(3)
FRAMES = 36
PROMPTS = {"objects": [
    {"id": 4, "name": "left", "prompts": [{"frame": 9, "points": [[20, 20], [40, 50]], "labels": [1, 0]}]},
    {"id": 9, "name": "right", "prompts": [{"frame": 21, "box": [30, 30, 60, 60]},
                                           {"frame": 30, "points": [[45, 40]]}]},
]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    stack = (RNG.random((FRAMES, 64, 72)) * 3000).astype(np.uint16)
    stack[:, 10:40, 10:40] += 4000
    tifffile.imwrite(folder / "stack.tif", stack, metadata={"axes": "TYX"})
    (folder / "prompts.json").write_text(json.dumps(PROMPTS))
    return folder


@pytest.fixture(scope="module")
def expected(files, tiny_model_dir):
    """The labels of one uninterrupted run (the same for either output format)."""
    whole = files / "whole.zarr"
    done = subprocess.run(command(files, tiny_model_dir, whole), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    labels = read(whole)
    assert set(np.unique(labels)) == {0, 4, 9}
    return labels


def command(files, model, out, *extra):
    return [sys.executable, "-m", "napari_sam2.cli", "segment", str(files / "stack.tif"), "--prompts",
            str(files / "prompts.json"), "--out", str(out), "--model", str(model), "--device", "cpu",
            "--precision", "fp32", "--checkpoint-every", "4", *extra]


def read(path):
    return open_labels(path)[:] if str(path).endswith(".zarr") else tifffile.imread(
        path)


def kill_when(proc, journal, condition, timeout=240):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, "the run ended before it could be killed"
        try:
            data = json.loads(journal.read_text())
        except (OSError, ValueError):
            data = None
        if data and condition(data):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return data
        time.sleep(0.01)
    raise AssertionError("timed out")


@pytest.mark.parametrize("suffix, when", [
    (".zarr", lambda d: (d["done"]["forward"] or [0, 0])[1] >= 18),  # mid forward pass
    (".tif", lambda d: d["done"]["backward"] is not None and d["done"]["backward"][1] <= 15),  # backward
])
def test_killed_run_resumes_to_the_uninterrupted_labels(files, tiny_model_dir, expected, suffix, when):
    out = files / f"killed{suffix}"
    proc = subprocess.Popen(command(files, tiny_model_dir, out), stderr=subprocess.DEVNULL)
    state = kill_when(proc, files / f"killed{suffix}.sam2-run" / "journal.json",
                      lambda d: d["checkpoint"] is not None and d["checkpoint"]["seq"] >= 2 and when(d))
    status = subprocess.run([sys.executable, "-m", "napari_sam2.cli", "segment", "--status", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "unfinished run" in status.stdout
    assert f"--resume continues from the checkpoint at frame {state['checkpoint']['frame']}" in status.stdout
    assert f"pid {proc.pid}" in status.stdout  # the dead job's lock, as it was left

    resumed = subprocess.run(command(files, tiny_model_dir, out, "--resume"), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after frame" in resumed.stdout
    assert "taking over the lock" in resumed.stderr
    np.testing.assert_array_equal(read(out), expected)
    assert not (files / f"killed{suffix}.sam2-run").exists()


def test_resume_refuses_other_parameters_naming_them(files, tiny_model_dir, capsys):
    out = files / "params.zarr"
    proc = subprocess.Popen(command(files, tiny_model_dir, out), stderr=subprocess.DEVNULL)
    kill_when(proc, files / "params.zarr.sam2-run" / "journal.json",
              lambda d: d["checkpoint"] is not None and d["checkpoint"]["seq"] >= 1)
    before = read(out)
    args = ["segment", str(files / "stack.tif"), "--prompts", str(files / "prompts.json"), "--out",
            str(out), "--model", str(tiny_model_dir), "--device", "cpu", "--resume"]
    assert main([*args, "--precision", "fp32", "--preset", "fast"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main([*args, "--precision", "fp32", "--direction", "forward"]) == 2
    assert "the interrupted run's direction was 'both', now 'forward'" in capsys.readouterr().err
    moved = dict(PROMPTS, objects=[PROMPTS["objects"][0]])
    (files / "other.json").write_text(json.dumps(moved))
    args[3] = str(files / "other.json")
    assert main([*args, "--precision", "fp32"]) == 2
    assert "prompts_sha256 was" in capsys.readouterr().err
    np.testing.assert_array_equal(read(out), before)  # refused before anything was touched
