"""One tracked object on one frame, computed on a window of the feature map around it.

SAM2's per-object cost on a tracked frame is the memory attention (every
token of the 32 x 32 map against every memory token), the mask decoder and
the memory encoder, all over the whole map. A cell covers a few cells of that
map, so :class:`WindowedStep` runs the three on a window around the object's
last box (:func:`.window_geometry.choose_window`):

* **memory attention**: the window's image tokens (and their positional
  encodings, cropped from the whole map's) attend to the object's memories.
  RoPE positions are the tokens' positions in the whole map, for queries and
  for memory keys alike (keys keep their own positions: the lean attention's
  ``key_position_embeddings``), so a memory cell and an image cell at the same
  place of the frame match as they do on the whole map;
* **memories are kept at window size** (with their window) and, when read,
  cropped to the part of the current window they cover; memories of the whole
  map (a prompt's, a fall-back's) are cropped the same way. Keeping them at
  window size is what makes the memory encoder cheap (it runs on the window);
  a memory cell outside the current window is not read, exactly as an image
  cell outside it is not computed. The spatial positional encoding of a memory
  token is the whole map's (sine, normalised to the map), cropped;
* **mask decoder** on the window (high-resolution features cropped at 4x and
  2x); its low-resolution logits are pasted into a whole-map canvas of
  "no object" logits, so the frame's masks of all objects stack as before;
* **memory encoder** on the window (:meth:`WindowedStep.encode_memory`, after
  the memory policy has settled the frame).

An object without a mask on the frame before (lost) or whose window would
cover more than ``max_share`` of the map runs the same code on the whole map.
"""

from __future__ import annotations

import numpy as np

from . import _hf_compat as hf
from .window_geometry import (
    Window,
    WindowParams,
    box_of_logits,
    choose_window,
    crop_map,
    crop_tokens,
    full_window,
    intersect,
    token_index,
)

__all__ = ["WindowedStep", "WindowParams"]

LOW_RES_SCALE = 4  # the decoder's low-resolution logits are 4x finer than the feature map


