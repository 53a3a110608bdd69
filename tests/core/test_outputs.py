"""Output safety in the core: locks, the swap, free space, write errors on real small disks."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from conftest import without_read_as
from napari_sam2.cli import main
from napari_sam2.core.errors import InputError
from napari_sam2.core.label_store import open_labels
from napari_sam2.core.outputs import OutputLock, recover_swap, run_folder, swap_in
from napari_sam2.core.sink import new_label_array, open_label_sink


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()

    def make(options="size=2m"):
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                              capture_output=True)
        if proc.returncode != 0:
            pytest.skip("cannot mount a small file system here (needs root)")
        return mount

    yield make
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_tiff_output_too_large_for_the_disk_is_refused_up_front(small_disk):
    disk = small_disk()
    with pytest.raises(InputError, match=r"not enough space for labels.tif: it needs up to 4\.3 MB"):
        open_label_sink(disk / "labels.tif", 8, (512, 512))
    assert list(disk.iterdir()) == []


def test_disk_full_during_a_run_is_one_line_naming_what_was_kept(small_disk, tmp_path, capsys,
                                                                   monkeypatch):
    disk = small_disk("size=1m")
    stack = (np.random.default_rng(0).random((6, 200, 200)) * 4000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", stack, metadata={"axes": "TYX"})
    (tmp_path / "p.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [20, 20, 180, 180]}]}]}))
    from napari_sam2.core.sink import LabelSink

    real_write = LabelSink.write

    def fill_disk_then_write(self, frame, labels):
        if frame == 3:  # someone else fills the disk mid-run
            with open(disk / "filler", "wb") as filler:
                try:
                    filler.write(b"x" * (2 << 20))
                except OSError:
                    pass
        real_write(self, frame, labels + 1)  # never an empty (unwritten) chunk

    monkeypatch.setattr(LabelSink, "write", fill_disk_then_write)
    code = main(["segment", str(tmp_path / "in.tif"), "--prompts", str(tmp_path / "p.json"), "--out",
                 str(disk / "labels.zarr"), "--model", "random:tiny", "--direction", "forward"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("napari-sam2: error")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert "cannot write" in err and "the disk is full" in err
    assert "the frames finished so far are kept in" in err and "--resume" in err


def test_read_only_file_system_is_one_line(small_disk, tmp_path, capsys):
    disk = small_disk("ro,size=1m")
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((3, 20, 20), np.uint16))
    (tmp_path / "p.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[5, 5]]}]}]}))
    code = main(["segment", str(tmp_path / "in.tif"), "--prompts", str(tmp_path / "p.json"), "--out",
                 str(disk / "labels.zarr"), "--model", "random:tiny"])
    err = capsys.readouterr().err
    assert code == 2 and without_read_as(err).count("\n") == 1 and "cannot write in" in err


def test_lock_refuses_a_live_job_and_takes_over_a_dead_one(tmp_path):
    out = tmp_path / "labels.zarr"
    with OutputLock(out):
        with pytest.raises(InputError, match=rf"being written by another job \(pid {os.getpid()} on"):
            OutputLock(out).acquire()
    assert not run_folder(out).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    run_folder(out).mkdir()
    (run_folder(out) / "lock").write_text(json.dumps(
        {"pid": int(dead), "host": socket.gethostname(), "started": 0}))
    with pytest.warns(UserWarning, match=f"taking over the lock .* left by job pid {dead}"):
        lock = OutputLock(out).acquire()
    assert json.loads((run_folder(out) / "lock").read_text())["pid"] == os.getpid()
    lock.release()
    (run_folder(out) / "lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": 0}))
    with pytest.raises(InputError, match="on elsewhere.*if that job is no longer running, delete"):
        OutputLock(out).acquire()


@pytest.mark.parametrize("suffix", [".zarr", ".tif"])
def test_swap_and_its_recovery(tmp_path, suffix):
    out = tmp_path / f"labels{suffix}"
    folder = run_folder(out)
    folder.mkdir()

    def make(path, value):
        array = new_label_array(path, (2, 4, 4))
        array[:] = value
        if hasattr(array, "flush"):
            array.flush()
        del array

    def read(path):
        return open_labels(path)[:] if suffix == ".zarr" else tifffile.imread(path)

    make(out, 1)
    make(folder / f"new{suffix}", 2)
    swap_in(folder / f"new{suffix}", out)
    assert (read(out) == 2).all() and not (folder / f"new{suffix}").exists()
    # killed between the renames of a folder swap: the old output is put back
    os.replace(out, folder / f"old{suffix}")
    recover_swap(out)
    assert (read(out) == 2).all() and not (folder / f"old{suffix}").exists()
