"""The Python API: prompt objects on any frame, get masks at once, propagate.

Propagation rules (see ``docs/engine.md``):

* Each object has an *anchor*, its first prompted frame. Frames after the
  anchor are computed by forward propagation from it, frames before by
  backward propagation. Later prompts ("corrections") become conditioning
  frames that the propagation passes through.
* A prompt on frame ``k`` changes frame ``k`` at once. After the anchor it
  invalidates only the forward results after ``k``; before the anchor only the
  backward results before ``k``. The next :meth:`Session.propagate` resumes
  from there and leaves every other frame as it is.
* Where the model says an object is absent (presence logit <= 0), its mask is
  empty.
* Overlaps: among the objects computed together on a frame, the higher mask
  logit wins each pixel. Labels of objects not being recomputed on that frame
  (and labels painted by other means) are kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .frames import FrameSource, check_frame
from .geometry import FrameGeometry
from .models.registry import AUTO
from .prompts import FramePrompt, PromptWarning, as_box, as_points, check_prompt, excluded_points
from .records import (
    DIRECTIONS,
    Direction,
    FrameResult,
    TrackedObject,
    check_direction,
    check_object_id,
    highest_positive,
)
from .sink import LABEL_DTYPE, LabelSink
from .tracker import ObjectStep, Tracker, TrackOutput

if TYPE_CHECKING:
    from .models import LoadedModel

__all__ = ["Session", "FrameResult", "TrackedObject", "DIRECTIONS", "check_direction", "check_object_id"]

class Session:
    """Interactive and batch SAM2 segmentation of one stack.

    Parameters
    ----------
    source : FrameSource
        The stack, read lazily.
    tracker : Tracker
        The model adapter (:class:`~.tracker.TransformersTracker`).
    sink : LabelSink, optional
        Where labels go; default an in-memory numpy array.

    Examples
    --------
    >>> session = Session.from_array(stack, axis=0)  # doctest: +SKIP
    >>> result = session.add_points(1, frame=0, points=[[120, 88]], labels=[1])  # doctest: +SKIP
    >>> for result in session.propagate():  # doctest: +SKIP
    ...     print(result.frame, result.scores)
    """

    def __init__(self, source: FrameSource, tracker: Tracker, sink: LabelSink | None = None):
        self.source = source
        self.tracker = tracker
        self.geometry = FrameGeometry(source.frame_shape, tracker.image_size)
        self.sink = sink or LabelSink.in_memory(source.n_frames, source.frame_shape)
        expected = (source.n_frames, *source.frame_shape)
        if self.sink.shape != expected:
            raise InputError(f"label output has shape {self.sink.shape}, the stack needs {expected}")
        self.objects: dict[int, TrackedObject] = {}
        tracker.attach(source)

    @classmethod
    def from_array(cls, data, axis: int | str | None = None, channel_axis: int | str | None = None,
                   channels=None, model: str | LoadedModel = AUTO, device: str = "auto",
                   sink: LabelSink | None = None, normalization=None, memory=None,
                   axes=None, window=None) -> Session:
        """Build a session from an array and a model name, folder or loaded model.

        Parameters
        ----------
        data : array-like
            numpy, dask or zarr stack.
        axis, channel_axis, channels, normalization
            See :class:`~.frames.FrameSource` (default axis 0); with ``axes``,
            letters too, and the defaults come from ``axes``.
        axes : str or Axes, optional
            The axes of ``data`` (``"TYX"``, ``"ZCYX"``, ``"YXS"``...): T, else Z,
            is propagated and C (or S) is the channel axis. Volumes over time
            (T and Z both longer than 1) are not a session of 2D frames: choose
            one time point or plane first (:func:`~.stack_view.select_axes`).
        model : str or LoadedModel
            ``"auto"`` (the default of every entry point: see
            :func:`~.models.choose_model`), a registry name, a ``save_pretrained``
            folder, or an already loaded model.
        device : str
            ``"auto"``, ``"cpu"``, ``"cuda"``...
        sink : LabelSink, optional
            Label output.
        memory : str, optional
            Memory policy (:data:`~.memory_policies.MEMORY_POLICIES`; ``"sam2"``:
            SAM2's own); default :data:`~.memory_policies.DEFAULT_MEMORY`.
        window : WindowParams, optional
            Track each object on a window of the feature map around it
            (:mod:`.windowed_tracking`); default the whole map.
        """
        from .models import LoadedModel, load_model
        from .tracker import TransformersTracker

        if axes is not None:
            from .stack_view import stack_axes

            data, resolved = stack_axes(data, axes, axis, channel_axis)
            if resolved.volumes:
                raise InputError(f"{resolved.describe(option='axes=')}: a session follows 2D "
                                 "frames; select one time point or plane (select_axes), or run "
                                 "workflows.volumes on the volumes")
            axis, channel_axis = resolved.axis, resolved.channel_axis
        elif axis is None:
            axis = 0
        source = FrameSource(data, axis, channel_axis, channels, normalization)
        loaded = model if isinstance(model, LoadedModel) else load_model(model, device)
        return cls(source, TransformersTracker(loaded, memory=memory, window=window), sink)

    @property
    def labels(self):
        """The label stack ``(frame, row, col)`` (numpy or zarr)."""
        return self.sink.array

    # ----------------------------------------------------------------- objects
    def add_object(self, obj_id: int | None = None, name: str = "") -> int:
        """Register an object; returns its id (next free id when not given)."""
        if obj_id is None:
            obj_id = max(self.objects, default=0) + 1
        obj_id = check_object_id(obj_id)
        if obj_id in self.objects:
            if name:
                self.objects[obj_id].name = name
        else:
            self.objects[obj_id] = TrackedObject(obj_id, name)
        return obj_id

    def remove_object(self, obj_id: int) -> None:
        """Forget an object and its prompts (its labels stay until overwritten).

        A running :meth:`propagate` stops computing and writing it from the
        next frame on (a frame being computed at that moment is not written for it).
        """
        if self.objects.pop(int(obj_id), None) is not None:
            self.tracker.forget_object(int(obj_id))

    def prefetch(self, frame: int) -> None:
        """Encode ``frame`` ahead of a click, so that the click is answered at once."""
        self.tracker.encode(check_frame(frame, self.source.n_frames))

    # ----------------------------------------------------------------- prompts
    def add_points(self, obj_id: int, frame: int, points, labels=None,
                   replace: bool = False) -> FrameResult:
        """Add positive/negative points on a frame and return that frame's masks.

        Parameters
        ----------
        obj_id : int
            Object id (created if new).
        frame : int
            Frame index.
        points : array-like (N, 2)
            ``(row, col)`` pixel coordinates.
        labels : array-like (N,), optional
            1 positive, 0 negative; default all positive.
        replace : bool
            Replace the object's earlier points on this frame instead of adding.
        """
        points, labels = as_points(points, labels)
        old = self._existing_prompt(obj_id, frame)
        base = FramePrompt(box=old.box) if replace else old
        return self._prompt(obj_id, frame, base.with_points(points, labels))

    def add_box(self, obj_id: int, frame: int, box) -> FrameResult:
        """Set the object's box ``(row_min, col_min, row_max, col_max)`` on a frame.

        Points already given on that frame stay: SAM2 takes the box and the points together.
        """
        return self._prompt(obj_id, frame, self._existing_prompt(obj_id, frame).with_box(as_box(box)))

    def add_mask(self, obj_id: int, frame: int, mask) -> FrameResult:
        """Use a mask (frame-sized, nonzero = object) as the object's prompt on a frame."""
        return self._prompt(obj_id, frame, FramePrompt(mask=np.asarray(mask) != 0))

    def set_prompt(self, obj_id: int, frame: int, prompt: FramePrompt) -> FrameResult:
        """Replace the object's whole prompt on a frame (points and box, or a mask)."""
        return self._prompt(obj_id, frame, prompt)

    def remove_prompt(self, obj_id: int, frame: int) -> None:
        """Remove the object's prompt on a frame; results it influenced are marked not done.

        Removing the anchor (first prompt) restarts the object from its other prompts.
        """
        obj = self.objects.get(int(obj_id))
        if obj is None or frame not in obj.prompts:
            return
        if frame == obj.anchor:
            kept = sorted((f, p) for f, p in obj.prompts.items() if f != frame)
            self.remove_object(obj.obj_id)
            self.add_object(obj.obj_id, obj.name)
            for other, prompt in kept:
                self._prompt(obj.obj_id, other, prompt)
            return
        del obj.prompts[frame]
        self._invalidate(obj, frame)
        self.tracker.forget(obj.obj_id, [frame])
        if frame > obj.anchor:
            obj.forward_done = min(obj.forward_done, frame - 1)
        else:
            obj.backward_done = max(obj.backward_done, frame + 1)

    def _existing_prompt(self, obj_id: int, frame: int) -> FramePrompt:
        obj = self.objects.get(int(obj_id))
        prompt = obj.prompts.get(frame) if obj else None
        return FramePrompt() if prompt is None or prompt.mask is not None else prompt

    def _prompt(self, obj_id: int, frame: int, prompt: FramePrompt) -> FrameResult:
        frame = check_frame(frame, self.source.n_frames)
        check_prompt(prompt, self.source.frame_shape, f"object {obj_id}, frame {frame}")
        obj = self.objects[self.add_object(obj_id)]
        tracked_here = (
            obj.anchor is not None and frame != obj.anchor
            and obj.backward_done <= frame <= obj.forward_done
        )
        step = ObjectStep(obj.obj_id, self.geometry.prompt_to_model(prompt), tracked_here)
        reverse = obj.anchor is not None and frame < obj.anchor
        output = self.tracker.step(frame, [step], reverse)
        earlier, obj.prompts[frame] = obj.prompts.get(frame), prompt
        self._invalidate(obj, frame)
        result = self._store(frame, [obj], output)
        for row, col in excluded_points(prompt, result.masks[0], earlier):  # the model overruled a click
            other = int(result.labels[row, col])
            why = (f" (the pixel belongs to object {other})" if other else
                   "" if result.masks[0].any() else " (the mask is empty)")
            warnings.warn(f"object {obj.obj_id}, frame {frame}: the mask excludes the positive point at row "
                          f"{row}, col {col}{why}; add a point or a box to correct it", PromptWarning,
                          stacklevel=3)
        return result

    def _invalidate(self, obj: TrackedObject, frame: int) -> None:
        """Mark results that a new prompt on ``frame`` can change as not done."""
        if obj.anchor is None:
            obj.anchor = obj.forward_done = obj.backward_done = frame
            return
        stale: list[int] = []
        if frame >= obj.anchor and frame < obj.forward_done:
            stale += range(frame + 1, obj.forward_done + 1)
            obj.forward_done = frame
        if frame <= obj.anchor and frame > obj.backward_done:
            stale += range(obj.backward_done, frame)
            obj.backward_done = frame
        self.tracker.forget(obj.obj_id, [f for f in stale if f not in obj.prompts])

    # ------------------------------------------------------------- propagation
    def propagate(self, direction: Direction = "both") -> Iterator[FrameResult]:
        """Propagate all prompted objects through the stack, one frame per yield.

        Starts where each object's valid results end (its prompted frames at
        first) and covers the whole stack in the chosen direction(s): forward
        first, then backward. Closing the generator between frames leaves a
        consistent state; the next call resumes where it stopped.

        Parameters
        ----------
        direction : {"both", "forward", "backward"}

        Yields
        ------
        FrameResult
            One per computed frame, written to the sink before it is yielded.
        """
        check_direction(direction)
        active = self._prompted_objects()
        if direction in ("forward", "both"):
            yield from self._run(active, reverse=False)
        if direction in ("backward", "both"):
            yield from self._run(active, reverse=True)

    def stop(self, obj_id: int, direction: Direction = "both") -> None:
        """End ``obj_id``'s propagation in ``direction`` where it is (a lost or divided track).

        :meth:`propagate` no longer computes it that way; its labels and prompts stay.
        """
        obj = self.objects[int(obj_id)]
        if direction in ("forward", "both"):
            obj.forward_done = self.source.n_frames - 1
        if direction in ("backward", "both"):
            obj.backward_done = 0

    def pending_frames(self, direction: Direction = "both") -> int:
        """How many frames :meth:`propagate` would compute (for progress bars)."""
        objs = [o for o in self.objects.values() if o.anchor is not None]
        count = 0
        if objs and direction in ("forward", "both"):
            count += self.source.n_frames - 1 - min(o.forward_done for o in objs)
        if objs and direction in ("backward", "both"):
            count += max(o.backward_done for o in objs)
        return count

    def _prompted_objects(self) -> list[TrackedObject]:
        unprompted = [o.obj_id for o in self.objects.values() if o.anchor is None]
        if unprompted:
            warnings.warn(
                f"object(s) {unprompted} have no prompts and are not propagated; "
                "add a point, box or mask first",
                stacklevel=3,
            )
        active = [o for o in self.objects.values() if o.anchor is not None]
        if not active:
            raise InputError("nothing to propagate: add a point, box or mask to an object first")
        return active

    def _run(self, objects: list[TrackedObject], reverse: bool) -> Iterator[FrameResult]:
        if reverse:
            start = max(o.backward_done for o in objects) - 1
            frames = range(start, -1, -1)
        else:
            start = min(o.forward_done for o in objects) + 1
            frames = range(start, self.source.n_frames)
        for frame in frames:
            objects = [o for o in objects if self._alive(o)]  # removed meanwhile: stop here
            if not objects:
                return
            edge = frame + 1 if reverse else frame - 1
            movers = [o for o in objects if (o.backward_done if reverse else o.forward_done) == edge]
            computed = [o for o in movers if frame not in o.prompts]
            result = None
            if computed:
                output = self.tracker.step(frame, [ObjectStep(o.obj_id) for o in computed], reverse)
                kept = [i for i, o in enumerate(computed) if self._alive(o)]  # removed mid-step
                if len(kept) < len(computed):
                    computed = [computed[i] for i in kept]
                    output = TrackOutput(output.logits[kept], output.presence[kept], output.ious[kept])
                result = self._store(frame, computed, output) if computed else None
            for obj in movers:
                if reverse:
                    obj.backward_done = frame
                else:
                    obj.forward_done = frame
            if result is not None:
                yield result

    def _alive(self, obj: TrackedObject) -> bool:
        """Whether ``obj`` is still the session's object of its id (not removed, not replaced)."""
        return self.objects.get(obj.obj_id) is obj

    # ----------------------------------------------------------------- output
    def _store(self, frame: int, objects: list[TrackedObject], output) -> FrameResult:
        """Apply presence and overlap rules, merge into the frame's labels, write."""
        ids = np.array([o.obj_id for o in objects], LABEL_DTYPE)
        logits = self.geometry.logits_to_frame(output.logits)
        winner = highest_positive(logits, output.presence > 0)
        labels = self.sink.read(frame).copy()
        labels[np.isin(labels, ids)] = 0
        paint = (winner >= 0) & (labels == 0)
        labels[paint] = ids[winner[paint]]
        self.sink.write(frame, labels)
        scores = 1.0 / (1.0 + np.exp(-output.presence.astype(np.float64)))
        for obj, score in zip(objects, scores, strict=True):
            obj.presence[frame] = float(score)
        masks = labels[None] == ids[:, None, None]
        return FrameResult(frame, tuple(int(i) for i in ids), masks, scores.astype(np.float32), labels,
                           np.asarray(output.ious, np.float32))
