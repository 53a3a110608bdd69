"""Segment and track objects through a time-lapse of volumes (T, Z, Y, X) with a 2D video model.

How SAM2's memory walks the two axes (see ``docs/volumes.md`` for the measurements):

1. **Time track.** Each object is followed through time on one plane per time
   point: an ordinary 2D :class:`~.session.Session` over a stack whose frame
   ``t`` is plane ``z_t`` of volume ``t``. ``z_t`` is re-chosen at every time
   point (``follow="largest"``): after the track's mask at ``t``, a two-step
   z-sweep of volume ``t`` from that mask (one plane up, one down) finds where
   the object is largest, and ``t + 1`` is read on that plane. A prompt at
   ``(t, z)`` fixes ``z_t = z``. ``follow="fixed"`` keeps the prompted plane.
2. **z-sweeps.** At every time point, each object is swept through the planes
   of that volume in both directions from its time-track mask (a mask prompt
   on ``z_t``) and from any prompt given on that volume, all objects in one 2D
   session (one id per object, the overlap rules of a session). Once the time
   track is known the sweeps of different time points are independent: they
   run in parallel through dask (:func:`~.volume_sweeps.run_sweeps`).

Corrections redo only what they can change. A prompt on ``(t, z)``:

* is the object's *time-track prompt* at ``t`` when its prompt at ``t`` is on
  plane ``z``, or it has no prompt at ``t`` and either the track has not
  reached ``t``, or it reads ``t`` on plane ``z``, or it lost the object at
  ``t`` (a click where the object was lost fixes the track). It changes the track at
  ``t`` at once, invalidates the track after ``t`` (before ``t`` when ``t`` is
  before the object's first prompted time point), exactly as in a 2D session,
  and the volumes of ``t`` and of every time point whose track it invalidated;
* otherwise it is a *z prompt*: it invalidates the volume of ``t`` only.

Either way the z-sweep of ``t`` is redone at once (the prompt's answer is the
whole volume ``t``), and :meth:`VolumeSession.propagate` redoes the rest. A
volume is always swept for all its objects together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError
from .frames import Normalization, check_frame
from .prompts import FramePrompt, as_box, as_points, check_prompt
from .records import check_direction, check_object_id
from .session import Session
from .sink import LABEL_DTYPE
from .volume_sweeps import Sweeper, SweepInput, run_sweeps
from .volume_views import DiscardSink, PlaneSource, SeriesLimits, TrackPlanes

__all__ = ["VolumeSession", "VolumeResult", "TrackStep", "FOLLOW"]

#: how the time track chooses its plane at each time point
FOLLOW = ("largest", "fixed")


@dataclass(frozen=True, eq=False)
class TrackStep:
    """One time point of one object's time track: the plane it was read on and the presence score."""

    time: int
    obj_id: int
    plane: int
    score: float


@dataclass(frozen=True, eq=False)
class VolumeResult:
    """The labels ``(Z, Y, X)`` of one time point, written to the session's labels."""

    time: int
    object_ids: tuple[int, ...]
    labels: np.ndarray


@dataclass
class _ObjectTrack:
    """One object: its time-track session, planes, prompts and track masks."""

    obj_id: int
    name: str
    session: Session
    planes: dict[int, int]  # t -> plane the track reads at t
    track_plane: dict[int, int] = field(default_factory=dict)  # t -> plane of the prompt at t
    prompts: dict[tuple[int, int], FramePrompt] = field(default_factory=dict)  # (t, z) -> prompt
    masks: dict[int, tuple[int, tuple[slice, slice], np.ndarray]] = field(default_factory=dict)


