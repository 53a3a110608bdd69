"""Lazy 2D stacks cut out of a 4D series of volumes, for the 2D sessions of :mod:`.volumes`.

* :class:`VolumeAt`: the planes of one volume (time point fixed), a z-stack.
* :class:`TrackPlanes`: one plane per time point, the plane chosen as the
  time track goes (:class:`PlaneSource` tells the model's frame reader so, see
  :class:`~.model_frames.ModelFrames`).

Both read only what the model asks for. Every stack cut from one series
shares one pair of intensity limits (:class:`SeriesLimits`), so a nucleus has
the same brightness in every volume and in the time track.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .frames import FrameSource, Normalization, _percentiles
from .sink import LABEL_DTYPE, LabelSink

__all__ = ["VolumeAt", "TrackPlanes", "PlaneSource", "SeriesLimits", "DiscardSink"]


class VolumeAt:
    """The array ``data`` with ``axis`` fixed at ``index`` (numpy-style indexing, read lazily)."""

    def __init__(self, data: Any, axis: int, index: int):
        self.data, self.axis, self.index = data, axis, int(index)
        self.shape = tuple(s for d, s in enumerate(data.shape) if d != axis)
        self.ndim = len(self.shape)
        self.dtype = data.dtype

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        return self.data[key[:self.axis] + (self.index,) + key[self.axis:]]


class TrackPlanes:
    """One plane per time point of ``data``: ``planes[t]`` (``default`` until it is chosen).

    ``time_axis`` and ``z_axis`` are axes of ``data``; the view drops ``z_axis``.
    """

    def __init__(self, data: Any, time_axis: int, z_axis: int, planes: dict[int, int], default: int):
        self.data, self.time_axis, self.z_axis = data, time_axis, z_axis
        self.planes, self.default = planes, default
        self.shape = tuple(s for d, s in enumerate(data.shape) if d != z_axis)
        self.ndim = len(self.shape)
        self.dtype = data.dtype
        self._time_in_view = time_axis - (time_axis > z_axis)

    def plane(self, t: int) -> int:
        """The plane time point ``t`` is read from."""
        return self.planes.get(int(t), self.default)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        t = key[self._time_in_view]
        return self.data[key[:self.z_axis] + (self.plane(int(t)),) + key[self.z_axis:]]


class SeriesLimits:
    """Per-channel intensity limits of a whole series, from planes sampled over t and z (computed once).

    Parameters
    ----------
    data : array-like
        The series.
    time_axis, z_axis : int
    channel_axis : int, optional
    channels : tuple of int
    normalization : Normalization
    """

    def __init__(self, data, time_axis: int, z_axis: int, channel_axis: int | None,
                 channels: tuple[int, ...], normalization: Normalization):
        self.data, self.time_axis, self.z_axis = data, time_axis, z_axis
        self.channel_axis, self.channels, self.normalization = channel_axis, channels, normalization
        self._limits = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # sent to dask workers: computed once here, never sampled there
        self()  # the series (maybe an open file) stays here
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "data")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._limits is None:
                self._limits = self._sample()
        return self._limits

    def _sample(self):
        n_t, n_z = self.data.shape[self.time_axis], self.data.shape[self.z_axis]
        n = max(2, self.normalization.sample_frames)
        picks = {(int(t), int(z)) for t, z in zip(np.linspace(0, n_t - 1, n).round(),
                                                  np.linspace(0, n_z - 1, n).round()[::-1], strict=True)}
        planes = []
        for t, z in sorted(picks):
            key: list[Any] = [slice(None)] * self.data.ndim
            key[self.time_axis], key[self.z_axis] = t, z
            plane = np.asarray(self.data[tuple(key)])
            if self.channel_axis is not None:
                rest = [d for d in range(self.data.ndim) if d not in (self.time_axis, self.z_axis)]
                plane = np.moveaxis(plane, rest.index(self.channel_axis), -1)[..., list(self.channels)]
            else:
                plane = plane[..., None]
            planes.append(plane)
        lo, hi = _percentiles(np.stack(planes), self.normalization.low, self.normalization.high)
        return np.nan_to_num(lo), np.nan_to_num(hi)


class PlaneSource(FrameSource):
    """A :class:`FrameSource` over a view of a series, with the series' intensity limits.

    Parameters
    ----------
    view : VolumeAt or TrackPlanes
    axis, channel_axis, channels
        Of the view (see :class:`FrameSource`).
    limits : SeriesLimits
    """

    def __init__(self, view, axis: int, channel_axis: int | None, channels, limits: SeriesLimits):
        super().__init__(view, axis, channel_axis, channels, limits.normalization)
        self._series_limits = limits
        if isinstance(view, TrackPlanes):
            self.frame_token = view.plane  # the model reads a time point again when its plane changes

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """The series' limits (see :class:`SeriesLimits`)."""
        return self._series_limits()


class DiscardSink(LabelSink):
    """A sink that keeps nothing: the time track's labels live in the volumes, not here."""

    def __init__(self, n_frames: int, frame_shape: tuple[int, int]):
        super().__init__(np.broadcast_to(np.zeros((1, 1, 1), LABEL_DTYPE), (n_frames, *frame_shape)))

    def write(self, frame: int, labels: np.ndarray) -> None:
        """Nothing is stored."""
