"""Lazy frame access and intensity normalisation for image stacks.

A :class:`FrameSource` wraps any array-like (numpy, dask, zarr, a TIFF opened
as a zarr store) and hands out one normalised frame at a time, as
``(row, col, 3)`` float32 in ``[0, 1]``. Nothing is read until a frame is
asked for, so stacks far larger than memory work.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import InputError

__all__ = ["FrameSource", "Normalization", "InputError", "check_frame"]


@dataclass(frozen=True)
class Normalization:
    """Percentile normalisation settings.

    Parameters
    ----------
    low, high : float
        Percentiles mapped to 0 and 1 (values outside are clipped).
    per : {"stack", "frame"}
        ``"stack"``: one pair of limits per channel from a sample of frames
        (stable brightness over time, the default); ``"frame"``: limits from
        each frame itself.
    sample_frames : int
        How many evenly spaced frames the per-stack limits are computed from.
    """

    low: float = 0.5
    high: float = 99.5
    per: Literal["stack", "frame"] = "stack"
    sample_frames: int = 8

    def __post_init__(self):
        if not 0 <= self.low < self.high <= 100:
            raise InputError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {self.low}, {self.high}"
            )
        if self.per not in ("stack", "frame"):
            raise InputError(f"normalisation 'per' must be 'stack' or 'frame', not {self.per!r}")


def _percentiles(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (low, high) percentiles of the finite ``values`` shaped (..., channel).

    NaN, +Inf and -Inf are left out; a channel without a finite value gives NaN.
    """
    flat = values.reshape(-1, values.shape[-1]).astype(np.float32, copy=False)
    if flat.shape[0] > 1_000_000:  # a strided subsample is plenty for percentiles
        flat = flat[:: flat.shape[0] // 1_000_000 + 1]
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        flat = np.where(np.isfinite(flat), flat, np.float32(np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels handled below
        lo, hi = np.nanpercentile(flat, [low, high], axis=0)
    return lo.astype(np.float32), hi.astype(np.float32)


def _non_finite_kinds(values: np.ndarray) -> str:
    """Which non-finite values ``values`` holds, e.g. ``"NaN, +Inf"``."""
    kinds = [("NaN", np.isnan(values).any()), ("+Inf", np.isposinf(values).any()),
             ("-Inf", np.isneginf(values).any())]
    return ", ".join(name for name, present in kinds if present)


def _all_non_finite(values: np.ndarray) -> bool:
    return values.dtype.kind == "f" and not np.isfinite(values).any()


class FrameSource:
    """One frame at a time from a stack, normalised for the model.

    Parameters
    ----------
    data : array-like
        numpy, dask or zarr array (anything with ``shape``, ``ndim`` and
        numpy-style indexing). 3D ``(plane, row, col)`` or 4D with a channel
        axis; a single 2D image ``(row, col)``, or 3D with a channel axis, is
        a stack of one frame.
    axis : int or None
        The propagation axis (time for a time-lapse, z for a z-stack). None,
        or any value for data with one dimension fewer than a stack, means a
        single image: one frame, ``axis`` is None.
    channel_axis : int, optional
        The channel axis of multichannel (4D, or 3D single-image) data.
    channels : sequence of int, optional
        Channels to use: one (shown as grey) or up to three (as RGB).
        Default: channel 0.
    normalization : Normalization, optional
        Percentile settings; default 0.5-99.5 per stack.

    Examples
    --------
    >>> import numpy as np
    >>> src = FrameSource(np.zeros((5, 32, 40), np.uint16) + np.arange(40))
    >>> src.n_frames, src.frame_shape
    (5, (32, 40))
    >>> src.frame(0).shape
    (32, 40, 3)
    """

    def __init__(
        self,
        data: Any,
        axis: int = 0,
        channel_axis: int | None = None,
        channels: tuple[int, ...] | list[int] | None = None,
        normalization: Normalization | None = None,
    ):
        ndim = getattr(data, "ndim", None)
        if ndim is None or not hasattr(data, "shape"):
            raise InputError(f"expected an array (numpy, dask or zarr), got {type(data).__name__}")
        expected = 3 if channel_axis is None else 4
        if axis is None or ndim == expected - 1:  # a single image: a stack of one frame
            axis, expected = None, expected - 1
        if ndim != expected:
            what = f"image has {ndim} dimensions {tuple(data.shape)}; expected {expected}"
            if ndim == 4 and channel_axis is None:
                raise InputError(f"{what}: for multichannel data name the channel axis",
                                 fix=("channel_axis", None))
            raise InputError(f"{what}: give a stack of 2D frames: (plane, row, col), or one 2D "
                             "image (row, col), plus a channel axis if any")
        self.axis = None if axis is None else _check_axis(axis, ndim, "axis")
        self.channel_axis = None if channel_axis is None else _check_axis(
            channel_axis, ndim, "channel axis"
        )
        if self.channel_axis is not None and self.channel_axis == self.axis:
            raise InputError("the propagation axis and the channel axis must differ")
        n_channels = 1 if self.channel_axis is None else int(data.shape[self.channel_axis])
        channels = tuple(channels) if channels is not None else (0,)
        if not 1 <= len(channels) <= 3:
            raise InputError(f"choose one to three channels, got {len(channels)}")
        for c in channels:
            if not 0 <= c < n_channels:
                raise InputError(
                    f"channel {c} does not exist: the image has {n_channels} channel(s) "
                    f"(0..{n_channels - 1})"
                )
        self.channels = channels
        self.data = data
        self.normalization = normalization or Normalization()
        spatial = [d for d in range(ndim) if d not in (self.axis, self.channel_axis)]
        self._order = [self.axis, *spatial] + (
            [self.channel_axis] if self.channel_axis is not None else []
        )
        self.n_frames = 1 if self.axis is None else int(data.shape[self.axis])
        self.frame_shape = (int(data.shape[spatial[0]]), int(data.shape[spatial[1]]))
        if self.n_frames < 1 or min(self.frame_shape) < 2:
            raise InputError(f"image shape {tuple(data.shape)} has no usable frames")
        self.reads = 0  # raw frame reads, for tests and benchmarks
        self._limits: tuple[np.ndarray, np.ndarray] | None = None
        self._limits_lock = threading.Lock()  # frames may be read ahead in another thread

    def raw(self, index: int) -> np.ndarray:
        """Read frame ``index`` as ``(row, col, channel)`` of the chosen channels."""
        check_frame(index, self.n_frames)
        key: list[Any] = [slice(None)] * self.data.ndim
        if self.axis is not None:
            key[self.axis] = index
        self.reads += 1
        block = np.asarray(self.data[tuple(key)])
        kept = [d for d in range(self.data.ndim) if d != self.axis]
        block = np.transpose(block, [kept.index(d) for d in self._order[1:]])
        if self.channel_axis is None:
            return block[..., None]
        return block[..., list(self.channels)]

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel intensity limits for the whole stack (computed once, from a sample)."""
        with self._limits_lock:
            if self._limits is None:
                self._limits = self._sample_limits()
        return self._limits

    def _sample_limits(self) -> tuple[np.ndarray, np.ndarray]:
        n = min(self.normalization.sample_frames, self.n_frames)
        picks = np.unique(np.linspace(0, self.n_frames - 1, n).round().astype(int))
        sample = np.stack([self.raw(int(i)) for i in picks])
        blank = [int(i) for i, frame in zip(picks, sample, strict=True) if _all_non_finite(frame)]
        if blank and len(blank) < len(picks):
            warnings.warn(f"sampled frame(s) {', '.join(map(str, blank))} have no finite values "
                          f"({_non_finite_kinds(sample[picks.searchsorted(blank)])}); the intensity "
                          "limits come from the other sampled frames", stacklevel=4)
        return self._checked_limits(sample, "the sampled frames")

    def _checked_limits(self, values: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = _percentiles(values, self.normalization.low, self.normalization.high)
        if np.isnan(lo).any():
            warnings.warn(f"no finite values ({_non_finite_kinds(values)}) in {what}; "
                          "treated as 0", stacklevel=3)
            lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
        elif (hi <= lo).any():
            warnings.warn(
                f"constant intensity in {what}; the model sees a blank image "
                "and its masks there are meaningless",
                stacklevel=3,
            )
        return lo, hi

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(row, col, 3)`` float32 in ``[0, 1]``.

        Grey data is replicated to three channels; two channels become
        red and green with an empty blue.
        """
        raw = self.raw(index).astype(np.float32)
        finite = np.isfinite(raw)
        if not finite.any():
            warnings.warn(f"frame {index} contains only non-finite values ({_non_finite_kinds(raw)}); "
                          "the model sees a blank image", stacklevel=2)
            return np.zeros((*raw.shape[:2], 3), np.float32)
        if self.normalization.per == "frame":
            lo, hi = self._checked_limits(raw, f"frame {index}")
        else:
            lo, hi = self.limits()
        if not finite.all():
            kinds = _non_finite_kinds(raw)
            warnings.warn(f"frame {index} contains {int((~finite).sum())} non-finite values "
                          f"({kinds}); NaN and -Inf are treated as dark, +Inf as bright",
                          stacklevel=2)
            raw = np.where(np.isposinf(raw), hi, np.where(finite, raw, lo))
        scale = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        out = np.clip((raw - lo) / scale, 0.0, 1.0)
        out[..., hi <= lo] = 0.0
        if out.shape[-1] == 1:
            return np.repeat(out, 3, axis=-1)
        if out.shape[-1] == 2:
            return np.concatenate([out, np.zeros_like(out[..., :1])], axis=-1)
        return out


def _check_axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise InputError(f"{what} {axis} is out of range for an image with {ndim} dimensions")
    return axis % ndim


def check_frame(frame: int, n_frames: int) -> int:
    """Return ``frame`` as an int, or raise if the stack has no such frame."""
    if int(frame) != frame or not 0 <= frame < n_frames:
        raise InputError(f"frame {frame} does not exist: the stack has frames 0..{n_frames - 1}")
    return int(frame)
