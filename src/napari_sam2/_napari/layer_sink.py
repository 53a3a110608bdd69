"""A label sink over a napari Labels layer: the worker computes, the GUI thread writes (with undo)."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["LayerSink"]


class LayerSink:
    """A label sink over a napari Labels layer whose writes happen on the GUI thread.

    The session (in a worker thread) calls :meth:`write`, which only keeps the
    frame as pending; the widget calls :meth:`apply` on the GUI thread to put
    it into the layer with undo history. :meth:`read` sees pending frames, so
    a frame computed twice in one run (objects going opposite ways) merges
    correctly.

    Parameters
    ----------
    layer : napari.layers.Labels
    axes : StackAxes
        The image's axes (:class:`~.layers.StackAxes`): which one is the stack's.
    n_frames : int
    frame_shape : tuple of int
    """

    def __init__(self, layer, axes, n_frames: int, frame_shape: tuple[int, int]):
        self.layer = layer
        self.axes = axes
        self.shape = (n_frames, *frame_shape)
        self.array = layer.data
        self._pending: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def index(self, frame: int) -> tuple:
        """The layer index of one frame's (row, col) plane."""
        index: list = [slice(None)] * self.layer.ndim
        if self.axes.axis is not None:
            index[self.axes.axis] = frame
        if self.axes.channel_axis is not None and not self.axes.rgb:
            index[self.axes.channel_axis] = 0
        return tuple(index)

    def read(self, frame: int) -> np.ndarray:
        """The frame's labels: pending ones first, else the layer's."""
        with self._lock:
            if frame in self._pending:
                return self._pending[frame]
        return np.asarray(self.layer.data[self.index(frame)])

    def write(self, frame: int, labels: np.ndarray) -> None:
        """Keep a frame for :meth:`apply` (any thread)."""
        with self._lock:
            self._pending[frame] = labels

    def apply(self, frame: int, labels: np.ndarray, refresh: bool = True) -> int:
        """Write a frame into the layer, recording undo history (GUI thread only); returns the pixels changed.

        ``refresh=False`` skips redrawing the canvas and the layer thumbnail (for a frame
        not on screen: napari shows it from the data when the slider gets there).
        """
        index = self.index(frame)
        current = np.asarray(self.layer.data[index])
        rows, cols = np.nonzero(current != labels)
        if len(rows):
            full = []
            for dim in range(self.layer.ndim):
                if dim == self.axes.spatial[0]:
                    full.append(rows)
                elif dim == self.axes.spatial[1]:
                    full.append(cols)
                else:
                    full.append(np.full(len(rows), index[dim]))
            self.layer.data_setitem(tuple(full), labels[rows, cols], refresh=refresh)
        with self._lock:
            if self._pending.get(frame) is labels:
                del self._pending[frame]
        return len(rows)

    def flush(self, on_screen=lambda frame: True) -> list[int]:
        """Apply every pending frame (GUI thread); returns their indices.

        What a worker wrote but did not hand over before it stopped (a cancel
        between gap closing's relabelled frames): the layer then holds what the
        run's lineage says. ``on_screen(frame)`` chooses the frames redrawn.
        """
        with self._lock:
            pending = sorted(self._pending.items())
        for frame, labels in pending:
            self.apply(frame, labels, refresh=on_screen(frame))
        return [frame for frame, _ in pending]
