"""Session plumbing checked exactly with the disk-painting test double."""

import dask.array as da
import numpy as np
import pytest
import zarr

from conftest import CountingArray
from doubles import DiskTracker
from napari_sam2.core.frames import FrameSource, InputError, Normalization
from napari_sam2.core.session import Session
from napari_sam2.core.sink import LabelSink

SHAPE = (10, 80, 120)  # frames, rows, cols: not square, so a row/col swap shows


def make_session(n_frames=10, **tracker_args):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, (n_frames, *SHAPE[1:]), dtype=np.uint16)
    tracker = DiskTracker(**tracker_args)
    return Session(FrameSource(data), tracker), tracker


def centroid(mask):
    rows, cols = np.nonzero(mask)
    return rows.mean(), cols.mean()


@pytest.mark.parametrize("point", [(20, 30), (60, 100), (5, 110)])
def test_a_click_gives_a_mask_at_that_pixel_of_that_frame(point):
    session, tracker = make_session()
    result = session.add_points(3, frame=4, points=[point], labels=[1])
    assert result.frame == 4 and result.object_ids == (3,)
    r, c = centroid(result.masks[0])
    assert abs(r - point[0]) < 1.5 and abs(c - point[1]) < 1.5
    assert set(np.unique(session.labels[4])) == {0, 3}
    assert not session.labels[3].any() and not session.labels[5].any()


def test_box_and_mask_prompts_land_where_given():
    session, _ = make_session()
    result = session.add_box(1, 2, [10, 20, 30, 60])
    assert np.allclose(centroid(result.masks[0]), (20, 40), atol=1.5)
    mask = np.zeros(SHAPE[1:], bool)
    mask[50:70, 80:100] = True
    result = session.add_mask(2, 7, mask)
    assert np.allclose(centroid(result.masks[0]), (59.5, 89.5), atol=1.5)


def test_propagation_covers_both_directions_in_order():
    session, tracker = make_session()
    session.add_points(1, 4, [[40, 60]])
    frames = [r.frame for r in session.propagate()]
    assert frames == [5, 6, 7, 8, 9, 3, 2, 1, 0]
    assert [c[2] for c in tracker.calls[1:]] == [False] * 5 + [True] * 4
    # the double drifts the disk 4 model px (4 * 120/256 frame px) per frame away from frame 4
    for f in range(10):
        r, c = centroid(session.labels[f] == 1)
        assert abs(c - (60 + (f - 4) * 4 * 120 / 256)) < 1.5, f
        assert abs(r - 40) < 1.5


@pytest.mark.parametrize("direction, expected", [("forward", [5, 6, 7, 8, 9]), ("backward", [3, 2, 1, 0])])
def test_one_direction(direction, expected):
    session, _ = make_session()
    session.add_points(1, 4, [[40, 60]])
    assert [r.frame for r in session.propagate(direction)] == expected
    assert session.pending_frames() == 9 - len(expected)


def test_ids_are_kept_and_objects_share_frames():
    session, tracker = make_session()
    session.add_points(7, 2, [[20, 20]])
    session.add_points(9, 5, [[60, 100]])
    results = list(session.propagate())
    assert {r.object_ids for r in results} == {(7,), (7, 9), (9,)}
    for f in range(10):
        assert set(np.unique(session.labels[f])) == {0, 7, 9}
    # every (frame, object) computed once; objects going the same way share a call
    pairs = [(c[0], obj) for c in tracker.calls[2:] for obj in c[1]]
    assert len(pairs) == len(set(pairs)) == 9 + 9
    assert len(tracker.calls[2:]) == 12  # frames 3 and 4 are forward for 7, backward for 9


def test_absent_object_gives_an_empty_mask_not_the_last_one():
    session, _ = make_session(absent={1: {6, 7}})
    session.add_points(1, 4, [[40, 60]])
    results = {r.frame: r for r in session.propagate("forward")}
    assert results[6].scores[0] < 0.01 and not results[6].masks[0].any()
    assert not (session.labels[7] == 1).any()
    assert (session.labels[8] == 1).any() and results[8].scores[0] > 0.99


