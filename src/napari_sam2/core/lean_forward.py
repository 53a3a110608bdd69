"""Memory-lean forwards for two of transformers' SAM2 modules: same results, smaller peaks.

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

:func:`make_lean` puts these forwards on one model's modules (instance
attributes: nothing else changes). Used for inference only.
"""

from __future__ import annotations

import types

__all__ = ["lean_feed_forward", "lean_rope_attention_forward", "make_lean"]

ROWS_PER_BLOCK = 16384  # tokens per MLP block: 12 MB of bf16 hidden layer for Hiera-tiny


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
    """Give ``model``'s rotary attentions and image-encoder MLPs the lean forwards.

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
        else:
            continue
        changed += 1
    return changed
