"""The one safety wrapper of every labels run: checks before, lock during, wording and cleanup after."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.core.outputs import run_folder
from napari_sam2.workflows.output_guard import guarded_output

SHAPE = (3, 8, 8)


def _partial_run(folder, kept="the frames finished so far are kept in OUT; pass --resume to continue "
                               "the run"):
    (folder / "journal.json").write_text("{}")  # what a run writes into its folder
    return SimpleNamespace(kept=lambda: kept, target=folder / "new.zarr", resuming=False)


def test_a_finished_run_leaves_no_folder_and_an_unfinished_one_keeps_it(tmp_path):
    out = tmp_path / "labels.zarr"
    with guarded_output(out, shape=SHAPE) as guard:
        assert guard.out == out and (run_folder(out) / "lock").exists()
    assert not run_folder(out).exists()
    with pytest.raises(KeyboardInterrupt, match=r"^cancelled; nothing was written$"):
        with guarded_output(out, shape=SHAPE):
            raise KeyboardInterrupt
    assert not run_folder(out).exists()  # the folder it made, empty again, is gone
    with pytest.raises(KeyboardInterrupt, match=r"pass --resume to continue the run$"):
        with guarded_output(out, shape=SHAPE) as guard:
            guard.run = _partial_run(run_folder(out))
            raise KeyboardInterrupt
    assert (run_folder(out) / "journal.json").exists() and not (run_folder(out) / "lock").exists()


def test_the_words_and_the_journal_of_each_kind_of_run(tmp_path):
    out = tmp_path / "labels.zarr"
    out.mkdir()
    (out / "zarr.json").write_text("{}")
    run_folder(out).mkdir()
    (run_folder(out) / "volumes.json").write_text("{}")
    with pytest.raises(InputError, match="holds an unfinished run; pass resume=True to restart it") as err:
        with guarded_output(out, shape=SHAPE, journal="volumes.json", verb="restart"):
            pass
    assert err.value.fix == ("resume", True)
    with pytest.raises(InputError, match="nothing to resume"):  # no journal.json: complete
        with guarded_output(out, shape=SHAPE, resume=True):
            pass
    with pytest.raises(KeyboardInterrupt, match="pass --resume to restart the run$"):
        with guarded_output(out, shape=SHAPE, resume=True, journal="volumes.json",
                            verb="restart") as guard:
            guard.run = _partial_run(run_folder(out))
            raise KeyboardInterrupt


def test_a_failed_write_is_one_line_and_an_untouched_run_folder_can_go(tmp_path):
    out = tmp_path / "labels.zarr"
    with pytest.raises(InputError, match=r"^cannot write .*labels.zarr: the disk is full; nothing "
                                         r"was written$"):
        with guarded_output(out, shape=SHAPE):
            raise OSError(errno.ENOSPC, "No space left on device")
    run_folder(out).mkdir()
    with pytest.raises(InputError, match="no cells"):
        with guarded_output(out, shape=SHAPE, remove_untouched=True) as guard:
            guard.run = _partial_run(run_folder(out))
            guard.run.target = None  # it wrote nothing and resumes nothing
            raise InputError("no cells")
    assert not run_folder(out).exists()


def test_the_checks_come_before_anything_is_written(tmp_path):
    image = tmp_path / "image.zarr"
    image.mkdir()
    with pytest.raises(InputError, match="would overwrite the input"):
        with guarded_output(image / "labels.zarr", protect=(image,), shape=SHAPE):
            pass
    with pytest.raises(InputError, match="not enough space"):
        with guarded_output(tmp_path / "huge.zarr", shape=(10**6, 10**5, 10**5)):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.zarr"]
