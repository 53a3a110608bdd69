"""The z work of :mod:`.volumes`: sweeping a volume from its prompts, choosing the plane to follow.

:class:`Sweeper` holds everything one z-sweep needs (the series, its axes and
intensity limits, a tracker factory) and nothing of the session, so the
sweeps of different time points can run on other threads or, through a dask
distributed ``Client``, on other workers. :func:`run_sweeps` runs a batch of
them through dask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .prompts import FramePrompt
from .session import Session
from .sink import LABEL_DTYPE
from .volume_views import PlaneSource, SeriesLimits, VolumeAt

__all__ = ["Sweeper", "SweepInput", "run_sweeps"]


@dataclass(frozen=True, eq=False)
class SweepInput:
    """One object's prompts in one volume: ``(plane, prompt)`` pairs, the anchor plane first."""

    obj_id: int
    prompts: tuple[tuple[int, FramePrompt], ...]


@dataclass
class Sweeper:
    """Runs 2D sessions over the planes of one volume of a series.

    Parameters
    ----------
    data : array-like
        The series.
    time_axis, z_axis : int
    channel_axis : int, optional
    channels : tuple of int
    limits : SeriesLimits
    make_tracker : callable
        A new :class:`~.tracker.Tracker` per sweep (trackers hold one sweep's memory).
    """

    data: Any
    time_axis: int
    z_axis: int
    channel_axis: int | None
    channels: tuple[int, ...]
    limits: SeriesLimits
    make_tracker: Callable[[], Any]

    def source(self, t: int) -> PlaneSource:
        """The planes of volume ``t`` as a stack."""
        view = VolumeAt(self.data, self.time_axis, t)
        shift = lambda d: None if d is None else d - (d > self.time_axis)  # noqa: E731
        return PlaneSource(view, shift(self.z_axis), shift(self.channel_axis), self.channels, self.limits)

    def sweep(self, t: int, inputs: Sequence[SweepInput]) -> np.ndarray:
        """The labels ``(Z, Y, X)`` of volume ``t``: each object swept through z both ways from its prompts.

        ``inputs`` lists each object's prompts, its anchor plane first.
        """
        source = self.source(t)
        if not inputs:
            return np.zeros((source.n_frames, *source.frame_shape), LABEL_DTYPE)
        session = Session(source, self.make_tracker())
        for item in inputs:
            session.add_object(item.obj_id)
            for plane, prompt in item.prompts:
                session.set_prompt(item.obj_id, plane, prompt)
        for _ in session.propagate("both"):
            pass
        return np.asarray(session.labels)

    def largest_plane(self, t: int, plane: int, mask: np.ndarray) -> int:
        """Of ``plane`` and its two neighbours in volume ``t``, where the object from ``mask`` is largest.

        A two-step z-sweep (one plane each way) prompted with the time track's
        mask; ties keep ``plane``.
        """
        source = self.source(t)
        session = Session(source, self.make_tracker())
        session.add_mask(1, plane, mask)
        areas = {plane: int(mask.sum())}
        for direction in ("forward", "backward"):
            steps = session.propagate(direction)
            result = next(steps, None)
            steps.close()
            if result is not None:
                areas[result.frame] = int(result.masks[0].sum())
        best = max(areas.values())
        return plane if areas[plane] == best else min(areas, key=lambda z: (-areas[z], abs(z - plane)))


def run_sweeps(sweeper: Sweeper, jobs: Sequence[tuple[int, Sequence[SweepInput]]], workers: int = 1,
               client=None) -> list[np.ndarray]:
    """The labels of each ``(t, inputs)`` job, computed through dask.

    Parameters
    ----------
    sweeper : Sweeper
    jobs : sequence of (int, sequence of SweepInput)
    workers : int
        Threads of dask's local threaded scheduler (1: one after the other, in this thread).
    client : dask.distributed.Client, optional
        Run on this client's workers instead.
    """
    import dask

    if client is not None:  # the sweeper (and its model) travels once to each worker, not per task
        remote = client.scatter(sweeper, broadcast=True, hash=False)
        futures = [client.submit(_sweep, remote, t, inputs, pure=False) for t, inputs in jobs]
        return list(client.gather(futures))
    tasks = [dask.delayed(sweeper.sweep, pure=False)(t, inputs) for t, inputs in jobs]
    if workers <= 1:
        return list(dask.compute(*tasks, scheduler="synchronous"))
    return list(dask.compute(*tasks, scheduler="threads", num_workers=int(workers)))


def _sweep(sweeper: Sweeper, t: int, inputs: Sequence[SweepInput]) -> np.ndarray:
    """One z-sweep on a dask worker, ``sweeper`` being a scattered copy kept there."""
    return sweeper.sweep(t, inputs)
