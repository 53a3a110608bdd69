"""The real transformers model classes end to end (tiny random-weight config)."""

import dask.array as da
import numpy as np
import torch
import zarr

from conftest import CountingArray
from napari_sam2.core.frames import FrameSource, Normalization
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker


def stack(n_frames=12, shape=(70, 90), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n_frames, *shape)) * 3000 + 32768).astype(np.uint16)


def test_click_then_propagate_both_ways_on_lazy_zarr(tiny_model, tmp_path):
    data = stack(16)
    z = zarr.open_array(str(tmp_path / "s.zarr"), mode="w", shape=data.shape, chunks=(1, 70, 90),
                        dtype=data.dtype)
    z[:] = data
    counting = CountingArray(z)
    source = FrameSource(da.from_array(counting, chunks=(1, 70, 90)),
                         normalization=Normalization(sample_frames=4))
    session = Session(source, TransformersTracker(tiny_model))
    result = session.add_points(1, 6, [[30, 40], [10, 10]], [1, 0])
    assert result.masks.shape == (1, 70, 90) and result.masks.dtype == bool
    assert 0.0 <= result.scores[0] <= 1.0
    session.add_box(2, 9, [5, 5, 40, 60])
    frames = [r.frame for r in session.propagate()]
    # forward: object 1 from 6 (object 2 joins after its prompt on 9), then
    # backward: object 2 from 9 (object 1 joins below its prompt on 6)
    assert frames == list(range(7, 16)) + list(range(8, -1, -1))
    # every frame read at most twice for tracking (two objects started on
    # different frames go in opposite directions over frames 7..8), plus the sample
    assert set(counting.reads) == set(range(16))
    assert max(counting.reads.values()) <= 3
    assert sum(counting.reads.values()) <= 16 + 4 + 4


def test_memory_stays_bounded_on_a_long_stack(tiny_model):
    # long enough to fill the memory window (pointer_frames = 16 for the tiny model) and run on
    source = FrameSource(stack(40, shape=(40, 40)))
    tracker = TransformersTracker(tiny_model)
    assert tracker.pointer_frames < 20
    session = Session(source, tracker)
    session.add_points(1, 0, [[20, 20]])
    sizes = {}
    for result in session.propagate("forward"):
        if result.frame in (20, 39):
            sizes[result.frame] = _state_bytes(tracker)
    stored = tracker.stored_frames(1)
    assert stored["cond_frame_outputs"] == [0]
    assert len(stored["non_cond_frame_outputs"]) <= tracker.pointer_frames
    assert sizes[39] == sizes[20] > 0


def test_free_heap_goes_back_to_the_system_as_frames_run(tiny_model, monkeypatch):
    from napari_sam2.core import tracker as tracker_module

    assert tracker_module.release_free_heap() is True  # glibc here: malloc_trim runs
    calls = []
    monkeypatch.setattr(tracker_module, "release_free_heap", lambda: calls.append(1))
    session = Session(FrameSource(stack(2 * tracker_module.TRIM_EVERY + 1, shape=(40, 40))),
                      TransformersTracker(tiny_model))
    session.add_points(1, 0, [[20, 20]])  # frame run 1
    assert calls == []  # not after a click: the next click would fault its pages in again
    assert sum(1 for _ in session.propagate("forward")) == 2 * tracker_module.TRIM_EVERY
    every = tracker_module.TRIM_EVERY  # frames run 2 .. 2 * every + 1 are propagation steps
    assert len(calls) == sum(1 for run in range(2, 2 * every + 2) if run % every == 0)


def _state_bytes(tracker):
    total = 0
    for outputs in tracker._session.output_dict_per_obj.values():
        for kind in outputs.values():
            for out in kind.values():
                total += sum(v.numel() * v.element_size() for v in out.values()
                             if isinstance(v, torch.Tensor))
    return total


def test_correction_and_mask_prompt_with_the_real_model(tiny_model):
    session = Session(FrameSource(stack(10)), TransformersTracker(tiny_model))
    session.add_points(1, 2, [[30, 40]])
    list(session.propagate())
    result = session.add_points(1, 6, [[20, 20]], [0])  # memory + points + previous logits
    assert result.frame == 6
    assert [r.frame for r in session.propagate()] == [7, 8, 9]
    mask = np.zeros((70, 90), bool)
    mask[10:30, 20:50] = True
    result = session.add_mask(3, 4, mask)
    # a mask prompt is used as the output on its frame
    assert (result.masks[0] == mask).mean() > 0.95


def test_objects_on_a_frame_share_one_image_encoder_pass(tiny_model):
    session = Session(FrameSource(stack(8)), TransformersTracker(tiny_model))
    calls = []
    hook = tiny_model.model.vision_encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        for obj_id in (1, 2, 3):
            session.add_points(obj_id, 0, [[10 + 10 * obj_id, 30]])
        n_prompt_calls = len(calls)
        list(session.propagate("forward"))
    finally:
        hook.remove()
    assert n_prompt_calls == 1  # frame 0 encoded once for three clicks
    assert len(calls) - n_prompt_calls == 7


