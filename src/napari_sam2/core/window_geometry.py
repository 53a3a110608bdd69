"""Windows of the feature map around an object: choosing them, cropping and pasting (no model code).

A window is ``(top, left, bottom, right)`` in cells of the model's lowest-
resolution feature map (``H x W``, 32 x 32 at 512 px), ``bottom`` and
``right`` exclusive. Finer maps (the decoder's 2x and 4x features, the 4x
low-resolution mask logits) are cropped at ``scale`` times the same window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["DEFAULT_WINDOW", "Window", "WindowParams", "box_of_logits", "choose_window", "crop_map",
           "crop_tokens", "full_window", "intersect", "paste_map", "resolve_window",
           "token_index"]

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class WindowParams:
    """How windows are placed (all sizes in feature-map cells: 16 px of the model input).

    Parameters
    ----------
    margin : int
        Cells added on every side of the object's last box (room for its motion
        and for the decoder's context).
    min_size : int
        Smallest window side.
    max_share : float
        A window covering more than this share of the map is replaced by the
        whole map (a big object gains nothing from a window).
    """

    margin: int = 4
    min_size: int = 12
    max_share: float = 0.5


#: windowed tracking by default? (chosen by measurement: docs/track.md, Cost)
DEFAULT_WINDOW = False


def resolve_window(window) -> WindowParams | None:
    """``window=`` of the API: None (the default), False, True or :class:`WindowParams` -> params or None."""
    if window is None:
        window = DEFAULT_WINDOW
    if window is True:
        return WindowParams()
    if window is False:
        return None
    if isinstance(window, WindowParams):
        return window
    raise InputError(f"window={window!r}: give True, False or WindowParams(margin, min_size, max_share)")


def full_window(map_shape: tuple[int, int]) -> Window:
    """The window that is the whole map."""
    return (0, 0, int(map_shape[0]), int(map_shape[1]))


def box_of_logits(logits: np.ndarray, scale: int) -> Window | None:
    """The box (in cells) of the positive pixels of ``logits`` (a map ``scale`` times finer), or None."""
    rows = np.flatnonzero(np.any(logits > 0, axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(np.any(logits > 0, axis=0))
    return (int(rows[0]) // scale, int(cols[0]) // scale,
            int(rows[-1]) // scale + 1, int(cols[-1]) // scale + 1)


def _span(low: int, high: int, size: int, limit: int) -> tuple[int, int]:
    """``[low, high)`` widened symmetrically to ``size`` cells, shifted inside ``[0, limit)``."""
    size = min(max(size, high - low), limit)
    start = (low + high - size) // 2
    start = min(max(start, 0), limit - size)
    return start, start + size


def choose_window(box: Window | None, map_shape: tuple[int, int], params: WindowParams) -> Window:
    """The window around ``box`` (+ margin, >= min size, inside the map); the whole map when lost or big.

    Parameters
    ----------
    box : tuple or None
        The object's last box in cells; None when the object was not seen (lost).
    map_shape : tuple of int
        ``(H, W)`` of the feature map.
    params : WindowParams

    Returns
    -------
    tuple
        ``(top, left, bottom, right)``.
    """
    height, width = map_shape
    if box is None:
        return full_window(map_shape)
    top, left, bottom, right = box
    m = params.margin
    rows = _span(top - m, bottom + m, params.min_size, height)
    cols = _span(left - m, right + m, params.min_size, width)
    if (rows[1] - rows[0]) * (cols[1] - cols[0]) > params.max_share * height * width:
        return full_window(map_shape)
    return (rows[0], cols[0], rows[1], cols[1])


def intersect(a: Window, b: Window) -> Window | None:
    """The common part of two windows, or None."""
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    if bottom <= top or right <= left:
        return None
    return (top, left, bottom, right)


def token_index(part: Window, within: Window) -> np.ndarray:
    """Flat (row-major) indices of the cells of ``part`` among the tokens of ``within``."""
    width = within[3] - within[1]
    rows = np.arange(part[0], part[2]) - within[0]
    cols = np.arange(part[1], part[3]) - within[1]
    return (rows[:, None] * width + cols[None, :]).reshape(-1)


def crop_tokens(tokens, window: Window, map_shape: tuple[int, int]):
    """Tokens ``(H*W, batch, C)`` of a map -> the ``window``'s tokens, row-major."""
    import torch

    index = torch.from_numpy(token_index(window, full_window(map_shape))).to(tokens.device)
    return tokens.index_select(0, index)


def crop_map(feature_map, window: Window, scale: int = 1):
    """``(batch, C, H*scale, W*scale)`` -> the window's part (a view)."""
    top, left, bottom, right = (v * scale for v in window)
    return feature_map[..., top:bottom, left:right]


def paste_map(part, window: Window, full_shape: tuple[int, int], fill: float):
    """A window's ``(..., h*scale, w*scale)`` map pasted into a ``full_shape`` map filled with ``fill``."""
    import torch

    scale = part.shape[-2] // (window[2] - window[0])
    out = torch.full((*part.shape[:-2], *full_shape), fill, dtype=part.dtype, device=part.device)
    out[..., window[0] * scale:window[2] * scale, window[1] * scale:window[3] * scale] = part
    return out
