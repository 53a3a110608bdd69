"""Segment a stack from a prompts file into a label file: what ``napari-sam2 segment`` runs."""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.checkpoint import CHECKPOINT_EVERY
from ..core.models import AUTO, DEFAULT_PRESET
from .output_guard import guarded_output

__all__ = ["segment_file"]


def segment_file(data, prompts_path, out, axis=None, channel_axis=None, channels=None,
                 model=AUTO, device="auto", direction="both", overwrite=False,
                 progress=True, preset=DEFAULT_PRESET, feature_cache=None, compile=False,
                 precision="auto", resume=False, image_path=None, axes=None, scale=None,
                 checkpoint_every=CHECKPOINT_EVERY, memory=None, frames=None, planes=None,
                 client=None) -> str:
    """Segment ``data`` with the prompts in a file, writing labels to ``out``.

    Everything is checked before the model is loaded or a file is written.
    ``out`` is never replaced unless ``overwrite``, and then only when the
    run succeeded: the new labels are written beside it and swapped in at the
    end. One job at a time writes ``out`` (a lock beside it). An interrupted
    run (cancelled, killed, crashed) is continued with ``resume``, with
    results equal to an uninterrupted run's.

    Parameters
    ----------
    data : array-like
        The stack (numpy, dask, zarr), read one frame at a time.
    prompts_path : str or Path
        Prompts ``.json`` or a napari Points ``.csv`` (:func:`~napari_sam2.core.prompt_files.read_prompts`).
    out : str or Path
        Label output, ``.zarr`` or ``.tif``; never the image, inside it, or around it.
    axis, channel_axis, channels
        See :class:`~napari_sam2.core.frames.FrameSource`; ``axis`` and
        ``channel_axis`` may be letters of ``axes``. Default: from ``axes``,
        else axis 0 and no channel axis.
    model, device, preset, compile, precision
        See :func:`~napari_sam2.core.models.load_model`; ``model`` may also be a
        :class:`~napari_sam2.core.models.LoadedModel` (then used as it is).
    direction : {"both", "forward", "backward"}
    overwrite : bool
        Replace an existing ``out`` (once the new labels are complete).
    progress : bool
        A progress bar on stderr.
    feature_cache : str or Path, optional
        A zarr store keeping image features across runs.
    resume : bool
        Continue the interrupted run on ``out`` from its last checkpoint; it
        must have had the same parameters. A missing ``out`` is simply written;
        a complete one is refused (nothing to resume).
    image_path : str or Path, optional
        The file ``data`` was read from: ``out`` may not overlap it; recorded in ``out``.
    axes : str or Axes, optional
        The axes of ``data``: letters among T Z C Y X S (``"TZYX"``, ``"YXS"``
        for RGB) or an :class:`~napari_sam2.core.axes.Axes` (from
        :func:`~napari_sam2.core.stack_view.open_stack`). They choose the
        propagation and channel axes unless ``axis``/``channel_axis`` are
        given, and name the axes of ``out``. T and Z both longer than 1 (and
        neither a channel) are volumes over time:
        :func:`napari_sam2.workflows.volumes.segment_volumes_file` runs them.
    scale : sequence of float, optional
        The physical size of a step along each axis of ``data`` (of the stored
        array when ``axes`` is a view), recorded in ``out``.
    checkpoint_every : int
        Frames between two checkpoints of the tracker.
    memory : str, optional
        Memory policy (:data:`~napari_sam2.core.memory_policies.MEMORY_POLICIES`).
    frames, planes : int or str, optional
        Only these time points / planes (``3``, ``"10:20"``, stop excluded) of
        ``data``, read lazily; needs ``axes``. Prompt frames keep the numbers of
        ``data``, and ``out`` records the range it holds.
    client : dask.distributed.Client, optional
        Volumes over time only: run the z-sweeps on this client's workers.

    Returns
    -------
    str
        A one-line summary.
    """
    from ..core.feature_cache import FeatureCache
    from ..core.frames import FrameSource, check_frame
    from ..core.memory_policies import make_policy
    from ..core.prompt_files import read_prompts
    from ..core.prompts import check_prompt
    from ..core.session import check_direction, check_object_id
    from ..core.stack_view import check_leftover, stack_axes, view_prompts, view_scale

    check_direction(direction)
    policy = make_policy(memory)  # a wrong name fails before anything is read
    data, resolved = stack_axes(data, axes, axis, channel_axis, frames, planes)
    if resolved is not None:
        scale = view_scale(scale, resolved)
    if resolved is not None and resolved.volumes:
        from .volumes import segment_volumes_file

        return segment_volumes_file(
            data, prompts_path, out, axes=resolved, channel_axis=resolved.channel_axis,
            channels=channels, model=model, device=device, direction=direction,
            overwrite=overwrite, progress=progress, preset=preset, feature_cache=feature_cache,
            compile=compile, precision=precision, resume=resume, image_path=image_path,
            scale=scale, checkpoint_every=checkpoint_every, memory=memory,
            client=client)  # axes: an Axes, maybe a view
    if resolved is not None:
        check_leftover(resolved)
        axis, channel_axis = resolved.axis, resolved.channel_axis
    source = FrameSource(data, 0 if axis is None and resolved is None else axis, channel_axis,
                         channels)
    spatial = tuple(d for d in range(data.ndim) if d not in (source.axis, source.channel_axis))
    objects = read_prompts(prompts_path, source.axis, spatial, data.ndim, source.channel_axis)
    if resolved is not None:
        objects = view_prompts(objects, resolved, source.axis, source.n_frames)
    for obj in objects:
        check_object_id(obj.obj_id)
        for frame, prompt in obj.prompts.items():
            check_frame(frame, source.n_frames)
            check_prompt(prompt, source.frame_shape, f"object {obj.obj_id}, frame {frame}")
    out = Path(out)
    shape = (source.n_frames, *source.frame_shape)
    with guarded_output(out, protect=(image_path, prompts_path, feature_cache), overwrite=overwrite,
                        resume=resume, shape=shape) as guard:
        from .labels_run import LabelsRun

        cache = FeatureCache(folder=feature_cache) if feature_cache else None
        guard.run = run = LabelsRun(out, overwrite, resume)
        job = _Job(source, objects, out, direction, image_path, resolved, scale, spatial)
        summary = job.run(run, cache, dict(model=model, device=device, preset=preset, compile=compile,
                                           precision=precision, memory=policy), checkpoint_every,
                          progress)
    return summary


