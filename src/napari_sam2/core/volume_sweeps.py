"""The z work of :mod:`.volumes`: sweeping a volume from its prompts, choosing the plane to follow.

:class:`Sweeper` holds everything one z-sweep needs (the series, its axes and
intensity limits, a tracker factory) and nothing of the session, so the
sweeps of different time points can run on other threads or, through a dask
distributed ``Client``, on other workers. :func:`run_sweeps` runs a batch of
them through dask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
        Run on this client's workers instead (one ``_sweep`` task per job), from
        the main process or from a task through ``distributed.worker_client``.
        The series stays here (it may be a file, which does not travel): each
        task gets its volume, read here, and the sweeper without its series,
        sent to the cluster once per call.
    """
    import dask

    if client is not None:
        return _on_client(sweeper, jobs, client)
    tasks = [dask.delayed(sweeper.sweep, pure=False)(t, inputs) for t, inputs in jobs]
    if workers <= 1:
        return list(dask.compute(*tasks, scheduler="synchronous"))
    return list(dask.compute(*tasks, scheduler="threads", num_workers=int(workers)))


def _on_client(sweeper: Sweeper, jobs: Sequence[tuple[int, Sequence[SweepInput]]],
               client) -> list[np.ndarray]:
    """:func:`run_sweeps` on a distributed client, a few volumes ahead of the cluster's threads."""
    import uuid

    import cloudpickle

    run = uuid.uuid4().hex[:8]
    sweeper.limits()  # sampled here, on the whole series, before the limits travel
    # pickled here: what cannot travel raises in this thread, not in dask's comms (where it hangs)
    blob = cloudpickle.dumps(replace(sweeper, data=None))
    shared = client.submit(_shared, blob, key=f"sweeper-{run}", pure=False)
    ahead = max(1, 2 * sum(client.nthreads().values()))
    futures, results = [], []
    try:
        for t, inputs in jobs:
            if len(futures) - len(results) >= ahead:  # volumes read here only as the cluster frees up
                results.append(futures[len(results)].result())
            futures.append(client.submit(_sweep, shared, _volume(sweeper, t), inputs,
                                         key=f"_sweep-{t}-{run}", pure=False))
        results.extend(client.gather(futures[len(results):]))
    finally:
        client.cancel([*futures, shared])
    return results


def _volume(sweeper: Sweeper, t: int) -> np.ndarray:
    """Volume ``t`` of the series read into memory, its time axis kept (of length 1)."""
    return np.expand_dims(np.asarray(VolumeAt(sweeper.data, sweeper.time_axis, t)[()]), sweeper.time_axis)


def _shared(blob: bytes) -> Sweeper:
    """The sweeper (without its series) as a task result, kept on a worker for the sweeps."""
    import pickle

    return pickle.loads(blob)


def _sweep(sweeper: Sweeper, volume: np.ndarray, inputs: Sequence[SweepInput]) -> np.ndarray:
    """One z-sweep on a dask worker: ``volume`` (from :func:`_volume`) with the shared ``sweeper``."""
    return replace(sweeper, data=volume).sweep(0, inputs)
