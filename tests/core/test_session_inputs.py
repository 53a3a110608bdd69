"""Session inputs: prompts that add up on one frame, bad values, objects removed mid-propagation."""

import re

import numpy as np
import pytest

from doubles import DiskTracker
from napari_sam2.core.frames import FrameSource, InputError
from napari_sam2.core.session import Session


def make_session(tracker=None, n_frames=10):
    data = np.random.default_rng(0).integers(0, 1000, (n_frames, 80, 120), dtype=np.uint16)
    tracker = tracker or DiskTracker()
    return Session(FrameSource(data), tracker), tracker


def test_points_then_a_box_on_one_frame_reach_the_model_together():
    session, tracker = make_session()
    session.add_points(1, 3, [[20, 30]])
    session.add_box(1, 3, (10, 20, 40, 60))
    session.add_points(1, 3, [[25, 35]], [0])
    prompt = session.objects[1].prompts[3]
    assert prompt.points.tolist() == [[20, 30], [25, 35]] and prompt.labels.tolist() == [1, 0]
    assert prompt.box == (10, 20, 40, 60)
    last = tracker.prompts[-1][2]  # what the model was given for that frame
    assert last.box_xyxy is not None and len(last.points_xy) == 2 and last.labels.tolist() == [1, 0]
    session.add_box(1, 3, (12, 22, 42, 62))  # a new box replaces the box, keeps the points
    assert session.objects[1].prompts[3].box == (12, 22, 42, 62)
    assert len(session.objects[1].prompts[3].points) == 2


@pytest.mark.parametrize("call, message", [
    (lambda s: s.add_points(1, 0, [["a", 3]]), "points must be [row, col] pairs of numbers"),
    (lambda s: s.add_points(1, 0, [[1, 2], [3]]), "points must be [row, col] pairs of numbers"),
    (lambda s: s.add_points(1, 0, [[1, 2]], ["x"]), "point labels must be 1 (positive) or 0 (negative)"),
    (lambda s: s.add_box(1, 0, ("a", 0, 3, 3)), "a box is [row_min, col_min, row_max, col_max]"),
    (lambda s: s.add_box(1, 0, 5), "a box is [row_min, col_min, row_max, col_max]"),
])
def test_non_numeric_prompts_are_input_errors(call, message):
    session, tracker = make_session()
    with pytest.raises(InputError, match=re.escape(message)):
        call(session)
    assert not tracker.calls and not session.objects


def test_an_object_removed_during_propagation_is_never_computed_or_written_again():
    session, tracker = make_session()
    session.add_points(1, 0, [[20, 30]])
    session.add_points(2, 0, [[60, 100]])
    run = session.propagate("forward")
    assert next(run).object_ids == (1, 2)  # frame 1
    session.remove_object(2)
    calls_before = len(tracker.calls)
    rest = list(run)
    assert [r.frame for r in rest] == list(range(2, 10))
    assert all(r.object_ids == (1,) for r in rest)
    assert all(ids == (1,) for _, ids, *_ in tracker.calls[calls_before:])
    assert not (np.asarray(session.labels[2:]) == 2).any()
    assert (np.asarray(session.labels[1]) == 2).any()  # written before the removal: kept, as documented


class RemovingTracker(DiskTracker):
    """Removes an object while a step is running (as the GUI thread may, mid-frame)."""

    def __init__(self, remove_on_frame, obj_id):
        super().__init__()
        self.remove_on_frame, self.obj_id, self.session = remove_on_frame, obj_id, None

    def step(self, frame, steps, reverse):
        out = super().step(frame, steps, reverse)
        if frame == self.remove_on_frame and self.session is not None:
            self.session.remove_object(self.obj_id)
        return out


def test_an_object_removed_while_its_frame_is_computed_is_not_written():
    session, tracker = make_session(RemovingTracker(remove_on_frame=4, obj_id=2))
    session.add_points(1, 0, [[20, 30]])
    session.add_points(2, 0, [[60, 100]])
    tracker.session = session
    results = {r.frame: r.object_ids for r in session.propagate("forward")}
    assert results[3] == (1, 2) and results[4] == (1,) and results[9] == (1,)
    assert (np.asarray(session.labels[3]) == 2).any() and not (np.asarray(session.labels[4:]) == 2).any()


def test_removing_every_object_ends_the_propagation():
    session, tracker = make_session()
    session.add_points(1, 0, [[20, 30]])
    run = session.propagate("forward")
    next(run)
    session.remove_object(1)
    assert list(run) == [] and len(tracker.calls) == 2
