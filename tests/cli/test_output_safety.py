"""Outputs you can trust: never over an input, nothing touched before every check, old OUT kept."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import zarr

from conftest import without_read_as
from doubles import cancel_propagation_after
from napari_sam2.cli import main
from napari_sam2.core.errors import InputError
from napari_sam2.core.label_store import open_labels
from napari_sam2.core.sink import new_label_array, open_label_sink

RNG = np.random.default_rng(1)
STACK = (RNG.random((5, 40, 48)) * 4000 + 100).astype(np.uint16)
PROMPTS = {"objects": [{"id": 2, "name": "cell", "prompts": [{"frame": 1, "points": [[20, 20]]}]}]}


@pytest.fixture
def files(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", STACK, metadata={"axes": "TYX"})
    zarr.save_array(str(tmp_path / "in.zarr"), STACK)
    np.save(tmp_path / "in.npy", STACK)
    group = zarr.open_group(str(tmp_path / "ome.zarr"), mode="w")
    group.create_array("0", data=STACK)
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "0"}], "axes": [
        {"name": "t"}, {"name": "y"}, {"name": "x"}]}]}
    (tmp_path / "prompts.json").write_text(json.dumps(PROMPTS))
    return tmp_path


def segment(files, image, out, *extra):
    return main(["segment", str(image), "--prompts", str(files / "prompts.json"), "--out", str(out),
                 "--model", "random:tiny", "--device", "cpu", *map(str, extra)])


def read(path):
    return open_labels(path)[:] if str(path).endswith(".zarr") else tifffile.imread(
        path)


def test_segment_in_zarr_out_in_zarr_overwrite_keeps_the_input(files, capsys):
    """The reported bug: it deleted the input, segmented a blank stack and exited 0."""
    code = segment(files, files / "in.zarr", files / "in.zarr", "--overwrite")
    err = capsys.readouterr().err
    assert code == 2
    assert "would overwrite the input" in err and without_read_as(err).count("\n") == 1
    np.testing.assert_array_equal(zarr.open_array(str(files / "in.zarr"), mode="r")[:], STACK)


@pytest.mark.parametrize("image, out", [
    ("in.tif", "in.tif"), ("in.zarr", "in.zarr/labels.zarr"), ("ome.zarr", "ome.zarr/0/x.zarr"),
    ("ome.zarr", "ome.zarr"), ("in.npy", "in.npy"), ("in.zarr", "sub/../in.zarr"),
])
def test_out_may_not_be_or_lie_inside_the_image(files, image, out, capsys):
    before = {p: p.stat().st_mtime_ns for p in files.rglob("*")}
    assert segment(files, files / image, files / out, "--overwrite") == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in files.rglob("*")} == before


def test_image_inside_out_and_symlinks_are_refused(files, capsys):
    folder = files / "data.zarr"
    folder.mkdir()
    zarr.save_array(str(folder / "stack.zarr"), STACK)  # IMAGE inside OUT
    assert segment(files, folder / "stack.zarr", folder, "--overwrite") == 2
    assert "would overwrite the input" in capsys.readouterr().err
    os.symlink(files / "in.tif", files / "link.tif")  # OUT is a symlink to IMAGE
    assert segment(files, files / "in.tif", files / "link.tif", "--overwrite") == 2
    assert "would overwrite the input" in capsys.readouterr().err
    os.symlink(files / "in.zarr", files / "alias.zarr")  # IMAGE through a symlinked folder
    assert segment(files, files / "alias.zarr", files / "in.zarr", "--overwrite") == 2
    np.testing.assert_array_equal(read(files / "in.tif"), STACK)
    np.testing.assert_array_equal(read(files / "in.zarr"), STACK)


def test_api_sinks_protect_their_sources(files):
    with pytest.raises(InputError, match="would overwrite the input"):
        open_label_sink(files / "in.zarr", 5, (40, 48), overwrite=True, protect=[files / "in.zarr"])
    with pytest.raises(InputError, match="would overwrite the input"):
        new_label_array(files / "in.zarr" / "labels.zarr", (5, 40, 48), protect=[files / "in.zarr"])
    np.testing.assert_array_equal(read(files / "in.zarr"), STACK)


@pytest.mark.parametrize("bad, message", [
    ({"objects": [{"id": 0, "prompts": [{"frame": 0, "points": [[4, 4]]}]}]}, "from 1 to 65535, got 0"),
    ({"objects": [{"id": 65536, "prompts": [{"frame": 0, "points": [[4, 4]]}]}]}, "got 65536"),
    ({"objects": [{"id": 2**31 + 5, "prompts": [{"frame": 0, "points": [[4, 4]]}]}]}, "got 2147483653"),
])
def test_bad_ids_are_refused_before_the_old_output_is_touched(files, bad, message, capsys):
    out = files / "labels.tif"
    tifffile.imwrite(out, np.full((5, 40, 48), 7, np.uint16))
    (files / "prompts.json").write_text(json.dumps(bad))
    assert segment(files, files / "in.tif", out, "--overwrite") == 2
    assert message in capsys.readouterr().err
    assert (read(out) == 7).all()
    assert not (files / "labels.tif.sam2-run").exists()


def test_png_out_and_missing_folder(files, capsys):
    assert segment(files, files / "in.tif", files / "labels.png", "--overwrite") == 2
    assert "must end in .zarr, .tif or .tiff" in capsys.readouterr().err
    assert segment(files, files / "in.tif", files / "nope" / "labels.zarr") == 2
    assert "does not exist" in capsys.readouterr().err


def test_failed_overwrite_run_leaves_the_old_output(files, capsys, monkeypatch):
    out = files / "labels.zarr"
    zarr.save_array(str(out), np.full((5, 40, 48), 7, np.uint16))
    from napari_sam2.core.session import Session

    def crash(self, direction="both"):
        raise RuntimeError("out of memory")
        yield

    monkeypatch.setattr(Session, "propagate", crash)
    with pytest.raises(RuntimeError, match="out of memory"):
        segment(files, files / "in.tif", out, "--overwrite")
    assert (read(out) == 7).all()
    assert not (files / "labels.zarr.sam2-run" / "lock").exists()  # the lock is released


def test_cancelled_overwrite_run_leaves_the_old_output_and_says_so(files, capsys, monkeypatch):
    out = files / "labels.tif"
    tifffile.imwrite(out, np.full((5, 40, 48), 7, np.uint16))
    from napari_sam2.core.session import Session

    original = cancel_propagation_after(monkeypatch, 1)
    assert segment(files, files / "in.tif", out, "--overwrite") == 130
    err = capsys.readouterr().err
    assert f"cancelled; {out} is unchanged" in err and "--resume --overwrite" in err
    assert (read(out) == 7).all()
    monkeypatch.setattr(Session, "propagate", original)
    assert segment(files, files / "in.tif", out, "--overwrite", "--resume") == 0
    assert "resumed" in capsys.readouterr().out
    assert set(np.unique(read(out))) <= {0, 2} and not (files / "labels.tif.sam2-run").exists()


def test_cancelled_first_run_keeps_its_frames_in_place(files, capsys, monkeypatch):
    out = files / "labels.zarr"
    cancel_propagation_after(monkeypatch, 2)
    assert segment(files, files / "in.tif", out) == 130
    assert "the frames finished so far are kept in" in capsys.readouterr().err
    assert read(out).shape == STACK.shape
    assert segment(files, files / "in.tif", out) == 2  # not silently started over
    assert "holds an unfinished run; pass --resume to continue it" in capsys.readouterr().err


def test_demo_overwrite_removes_only_its_own_files(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_text("irreplaceable")
    assert main(["demo", str(folder), "--frames", "2", "--model", "random:tiny", "--overwrite"]) == 2
    assert "files that were not written by napari-sam2 demo (thesis.docx)" in capsys.readouterr().err
    assert (folder / "thesis.docx").read_text() == "irreplaceable"
    demo = tmp_path / "demo"
    assert main(["demo", str(demo), "--frames", "2", "--model", "random:tiny"]) == 0
    (demo / "notes.txt").write_text("mine")
    assert main(["demo", str(demo), "--frames", "2", "--model", "random:tiny", "--overwrite"]) == 2
    assert "notes.txt" in capsys.readouterr().err
    (demo / "notes.txt").unlink()
    assert main(["demo", str(demo), "--frames", "2", "--model", "random:tiny", "--overwrite"]) == 0


def test_read_only_folder_is_one_line(files, capsys, monkeypatch):
    folder = files / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the file system say no
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(folder)
                            else real_access(p, mode, **kw))
    else:
        folder.chmod(0o555)
    assert segment(files, files / "in.tif", folder / "labels.zarr") == 2
    err = capsys.readouterr().err
    assert "cannot write in" in err and without_read_as(err).count("\n") == 1


def test_status_of_a_finished_and_a_missing_output(files, capsys):
    out = files / "labels.zarr"
    assert segment(files, files / "in.tif", out) == 0
    capsys.readouterr()
    assert main(["segment", "--status", str(out)]) == 0
    assert "complete; 5 frames, 1 object(s), model random:tiny" in capsys.readouterr().out
    assert segment(files, files / "in.tif", out, "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["segment", "--status", str(files / "none.zarr")]) == 0
    assert "no such output" in capsys.readouterr().out
    assert main(["segment", str(files / "in.tif"), "--out", str(out)]) == 2
    assert "segment needs --prompts" in capsys.readouterr().err


def test_two_jobs_on_one_output(files, tiny_model_dir):
    """A second job fails at once naming the first; a killed job's lock is taken over."""
    big = (RNG.random((300, 64, 64)) * 4000).astype(np.uint16)
    tifffile.imwrite(files / "big.tif", big, metadata={"axes": "TYX"})
    out = files / "labels.zarr"
    args = [sys.executable, "-m", "napari_sam2.cli", "segment", str(files / "big.tif"), "--prompts",
            str(files / "prompts.json"), "--out", str(out), "--model", str(tiny_model_dir),
            "--device", "cpu"]
    first = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    lock = files / "labels.zarr.sam2-run" / "lock"
    _wait_for(lambda: lock.exists() and lock.read_text())
    second = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first job finished too early for this test"
    assert second.returncode == 2
    assert f"is being written by another job (pid {first.pid} on" in second.stderr
    first.kill()  # SIGKILL: its lock stays behind
    first.wait()
    assert json.loads(lock.read_text())["pid"] == first.pid
    third = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert f"taking over the lock of {out} left by job pid {first.pid}" in third.stderr
    assert not lock.exists()


def _wait_for(condition, timeout=120.0):
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
