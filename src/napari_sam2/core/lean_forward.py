"""Lean forwards for some of transformers' SAM2 modules: same results, smaller peaks, faster clicks.

At 1024 px the process's peak memory is set by short-lived tensors inside
two places, not by anything kept between frames:

* the memory attention's cross-attention, whose keys are every memory
  frame's 4096 tokens: transformers repeats the rotary cos / sin tables once
  per memory frame and rotates all keys at once in float32, about 200 MB of
  temporaries per layer. :func:`lean_rope_attention_forward` rotates the keys
  one memory frame at a time into one output tensor (the same arithmetic on
  the same values, so the same result).
* the image encoder's first-stage MLP over 65,536 tokens (a 4x wider hidden
  layer). :func:`lean_feed_forward` runs it over blocks of tokens.

A click runs the prompt encoder and the mask decoder only; two changes make
it faster: :func:`fast_mask_decoder_forward` keeps the decoder's feature maps
channels-last (no layout flips, oneDNN's fast convolutions; equal to float
rounding) and :func:`cached_positional_embeddings` computes the decoder's
fixed positional grid once instead of at every prompt (identical).

:func:`make_lean` puts these forwards on one model's modules (instance
attributes: nothing else changes). Used for inference only.
"""

from __future__ import annotations

import types

__all__ = ["cached_positional_embeddings", "fast_mask_decoder_forward", "lean_feed_forward",
           "lean_rope_attention_forward", "make_lean"]

ROWS_PER_BLOCK = 16384  # tokens per MLP block: 12 MB of bf16 hidden layer for Hiera-tiny
#: mask decoders whose forward is transformers' SAM2 one (checked with TESTED_TRANSFORMERS)
MASK_DECODERS = ("Sam2VideoMaskDecoder", "EdgeTamVideoMaskDecoder")
VIDEO_MODELS = ("Sam2VideoModel", "EdgeTamVideoModel")


def _rotate(x, cos, sin):
    """Rotary encoding as transformers computes it (float32, then back to ``x``'s type)."""
    from ._hf_compat import rotate_pairwise

    x32 = x.float()
    return ((x32 * cos) + (rotate_pairwise(x32) * sin)).type_as(x)


def lean_rope_attention_forward(self, query, key, value, position_embeddings,
                                num_k_exclude_rope: int = 0, **kwargs):
    """``Sam2VideoRoPEAttention.forward`` with the keys rotated one query-length block at a time.

    Parameters
    ----------
    self : Sam2VideoRoPEAttention
    query, key, value : torch.Tensor
        ``(batch, points, tokens, channels)``.
    position_embeddings : tuple of torch.Tensor
        The rotary ``(cos, sin)`` tables of the query tokens.
    num_k_exclude_rope : int, optional
        Trailing keys (object pointers) that are not rotated.

    Returns
    -------
    tuple
        ``(output, None)``, as transformers' forward with SDPA attention.
    """
    import torch
    import torch.nn.functional as F

    batch, points = query.shape[:2]
    shape = (batch * points, -1, self.num_attention_heads, self.head_dim)
    q = self.q_proj(query).view(*shape).transpose(1, 2)
    k = self.k_proj(key).view(*shape).transpose(1, 2)
    v = self.v_proj(value).view(*shape).transpose(1, 2)
    cos, sin = position_embeddings
    q = _rotate(q, cos, sin)
    rotated = torch.empty_like(k)
    n_rotated, block = k.shape[-2] - num_k_exclude_rope, q.shape[-2]
    key_rope = getattr(self, "key_position_embeddings", None)  # set by core/windowed_tracking.py
    if key_rope is not None:  # keys with their own positions (a window's memories), not the queries'
        rotated[..., :n_rotated, :] = _rotate(k[..., :n_rotated, :], *key_rope)
    else:
        for start in range(0, n_rotated, block):
            stop = min(start + block, n_rotated)
            rotated[..., start:stop, :] = _rotate(
                k[..., start:stop, :], cos[..., : stop - start, :], sin[..., : stop - start, :]
            )
    rotated[..., n_rotated:, :] = k[..., n_rotated:, :]
    dropout = self.dropout_p if self.training else 0.0
    out = F.scaled_dot_product_attention(q, rotated, v, dropout_p=dropout, scale=self.scaling)
    out = out.transpose(1, 2).reshape(batch, points, -1, self.num_attention_heads * self.head_dim)
    return self.o_proj(out), None


