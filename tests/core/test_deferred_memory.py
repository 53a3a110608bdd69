"""A prompt's memory is encoded when a step first needs it, with the same results as at once."""

import numpy as np

from napari_sam2.core.frames import FrameSource
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker


def stack(n_frames=10, shape=(70, 90), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n_frames, *shape)) * 3000 + 32768).astype(np.uint16)


def run(tiny_model, encode_at_once: bool):
    """Clicks, a box, a second click, propagation, a correction, propagation; every step's output."""
    tracker = TransformersTracker(tiny_model)
    session = Session(FrameSource(stack()), tracker)
    outputs = []
    step = tracker.step

    def recording(frame, steps, reverse):
        out = step(frame, steps, reverse)
        outputs.append((frame, out.logits.copy(), out.presence.copy()))
        if encode_at_once:
            tracker.flush_memories()
        return out

    tracker.step = recording
    session.add_points(1, 2, [[30, 40]])
    pending = "maskmem_features" not in tracker._outputs(1)["cond_frame_outputs"][2]
    session.add_box(2, 4, [5, 5, 40, 60])
    session.add_points(1, 2, [[10, 10]], [0])
    list(session.propagate())
    session.add_points(1, 6, [[20, 20]])
    session.add_points(2, 1, [[50, 70]])
    list(session.propagate())
    return outputs, np.asarray(session.labels), pending, tracker


def test_deferred_memories_give_the_same_propagation_as_immediate_ones(tiny_model):
    deferred, labels_deferred, pending, tracker = run(tiny_model, encode_at_once=False)
    immediate, labels_immediate, pending_immediate, _ = run(tiny_model, encode_at_once=True)
    assert pending and not pending_immediate  # the click left its memory for later
    assert [f for f, _, _ in deferred] == [f for f, _, _ in immediate]
    for (frame, logits_a, presence_a), (_, logits_b, presence_b) in zip(deferred, immediate, strict=True):
        assert np.array_equal(logits_a, logits_b), frame
        assert np.array_equal(presence_a, presence_b), frame
    assert np.array_equal(labels_deferred, labels_immediate)
    # after the propagation every prompted frame has its memory
    for obj, frames in ((1, (2, 6)), (2, (4, 1))):
        cond = tracker._outputs(obj)["cond_frame_outputs"]
        assert all("maskmem_features" in cond[f] for f in frames)


def test_a_forgotten_prompt_drops_its_deferred_memory(tiny_model):
    tracker = TransformersTracker(tiny_model)
    session = Session(FrameSource(stack()), tracker)
    session.add_points(1, 3, [[30, 40]])
    session.add_points(1, 5, [[30, 40]])
    cond = tracker._outputs(1)["cond_frame_outputs"]
    assert not any("maskmem_features" in cond[f] for f in (3, 5))
    session.remove_prompt(1, 5)
    tracker.flush_memories()
    assert 5 not in cond and "maskmem_features" in cond[3]
    assert tracker._session.cache.get_vision_features(5) is not None  # from the cache, not pinned
    assert not tracker._deferred