def test_correction_recomputes_only_frames_it_can_change():
    session, tracker = make_session()
    session.add_points(1, 4, [[40, 60]])
    list(session.propagate())
    before = np.array(session.labels)
    result = session.add_points(1, 7, [[30, 30]])  # correction on a tracked frame
    assert np.allclose(centroid(result.masks[0]), (30, 30), atol=1.5)
    assert tracker.forgotten[-1] == (1, [8, 9])
    n_calls = len(tracker.calls)
    frames = [r.frame for r in session.propagate()]
    assert frames == [8, 9]
    assert len(tracker.calls) == n_calls + 2
    assert np.array_equal(session.labels[:7], before[:7])
    r, c = centroid(session.labels[9] == 1)
    assert abs(c - (30 + 2 * 4 * 120 / 256)) < 1.5
    # a correction before the anchor only redoes the frames before it
    session.add_points(1, 2, [[70, 10]])
    assert [r.frame for r in session.propagate()] == [1, 0]


def test_correction_uses_memory_first_prompt_does_not():
    session, tracker = make_session()
    session.add_points(1, 4, [[40, 60]])
    session.add_points(1, 8, [[40, 60]])  # not tracked yet: a fresh start, no memory
    assert [c[4] for c in tracker.calls] == [(False,), (False,)]
    list(session.propagate("forward"))
    assert all(c[4] == (True,) for c in tracker.calls[2:])
    session.add_points(1, 6, [[40, 60]], labels=[0])  # a correction on a tracked frame
    assert tracker.calls[-1][3:] == ((True,), (True,))
    session.add_points(1, 6, [[42, 62]])
    assert session.objects[1].prompts[6].labels.tolist() == [0, 1]  # points accumulate
    session.add_points(1, 6, [[10, 10]], replace=True)
    assert session.objects[1].prompts[6].labels.tolist() == [1]


def test_stopping_between_frames_keeps_a_consistent_state_and_resumes():
    session, _ = make_session()
    session.add_points(1, 0, [[40, 60]])
    run = session.propagate()
    assert [next(run).frame for _ in range(3)] == [1, 2, 3]
    run.close()  # cancel
    assert session.objects[1].forward_done == 3
    assert (session.labels[3] == 1).any() and not session.labels[4].any()
    assert [r.frame for r in session.propagate()] == [4, 5, 6, 7, 8, 9]


def test_overlaps_go_to_the_higher_logit_and_other_labels_are_kept():
    session, _ = make_session(radius=40)
    session.labels[4][70:80, 0:10] = 42  # painted by hand
    session.add_points(1, 4, [[40, 50]])
    with pytest.warns(UserWarning, match=r"row 40, col 60 \(the pixel belongs to object 1\)"):
        result = session.add_points(2, 4, [[40, 60]])
    # object 2 was prompted alone: object 1's pixels stay object 1
    assert (result.labels == 1).sum() > (result.labels == 2).sum() * 0.3
    assert (session.labels[4][70:80, 0:10] == 42).all()
    results = {r.frame: r for r in session.propagate("forward")}
    labels = results[5].labels
    assert {1, 2} <= set(np.unique(labels))
    assert not (results[5].masks[0] & results[5].masks[1]).any()


def test_every_frame_read_a_bounded_number_of_times_from_dask_over_zarr(tmp_path):
    z = zarr.open_array(str(tmp_path / "s.zarr"), mode="w", shape=(40, 32, 48), chunks=(1, 32, 48),
                        dtype=np.uint16)
    z[:] = np.random.default_rng(0).integers(0, 4000, z.shape, dtype=np.uint16)
    counting = CountingArray(z)
    source = FrameSource(da.from_array(counting, chunks=(1, 32, 48)),
                         normalization=Normalization(sample_frames=4))
    session = Session(source, DiskTracker())
    session.add_points(1, 20, [[10, 10]])
    list(session.propagate())
    assert set(counting.reads) == set(range(40))
    assert max(counting.reads.values()) <= 2  # at most: once sampled + once tracked
    assert sum(counting.reads.values()) == 40 + 4  # each frame once, plus the 4 sampled


