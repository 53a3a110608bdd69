"""Every call into transformers' SAM2-family video internals, in one file.

transformers' video models expose a processor-driven ``propagate_in_video``;
frame-by-frame tracking with our own frame source, feature cache, memory
pruning and corrections needs their per-frame methods, which are private
(``_run_single_frame_inference``, ``_batch_encode_memories``, ...). They are
called only from here, so a transformers release that changes them breaks
one file, and ``tests/core/test_hf_compat.py`` compares our frame-by-frame
propagation with transformers' own ``propagate_in_video`` on the same model.

Tested with transformers ``TESTED_TRANSFORMERS`` (``pyproject.toml`` pins the major version).
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager

__all__ = [
    "TESTED_TRANSFORMERS", "new_inference_session", "new_training_session", "has_object", "object_ids",
    "object_index", "object_outputs", "run_frame", "encode_memories", "encode_memory",
    "prepare_vision_features", "store_output", "encodes_memory_per_object", "rotate_pairwise",
    "choosing_candidates", "drop_output", "recording_ious", "decode_points", "vision_features",
    "memory_frame_outputs", "object_pointer_tokens", "tracking_multimask", "NO_OBJECT_LOGIT",
]

#: transformers' mask logit where the object is absent (``NO_OBJ_SCORE``)
NO_OBJECT_LOGIT = -1024.0


def vision_features(model, session, frame: int):
    """The frame's image-encoder outputs ``(features, positional encodings)``: lists of ``(H*W, 1, C)``."""
    return model._prepare_vision_features(session, frame, batch_size=1)


def memory_frame_outputs(model, session, idx: int, frame: int, reverse: bool) -> list:
    """``(temporal offset, stored output or None)`` of the memory frames SAM2 reads for ``frame``."""
    return model._gather_memory_frame_outputs(session, idx, frame, reverse)


def object_pointer_tokens(model, session, idx: int, frame: int, reverse: bool):
    """The object pointers SAM2 reads for ``frame``: ``(tokens, positional encodings)``, or Nones."""
    device = model.no_memory_embedding.device
    offsets, tokens, most = model._get_object_pointers(session, idx, frame, session.num_frames, device,
                                                       reverse)
    return model._process_object_pointers(offsets, tokens, most, 1, model.hidden_dim, device)


def tracking_multimask(model) -> bool:
    """Whether the decoder gives several candidates on a tracked frame (no prompt)."""
    return model._use_multimask(False, None)

#: the transformers release these calls were checked against (tests pass with it)
TESTED_TRANSFORMERS = "5.24.0"


def new_inference_session(model, frame_shape: tuple[int, int], device: str):
    """transformers' inference session of ``model``'s family, holding memories on ``device``."""
    import torch
    import transformers

    session_class = getattr(transformers, type(model).__name__.replace("Model", "InferenceSession"))
    return session_class(video_height=frame_shape[0], video_width=frame_shape[1],
                         inference_device=device, inference_state_device=device,
                         video_storage_device="cpu", dtype=torch.float32)


def new_training_session(size: int, n_frames: int):
    """A ``Sam2VideoInferenceSession`` for a training clip of ``n_frames`` square frames."""
    import torch
    from transformers import Sam2VideoInferenceSession

    return Sam2VideoInferenceSession(video_height=size, video_width=size, dtype=torch.float32,
                                     max_vision_features_cache_size=n_frames)


def has_object(session, obj_id: int) -> bool:
    """Whether the session has seen ``obj_id``."""
    return session is not None and obj_id in session._obj_id_to_idx


def object_ids(session) -> list[int]:
    """The object ids the session has seen, in the order of their indices."""
    return [] if session is None else list(session._obj_id_to_idx)


def object_index(session, obj_id: int) -> int:
    """The session's index of ``obj_id`` (registering it on first use)."""
    return session.obj_id_to_idx(obj_id)


def object_outputs(session, idx: int) -> dict:
    """``{"cond_frame_outputs": {...}, "non_cond_frame_outputs": {...}}`` of object ``idx``."""
    return session.output_dict_per_obj[idx]


def encodes_memory_per_object(model) -> bool:
    """EdgeTAM encodes an object's memory inside its frame step; SAM2 batches it over objects."""
    return "run_mem_encoder" in inspect.signature(model._run_single_frame_inference).parameters


def run_frame(model, session, frame: int, idx: int, *, use_memory: bool, point_inputs=None,
              mask_inputs=None, reverse: bool = False, prev_logits=None, memory_per_object=False) -> dict:
    """One object on one frame: the prompt encoder and mask decoder, with memory attention if asked.

    Returns transformers' output dict (``pred_masks``, ``object_score_logits``,
    ``high_res_masks``, ``object_pointer``, ...).
    """
    return model._run_single_frame_inference(
        inference_session=session, frame_idx=frame, obj_idx=idx, batch_size=1,
        is_init_cond_frame=not use_memory, point_inputs=point_inputs, mask_inputs=mask_inputs,
        reverse=reverse, prev_sam_mask_logits=prev_logits,
        **({"run_mem_encoder": True} if memory_per_object else {}),
    )


def store_output(session, idx: int, frame: int, out: dict, conditioning: bool) -> None:
    """Keep a frame's output as a memory of object ``idx`` (prompted frames are conditioning)."""
    session.store_output(idx, frame, output_value=out, is_conditioning_frame=conditioning)