class VolumeSession:
    """SAM2 on a series of volumes: prompts on any ``(t, z)``, one id per object across t and z.

    Parameters
    ----------
    data : array-like
        numpy, dask or zarr, 4D (5D with a channel axis); read lazily, one
        plane at a time.
    time_axis, z_axis : int
        The axes of time and z in ``data``.
    make_tracker : callable
        Returns a new :class:`~.tracker.Tracker` (one per 2D session).
    channel_axis : int, optional
    channels : sequence of int, optional
        See :class:`~.frames.FrameSource`.
    labels : array-like, optional
        Where the labels go, shape ``(T, Z, Y, X)`` uint16 (a zarr array or a
        memmap keeps RAM to a volume); default an in-memory numpy array.
    normalization : Normalization, optional
        Intensity limits, computed once for the whole series.
    follow : {"largest", "fixed"}
        How the time track chooses its plane (see the module's docstring).
    """

    def __init__(self, data, time_axis: int, z_axis: int, make_tracker: Callable[[], Any],
                 channel_axis: int | None = None, channels=None, labels=None,
                 normalization: Normalization | None = None, follow: str = "largest"):
        ndim = getattr(data, "ndim", None)
        if ndim != (4 if channel_axis is None else 5):
            raise InputError(f"a series of volumes is 4D (T, Z, Y, X) or 5D with a channel axis; got "
                             f"shape {tuple(getattr(data, 'shape', ()))}")
        time_axis, z_axis = time_axis % ndim, z_axis % ndim
        if time_axis == z_axis or channel_axis is not None and channel_axis % ndim in (time_axis, z_axis):
            raise InputError("the time, z and channel axes must differ")
        if follow not in FOLLOW:
            raise InputError(f"follow must be one of {', '.join(FOLLOW)}, not {follow!r}")
        channel_axis = None if channel_axis is None else channel_axis % ndim
        channels = tuple(channels) if channels is not None else (0,)
        limits = SeriesLimits(data, time_axis, z_axis, channel_axis, channels,
                              normalization or Normalization())
        self.sweeper = Sweeper(data, time_axis, z_axis, channel_axis, channels, limits, make_tracker)
        probe = self.sweeper.source(0)  # checks channels; the volumes' shape
        self.n_times, self.n_planes = int(data.shape[time_axis]), probe.n_frames
        self.plane_shape = probe.frame_shape
        shape = (self.n_times, self.n_planes, *self.plane_shape)
        self.labels = labels if labels is not None else np.zeros(shape, LABEL_DTYPE)
        if tuple(self.labels.shape) != shape:
            raise InputError(f"label output has shape {tuple(self.labels.shape)}, the series needs {shape}")
        self.follow = follow
        self.objects: dict[int, _ObjectTrack] = {}
        self.done: set[int] = set()  # time points whose volume is up to date

    @classmethod
    def from_array(cls, data, axes: str = "TZYX", channels=None, model="auto", device: str = "auto",
                   labels=None, memory=None, feature_cache=None, follow: str = "largest") -> VolumeSession:
        """A session from an array, its axis letters (``"TZYX"``, ``"TCZYX"``...) and a model.

        ``feature_cache`` (a :class:`~.feature_cache.FeatureCache`) is shared by
        every 2D session, so a plane is encoded once.
        """
        from .feature_cache import FeatureCache
        from .models import LoadedModel, load_model
        from .tracker import TransformersTracker

        axes = axes.upper()
        if len(axes) != data.ndim or not {"T", "Z"} <= set(axes):
            raise InputError(f"axes {axes!r} must name the {data.ndim} axes of the data and include T and Z")
        loaded = model if isinstance(model, LoadedModel) else load_model(model, device)
        cache = feature_cache if feature_cache is not None else FeatureCache()
        return cls(data, axes.index("T"), axes.index("Z"),
                   lambda: TransformersTracker(loaded, feature_cache=cache, memory=memory),
                   axes.index("C") if "C" in axes else None, channels, labels, follow=follow)

    # ----------------------------------------------------------------- prompts
    def add_object(self, obj_id: int | None = None, name: str = "") -> int:
        """Register an object; returns its id (next free id when not given)."""
        obj_id = check_object_id(max(self.objects, default=0) + 1 if obj_id is None else obj_id)
        if obj_id not in self.objects:
            sweeper = self.sweeper
            planes: dict[int, int] = {}
            view = TrackPlanes(sweeper.data, sweeper.time_axis, sweeper.z_axis, planes, 0)
            shift = None if sweeper.channel_axis is None else sweeper.channel_axis - (
                sweeper.channel_axis > sweeper.z_axis)
            source = PlaneSource(view, view._time_in_view, shift, sweeper.channels, sweeper.limits)
            session = Session(source, sweeper.make_tracker(), DiscardSink(self.n_times, self.plane_shape))
            session.add_object(obj_id)
            self.objects[obj_id] = _ObjectTrack(obj_id, name, session, planes)
        elif name:
            self.objects[obj_id].name = name
        return obj_id

    def add_points(self, obj_id: int, time: int, plane: int, points, labels=None) -> VolumeResult:
        """Add positive/negative ``(row, col)`` points on ``(time, plane)``; returns volume ``time``."""
        points, labels = as_points(points, labels)
        old = self._existing(obj_id, time, plane)
        return self.set_prompt(obj_id, time, plane, old.with_points(points, labels))

    def add_box(self, obj_id: int, time: int, plane: int, box) -> VolumeResult:
        """Set the object's box ``(row_min, col_min, row_max, col_max)`` on ``(time, plane)``."""
        return self.set_prompt(obj_id, time, plane, self._existing(obj_id, time, plane).with_box(as_box(box)))

    def add_mask(self, obj_id: int, time: int, plane: int, mask) -> VolumeResult:
        """Use a plane-sized mask (nonzero = object) as the object's prompt on ``(time, plane)``."""
        return self.set_prompt(obj_id, time, plane, FramePrompt(mask=np.asarray(mask) != 0))

    def _existing(self, obj_id: int, time: int, plane: int) -> FramePrompt:
        track = self.objects.get(int(obj_id))
        prompt = track.prompts.get((int(time), int(plane))) if track else None
        return FramePrompt() if prompt is None or prompt.mask is not None else prompt

    def set_prompt(self, obj_id: int, time: int, plane: int, prompt: FramePrompt,
                   sweep: bool = True) -> VolumeResult | None:
        """Replace the object's prompt on ``(time, plane)``; returns volume ``time``, swept again.

        ``sweep=False`` leaves the sweep of ``time`` to :meth:`propagate` (e.g.
        several objects prompted on one volume) and returns None.
        """
        t, z = check_frame(time, self.n_times), check_frame(plane, self.n_planes)
        check_prompt(prompt, self.plane_shape, f"object {obj_id}, time {t}, plane {z}")
        track = self.objects[self.add_object(obj_id)]
        track.prompts[t, z] = prompt
        if self._is_track_prompt(track, t, z):
            before = self._covered(track)
            track.track_plane[t] = track.planes[t] = z
            result = track.session.set_prompt(track.obj_id, t, prompt)
            stale = (before - self._covered(track)) | {t}
            for other in stale:
                track.masks.pop(other, None)
            self._keep_mask(track, t, result.masks[0])
            self.done -= stale
        self.done.discard(t)
        return self._write(t, self.sweeper.sweep(t, self._sweep_inputs(t))) if sweep else None

    def _is_track_prompt(self, track: _ObjectTrack, t: int, z: int) -> bool:
        if t in track.track_plane:
            return track.track_plane[t] == z
        return t not in self._covered(track) or track.planes.get(t) == z or t not in track.masks

    @staticmethod
    def _covered(track: _ObjectTrack) -> set[int]:
        obj = track.session.objects[track.obj_id]
        return set() if obj.anchor is None else set(range(obj.backward_done, obj.forward_done + 1))

    def _keep_mask(self, track: _ObjectTrack, t: int, mask: np.ndarray) -> None:
        """Keep the track's mask at ``t`` as a crop (none when the object is absent there)."""
        track.masks.pop(t, None)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows):
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            track.masks[t] = (track.planes.get(t, 0), box, mask[box].copy())

    def track_mask(self, obj_id: int, time: int) -> tuple[int, np.ndarray] | None:
        """The object's time-track ``(plane, mask)`` at ``time`` (None: absent or not tracked yet)."""
        kept = self.objects[int(obj_id)].masks.get(int(time))
        if kept is None:
            return None
        plane, box, crop = kept
        mask = np.zeros(self.plane_shape, bool)
        mask[box] = crop
        return plane, mask

    def _sweep_inputs(self, t: int) -> list[SweepInput]:
        """Every object's prompts in volume ``t``, its time-track mask first.

        The track's mask stands for a prompt on the track's plane (a correction
        there was answered with the track's memory); without a mask (absent
        object) the prompt on the track's plane comes first.
        """
        inputs = []
        for track in self.objects.values():
            given = sorted((z, p) for (tt, z), p in track.prompts.items() if tt == t)
            kept = self.track_mask(track.obj_id, t)
            if kept is not None:
                given = [(kept[0], FramePrompt(mask=kept[1])), *(g for g in given if g[0] != kept[0])]
            elif t in track.track_plane:
                first = track.track_plane[t]
                given = sorted(given, key=lambda item: item[0] != first)
            if given:
                inputs.append(SweepInput(track.obj_id, tuple(given)))
        return inputs

    def _write(self, t: int, labels: np.ndarray) -> VolumeResult:
        self.labels[t] = labels
        flush = getattr(self.labels, "flush", None)
        if flush is not None:
            flush()
        self.done.add(t)
        ids = tuple(int(i) for i in np.unique(labels) if i)
        return VolumeResult(t, ids, labels)

    # ------------------------------------------------------------- propagation
    def propagate(self, direction: str = "both", workers: int = 1, client=None,
                  skip: Callable[[int], bool] | None = None) -> Iterator[TrackStep | VolumeResult]:
        """Track every prompted object through time, then sweep every volume not up to date.

        Closing the generator between steps leaves a consistent state; the
        next call continues.

        Parameters
        ----------
        direction : {"both", "forward", "backward"}
            Of the time track.
        workers : int
            z-sweeps run at once (dask's threaded scheduler).
        client : dask.distributed.Client, optional
            Run the z-sweeps on this client's workers.
        skip : callable, optional
            ``skip(t)`` True: volume ``t`` is already written (a resumed run); not swept.

        Yields
        ------
        TrackStep
            One per object and time point of the time track.
        VolumeResult
            One per volume swept, written before it is yielded.
        """
        check_direction(direction)
        tracks = [t for t in self.objects.values() if t.track_plane]
        if not tracks:
            raise InputError("nothing to propagate: add a point, box or mask to an object first")
        for track in tracks:
            for way in ("forward", "backward") if direction == "both" else (direction,):
                yield from self._track(track, way)
        todo = [t for t in range(self.n_times) if t not in self.done and not (skip and skip(t))]
        batch = max(1, int(workers)) if client is None else max(1, len(todo))
        for start in range(0, len(todo), batch):
            times = todo[start:start + batch]
            jobs = [(t, self._sweep_inputs(t)) for t in times]
            for t, labels in zip(times, run_sweeps(self.sweeper, jobs, workers, client), strict=True):
                yield self._write(t, labels)

    def pending(self, direction: str = "both") -> tuple[int, int]:
        """``(time-track steps, volumes)`` :meth:`propagate` would compute at most (for progress bars)."""
        steps = 0
        for track in self.objects.values():
            obj = track.session.objects.get(track.obj_id)
            if obj is not None and obj.anchor is not None:
                steps += track.session.pending_frames(direction)
        return steps, self.n_times - len(self.done)

    def _track(self, track: _ObjectTrack, way: str) -> Iterator[TrackStep]:
        obj = track.session.objects[track.obj_id]
        step = 1 if way == "forward" else -1
        self._choose_from((obj.forward_done if step > 0 else obj.backward_done), step, track)
        for result in track.session.propagate(way):
            t = result.frame
            self._keep_mask(track, t, result.masks[0])
            self.done.discard(t)
            self._choose_from(t, step, track)
            yield TrackStep(t, track.obj_id, track.planes.get(t, 0), float(result.scores[0]))

    def _choose_from(self, t: int, step: int, track: _ObjectTrack) -> None:
        """Choose the plane of the next unprompted time point after ``t`` from the mask at ``t``."""
        nxt = t + step
        while nxt in track.track_plane:  # prompted time points have their plane; chain through them
            t, nxt = nxt, nxt + step
        if not 0 <= nxt < self.n_times:
            return
        kept = self.track_mask(track.obj_id, t)
        plane = track.planes.get(t, 0)
        if kept is not None and self.follow == "largest":
            plane = self.sweeper.largest_plane(t, kept[0], kept[1])
        track.planes[nxt] = plane

    # ---------------------------------------------------------- saved tracks
    def track_state(self) -> dict[str, np.ndarray]:
        """The finished time track as arrays (for :func:`numpy.savez`): planes, masks, covered range."""
        state = {}
        for k, track in self.objects.items():
            obj = track.session.objects[k]
            if obj.anchor is None:
                continue
            rows = [(t, p, b[0].start, b[0].stop, b[1].start, b[1].stop) for t, (p, b, _) in
                    sorted(track.masks.items())]
            state[f"{k}/masks"] = np.array(rows, np.int64).reshape(-1, 6)
            state[f"{k}/bits"] = np.concatenate([c.ravel() for _, (_, _, c) in sorted(track.masks.items())]
                                                or [np.zeros(0, bool)])
            state[f"{k}/planes"] = np.array(sorted(track.planes.items()), np.int64).reshape(-1, 2)
            state[f"{k}/range"] = np.array([obj.backward_done, obj.forward_done], np.int64)
        return state

    def restore_track(self, state) -> None:
        """Take a time track of :meth:`track_state` as done (after the same prompts were set again).

        :meth:`propagate` then sweeps the volumes without tracking again; the
        model's memory is not restored, so only a finished track is worth saving.
        """
        for k, track in self.objects.items():
            if f"{k}/range" not in state:
                continue
            bits, at = np.asarray(state[f"{k}/bits"]), 0
            track.masks.clear()
            for t, p, r0, r1, c0, c1 in np.asarray(state[f"{k}/masks"]).tolist():
                n = (r1 - r0) * (c1 - c0)
                crop = bits[at:at + n].reshape(r1 - r0, c1 - c0)
                track.masks[t] = (p, (slice(r0, r1), slice(c0, c1)), crop)
                at += n
            track.planes.update({int(t): int(p) for t, p in np.asarray(state[f"{k}/planes"]).tolist()})
            obj = track.session.objects[k]
            obj.backward_done, obj.forward_done = (int(v) for v in state[f"{k}/range"])