def test_bad_prompts_are_refused_with_clear_messages_and_nothing_changes():
    session, tracker = make_session()
    session.add_points(1, 4, [[40, 60]])
    before = np.array(session.labels)
    with pytest.raises(InputError, match=r"point \(80, 10\) lies outside the 80 x 120 frame"):
        session.add_points(1, 4, [[80, 10]])
    with pytest.raises(InputError, match="frame 10 does not exist"):
        session.add_points(1, 10, [[8, 10]])
    with pytest.raises(InputError, match="reaches outside"):
        session.add_box(1, 3, [0, 0, 90, 20])
    with pytest.raises(InputError, match="mask shape"):
        session.add_mask(1, 3, np.ones((5, 5)))
    with pytest.raises(InputError, match="labels must be 1"):
        session.add_points(1, 3, [[8, 10]], labels=[2])
    with pytest.raises(InputError, match="ids must be integers from 1 to 65535"):
        session.add_points(0, 3, [[8, 10]])
    assert np.array_equal(session.labels, before) and len(tracker.calls) == 1


def test_propagating_without_prompts():
    session, _ = make_session()
    session.add_object(name="nothing yet")
    with pytest.raises(InputError, match="add a point, box or mask"), pytest.warns(UserWarning):
        list(session.propagate())
    session.add_points(2, 0, [[3, 3]])
    with pytest.warns(UserWarning, match=r"object\(s\) \[1\] have no prompts"):
        assert len(list(session.propagate())) == 9


def test_sink_shape_must_match():
    with pytest.raises(InputError, match="label output has shape"):
        Session(FrameSource(np.zeros((3, 8, 8))), DiskTracker(), LabelSink(np.zeros((2, 8, 8))))


def test_removing_prompts_and_objects():
    session, tracker = make_session()
    session.add_points(1, 2, [[40, 60]])
    session.add_points(1, 6, [[20, 20]])
    list(session.propagate())
    session.remove_prompt(1, 6)
    assert 6 not in session.objects[1].prompts
    assert [r.frame for r in session.propagate()] == [6, 7, 8, 9]
    session.remove_prompt(1, 2)  # the anchor: the object restarts from its other prompts
    assert session.objects[1].prompts == {} and session.objects[1].anchor is None
    session.add_points(1, 5, [[20, 20]])
    session.add_points(1, 8, [[20, 20]])
    session.remove_prompt(1, 5)
    assert session.objects[1].anchor == 8 and list(session.objects[1].prompts) == [8]
    session.remove_object(1)
    assert 1 not in session.objects


def test_prefetch_reads_the_frame_ahead_and_computes_nothing():
    session, tracker = make_session()
    reads = session.source.reads
    session.prefetch(3)  # the double's encode only reads the frame, as the real model does
    assert session.source.reads > reads  # frame 3 (and the normalisation sample) read ahead
    assert tracker.calls == [] and not session.labels.any() and session.objects == {}
    with pytest.raises(InputError, match="frame 10 does not exist"):
        session.prefetch(10)


def test_a_mask_that_excludes_the_positive_point_warns_at_once():
    from napari_sam2.core.prompts import PromptWarning

    session, _ = make_session(offset=60.0)  # the disk lands about 28 px right of the click
    with pytest.warns(PromptWarning) as record:
        result = session.add_points(2, frame=4, points=[[20, 30], [60, 100]], labels=[1, 0])
    assert result.masks[0].any() and not result.masks[0][20, 30]
    assert [str(w.message) for w in record] == [
        "object 2, frame 4: the mask excludes the positive point at row 20, col 30; "
        "add a point or a box to correct it"]
    assert record[0].filename == __file__  # points at the caller's line

    with pytest.warns(PromptWarning) as record:  # a new point: only it is reported
        session.add_points(2, frame=4, points=[[30, 40]])
    assert [str(w.message).split(";")[0].split("point ")[1] for w in record] == ["at row 30, col 40"]

    session, _ = make_session(absent={5: [1]})  # the model says the object is absent
    with pytest.warns(PromptWarning, match=r"object 5, frame 1: .* row 40, col 50 \(the mask is empty\)"):
        session.add_points(5, frame=1, points=[[40.4, 49.6]])

    session, _ = make_session()  # a mask on the point: no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptWarning)
        session.add_points(1, frame=0, points=[[40, 60]])
        session.add_box(1, frame=3, box=[10, 10, 40, 40])
