"""Segment and track a series of volumes (3D+t) from a prompts file into a (T, Z, Y, X) label file.

What ``napari-sam2 segment IMAGE --axes TZYX`` runs (see :mod:`napari_sam2.core.volumes`).
Same safety as :func:`~.segment.segment_file`: everything checked before the
model loads, an existing output replaced only with ``overwrite`` and only
when the run succeeded (written beside it, swapped in at the end), one job
per output (a lock). The labels are written a volume at a time.

Resume is per time point: the run folder ``OUT.sam2-run/`` holds
``volumes.json`` (the parameters and the finished time points) and, once the
time track is complete, ``track.npz`` (its planes and masks). ``resume=True``
sets the prompts again (one plane each), takes the saved track instead of
tracking again, and sweeps only the volumes not finished: nothing finished is
computed twice. A run killed during the time track tracks again from the
prompts (the track's model memory is not saved).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..core.errors import InputError
from ..core.models import AUTO, DEFAULT_PRESET
from .output_guard import guarded_output

__all__ = ["segment_volumes_file", "volume_axes"]

CHECKPOINT_EVERY = 1  # finished volumes between two writes of the journal


def volume_axes(axes: str, ndim: int, channel_axis: int | None = None) -> tuple[int, int, int | None]:
    """``(time_axis, z_axis, channel_axis)`` of data with axis letters ``axes`` (e.g. ``"TCZYX"``)."""
    letters = str(axes).upper()
    if len(letters) != ndim:
        raise InputError(f"axes {axes!r} name {len(letters)} axes but the image has {ndim} dimensions",
                         fix=("axes", None))
    if sorted(letters) != sorted(set(letters)) or not set(letters) <= set("TCZYX") or not (
            {"T", "Z", "Y", "X"} <= set(letters)) or not letters.endswith("YX") and "YX" not in letters:
        raise InputError(f"axes {axes!r} of a series of volumes are T, Z, Y, X once each (and C for "
                         "channels), e.g. TZYX or TCZYX", fix=("axes", None))
    channel = letters.index("C") if "C" in letters else None
    if channel_axis is not None and channel is not None and channel_axis % ndim != channel:
        raise InputError(f"channel axis {channel_axis} is not the C of axes {axes!r}")
    return letters.index("T"), letters.index("Z"), channel if channel is not None else channel_axis


def segment_volumes_file(data, prompts_path, out, *, axes, channel_axis=None, channels=None, model=AUTO,
                         device="auto", direction="both", overwrite=False, progress=True,
                         preset=DEFAULT_PRESET, feature_cache=None, compile=False, precision="auto",
                         resume=False, image_path=None, scale=None, checkpoint_every=CHECKPOINT_EVERY,
                         memory=None, workers=1, client=None, follow="largest") -> str:
    """Segment a series of volumes with the prompts in a file, writing ``(T, Z, Y, X)`` labels to ``out``.

    Parameters
    ----------
    data : array-like
        4D (5D with channels) numpy, dask or zarr, read a plane at a time.
    prompts_path : str or Path
        ``.json`` whose prompts give ``"frame"`` (time point) and ``"plane"`` (z
        index), or a napari Points ``.csv`` of the 4D layer.
    out : str or Path
        ``.zarr`` or ``.tif`` label output.
    axes : str or Axes
        Axis letters of ``data`` (``"TZYX"``, ``"ZTYX"``, ``"TCZYX"``...) or the
        :class:`~napari_sam2.core.axes.Axes` of a view of a part of it (``--frames``
        / ``--planes``): prompts keep the stored array's numbers.
    channel_axis, channels
        The channel axis (or C in ``axes``) and the channel(s) to use.
    model, device, preset, compile, precision
        See :func:`~napari_sam2.core.models.load_model`.
    direction : {"both", "forward", "backward"}
        Of the time track.
    overwrite, resume, progress, image_path, feature_cache, memory
        As :func:`~.segment.segment_file`.
    scale : sequence of float, optional
        Physical step along each axis of ``data``, recorded in ``out``.
    checkpoint_every : int
        Finished volumes between two writes of the journal.
    workers : int
        z-sweeps run at once (dask threads).
    client : dask.distributed.Client, optional
        Run the z-sweeps on this client's workers.
    follow : {"largest", "fixed"}
        How the time track chooses its plane (:mod:`napari_sam2.core.volumes`).

    Returns
    -------
    str
        A one-line summary.
    """
    from ..core.feature_cache import FeatureCache
    from ..core.memory_policies import make_policy
    from ..core.outputs import run_folder
    from ..core.prompt_files import read_prompts
    from ..core.prompts import check_prompt
    from ..core.records import check_direction, check_object_id
    from ..core.volumes import VolumeSession

    view = None if isinstance(axes, str) else axes  # a resolved Axes, maybe a view of a part
    if view is not None:
        axes = view.letters
    time_axis, z_axis, channel_axis = volume_axes(axes, getattr(data, "ndim", 0), channel_axis)
    check_direction(direction)
    policy = make_policy(memory)
    models: dict = {}
    session = VolumeSession(data, time_axis, z_axis, lambda: models["make"](), channel_axis, channels,
                            follow=follow)  # its labels: the output, once opened
    spatial = tuple(d for d in range(data.ndim) if d not in (time_axis, z_axis, channel_axis))
    objects = read_prompts(prompts_path, time_axis, spatial, data.ndim, channel_axis, plane_axis=z_axis)
    if view is not None and view.held:
        objects = _view_prompts(objects, view, time_axis, z_axis, session)
    for obj in objects:
        check_object_id(obj.obj_id)
        for (t, z), prompt in obj.prompts.items():
            where = f"object {obj.obj_id}, time {t}, plane {z}"
            if not (0 <= t < session.n_times and 0 <= z < session.n_planes):
                raise InputError(f"{where} does not exist: the series has time points "
                                 f"0..{session.n_times - 1} "
                                 f"and planes 0..{session.n_planes - 1}")
            check_prompt(prompt, session.plane_shape, where)
    out = Path(out)
    folder = run_folder(out)
    shape = (session.n_times, session.n_planes, *session.plane_shape)
    with guarded_output(out, protect=(image_path, prompts_path, feature_cache), overwrite=overwrite,
                        resume=resume, shape=shape, journal="volumes.json") as guard:
        from ..core.models import load_model
        from ..core.tracker import TransformersTracker

        cache = FeatureCache(folder=feature_cache) if feature_cache else FeatureCache()
        loaded = load_model(model, device, preset=preset, compile=compile, precision=precision)
        models["make"] = lambda: TransformersTracker(loaded, feature_cache=cache, memory=policy)
        params = _params(loaded, objects, axes, session, channels, direction, policy.name, follow)
        guard.run = run = _VolumesRun(out, folder, params, resume, overwrite)
        scale_out = None if scale is None else [scale[d] for d in (time_axis, z_axis, *spatial)]
        session.labels = run.open(shape, _metadata(session, image_path, scale_out, params, objects,
                                                   view.selection() if view is not None else None))
        summary = _run(session, objects, run, direction, workers, client, progress, checkpoint_every)
        run.finish()
    return (f"wrote {out}: {shape[0]} volumes of {shape[1]} x {shape[2]} x {shape[3]}, {len(objects)} "
            f"object(s), model {loaded.name} ({loaded.preset}, {loaded.image_size} px) on "
            f"{loaded.device}{summary}")


def _params(loaded, objects, axes, session, channels, direction, memory, follow) -> dict:
    from ..core.checkpoint import prompts_digest

    data = session.sweeper.data
    return {"model": loaded.name, "weights_sha256": loaded.fingerprint, "preset": loaded.preset,
            "precision": loaded.precision, "device": loaded.device, "image_size": loaded.image_size,
            "prompts_sha256": prompts_digest(objects), "axes": str(axes).upper(),
            "channels": None if channels is None else [int(c) for c in channels],
            "direction": direction, "stack_shape": [int(s) for s in data.shape], "memory": memory,
            "follow": follow}


def _metadata(session, image_path, scale, params, objects, selection=None) -> dict:
    from ..core.label_metadata import label_metadata

    return label_metadata(session.n_times, image_path, "TZYX", scale, params,
                          [(o.obj_id, o.name) for o in objects], selection=selection or None)


def _view_prompts(objects, view, time_axis: int, z_axis: int, session) -> list:
    """Prompts by the stored array's (time, plane) -> by the view's; those outside it are left out."""
    import warnings

    t0, z0 = view.offset(time_axis), view.offset(z_axis)
    held = ", ".join(f"{k} {a}:{b}" for k, (a, b) in view.selection().items())
    for obj in objects:
        inside = {(t - t0, z - z0): p for (t, z), p in obj.prompts.items()
                  if 0 <= t - t0 < session.n_times and 0 <= z - z0 < session.n_planes}
        if not inside:
            raise InputError(f"object {obj.obj_id} has no prompt inside the selection ({held})")
        if len(inside) < len(obj.prompts):
            warnings.warn(f"object {obj.obj_id}: {len(obj.prompts) - len(inside)} prompt(s) outside "
                          f"the selection ({held}) are not used", stacklevel=2)
        obj.prompts = inside
    return objects


def _run(session, objects, run, direction, workers, client, progress, checkpoint_every) -> str:
    """Prompts, the time track (or the saved one) and the sweeps of the volumes not finished."""
    import numpy as np
    from tqdm import tqdm

    from ..core.volumes import TrackStep

    for obj in objects:
        session.add_object(obj.obj_id, obj.name)
        for (t, z), prompt in sorted(obj.prompts.items()):
            session.set_prompt(obj.obj_id, t, z, prompt, sweep=False)
    saved = run.folder / "track.npz"
    if run.done and saved.exists():
        with np.load(saved) as state:
            session.restore_track(dict(state))
    steps, _ = session.pending(direction)
    volumes = session.n_times - len(run.done)
    since = 0
    with tqdm(total=steps + volumes, desc="3D+t", unit="step", file=sys.stderr, disable=not progress) as bar:
        tracking = True
        for event in session.propagate(direction, workers, client, skip=run.done.__contains__):
            if isinstance(event, TrackStep):
                bar.set_postfix_str(f"time track, t={event.time}", refresh=False)
            else:
                if tracking:  # the track is complete: keep it for a resume
                    np.savez(saved, **session.track_state())
                    tracking = False
                run.done.add(event.time)
                since += 1
                if since >= checkpoint_every:
                    run.save()
                    since = 0
                bar.set_postfix_str(f"volume t={event.time}", refresh=False)
            bar.update()
    run.save()
    return f" (resumed: {run.resumed} volume(s) kept)" if run.resumed else ""


class _VolumesRun:
    """The output side: target array, journal of finished time points, swap at the end."""

    def __init__(self, out: Path, folder: Path, params: dict, resume: bool, overwrite: bool):
        from ..core.checkpoint import differing_parameter

        self.out, self.folder, self.params = out, folder, params
        journal = folder / "volumes.json"
        old = json.loads(journal.read_text()) if resume and journal.exists() else None
        if old is not None:
            differs = differing_parameter(old["params"], params)
            if differs:
                raise InputError(f"cannot resume {out}: the interrupted run's {differs}; run with the "
                                 "same parameters, or pass --overwrite to start over")
        self.resuming = old is not None
        self.done: set[int] = set(old["done"]) if old else set()
        self.resumed = len(self.done)
        self.name = old["target"] if old else ("OUT" if not out.exists() else "new" + out.suffix.lower())
        self.target = out if self.name == "OUT" else folder / self.name

    def kept(self) -> str:
        """What an interrupted run leaves, in one sentence."""
        return f"the finished volumes are kept in {self.target}; pass --resume to continue"

    def open(self, shape, metadata):
        from ..core.outputs import remove_output
        from ..core.sink import new_label_array, open_label_array

        self.folder.mkdir(exist_ok=True)
        if self.resuming and self.target.exists():
            return open_label_array(self.target, shape)
        if self.target != self.out:
            remove_output(self.target)
        (self.folder / "track.npz").unlink(missing_ok=True)
        self.done = set()
        self.started = time.time()
        array = new_label_array(self.target, shape, spatial=(2, 3), axes="TZYX", metadata=metadata)
        self.save()
        return array

    def save(self) -> None:
        data = {"version": 1, "params": self.params, "target": self.name, "done": sorted(self.done),
                "updated": time.time()}
        tmp = self.folder / ".volumes.json.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.folder / "volumes.json")

    def finish(self) -> None:
        from ..core.outputs import swap_in

        if self.target != self.out:
            swap_in(self.target, self.out)
