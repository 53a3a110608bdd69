"""Re-track one object of a label stack from a frame on, from clicks on that frame.

What the review of a track-all result runs to fix a flagged track
(``_napari/review_fix.py``): a one-object :class:`~napari_sam2.core.session.Session`
over the image (read lazily, one frame at a time), prompted with the clicks on
the chosen frame and propagated forward. The other tracks are never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError
from ..core.frames import FrameSource, check_frame
from ..core.prompts import FramePrompt, as_points, check_prompt

if TYPE_CHECKING:
    from ..core.models import LoadedModel
    from ..core.tracker import Tracker

__all__ = ["RetrackStep", "retrack_object", "fixed_frame", "LOST_AFTER"]

#: consecutive frames without the object after which re-tracking stops (the object is lost)
LOST_AFTER = 3


@dataclass(frozen=True)
class RetrackStep:
    """One frame of a re-track.

    Attributes
    ----------
    frame : int
    labels : ndarray (rows, cols)
        The frame's whole labels after the fix (see :func:`fixed_frame`).
    present : bool
        Whether the object has pixels on this frame after the fix.
    computed : bool
        False on the frames after the object was lost: not computed, its old
        pixels only cleared.
    """

    frame: int
    labels: np.ndarray
    present: bool
    computed: bool = True


def fixed_frame(old: np.ndarray, mask: np.ndarray, obj_id: int) -> np.ndarray:
    """``old`` labels with ``obj_id``'s pixels replaced by ``mask``, never over another object.

    The old pixels of ``obj_id`` become 0; ``mask`` is written only where the
    labels are then 0 (another track's pixels are never taken).
    """
    labels = np.array(old, copy=True)
    labels[labels == obj_id] = 0
    labels[np.asarray(mask, bool) & (labels == 0)] = obj_id
    return labels


def _check(source: FrameSource, labels, obj_id, frame, points, point_labels, last_frame):
    """Every check of :func:`retrack_object`, before the model is loaded; returns the prompt."""
    n_frames, frame_shape = source.n_frames, source.frame_shape
    shape = tuple(getattr(labels, "shape", ()))
    if shape != (n_frames, *frame_shape):
        raise InputError(f"the labels have shape {shape}, the image's frames need "
                         f"{(n_frames, *frame_shape)}: choose the image the labels were made from")
    if int(obj_id) != obj_id or obj_id < 1:
        raise InputError(f"object id {obj_id} is not a label: choose an id >= 1")
    frame = check_frame(frame, n_frames)
    last = n_frames - 1 if last_frame is None else int(last_frame)
    if not frame <= last < n_frames:
        raise InputError(f"last frame {last_frame} must lie between frame {frame} and {n_frames - 1}")
    points, point_labels = as_points(points, point_labels)
    if not (point_labels == 1).any():
        raise InputError(f"no positive point on frame {frame}: click inside the cell to follow")
    prompt = FramePrompt(points, point_labels)
    check_prompt(prompt, frame_shape, f"object {int(obj_id)}, frame {frame}")
    return frame, last, prompt


def retrack_object(image, labels, obj_id: int, frame: int, points, point_labels=None,
                   model: str | LoadedModel | Tracker | Callable = "demo", *, axis: int = 0,
                   channel_axis: int | None = None, channels=None, last_frame: int | None = None,
                   lost_after: int = LOST_AFTER, device: str = "auto") -> Iterator[RetrackStep]:
    """Re-track object ``obj_id`` from ``frame`` on, prompted by clicks on ``frame``.

    Everything is checked when this is called, before the model is loaded;
    the returned generator then computes one frame per step. It writes
    nothing: each :class:`RetrackStep` carries the frame's new labels, for the
    caller to write.

    Parameters
    ----------
    image : array-like
        The stack (numpy, dask, zarr), read one frame at a time
        (:class:`~napari_sam2.core.frames.FrameSource`).
    labels : array-like
        The label stack ``(frame, row, col)``, read one frame at a time (numpy, zarr).
    obj_id : int
        The label to re-track (it need not be present on ``frame``).
    frame : int
        The frame of the clicks: the first frame re-tracked.
    points : array-like (N, 2)
        ``(row, col)`` clicks on ``frame``; at least one positive.
    point_labels : array-like (N,), optional
        1 positive, 0 negative; default all positive.
    model : str, LoadedModel, Tracker or callable
        A model name or folder (see :func:`~napari_sam2.core.models.load_model`),
        a loaded model, a tracker (a test double), or a function returning a
        loaded model, called when the first frame is computed (a model loaded
        in a worker thread, only once the input is known to be good).
    axis, channel_axis, channels
        See :class:`~napari_sam2.core.frames.FrameSource`.
    last_frame : int, optional
        The last frame to re-track (default the stack's last): a track that
        divides stops at its recorded end, its daughters untouched.
    lost_after : int
        Once the object has been absent on this many consecutive frames, it
        is lost: the model stops, and on the remaining frames up to
        ``last_frame`` its old pixels are only cleared (``computed=False``).
    device : str
        See :func:`~napari_sam2.core.models.load_model`.

    Returns
    -------
    iterator of RetrackStep
        One per frame from ``frame`` to ``last_frame``. On each, the old pixels
        of ``obj_id`` become 0 and the new mask is written only where the
        labels are 0 (:func:`fixed_frame`): another object's pixels never
        change. Frames before ``frame`` are not touched.

    Raises
    ------
    InputError
        Frame or last frame out of range, no positive point, a point outside
        the image, labels that do not fit the image.
    """
    source = FrameSource(image, axis, channel_axis, channels)
    frame, last, prompt = _check(source, labels, obj_id, frame, points, point_labels, last_frame)
    if lost_after < 1:
        raise InputError(f"lost_after={lost_after}: give at least 1 frame")
    return _steps(source, labels, int(obj_id), frame, last, prompt, model, int(lost_after), device)


def _tracker(model, device):
    if callable(model) and not hasattr(model, "step"):
        model = model()  # a loader: the model (or a tracker) is made now, in the caller's thread
    if hasattr(model, "step") and hasattr(model, "attach"):
        return model
    from ..core.models import load_model
    from ..core.tracker import TransformersTracker

    return TransformersTracker(load_model(model, device))


def _steps(source, labels, obj_id, frame, last, prompt, model, lost_after, device):
    from ..core.session import Session
    from ..core.volume_views import DiscardSink  # the one-object session's labels are only its mask

    session = Session(source, _tracker(model, device), DiscardSink(source.n_frames, source.frame_shape))
    results = [session.set_prompt(obj_id, frame, prompt)]
    propagation = session.propagate("forward") if last > frame else iter(())
    absent, t = 0, frame
    try:
        for result in _chain(results, propagation):
            t = result.frame
            step = _step(labels, obj_id, t, result.masks[0])
            yield step
            absent = 0 if result.masks[0].any() else absent + 1
            if t >= last or absent >= lost_after:
                break
    finally:
        propagation.close()
    for rest in range(t + 1, last + 1):  # the object is lost: its old pixels go
        yield _step(labels, obj_id, rest, None)


def _chain(first, rest):
    yield from first
    yield from rest


def _step(labels, obj_id, frame, mask) -> RetrackStep:
    old = np.asarray(labels[frame])
    new = fixed_frame(old, np.zeros(old.shape, bool) if mask is None else mask, obj_id)
    return RetrackStep(frame, new, bool((new == obj_id).any()), mask is not None)