def lean_feed_forward(self, hidden_states):
    """``Sam2FeedForward.forward`` over blocks of :data:`ROWS_PER_BLOCK` tokens.

    Parameters
    ----------
    self : Sam2FeedForward
    hidden_states : torch.Tensor
        ``(..., channels)``.

    Returns
    -------
    torch.Tensor
        ``(..., output channels)``.
    """
    import torch

    rows = hidden_states.reshape(-1, hidden_states.shape[-1])
    if rows.shape[0] <= ROWS_PER_BLOCK or self.sigmoid_output:
        return self._plain_forward(hidden_states)
    out = None
    for start in range(0, rows.shape[0], ROWS_PER_BLOCK):
        part = self._plain_forward(rows[start:start + ROWS_PER_BLOCK])
        if out is None:
            out = torch.empty((rows.shape[0], part.shape[-1]), dtype=part.dtype, device=part.device)
        out[start:start + part.shape[0]] = part
    return out.reshape(*hidden_states.shape[:-1], out.shape[-1])


def make_lean(model) -> int:
    """Give ``model``'s rotary attentions, encoder MLPs, mask decoder and positional grid lean forwards.

    Parameters
    ----------
    model : torch.nn.Module
        A transformers SAM2-family video model (other modules are left alone).

    Returns
    -------
    int
        How many modules now run a lean forward (again 0 on a second call).
    """
    changed = 0
    for module in model.modules():
        name = type(module).__name__
        if "forward" in vars(module):
            continue
        if name == "Sam2VideoRoPEAttention":
            module.forward = types.MethodType(lean_rope_attention_forward, module)
        elif name == "Sam2FeedForward" and module.num_layers == 2:
            module._plain_forward = module.forward
            module.forward = types.MethodType(lean_feed_forward, module)
        elif name in MASK_DECODERS:
            module._plain_forward = module.forward
            module.forward = types.MethodType(fast_mask_decoder_forward, module)
        elif name in VIDEO_MODELS and "get_image_wide_positional_embeddings" not in vars(module):
            module._plain_positional_embeddings = module.get_image_wide_positional_embeddings
            module.get_image_wide_positional_embeddings = types.MethodType(
                cached_positional_embeddings, module)
        else:
            continue
        changed += 1
    return changed


def cached_positional_embeddings(self):
    """``get_image_wide_positional_embeddings``, computed once per weights and autocast state.

    transformers recomputes this fixed grid's sine encoding (64 x 64 x 256 at
    1024 px) on every prompt. The cache is keyed on the encoding's weights
    (storage and version: an optimizer step or a reload recomputes it) and on
    the autocast state (its matmul runs in bf16 under bf16 autocast).
    """
    import torch

    weights = self.shared_image_embedding.positional_embedding
    key = (weights.data_ptr(), weights._version, weights.device.type,
           torch.is_autocast_enabled(weights.device.type), torch.is_inference_mode_enabled())
    cached = getattr(self, "_positional_cache", None)
    if cached is None or cached[0] != key:
        cached = (key, self._plain_positional_embeddings())
        self._positional_cache = cached
    return cached[1]


def _channels_last(x):
    """``x`` (N, C, H, W) with its channels innermost in memory (no copy when already so)."""
    import torch

    return x.contiguous(memory_format=torch.channels_last)


