"""The model boundary: one tracking step of a SAM2-family video model.

:class:`TransformersTracker` is our only adapter around the Hugging Face
``transformers`` video models (``Sam2VideoModel``, ``EdgeTamVideoModel``).
It takes prompts already in model space (see :mod:`.geometry`) and returns
low-resolution mask logits plus object-presence logits, one frame at a time.

Memory is bounded: after every step, tracked outputs of frames that have left
SAM2's memory window (``num_maskmem`` frames for mask memories,
``max_object_pointers_in_encoder`` frames for object pointers) are dropped.
Only prompted ("conditioning") frames are kept for the whole session.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Protocol

import numpy as np

from . import _hf_compat as hf
from .feature_cache import FeatureCache, TransformersFeatureCache
from .geometry import FrameGeometry, points_with_box
from .lean_forward import make_lean
from .memory_policies import MemoryPolicy, apply_policy, make_policy
from .model_frames import TRIM_EVERY, ModelFrames, release_free_heap
from .records import ObjectStep, TrackOutput
from .windowed_tracking import WindowedStep, WindowParams

if TYPE_CHECKING:
    from .frames import FrameSource
    from .models import LoadedModel
    from .prompts import ModelPrompt

__all__ = ["ObjectStep", "TrackOutput", "Tracker", "TransformersTracker"]


class Tracker(Protocol):
    """What the session needs from a model (the seam for test doubles)."""

    image_size: int

    def attach(self, source: FrameSource) -> None:
        """Read frames from ``source`` when the model needs them."""

    def step(self, frame: int, steps: Sequence[ObjectStep], reverse: bool) -> TrackOutput:
        """Run the objects in ``steps`` on ``frame``, storing their memories."""

    def forget(self, obj_id: int, frames: Iterable[int]) -> None:
        """Drop stored outputs (tracked or prompted) of ``obj_id`` on ``frames``."""

    def forget_object(self, obj_id: int) -> None:
        """Drop everything stored for ``obj_id``."""

    def encode(self, frame: int) -> None:
        """Prepare ``frame`` ahead of a prompt (e.g. run the image encoder); may do nothing."""


class TransformersTracker:
    """Runs a transformers SAM2-family video model frame by frame.

    Parameters
    ----------
    loaded : LoadedModel
        From :func:`napari_sam2.core.models.load_model`.
    autocast_bf16 : bool, optional
        Run under bf16 autocast; default: the model's ``bf16`` (see the
        ``precision`` of :func:`~napari_sam2.core.models.load_model`).
    feature_cache : FeatureCache, optional
        Where image features are kept between passes (default: 128 MiB in
        memory). Re-clicking a frame, or propagating again over frames already
        encoded, does not re-run the image encoder.
    memory : str or MemoryPolicy, optional
        Which candidate masks are kept and which frames enter the memory
        (:mod:`.memory_policies`): ``"sam2"`` is SAM2's own behaviour; default
        :data:`~.memory_policies.DEFAULT_MEMORY`.
    window : WindowParams, optional
        Track each object on a window of the feature map around it
        (:mod:`.windowed_tracking`; SAM2 models, tracked frames); default: the whole map.
    """

    def __init__(self, loaded: LoadedModel, autocast_bf16: bool | None = None,
                 feature_cache: FeatureCache | None = None, memory: str | MemoryPolicy | None = None,
                 window: WindowParams | None = None):
        self.loaded = loaded
        self.model = loaded.model
        make_lean(self.model)  # same results, lower peak memory, faster clicks (core/lean_forward.py)
        self.image_size = loaded.image_size
        self.device = loaded.device
        self.autocast_bf16 = loaded.bf16 if autocast_bf16 is None else autocast_bf16
        self.feature_cache = feature_cache if feature_cache is not None else FeatureCache()
        config = self.model.config
        self.mask_memory_frames = int(self.model.num_maskmem)  # a preset may lower it
        self.pointer_frames = int(config.max_object_pointers_in_encoder)
        # SAM2 batches the memory encoder over objects; EdgeTAM encodes inside each object's step
        self._memory_per_object = hf.encodes_memory_per_object(self.model)
        self.memory = make_policy(memory)
        windowed = window is not None and not self._memory_per_object
        self.windowed = WindowedStep(self.model, window) if windowed else None
        self._session = None
        self._frames_run = 0
        # memories of prompted frames, encoded when a step first needs memory (see flush_memories)
        self._deferred: dict[tuple[int, int], tuple] = {}
        self._groups = 0
        self._lock = threading.Lock()  # one model call at a time (GUI prefetch vs. prompts)

    def attach(self, source: FrameSource) -> None:
        """Bind a frame source; starts a fresh inference state."""
        geometry = FrameGeometry(source.frame_shape, self.image_size)
        self._session = hf.new_inference_session(self.model, source.frame_shape, self.device)
        self._deferred = {}
        self.memory.reset()
        frames = ModelFrames(source, geometry, self.loaded.mean, self.loaded.std)
        self._session.processed_frames = frames
        model_id = f"{type(self.model).__name__}:{self._fingerprint()}:{self.image_size}"
        if self.autocast_bf16:
            model_id += ":bf16"
        self._session.cache = TransformersFeatureCache(self.feature_cache, frames, model_id, self.device)

    def _fingerprint(self) -> str:
        """The weights' sha256: the loaded model's, else a hash of its parameters now."""
        if self.loaded.fingerprint:
            return self.loaded.fingerprint
        from .models.weights import state_fingerprint

        return state_fingerprint(self.model)

    def _autocast(self):
        import torch

        if self.autocast_bf16:
            return torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16)
        return nullcontext()

    def step(self, frame: int, steps: Sequence[ObjectStep], reverse: bool) -> TrackOutput:
        """Track the given objects on ``frame`` (see :class:`Tracker`)."""
        import torch

        sess, model = self._session, self.model
        with self._lock, torch.inference_mode(), self._autocast():
            if any(step.prompt is None or step.use_memory for step in steps):
                self._encode_deferred()
            outs, encode, ious = [], [], []
            for step in steps:
                idx = hf.object_index(sess, step.obj_id)
                with hf.recording_ious(model) as recorded:
                    out = self._run_object(idx, frame, step, reverse)
                masked = step.prompt is not None and step.prompt.mask is not None
                ious.append(recorded[-1] if recorded and not masked else np.nan)
                outs.append(out)
                encode.append((idx, out, step.prompt is not None))
            stored = apply_policy(self.memory, frame, reverse,
                                  [(s.obj_id, o, p) for s, (_, o, p) in zip(steps, encode, strict=True)])
            kept = [e for e, k in zip(encode, stored, strict=True) if k and "window" not in e[1]]
            for idx, out, _ in (e for e, k in zip(encode, stored, strict=True) if k and "window" in e[1]):
                kept_output = hf.object_outputs(sess, idx)["non_cond_frame_outputs"][frame]
                self.windowed.encode_memory(sess, frame, out, kept_output)
            if not self._memory_per_object and kept:
                if all(step.prompt is not None for step in steps):
                    self._defer(frame, kept)  # the mask first; its memory when one is needed
                else:
                    hf.encode_memories(model, sess, frame, kept)
            for (idx, _, _), keep in zip(encode, stored, strict=True):
                if not keep:
                    hf.drop_output(sess, idx, frame)
            for step, (idx, _, _) in zip(steps, encode, strict=True):
                self._prune(idx, frame, reverse, self.memory.kept_frames(step.obj_id))
            self._frames_run += 1
            # not after a click: the next click would fault its temporaries' pages in again (~30 ms)
            if self._frames_run % TRIM_EVERY == 0 and any(step.prompt is None for step in steps):
                release_free_heap()
            logits = torch.cat([o["pred_masks"][:, 0] for o in outs]).float().cpu().numpy()
            presence = torch.cat(
                [o["object_score_logits"].reshape(-1) for o in outs]
            ).float().cpu().numpy()
        return TrackOutput(logits, presence, np.array(ious, np.float32))

    def decode_points(self, frame: int, points_xy: np.ndarray):
        """Many single-point prompts on ``frame`` at once, without memory (automatic seeds).

        Returns numpy ``(logits (n, k, h, w), ious (n, k), presence (n,))``: every
        candidate of the multimask output (see :func:`._hf_compat.decode_points`).
        """
        import torch

        with self._lock, torch.inference_mode(), self._autocast():
            logits, ious, presence = hf.decode_points(self.model, self._session, frame, points_xy)
        return logits.numpy(), ious.numpy(), presence.numpy()

    def _defer(self, frame: int, entries) -> None:
        """Keep what the memory encoder needs of prompted outputs, to run it later.

        A prompt's mask is wanted at once; its memory (the memory encoder: about
        as much work as the mask decoder) only when a later step reads memory.
        """
        self._groups += 1
        for idx, out, prompted in entries:
            self._deferred.pop((frame, idx), None)
            self._deferred[frame, idx] = (self._groups, out["high_res_masks"],
                                          out["object_score_logits"], prompted)
        self._session.cache.pin(frame)

    def _keep_deferred(self, keep) -> None:
        """Keep the deferred memories whose ``(frame, idx)`` passes ``keep``; unpin other frames."""
        frames = {frame for frame, _ in self._deferred}
        self._deferred = {key: v for key, v in self._deferred.items() if keep(key)}
        for frame in frames - {frame for frame, _ in self._deferred}:
            self._session.cache.unpin(frame)

    def _encode_deferred(self) -> None:
        """Encode deferred memories, batched as their steps were (same results as at once)."""
        groups: dict[tuple[int, int], list] = {}
        for (frame, idx), (group, masks, scores, prompted) in self._deferred.items():
            groups.setdefault((group, frame), []).append((idx, masks, scores, prompted))
        for (_, frame), entries in sorted(groups.items()):
            stored = [(idx, {"high_res_masks": masks, "object_score_logits": scores}, prompted)
                      for idx, masks, scores, prompted in entries
                      if frame in hf.object_outputs(self._session, idx)["cond_frame_outputs"]]
            if stored:
                hf.encode_memories(self.model, self._session, frame, stored)
        self._keep_deferred(lambda key: False)

    def flush_memories(self) -> None:
        """Run the memory encoder on prompted frames now (it otherwise waits for the next step).

        Steps that read memory do this themselves; call it before reading the
        session's stored outputs directly (e.g. to save them).
        """
        import torch

        with self._lock, torch.inference_mode(), self._autocast():
            self._encode_deferred()

    def _run_object(self, idx: int, frame: int, step: ObjectStep, reverse: bool) -> dict:
        import torch

        sess, model = self._session, self.model
        outputs = hf.object_outputs(sess, idx)
        point_inputs = mask_inputs = prev_logits = None
        prompt = step.prompt
        if prompt is not None:
            if prompt.mask is not None:
                mask_inputs = torch.from_numpy(prompt.mask)[None, None].to(self.device)
            else:
                point_inputs = _point_inputs(prompt, self.device)
                previous = outputs["cond_frame_outputs"].get(frame) or outputs[
                    "non_cond_frame_outputs"
                ].get(frame)
                if previous is not None and "pred_masks" in previous:
                    prev_logits = previous["pred_masks"].clamp(-32.0, 32.0)
        use_memory = step.use_memory and bool(outputs["cond_frame_outputs"].keys() - {frame})
        self._drop_partial_memories(outputs["non_cond_frame_outputs"], frame, reverse)
        choosing = nullcontext()
        if self.memory.chooses and prompt is None:
            choosing = hf.choosing_candidates(
                model, functools.partial(self.memory.choose, step.obj_id, frame, reverse))
        kept = [k for k in self.memory.kept_frames(step.obj_id)
                if ((k - frame) if reverse else (frame - k)) >= self.mask_memory_frames] if use_memory else []
        with choosing, hf.extra_conditioning(outputs, kept):
            if self.windowed is not None and prompt is None and use_memory:
                window = self.windowed.window_for(outputs, frame, reverse)
                out = self.windowed.run(sess, idx, frame, reverse, window)
            else:
                if self.windowed is not None and point_inputs is not None and use_memory:
                    raise RuntimeError("point prompts on a stack tracked on windows: track on the whole map")
                out = hf.run_frame(model, sess, frame, idx, use_memory=use_memory, point_inputs=point_inputs,
                                   mask_inputs=mask_inputs, reverse=reverse, prev_logits=prev_logits,
                                   memory_per_object=self._memory_per_object)
        is_cond = prompt is not None
        other = "non_cond_frame_outputs" if is_cond else "cond_frame_outputs"
        if is_cond:
            outputs[other].pop(frame, None)
        hf.store_output(sess, idx, frame, out, is_cond)
        return out

    def _prune(self, idx: int, frame: int, reverse: bool, keep=frozenset()) -> None:
        """Drop what the memory window no longer needs, but the policy's ``keep`` frames (bounded memory)."""
        outputs = hf.object_outputs(self._session, idx)
        tracked = outputs["non_cond_frame_outputs"]
        for out in outputs["cond_frame_outputs"].values():
            out.pop("high_res_masks", None)
        for k in list(tracked):
            tracked[k].pop("high_res_masks", None)
            behind = (k - frame) if reverse else (frame - k)
            if k in keep:
                continue
            if behind >= self.pointer_frames:
                del tracked[k]
            elif behind >= self.mask_memory_frames:
                for key in ("maskmem_features", "maskmem_pos_enc", "pred_masks"):
                    tracked[k].pop(key, None)

    def _drop_partial_memories(self, tracked: dict, frame: int, reverse: bool) -> None:
        """Remove pointer-only outputs where the model would read a mask memory.

        After a change of direction, frames pruned to their object pointer can
        sit just behind the current frame; the model expects full memories there.
        """
        for offset in range(1, self.mask_memory_frames):
            neighbour = frame + offset if reverse else frame - offset
            if neighbour in tracked and "maskmem_features" not in tracked[neighbour]:
                del tracked[neighbour]

    def encode(self, frame: int) -> None:
        """Run the image encoder on ``frame`` ahead of time (kept in the feature cache)."""
        import torch

        with self._lock, torch.inference_mode(), self._autocast():
            hf.prepare_vision_features(self.model, self._session, frame)

    def forget_object(self, obj_id: int) -> None:
        """Drop everything stored for ``obj_id``."""
        self.memory.forget(obj_id)
        if hf.has_object(self._session, obj_id):
            for outputs in self._outputs(obj_id).values():
                outputs.clear()
            idx = hf.object_index(self._session, obj_id)
            self._keep_deferred(lambda key: key[1] != idx)

    def forget(self, obj_id: int, frames: Iterable[int]) -> None:
        """Drop stored outputs of ``obj_id`` on ``frames`` (stale after a correction)."""
        frames = list(frames)
        self.memory.forget(obj_id, frames)
        if not hf.has_object(self._session, obj_id):
            return
        outputs = self._outputs(obj_id)
        idx, frames = hf.object_index(self._session, obj_id), set(frames)
        for frame in frames:
            outputs["cond_frame_outputs"].pop(frame, None)
            outputs["non_cond_frame_outputs"].pop(frame, None)
        self._keep_deferred(lambda key: key[1] != idx or key[0] not in frames)

    def state_dict(self) -> tuple[dict, list]:
        """The tracking state: every object's stored outputs (its memories and object pointers).

        Returns ``(tensors, layout)``: ``tensors`` maps ``"obj/kind/frame/name"``
        to a CPU tensor (a copy), ``layout`` lists, per object in the session's
        order, its id and the frames and output names of its conditioning
        (``cond``) and tracked (``non_cond``) outputs, in insertion order. With
        :meth:`load_state_dict` a later process continues exactly where this
        one was (see :mod:`.checkpoint`).
        """
        self.flush_memories()  # prompted frames' memories are encoded when first needed
        tensors, layout = {}, []
        for obj_id in hf.object_ids(self._session):
            outputs = self._outputs(obj_id)
            entry = {"id": int(obj_id)}
            for kind, key in (("cond", "cond_frame_outputs"), ("non_cond", "non_cond_frame_outputs")):
                frames = []
                for frame, out in outputs[key].items():
                    names = [name for name, value in out.items() if value is not None]
                    for name in names:
                        tensors[f"{obj_id}/{kind}/{frame}/{name}"] = (
                            out[name].detach().to("cpu").contiguous().clone())
                    frames.append([int(frame), names])
                entry[kind] = frames
            layout.append(entry)
        return tensors, layout

    def load_state_dict(self, tensors: Mapping, layout: list) -> None:
        """Restore the state of :meth:`state_dict` (after :meth:`attach`)."""
        for entry in layout:
            obj_id = int(entry["id"])
            outputs = self._outputs(obj_id)
            for kind, key in (("cond", "cond_frame_outputs"), ("non_cond", "non_cond_frame_outputs")):
                outputs[key].clear()
                for frame, names in entry[kind]:
                    outputs[key][int(frame)] = {
                        name: tensors[f"{obj_id}/{kind}/{frame}/{name}"].to(self.device)
                        for name in names}

    def stored_frames(self, obj_id: int) -> dict[str, list[int]]:
        """Frames whose outputs are held for ``obj_id`` (for tests and memory checks)."""
        return {key: sorted(value) for key, value in self._outputs(obj_id).items()}

    def _outputs(self, obj_id: int) -> dict:
        return hf.object_outputs(self._session, hf.object_index(self._session, obj_id))


def _point_inputs(prompt: ModelPrompt, device) -> dict:
    import torch

    coords, labels = points_with_box(prompt.points_xy, prompt.labels, prompt.box_xyxy)
    return {
        "point_coords": torch.from_numpy(coords)[None, None].to(device),
        "point_labels": torch.from_numpy(labels)[None, None].to(device),
    }