class WindowedStep:
    """Windowed tracking steps of a transformers SAM2 video model (see the module docstring).

    Parameters
    ----------
    model : Sam2VideoModel
        Its rotary attentions must run :func:`.lean_forward.lean_rope_attention_forward`.
    params : WindowParams
    """

    def __init__(self, model, params: WindowParams | None = None):
        self.model = model
        self.params = params or WindowParams()
        self.map_shape = tuple(int(v) for v in model.backbone_feature_sizes[-1])
        self._memory_positions = None
        self.windows_used = 0  # steps on a window smaller than the map (for benchmarks and tests)
        self.full_used = 0

    # ------------------------------------------------------------------ window
    def window_for(self, outputs: dict, frame: int, reverse: bool) -> Window:
        """The window of the object whose stored ``outputs`` these are, on ``frame``.

        Its box is that of its mask on the nearest frame behind ``frame`` in the
        direction of tracking (the frame before, or a prompt); none: the whole map.
        """
        stored = {**outputs["non_cond_frame_outputs"], **outputs["cond_frame_outputs"]}
        behind = [k for k in stored if (k > frame if reverse else k < frame) and "pred_masks" in stored[k]]
        if not behind:
            return full_window(self.map_shape)
        nearest = min(behind, key=lambda k: abs(k - frame))
        logits = stored[nearest]["pred_masks"][0, 0].float().cpu().numpy()
        scale = logits.shape[0] // self.map_shape[0]
        return choose_window(box_of_logits(logits, scale), self.map_shape, self.params)

    # ------------------------------------------------------------------ step
    def run(self, session, idx: int, frame: int, reverse: bool, window: Window) -> dict:
        """Memory attention and mask decoder of object ``idx`` on ``window`` of ``frame``.

        Returns transformers' kind of output dict (``pred_masks`` of the whole
        map, ``object_pointer``, ``object_score_logits``) plus ``window`` (a
        tensor); the memory is encoded later by :meth:`encode_memory`.
        """
        import torch

        features, positions = hf.vision_features(self.model, session, frame)
        memory = self._memories(session, idx, frame, reverse, window)
        if memory is None and window != full_window(self.map_shape):
            window = full_window(self.map_shape)  # no memory inside the window: look at the whole map
            memory = self._memories(session, idx, frame, reverse, window)
        if memory is None:
            raise RuntimeError(f"object index {idx} has no memory to track frame {frame} with")
        if window == full_window(self.map_shape):
            self.full_used += 1
        else:
            self.windows_used += 1
        current = crop_tokens(features[-1], window, self.map_shape)
        current_pos = crop_tokens(positions[-1], window, self.map_shape)
        conditioned = self._attend(current, current_pos, window, *memory)
        out = self._decode(conditioned, features, window)
        out["window"] = torch.tensor(window, dtype=torch.int64)
        return out

    def _memories(self, session, idx: int, frame: int, reverse: bool, window: Window):
        """The memory tokens, their positional encodings and key positions read through ``window``."""
        import torch

        model, full = self.model, full_window(self.map_shape)
        positions = self._full_memory_positions(model.no_memory_embedding.device)
        tokens, encodings, keys = [], [], []
        for offset, prev in hf.memory_frame_outputs(model, session, idx, frame, reverse):
            if prev is None or "maskmem_features" not in prev:
                continue
            stored = tuple(prev["window"].tolist()) if "window" in prev else full
            part = intersect(window, stored)
            if part is None:
                continue
            device = prev["maskmem_features"].device
            inside = torch.from_numpy(token_index(part, stored)).to(device)
            where = token_index(part, full)
            tokens.append(prev["maskmem_features"].index_select(0, inside))
            encodings.append(positions[torch.from_numpy(where)]
                             + model.memory_temporal_positional_encoding[offset - 1])
            keys.append(where)
        if not tokens:
            return None
        pointers, pointer_pos = hf.object_pointer_tokens(model, session, idx, frame, reverse)
        n_pointers = 0
        if pointers is not None:
            tokens.append(pointers)
            encodings.append(pointer_pos)
            n_pointers = pointers.shape[0]
        memory = torch.cat(tokens).to(dtype=session.dtype)
        return memory, torch.cat(encodings), np.concatenate(keys), n_pointers

    def _full_memory_positions(self, device):
        """The memory encoder's sine encoding of the whole map, ``(H*W, 1, C)`` (computed once)."""
        if self._memory_positions is None:
            encoder = self.model.memory_encoder
            channels = self.model.config.memory_encoder_output_channels
            pos = encoder.position_encoding((1, channels, *self.map_shape), device, self.model.dtype)
            self._memory_positions = pos.flatten(2).permute(2, 0, 1)
        return self._memory_positions

    def _attend(self, current, current_pos, window: Window, memory, memory_pos, key_cells, n_pointers):
        """The memory attention on the window's tokens, RoPE at whole-map positions -> ``(1, C, h, w)``."""
        import torch

        attention = self.model.memory_attention
        full_ids = attention.position_ids
        query_ids = full_ids[torch.from_numpy(token_index(window, full_window(self.map_shape)))]
        key_rope = attention.rotary_emb(current, full_ids[torch.from_numpy(key_cells)])
        cross = [layer.cross_attn_image for layer in attention.layers]
        attention.position_ids = query_ids
        for module in cross:
            module.key_position_embeddings = key_rope
        try:
            flat = attention(current_vision_features=current, current_vision_position_embeddings=current_pos,
                             memory=memory, memory_posision_embeddings=memory_pos,
                             num_object_pointer_tokens=n_pointers)
        finally:
            attention.position_ids = full_ids
            for module in cross:
                del module.key_position_embeddings
        height, width = window[2] - window[0], window[3] - window[1]
        return flat.squeeze(1).transpose(1, 2).reshape(1, self.model.hidden_dim, height, width)

    def _decode(self, conditioned, features, window: Window) -> dict:
        """The mask decoder on the window; SAM2's choice of candidate and object pointer."""
        import torch

        model = self.model
        sizes = model.backbone_feature_sizes
        high_res = []
        for level, size in zip(features[:-1], sizes[:-1], strict=True):
            scale = int(size[0]) // self.map_shape[0]
            feature_map = level.permute(1, 2, 0).view(1, level.size(2), *size)
            high_res.append(crop_map(feature_map, window, scale))
        device, dtype = conditioned.device, conditioned.dtype
        points = torch.zeros(1, 1, 1, 2, dtype=dtype, device=device)
        labels = -torch.ones(1, 1, 1, dtype=torch.int32, device=device)
        sparse, dense = model.prompt_encoder(input_points=points, input_labels=labels, input_boxes=None,
                                             input_masks=None)
        grid = model.get_image_wide_positional_embeddings()
        masks, ious, tokens, scores = model.mask_decoder(
            image_embeddings=conditioned, image_positional_embeddings=crop_map(grid, window),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=crop_map(dense, window),
            multimask_output=hf.tracking_multimask(model), high_resolution_features=high_res)
        appearing = scores > 0
        masks = torch.where(appearing[:, None, None], masks, hf.NO_OBJECT_LOGIT)
        best = torch.argmax(ious, dim=-1) if masks.shape[2] > 1 else torch.zeros((1, 1), dtype=torch.long)
        first = torch.arange(1, device=device)
        low_res = masks[first, first, best]
        token = tokens[first, first, best] if tokens.size(2) > 1 else tokens[:, :, 0]
        pointer = model.object_pointer_proj(token)
        seen = appearing.to(pointer.dtype)
        pointer = seen * pointer + (1 - seen) * model.no_object_pointer
        full_low = tuple(LOW_RES_SCALE * v for v in self.map_shape)
        canvas = torch.full((*low_res.shape[:-2], *full_low), hf.NO_OBJECT_LOGIT, dtype=low_res.dtype,
                            device=device)
        s = LOW_RES_SCALE
        canvas[..., window[0] * s:window[2] * s, window[1] * s:window[3] * s] = low_res
        return {"pred_masks": canvas, "object_pointer": pointer, "object_score_logits": scores}

    # ------------------------------------------------------------------ memory
    def encode_memory(self, session, frame: int, out: dict, stored: dict) -> None:
        """The memory encoder on ``out``'s window; its memory goes into ``stored`` (the kept output).

        ``out["pred_masks"]`` is read after the memory policy settled it.
        """
        import torch
        import torch.nn.functional as F

        model = self.model
        window = tuple(out["window"].tolist())
        features, _ = hf.vision_features(model, session, frame)
        top = features[-1].permute(1, 2, 0).view(1, model.hidden_dim, *self.map_shape)
        pixels = crop_map(top, window)
        low = crop_map(out["pred_masks"], window, LOW_RES_SCALE)
        size = (16 * (window[2] - window[0]), 16 * (window[3] - window[1]))
        high = F.interpolate(low.float(), size=size, mode="bilinear", align_corners=False)
        config = model.config
        mask = torch.sigmoid(high) * config.sigmoid_scale_for_mem_enc + config.sigmoid_bias_for_mem_enc
        memory, _ = model.memory_encoder(pixels, mask.to(pixels.dtype))
        occluded = model.occlusion_spatial_embedding_parameter
        if occluded is not None:
            absent = float(out["object_score_logits"].reshape(-1)[0] <= 0)
            memory = memory + absent * occluded[..., None, None].expand(*memory.shape)
        positions = self._full_memory_positions(memory.device)
        where = torch.from_numpy(token_index(window, full_window(self.map_shape)))
        stored["maskmem_features"] = memory.to(torch.bfloat16).flatten(2).permute(2, 0, 1)
        stored["maskmem_pos_enc"] = positions[where].to(high.dtype)
        stored["window"] = out["window"]