class _Job:
    """The model side of one ``segment_file`` call (after every check)."""

    def __init__(self, source, objects, out, direction, image_path, resolved, scale, spatial):
        self.source, self.objects, self.out, self.direction = source, objects, out, direction
        self.image_path, self.scale, self.spatial = image_path, scale, spatial
        named = resolved is not None and resolved.source != "guessed"  # a guess names no output
        self.axes = resolved.letters if named else None
        self.selection = resolved.selection() if resolved is not None else {}

    def params(self, loaded, model_args: dict) -> dict:
        """What must match for ``resume``: model, weights, precision, prompts, axes, stack."""
        from ..core.checkpoint import prompts_digest

        source = self.source
        return {"model": loaded.name, "weights_sha256": loaded.fingerprint, "preset": loaded.preset,
                "precision": loaded.precision, "device": loaded.device,
                "image_size": loaded.image_size, "prompts_sha256": prompts_digest(self.objects),
                "axis": source.axis, "channel_axis": source.channel_axis,
                "channels": None if source.channels is None else [int(c) for c in source.channels],
                "direction": self.direction, "stack_shape": [int(s) for s in source.data.shape],
                "memory": model_args["memory"].name,
                **({"selection": self.selection} if self.selection else {})}

    def out_axes(self) -> tuple[str | None, list | None]:
        letters = self.axes if self.axes and len(self.axes) == self.source.data.ndim else None
        if self.source.axis is None:  # a single image: its labels get a frame axis of one
            names = "T" + "".join(letters[d] for d in self.spatial) if letters else None
            scale = [1.0, *(self.scale[d] for d in self.spatial)] if self.scale is not None else None
            return names, scale
        dims = (self.source.axis, *self.spatial)
        names = "".join(letters[d] for d in dims) if letters else None
        scale = [self.scale[d] for d in dims] if self.scale is not None else None
        return names, scale

    def run(self, run, cache, model_args: dict, checkpoint_every: int, progress: bool) -> str:
        from tqdm import tqdm

        from ..core.checkpoint import restore_session
        from ..core.label_metadata import label_metadata
        from ..core.models import load_model
        from ..core.session import Session
        from ..core.tracker import TransformersTracker

        loaded = load_model(model_args["model"], model_args["device"], preset=model_args["preset"],
                            compile=model_args["compile"], precision=model_args["precision"])
        params = self.params(loaded, model_args)
        run.check_resume(params)
        source = self.source
        names, scale = self.out_axes()
        metadata = label_metadata(source.n_frames, self.image_path, names, scale, params,
                                  [(o.obj_id, o.name) for o in self.objects], self.selection)
        sink, restored = run.open(params, (source.n_frames, *source.frame_shape), metadata, names)
        tracker = TransformersTracker(loaded, feature_cache=cache, memory=model_args["memory"])
        session = Session(source, tracker, sink)
        journal = sink.journal
        resumed = ""
        if restored:
            point = journal.checkpoint
            resumed = (" (resumed after the prompts)" if point["frame"] is None else
                       f" (resumed after frame {point['frame']}, {point['direction']})")
            tensors, layout, state = journal.load_checkpoint()
            restore_session(session, self.objects, state, tensors, layout)
            journal.undo(sink)
        else:
            for obj in self.objects:
                session.add_object(obj.obj_id, obj.name)
                for frame, prompt in sorted(obj.prompts.items()):
                    session.set_prompt(obj.obj_id, frame, prompt)
            journal.save_checkpoint(session, "prompts", None)
        directions = ("forward", "backward") if self.direction == "both" else (self.direction,)
        since = 0
        with tqdm(total=session.pending_frames(self.direction), desc="propagating", unit="frame",
                  file=sys.stderr, disable=not progress) as bar:
            for direction in directions:
                for result in session.propagate(direction):
                    journal.frame_done(result.frame, direction)
                    bar.update()
                    since += 1
                    if since >= checkpoint_every:
                        journal.save_checkpoint(session, direction, result.frame)
                        since = 0
        run.finish()
        return (
            f"wrote {self.out}: {source.n_frames} frames of {source.frame_shape[0]} x "
            f"{source.frame_shape[1]}, {len(self.objects)} object(s), model {loaded.name} "
            f"({loaded.preset}, {loaded.image_size} px) on {loaded.device}{resumed}"
        )