def fast_mask_decoder_forward(self, image_embeddings, image_positional_embeddings, sparse_prompt_embeddings,
                              dense_prompt_embeddings, multimask_output, high_resolution_features,
                              attention_similarity=None, target_embedding=None, **kwargs):
    """``Sam2VideoMaskDecoder.forward`` on channels-last feature maps: the same arithmetic, faster.

    transformers' forward flips the image features between channel-first maps
    and channel-last tokens several times, and adds tensors of different
    memory layouts (each such add walks one of them across rows). Here every
    map is kept channels-last: the two-way transformer's tokens are then
    contiguous, and the upscaling convolutions run oneDNN's channels-last
    kernels (about 3x faster on CPU). The results match transformers' forward
    to float rounding (``tests/core/test_lean_forward.py``).

    Parameters
    ----------
    self : Sam2VideoMaskDecoder
    image_embeddings, image_positional_embeddings : torch.Tensor
        ``(batch, channels, height, width)``.
    sparse_prompt_embeddings : torch.Tensor
        ``(batch, point batch, tokens, channels)``.
    dense_prompt_embeddings : torch.Tensor
        ``(batch, channels, height, width)``.
    multimask_output : bool
    high_resolution_features : list of torch.Tensor
        The two finer feature maps.

    Returns
    -------
    tuple
        ``(masks, iou_pred, sam_tokens_out, object_score_logits)``, as transformers' forward.
    """
    import torch

    if attention_similarity is not None or target_embedding is not None or self.training:
        return self._plain_forward(image_embeddings, image_positional_embeddings, sparse_prompt_embeddings,
                                   dense_prompt_embeddings, multimask_output, high_resolution_features,
                                   attention_similarity, target_embedding, **kwargs)
    batch, channels, height, width = image_embeddings.shape
    points = sparse_prompt_embeddings.shape[1]
    output_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight])
    output_tokens = output_tokens.repeat(batch, points, 1, 1)
    if sparse_prompt_embeddings.shape[0] != 0:
        output_tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=2)
    point_embeddings = output_tokens.to(self.iou_token.weight.dtype)

    image = _channels_last(image_embeddings + dense_prompt_embeddings)
    positions = _channels_last(image_positional_embeddings)
    feat_s0, feat_s1 = (_channels_last(f) for f in high_resolution_features)
    if points > 1:
        image, positions, feat_s0, feat_s1 = (
            _channels_last(x.repeat_interleave(points, dim=0)) for x in (image, positions, feat_s0, feat_s1))
    point_embeddings, keys = self.transformer(
        point_embeddings=point_embeddings, image_embeddings=image,
        image_positional_embeddings=positions, attention_similarity=None, target_embedding=None, **kwargs)
    iou_token_out = point_embeddings[:, :, 1, :]
    mask_tokens_out = point_embeddings[:, :, 2:(2 + self.num_mask_tokens), :]

    # keys are contiguous (maps, 1, tokens, channels): a channels-last map without a copy
    image = keys.transpose(2, 3).view(batch * points, channels, height, width)
    upscaled = self.upscale_conv1(image) + feat_s1
    upscaled = self.activation(self.upscale_layer_norm(upscaled))
    upscaled = self.activation(self.upscale_conv2(upscaled) + feat_s0)
    hyper_in = torch.stack([mlp(mask_tokens_out[:, :, i, :])
                            for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=2)
    _, up_channels, up_height, up_width = upscaled.shape
    upscaled = upscaled.reshape(batch, points, up_channels, up_height * up_width)
    masks = (hyper_in @ upscaled).view(batch, points, -1, up_height, up_width)

    iou_pred = self.iou_prediction_head(iou_token_out)
    object_score_logits = self.pred_obj_score_head(point_embeddings[:, :, 0, :])
    if multimask_output:
        mask_slice = slice(1, None)
        masks, iou_pred = masks[:, :, mask_slice], iou_pred[:, :, mask_slice]
    elif self.dynamic_multimask_via_stability:
        mask_slice = slice(0, 1)
        masks, iou_pred = self._dynamic_multimask_via_stability(masks, iou_pred)
    else:
        mask_slice = slice(0, 1)
        masks, iou_pred = masks[:, :, mask_slice], iou_pred[:, :, mask_slice]
    return masks, iou_pred, mask_tokens_out[:, :, mask_slice], object_score_logits
