"""core/_hf_compat.py: the calls into transformers' internals reproduce transformers' own propagation."""

import numpy as np
import torch
import transformers

from napari_sam2.core import _hf_compat as hf_compat
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.geometry import FrameGeometry
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker


def stack(n_frames=12, shape=(70, 90), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n_frames, *shape)) * 3000 + 32768).astype(np.uint16)


def test_our_frame_loop_matches_transformers_own_propagation(tiny_model):
    """Same model, prompts and inputs: our adapter reproduces HF's propagate (both fp32)."""
    from transformers import Sam2VideoInferenceSession

    data = stack(6)
    source = FrameSource(data)
    geometry = FrameGeometry(source.frame_shape, tiny_model.image_size)
    session = Session(source, TransformersTracker(tiny_model, autocast_bf16=False))
    first = session.add_points(1, 0, [[30, 40]])
    stored = hf_compat.object_outputs(session.tracker._session, 0)
    ours = {0: stored["cond_frame_outputs"][0]["pred_masks"]}
    for r in session.propagate("forward"):
        ours[r.frame] = stored["non_cond_frame_outputs"][r.frame]["pred_masks"]

    video = torch.stack([geometry.image_to_model(source.frame(i)) for i in range(6)])
    hf = Sam2VideoInferenceSession(video=video, video_height=70, video_width=90, dtype=torch.float32)
    idx = hf.obj_id_to_idx(1)
    xy = torch.from_numpy(geometry.points_to_model([[30, 40]]))[None, None]
    hf.add_point_inputs(idx, 0, {"point_coords": xy, "point_labels": torch.ones(1, 1, 1, dtype=torch.int32)})
    hf.obj_with_new_inputs = [1]
    model = tiny_model.model
    with torch.inference_mode():
        outputs = {0: model(hf, frame_idx=0).pred_masks}
        for out in model.propagate_in_video_iterator(hf, start_frame_idx=0):
            outputs[out.frame_idx] = out.pred_masks
    for frame in range(6):
        assert torch.allclose(ours[frame], outputs[frame], atol=1e-4), frame
    assert first.masks.any() or not (outputs[0] > 0).any()


def test_the_installed_transformers_is_the_major_version_the_calls_were_checked_with():
    tested = hf_compat.TESTED_TRANSFORMERS.split(".")[0]
    assert transformers.__version__.split(".")[0] == tested