def test_edgetam_class_runs_through_the_same_adapter(tmp_path):
    from transformers import EdgeTamVideoModel

    from napari_sam2.core.models import load_model
    from napari_sam2.core.models.configs import tiny_edgetam_config

    EdgeTamVideoModel(tiny_edgetam_config()).save_pretrained(tmp_path / "edgetam")
    loaded = load_model(tmp_path / "edgetam", device="cpu")
    assert type(loaded.model).__name__ == "EdgeTamVideoModel"
    session = Session(FrameSource(stack(6)), TransformersTracker(loaded))
    session.add_points(1, 3, [[30, 40]])
    session.add_points(2, 3, [[10, 10]])
    assert [r.frame for r in session.propagate()] == [4, 5, 2, 1, 0]
    assert session.add_points(1, 5, [[20, 20]], [0]).frame == 5  # a correction


def test_edgetam_runs_at_the_fast_preset_size(tmp_path):
    """EdgeTAM's perceiver keeps its 16 x 16 latent grid when the fast preset halves the input."""
    from transformers import EdgeTamVideoModel

    from napari_sam2.core.models import load_model
    from napari_sam2.core.models.configs import tiny_edgetam_config

    config = tiny_edgetam_config(1024)
    config.perceiver_resampler_num_latents_2d = 256  # as EdgeTAM: 16 x 16 latents at 1024 px
    config.memory_attention_rope_k_sizes = [16, 16]
    EdgeTamVideoModel(config).save_pretrained(tmp_path / "edgetam")
    loaded = load_model(tmp_path / "edgetam", device="cpu", preset="fast")
    assert (loaded.image_size, loaded.model.num_maskmem) == (512, 4)
    session = Session(FrameSource(stack(3)), TransformersTracker(loaded))
    session.add_points(1, 0, [[30, 40]])
    results = list(session.propagate("forward"))
    assert [r.frame for r in results] == [1, 2]  # tracked frames read memories written at this size
    assert all(r.masks.shape == (1, *session.source.frame_shape) for r in results)


def test_prefetch_encodes_ahead_so_a_click_skips_the_encoder(tiny_model):
    session = Session(FrameSource(stack(5)), TransformersTracker(tiny_model))
    calls = []
    hook = tiny_model.model.vision_encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        session.prefetch(3)
        assert len(calls) == 1
        session.add_points(1, 3, [[30, 40]])
        assert len(calls) == 1
    finally:
        hook.remove()
    session.remove_object(1)
    assert session.tracker._session.output_dict_per_obj[0]["cond_frame_outputs"] == {}


def test_read_ahead_prepares_the_next_frame_in_the_direction_of_travel():
    from napari_sam2.core.geometry import FrameGeometry
    from napari_sam2.core.model_frames import ModelFrames

    source = FrameSource(stack(8), normalization=Normalization(sample_frames=2))
    frames = ModelFrames(source, FrameGeometry(source.frame_shape, 32), (0.5,) * 3, (0.25,) * 3)
    expected = frames._load(3)
    source.reads = 0
    frames[5], frames[4]  # going backward
    assert list(frames._ahead) == [3]
    frames._ahead[3].result()
    assert source.reads == 3  # 5, 4 and 3 read ahead
    assert torch.equal(frames[3], expected)
    frames._ahead[2].result()  # asking for 3 started reading 2
    assert source.reads == 4  # 3 was served from the read-ahead, not read again
    frames[7]  # a jump: the stale read-ahead of 2 is dropped, nothing new started
    assert list(frames._ahead) == []


def test_sam3_tracker_class_runs_through_the_same_adapter(tmp_path):
    from transformers import Sam3TrackerVideoModel

    from napari_sam2.core.models import load_model
    from napari_sam2.core.models.configs import tiny_sam3_config
    from napari_sam2.core.models.registry import REGISTRY

    assert REGISTRY["sam3"].repo_id == "facebook/sam3"
    Sam3TrackerVideoModel(tiny_sam3_config()).save_pretrained(tmp_path / "sam3")
    loaded = load_model(tmp_path / "sam3", device="cpu", preset="fast")
    assert type(loaded.model).__name__ == "Sam3TrackerVideoModel"
    assert loaded.image_size == 112  # the presets keep SAM3's input size
    for memory in ("sam2", "cells"):
        session = Session(FrameSource(stack(6)), TransformersTracker(loaded, memory=memory))
        session.add_points(1, 3, [[30, 40]])
        session.add_box(2, 2, [5, 5, 40, 60])
        assert [r.frame for r in session.propagate()] == [3, 4, 5, 2, 1, 0]
        assert session.add_points(1, 5, [[20, 20]], [0]).frame == 5  # a correction