def encode_memories(model, session, frame: int, entries) -> None:
    """The memory encoder for several objects on one frame (SAM2's batched path).

    ``entries`` is a list of ``(idx, output dict, prompted)``.
    """
    model._batch_encode_memories(
        inference_session=session, frame_idx=frame,
        objects_needing_memory_encoding=[idx for idx, _, _ in entries],
        high_res_masks_for_memory=[out["high_res_masks"] for _, out, _ in entries],
        object_score_logits_for_memory=[out["object_score_logits"] for _, out, _ in entries],
        is_mask_from_pts_per_obj=[prompted for _, _, prompted in entries],
    )


def encode_memory(model, session, frame: int, out: dict, prompted: bool):
    """The memory encoder on one frame's masks, with gradients: ``(features, positional encoding)``."""
    features, _ = model._prepare_vision_features(session, frame, batch_size=1)
    return model._encode_new_memory(
        current_vision_feats=features[-1], pred_masks_high_res=out["high_res_masks"],
        object_score_logits=out["object_score_logits"], is_mask_from_pts=prompted,
    )


def prepare_vision_features(model, session, frame: int) -> None:
    """Run (or fetch from the session's cache) the image encoder on ``frame``."""
    model._prepare_vision_features(session, frame, batch_size=1)


def rotate_pairwise(x):
    """transformers' rotary helper of the SAM2 memory attention."""
    from transformers.models.sam2_video.modeling_sam2_video import rotate_pairwise as rotate

    return rotate(x)


def drop_output(session, idx: int, frame: int) -> None:
    """Remove a tracked (non-conditioning) frame's output of object ``idx``: it leaves the memory."""
    session.output_dict_per_obj[idx]["non_cond_frame_outputs"].pop(frame, None)


@contextmanager
def extra_conditioning(outputs: dict, frames) -> None:
    """While active, the tracked ``frames`` of one object's ``outputs`` are also conditioning memories.

    SAM2 reads tracked memories only at fixed offsets behind the current frame;
    conditioning memories are read wherever they are. Frames already
    conditioning are left alone; nothing is changed once the block ends.
    """
    cond, tracked = outputs["cond_frame_outputs"], outputs["non_cond_frame_outputs"]
    added = [f for f in frames if f not in cond and f in tracked]
    for frame in added:
        cond[frame] = tracked[frame]
    try:
        yield
    finally:
        for frame in added:
            cond.pop(frame, None)


@contextmanager
def choosing_candidates(model, choose):
    """While active, ``choose(logits, ious, presence)`` picks the mask decoder's candidate.

    ``logits`` are the candidates' low-resolution mask logits ``(k, h, w)``
    (numpy), ``ious`` their predicted IoUs ``(k,)``, ``presence`` the object
    score logit; ``choose`` returns an index, or None for SAM2's own choice
    (the highest predicted IoU). transformers keeps the candidate with the
    highest IoU score, so the chosen one's score is raised above the others
    (the scores are not used after that choice).
    """
    def hook(module, args, output):
        masks, ious = output[0], output[1]
        if masks.shape[:2] != (1, 1) or masks.shape[2] < 2:
            return None
        chosen = choose(masks[0, 0].float().cpu().numpy(), ious[0, 0].float().cpu().numpy(),
                        float(output[3].reshape(-1)[0]))
        if chosen is None:
            return None
        ious = ious.clone()
        ious[0, 0, chosen] = ious.max() + 1.0
        return (masks, ious, *output[2:])

    handle = model.mask_decoder.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def recording_ious(model):
    """While active, each mask-decoder call appends the predicted IoU of the candidate it keeps.

    The list of these IoUs is what the context yields.

    Reads only: one hook before every other (the decoder's own scores) and one
    after (the scores a :func:`choosing_candidates` hook may have raised), so
    the kept candidate is the one transformers keeps (the highest final score).
    """
    recorded: list[float] = []
    original: list = []

    def before(module, args, output):
        original.append(output[1][0, 0].float().cpu())

    def after(module, args, output):
        final = output[1][0, 0].float().cpu()
        recorded.append(float(original.pop()[int(final.argmax())]))

    first = model.mask_decoder.register_forward_hook(before, prepend=True)
    last = model.mask_decoder.register_forward_hook(after)
    try:
        yield recorded
    finally:
        first.remove()
        last.remove()


def decode_points(model, session, frame: int, points_xy):
    """Single positive points on one frame, each its own prompt, decoded at once (no memory).

    ``points_xy`` is ``(n, 2)`` model-space ``(x, y)``. Returns the mask
    decoder's candidates as CPU tensors: low-resolution logits ``(n, k, h, w)``,
    predicted IoUs ``(n, k)`` and presence logits ``(n,)`` (multimask output,
    the image embedding with SAM2's no-memory embedding as on a first prompt).
    """
    import torch

    features, _ = model._prepare_vision_features(session, frame, batch_size=1)
    sizes = model.backbone_feature_sizes
    high_res = [x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
                for x, s in zip(features[:-1], sizes[:-1], strict=True)]
    last = features[-1] + model.no_memory_embedding
    image = last.permute(1, 2, 0).view(1, model.hidden_dim, *sizes[-1])
    points = torch.as_tensor(points_xy, dtype=image.dtype, device=image.device).reshape(1, -1, 1, 2)
    labels = torch.ones(points.shape[:3], dtype=torch.int32, device=image.device)
    sparse, dense = model.prompt_encoder(input_points=points, input_labels=labels, input_boxes=None,
                                         input_masks=None)
    masks, ious, _, presence = model.mask_decoder(
        image_embeddings=image, image_positional_embeddings=model.get_image_wide_positional_embeddings(),
        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True,
        high_resolution_features=high_res)
    return masks[0].float().cpu(), ious[0].float().cpu(), presence[0].reshape(-1).float().cpu()
