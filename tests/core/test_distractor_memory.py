"""The ``dam`` policy: distractor detection, kept frames (bounded, forgotten), the tracker's use of them."""

import numpy as np
from test_memory_policies import crossing_cells, run_with_correction

from napari_sam2.core import _hf_compat as hf
from napari_sam2.core.distractor_memory import DistractorMemory
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.memory_policies import ObjectFrame, make_policy
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker


def disk(shape, centre, r):
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= r * r


def settle_two(policy, frame, a, b, ious=(0.9, 0.9)):
    """Objects 1 and 2 with high-res masks ``a``, ``b`` on ``frame`` (SAM2's candidate chosen)."""
    for obj, mask, q in ((1, a, ious[0]), (2, b, ious[1])):
        low = mask[::4, ::4]
        policy.choose(obj, frame, False, np.stack([np.where(low, 3.0, -3.0)] * 2), np.array([q, q / 2]), 2.0)
    objects = [ObjectFrame(1, False, 2.0, np.where(a, 3.0, -3.0)),
               ObjectFrame(2, False, 2.0, np.where(b, 3.0, -3.0))]
    policy.settle(frame, False, objects)
    policy.record(frame, False, objects, (a.shape[0] // 4, a.shape[1] // 4))


def test_a_touching_neighbour_while_confidently_tracked_is_kept():
    policy = make_policy("dam")
    shape = (128, 128)
    far = [disk(shape, (40, 30), 12), disk(shape, (40, 100), 12)]
    near = [disk(shape, (40, 50), 12), disk(shape, (40, 76), 12)]  # 2 px apart: touching
    settle_two(policy, 0, *far)
    settle_two(policy, 1, *far)
    assert policy.kept == {}  # apart: nothing to keep
    settle_two(policy, 2, *near)
    assert policy.kept == {}  # they jumped: not steady (IoU with the frame before too low)
    settle_two(policy, 3, *near)
    assert policy.kept == {1: [3], 2: [3]}
    settle_two(policy, 4, *near, ious=(0.9, 0.3))
    settle_two(policy, 7, *near, ious=(0.9, 0.3))  # (frame 6 unknown: frame 7 has no predecessor)
    assert policy.kept == {1: [3], 2: [3]}  # 4: within the gap; object 2 unsure of its mask


def test_a_candidate_that_nearly_merges_the_object_with_another_is_a_distractor():
    policy = DistractorMemory()
    own = disk((32, 32), (16, 10), 5)
    merged = own | disk((32, 32), (16, 21), 5)
    logits = np.stack([np.where(own, 3.0, -3.0), np.where(merged, 3.0, -3.0)])
    assert policy.choose(1, 4, False, logits, np.array([0.9, 0.6]), 1.0) is None  # SAM2's choice
    assert policy._seen[(1, 4)] == (0.9, True)
    policy.choose(1, 5, False, logits[:1].repeat(2, 0), np.array([0.9, 0.6]), 1.0)
    assert policy._seen[(1, 5)] == (0.9, False)


def test_kept_frames_are_bounded_spaced_and_forgotten():
    policy = DistractorMemory(slots=2, gap=3)
    for frame in (0, 1, 3, 6, 10):
        policy._keep(1, frame)
    policy._keep(2, 4)
    assert policy.kept_frames(1) == {6, 10} and policy.kept_frames(2) == {4}
    policy.forget(1, [10, 11])
    assert policy.kept_frames(1) == {6}
    policy.forget(2)
    assert policy.kept_frames(2) == frozenset()
    policy.reset()
    assert policy.kept == {} and policy.kept_frames(1) == frozenset()


class KeepsEveryThirdFrame(DistractorMemory):
    """Object 1's frames 0, 3, 6, ... are kept whatever they show (exercises the tracker's side)."""

    def settle(self, frame, reverse, objects):
        super().settle(frame, reverse, objects)
        for obj in objects:
            if obj.obj_id == 1 and not obj.prompted and frame % 3 == 0:
                self._keep(1, frame)


def test_tracker_keeps_marked_frames_whole_and_reads_old_ones_as_conditioning(tiny_model, monkeypatch):
    read = []
    original = hf.extra_conditioning

    def spy(outputs, frames):
        read.append(sorted(frames))
        return original(outputs, frames)

    monkeypatch.setattr(hf, "extra_conditioning", spy)
    policy = KeepsEveryThirdFrame(slots=3, gap=3)
    reference, first, second = run_with_correction(tiny_model, "sam2")
    session, first_p, second_p = run_with_correction(tiny_model, policy)
    assert (first_p, second_p) == (first, second)
    tracker = session.tracker
    assert any(read)  # kept frames behind the recent window were shown to the model
    assert all(f % 3 == 0 for frames in read for f in frames)  # only the frames the policy kept
    outputs = tracker._outputs(1)
    for frame in policy.kept_frames(1):
        assert frame in outputs["non_cond_frame_outputs"]
        assert "maskmem_features" in outputs["non_cond_frame_outputs"][frame]
    assert sorted(outputs["cond_frame_outputs"]) == [4, 9]  # the extra conditioning did not leak
    assert 9 not in policy.kept_frames(1)  # kept when tracked, then corrected: a prompt now
    assert policy.kept_frames(1) and len(policy.kept_frames(1)) <= 3
    session.remove_object(1)
    assert policy.kept_frames(1) == frozenset()


def test_dam_on_the_two_crossing_cells(monkeypatch):
    from napari_sam2.core.models import load_model

    loaded = load_model("demo", device="cpu")
    images, labels = crossing_cells()

    def run(policy):
        tracker = TransformersTracker(loaded, memory=policy)
        session = Session(FrameSource(images), tracker)
        for obj in (1, 2):
            rows, cols = np.nonzero(labels[0] == obj)
            session.add_points(obj, 0, [[rows.mean(), cols.mean()]])
        list(session.propagate())
        return np.asarray(session.labels), tracker

    sam2, _ = run("sam2")
    default, tracker = run("dam")
    # default thresholds: the cells move ~6 px a frame (IoU with the frame before < 0.7), never steady
    assert tracker.memory.kept == {}
    np.testing.assert_array_equal(default, sam2)
    loose = DistractorMemory(steady=0.0)
    _, tracker = run(loose)
    # 2 low-res pixels of dilation on each mask: ~11 image pixels between the cells (128 px image)
    touching = [t for t in range(len(labels)) if _touch(labels[t], gap=11)]
    assert loose.kept and all(f in touching for frames in loose.kept.values() for f in frames)
    for obj, frames in loose.kept.items():  # their memory outlives SAM2's recent window
        for frame in frames:
            assert "maskmem_features" in tracker._outputs(obj)["non_cond_frame_outputs"][frame]


def _touch(labels, gap=3):
    a, b = labels == 1, labels == 2
    rows, cols = np.nonzero(a)
    grown = np.zeros_like(a)
    for dr in range(-gap, gap + 1):
        for dc in range(-gap, gap + 1):
            grown[np.clip(rows + dr, 0, a.shape[0] - 1), np.clip(cols + dc, 0, a.shape[1] - 1)] = True
    return bool((grown & b).any())
