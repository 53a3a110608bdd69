"""Session files: save a session, load it into a new one, continue where it stood."""

import json

import numpy as np
import pytest

from doubles import DiskTracker
from napari_sam2.core.errors import InputError
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.prompt_files import read_prompts
from napari_sam2.core.session import Session
from napari_sam2.core.session_file import load_session, restore_session, save_session, session_paths

SHAPE = (9, 60, 80)


@pytest.fixture
def data():
    return np.random.default_rng(0).integers(0, 1000, SHAPE, dtype=np.uint16)


def worked_session(data):
    session = Session(FrameSource(data), DiskTracker())
    session.add_points(2, 4, [[20, 30], [25, 60]], [1, 0])  # anchor on frame 4
    session.add_box(2, 1, [10, 10, 30, 40])  # a later prompt before the anchor
    mask = np.zeros(SHAPE[1:], bool)
    mask[40:50, 50:70] = True
    session.add_mask(5, 6, mask)
    session.objects[2].name = "mother cell"
    list(session.propagate("forward"))
    return session


def test_round_trip_restores_prompts_names_progress_and_labels(data, tmp_path):
    session = worked_session(data)
    path = save_session(session, tmp_path / "cells.sam2.json", settings={"model": "demo", "preset": "fast"},
                        view={"hidden": [5]})
    files = session_paths(path)
    assert files[1].name == "cells.labels.tif" and files[1].is_file()
    assert (files[2] / "object5_frame6.npy").is_file()
    saved = load_session(path)
    assert saved.settings == {"model": "demo", "preset": "fast"} and saved.view == {"hidden": [5]}

    tracker = DiskTracker()
    again = Session(FrameSource(data), tracker)
    results = list(restore_session(again, saved))
    assert [(r.frame, r.object_ids) for r in results] == [(4, (2,)), (1, (2,)), (6, (5,))]  # anchors first
    assert again.objects[2].name == "mother cell" and again.objects[2].anchor == 4
    for obj_id, obj in session.objects.items():
        new = again.objects[obj_id]
        assert (new.anchor, new.backward_done, new.forward_done) == (obj.anchor, obj.backward_done,
                                                                     obj.forward_done)
        assert new.presence == pytest.approx(obj.presence)
        for frame, prompt in obj.prompts.items():
            other = new.prompts[frame]
            assert np.array_equal(other.points, prompt.points) and np.array_equal(other.labels, prompt.labels)
            assert other.box == prompt.box
            assert (other.mask is None) == (prompt.mask is None)
            if prompt.mask is not None:
                assert np.array_equal(other.mask, prompt.mask)
    assert np.array_equal(again.labels, session.labels)
    n_calls = len(tracker.calls)
    assert list(again.propagate("forward")) == []  # done frames stay done
    assert len(tracker.calls) == n_calls
    backward = [(r.frame, r.object_ids) for r in again.propagate("backward")]  # what was not done still is
    assert backward == [(r.frame, r.object_ids) for r in session.propagate("backward")]
    assert backward[-2:] == [(1, (5,)), (0, (2, 5))]


def test_a_session_file_is_also_a_prompts_file(data, tmp_path):
    path = save_session(worked_session(data), tmp_path / "s.sam2.json")
    objects = read_prompts(path)  # what `napari-sam2 segment --prompts s.sam2.json` reads
    assert [(o.obj_id, sorted(o.prompts)) for o in objects] == [(2, [1, 4]), (5, [6])]


def test_existing_files_are_kept_unless_overwrite_and_bad_files_say_why(data, tmp_path):
    session = worked_session(data)
    path = save_session(session, tmp_path / "s.sam2.json")
    before = path.read_text()
    with pytest.raises(InputError, match="already exists; choose another name or pass overwrite=True"):
        save_session(session, path)
    assert path.read_text() == before
    save_session(session, path, overwrite=True)
    with pytest.raises(InputError, match="ends in .json"):
        save_session(session, tmp_path / "s.txt")
    (tmp_path / "other.json").write_text(json.dumps({"objects": []}))
    with pytest.raises(InputError, match="is not a napari-sam2 session file"):
        load_session(tmp_path / "other.json")
    with pytest.raises(InputError, match="does not exist"):
        load_session(tmp_path / "missing.sam2.json")
    small = Session(FrameSource(data[:5]), DiskTracker())
    with pytest.raises(InputError, match="saved on a stack of 9 frames of \\(60, 80\\); this one has 5"):
        list(restore_session(small, load_session(path)))
    assert not small.objects  # refused before anything changed
