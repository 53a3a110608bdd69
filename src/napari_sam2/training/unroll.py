"""Unrolling a SAM2 video model over clips with its memory, with gradients (one training step).

The same per-frame methods of transformers' ``Sam2VideoModel`` as at
inference (``_run_single_frame_inference``, then the memory encoder), with
the same bookkeeping as :class:`~.tracker.TransformersTracker`: prompted
frames are conditioning frames, a correction on a tracked frame reuses its
previous mask logits, memories are encoded after each frame.

A batch holds ``B`` (clip, object) samples run as one batched object.
A few layout details of transformers' code assume a batch of one;
:class:`_Batched` fixes them on the instance (see its docstring) and
records the decoder's raw outputs for the losses.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core import _hf_compat as hf
from ..core.geometry import points_with_box
from .data import ClipBatch, box_prompt, click_prompt, sample_corrective_click
from .losses import LossWeights, frame_loss

__all__ = ["train_step"]


class _Batched:
    """Run a batch of ``B`` samples as one object of the model, and record the decoder's outputs.

    transformers' per-frame code is written for a batch of one object:

    * with several mask outputs, ``_single_frame_forward`` picks the best one
      with an index that broadcasts to ``(B, B, ...)``; entry ``[i, i]`` is
      sample ``i``'s choice, so the diagonal is taken;
    * with a mask prompt, ``_use_mask_as_output`` broadcasts the object
      pointer the same way; its diagonal is taken too;
    * the memory attention output is reshaped with a transpose that mixes
      samples when ``B > 1``; returning it as ``(B, HW, C)`` gives the
      layout the reshape expects (a no-op for ``B = 1``).

    These fixes leave a batch of one exactly as at inference, and each sample
    of a batch as it would run alone (``tests/core/test_finetune.py``). ``records``
    holds the mask decoder's raw outputs (all mask outputs, their IoU
    predictions, presence logits) of the latest decoder calls.
    """

    PATCHED = ("_single_frame_forward", "_use_mask_as_output")

    def __init__(self, model):
        self.model = model
        self.records: list = []

    def __enter__(self):
        model = self.model
        for name in self.PATCHED:
            setattr(model, name, _diagonal(getattr(type(model), name).__get__(model)))
        self._hooks = [
            model.mask_decoder.register_forward_hook(lambda _m, _i, out: self.records.append(out)),
            model.memory_attention.register_forward_hook(
                lambda _m, _i, out: out.squeeze(0) if out.dim() == 4 else out
            ),
        ]
        return self

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        for name in self.PATCHED:
            delattr(self.model, name)
        return False


def _diagonal(method):
    """Wrap a method returning a segmentation output: keep entry ``[i, i]`` of ``(B, B, ...)`` fields."""

    def wrapped(*args, **kwargs):
        import torch

        out = method(*args, **kwargs)
        n = out.pred_masks.shape[0]
        diag = torch.arange(n, device=out.pred_masks.device)
        for key in ("pred_masks", "high_res_masks", "object_pointer"):
            value = getattr(out, key)
            if n > 1 and value.shape[1] == n:
                setattr(out, key, value[diag, diag][:, None])
        return out

    return wrapped


class _ClipFrames(Mapping):
    """What the inference session calls ``processed_frames``: only its length is used.

    Features of every clip frame are in the cache. The length is at least the
    object-pointer window, as for a stack of typical length at inference
    (it scales the pointers' temporal encoding).
    """

    def __init__(self, n_frames: int, length: int):
        self.n_frames, self.length = n_frames, length

    def __getitem__(self, index):
        raise KeyError(index)

    def __len__(self):
        return self.length

    def __iter__(self):
        return iter(range(self.n_frames))


def train_step(loaded, batch: ClipBatch, rng: np.random.Generator, config,
               weights: LossWeights | None = None) -> tuple:
    """Unroll the model over a batch of clips with its memory; return the loss and its terms.

    Parameters
    ----------
    loaded : LoadedModel
        From :func:`build_model`.
    batch : ClipBatch
        From :func:`~.data.sample_batch`.
    rng : numpy Generator
        Draws the prompts.
    config : FinetuneConfig
        Prompt probabilities (``prompts``, ``correct_first``, ``correct_later``).
    weights : LossWeights, optional
        Default SAM2's.

    Returns
    -------
    loss : Tensor
        Mean over the supervised (sample, frame) outputs; call ``backward()``.
    terms : dict
        Float means of ``focal``, ``dice``, ``iou``, ``presence``, ``loss``, plus
        ``mask_iou`` (IoU of the selected mask on present frames) and ``presence_acc``.
    """
    import torch

    model = loaded.model
    weights = weights or LossWeights()
    n_clips, n_frames = batch.frames.shape[:2]
    size = loaded.image_size
    mean = torch.tensor(loaded.mean, dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(loaded.std, dtype=torch.float32)[None, :, None, None]
    grey = torch.from_numpy(batch.frames).reshape(-1, 1, size, size)
    pixels = (grey.expand(-1, 3, -1, -1) - mean) / std
    targets = torch.from_numpy(batch.targets)
    masks_np = batch.targets
    n_samples = len(targets)
    window = int(model.config.max_object_pointers_in_encoder)
    session = hf.new_training_session(size, n_frames)
    session.processed_frames = _ClipFrames(n_frames, max(n_frames, window))
    outputs = hf.object_outputs(session, hf.object_index(session, 1))

    features = model.get_image_features(pixels, return_dict=True)
    top = features.fpn_hidden_states[-1]  # (HW, frames, channels): what the memory attention sees
    norm_penalty = (top.mean(-1) ** 2 + (top.std(-1) - 1) ** 2).mean()

    def per_frame(x, t):  # (HW, C*K, ch) -> this frame of each sample's clip: (HW, B, ch)
        x = x.reshape(x.shape[0], n_clips, n_frames, x.shape[-1])[:, :, t]
        return x.repeat_interleave(batch.objects_per_clip, dim=1)

    for t in range(n_frames):
        session.cache.cache_vision_features(t, {
            "vision_feats": [per_frame(f, t) for f in features.fpn_hidden_states],
            "vision_pos_embeds": [per_frame(p, t) for p in features.fpn_position_encoding],
        })

    kind = str(rng.choice(list(config.prompts), p=np.array(list(config.prompts.values())) / sum(
        config.prompts.values())))
    if kind == "mask" and n_frames == 1:  # a mask prompt alone teaches nothing on a single frame
        kind = "click"
    later = _later_correction_frame(masks_np, rng, config.correct_later)
    totals, count, stats = 0.0, 0, _Stats()
    with _Batched(model) as rec:
        prompt = _first_prompt(kind, masks_np[:, 0], rng)
        out = _run(model, session, rec, 0, prompt, use_memory=False)
        if prompt.get("mask") is None:
            totals, count = totals + stats.add(rec.records[-1], targets[:, 0], weights), count + 1
        if kind != "mask" and rng.random() < config.correct_first:
            prompt = _add_correction(prompt, masks_np[:, 0], out, rng)
            out = _run(model, session, rec, 0, prompt, use_memory=False, previous=out)
            totals, count = totals + stats.add(rec.records[-1], targets[:, 0], weights), count + 1
        _encode_memory(model, session, outputs, 0, out, prompted=True)
        for t in range(1, n_frames):
            out = _run(model, session, rec, t, None, use_memory=True)
            totals, count = totals + stats.add(rec.records[-1], targets[:, t], weights), count + 1
            prompted = t == later
            if prompted:
                prompt = _add_correction({}, masks_np[:, t], out, rng)
                out = _run(model, session, rec, t, prompt, use_memory=True, previous=out)
                totals, count = totals + stats.add(rec.records[-1], targets[:, t], weights), count + 1
            _encode_memory(model, session, outputs, t, out, prompted)
    loss = totals / (count * n_samples)
    terms = stats.means(float(loss.detach()))
    terms["feature_norm"] = float(norm_penalty.detach())
    return (loss + config.feature_norm * norm_penalty if config.feature_norm else loss), terms


def _run(model, session, rec, frame, prompt, use_memory, previous=None):
    """One frame of the batched object, stored like :class:`~.tracker.TransformersTracker` does."""
    outputs = hf.object_outputs(session, 0)
    point_inputs = mask_inputs = prev_logits = None
    if prompt:
        if prompt.get("mask") is not None:
            mask_inputs = prompt["mask"]
        else:
            point_inputs = {"point_coords": prompt["coords"], "point_labels": prompt["labels"]}
            if previous is not None:
                prev_logits = previous["pred_masks"].clamp(-32.0, 32.0)
    use_memory = use_memory and bool(outputs["cond_frame_outputs"].keys() - {frame})
    rec.records.clear()
    out = hf.run_frame(model, session, frame, 0, use_memory=use_memory, point_inputs=point_inputs,
                       mask_inputs=mask_inputs, prev_logits=prev_logits)
    is_cond = prompt is not None
    if is_cond:
        outputs["non_cond_frame_outputs"].pop(frame, None)
    hf.store_output(session, 0, frame, out, is_cond)
    return out


def _encode_memory(model, session, outputs, frame, out, prompted):
    """The memory encoder on one frame's masks (what ``_batch_encode_memories`` does per object)."""
    memory, position = hf.encode_memory(model, session, frame, out, prompted)
    key = "cond_frame_outputs" if frame in outputs["cond_frame_outputs"] else "non_cond_frame_outputs"
    outputs[key][frame]["maskmem_features"] = memory
    outputs[key][frame]["maskmem_pos_enc"] = position
    outputs[key][frame].pop("high_res_masks", None)


def _first_prompt(kind: str, masks: np.ndarray, rng) -> dict:
    import torch

    if kind == "mask":
        return {"mask": torch.from_numpy(masks[:, None].astype(np.float32))}
    if kind == "box":
        encoded = [points_with_box(np.zeros((0, 2)), np.zeros(0), box_prompt(m, rng)) for m in masks]
        coords = np.stack([c for c, _ in encoded]).reshape(-1, 1, 2, 2)
        labels = np.stack([lab for _, lab in encoded]).reshape(-1, 1, 2)
    else:
        coords = np.array([click_prompt(m, rng) for m in masks], np.float32).reshape(-1, 1, 1, 2)
        labels = np.ones((len(masks), 1, 1), np.int32)
    return {"coords": torch.from_numpy(coords.astype(np.float32)), "labels": torch.from_numpy(labels)}


def _add_correction(prompt: dict, masks: np.ndarray, out: dict, rng) -> dict:
    import torch

    pred = (_upsampled(out["pred_masks"], masks.shape[-1]) > 0).numpy()
    clicks = [sample_corrective_click(m, p, rng) for m, p in zip(masks, pred, strict=True)]
    coords = torch.tensor([c for c, _ in clicks], dtype=torch.float32).reshape(-1, 1, 1, 2)
    labels = torch.tensor([lab for _, lab in clicks], dtype=torch.int32).reshape(-1, 1, 1)
    if prompt:
        coords = torch.cat([prompt["coords"], coords], dim=2)
        labels = torch.cat([prompt["labels"], labels], dim=2)
    return {"coords": coords, "labels": labels}


def _upsampled(logits, size: int):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return F.interpolate(logits.float(), size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def _later_correction_frame(masks: np.ndarray, rng, probability: float) -> int | None:
    """A later frame where every sample's object is present, for a corrective click (or None)."""
    if masks.shape[1] < 2 or rng.random() >= probability:
        return None
    present = masks.reshape(*masks.shape[:2], -1).any(-1).all(0)
    frames = np.nonzero(present[1:])[0] + 1
    return int(rng.choice(frames)) if len(frames) else None


class _Stats:
    """Running sums of the loss terms and of simple accuracies."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, record, target, weights):
        masks, iou_pred, _tokens, presence = record
        terms = frame_loss(masks[:, 0], iou_pred[:, 0], presence.reshape(-1), target, weights)
        n = len(target)
        for key in ("focal", "dice", "iou", "presence"):
            self._put(key, terms[key], n)
        present = target.flatten(1).any(1)
        self._put("presence_acc", float(((presence.reshape(-1) > 0) == present).float().sum()), n)
        if present.any():
            import torch

            from .losses import mask_iou

            best = iou_pred[:, 0].argmax(-1)
            chosen = masks[:, 0][torch.arange(len(best)), best][:, None]
            up = _upsampled(chosen, target.shape[-1])
            ious = mask_iou(up, target.float())[present]
            self._put("mask_iou", float(ious.sum()), int(present.sum()))
        return terms["total"]

    def _put(self, key, value, n):
        self.sums[key] = self.sums.get(key, 0.0) + value
        self.counts[key] = self.counts.get(key, 0) + n

    def means(self, loss: float) -> dict:
        out = {k: self.sums[k] / max(self.counts[k], 1) for k in self.sums}
        out["loss"] = loss
        return out
