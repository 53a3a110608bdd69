"""Track every cell of a stack into a label store with its lineage: what ``napari-sam2 track`` runs.

The output is a ``.zarr`` label store (ids consistent over time) whose
``napari_sam2`` attributes hold, beside the run's metadata, the lineage
(:meth:`~napari_sam2.core.lineage.Lineage.to_dict`: tracks, parent links,
review flags and each track's reviewed state). Safety is ``segment``'s
(:mod:`.output_guard`, :mod:`.labels_run`): never over an input, one job per output, an existing
output replaced only with ``overwrite`` and only once the new one is complete.
Resume: a complete output is refused; an unfinished one (cancelled, killed)
is **restarted** from its seeds with ``resume`` (track-all keeps no checkpoint).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from ..core.errors import InputError
from ..core.models import AUTO, DEFAULT_PRESET
from .output_guard import guarded_output

__all__ = ["track_file", "check_export_paths", "check_max_gap"]


def check_max_gap(value) -> int:
    """``max_gap`` as an int >= 0, else a one-line error (before anything runs)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InputError(f"max_gap {value!r}: give the number of frames a cell may be missing "
                         "(an integer >= 0; 0 turns gap closing off)")
    return int(value)


def track_file(data, out, *, seeds=None, image_path=None, axis=0, channel_axis=None, channels=None,
               model=AUTO, device="auto", preset=DEFAULT_PRESET, precision="auto", memory=None,
               overwrite=False, resume=False, progress=True, ctc=None, geff=None, axes=None, scale=None,
               seed_frame=0, params=None, window=None, max_gap=None) -> str:
    """Track every cell of ``data`` into the label store ``out`` (with its lineage).

    Everything is checked before the model is loaded or a file is written.

    Parameters
    ----------
    data : array-like
        The stack (numpy, dask, zarr), read one frame at a time.
    out : str or Path
        Label output, ``.zarr``; never the image, inside it, or around it.
    seeds : str, Path or array-like, optional
        A label image (or a label stack with the stack's frames) whose objects
        seed the tracks on ``seed_frame``; default automatic seeds.
    image_path : str or Path, optional
        The file ``data`` was read from (protected, recorded in ``out``).
    axis, channel_axis, channels
        See :class:`~napari_sam2.core.frames.FrameSource`.
    model, device, preset, precision
        See :func:`~napari_sam2.core.models.load_model`.
    memory : str, optional
        Memory policy (:data:`~napari_sam2.core.memory_policies.MEMORY_POLICIES`).
    overwrite : bool
        Replace an existing ``out`` (and ``ctc``/``geff``) once the new labels are complete.
    resume : bool
        Restart the unfinished run on ``out``; a complete ``out`` is refused.
    progress : bool
        A progress bar on stderr.
    ctc : str or Path, optional
        Also write a Cell Tracking Challenge result folder there.
    geff : str or Path, optional
        Also write the tracks as a GEFF graph there.
    axes : str, optional
        Axis letters of ``data`` (``"TYX"``), to name the axes of ``out``.
    scale : sequence of float, optional
        The physical size of a step along each axis of ``data``.
    seed_frame : int
        The frame the seeds are on (tracking goes both ways from it).
    params : TrackParams, optional
        Thresholds of seeds, new objects, divisions and flags.
    window : bool or WindowParams, optional
        Track each cell on a window of the feature map around it
        (:mod:`~napari_sam2.core.windowed_tracking`; True: default windows);
        default :data:`~napari_sam2.core.window_geometry.DEFAULT_WINDOW`.
    max_gap : int, optional
        Gap closing (:mod:`~napari_sam2.core.gap_closing`): a cell lost for up
        to ``max_gap`` frames and found again keeps one track id; 0: off.
        Default ``params.max_gap`` (:class:`~napari_sam2.core.track_all.TrackParams`).

    Returns
    -------
    str
        A one-line summary.
    """
    from ..core.frames import FrameSource, check_frame
    from ..core.memory_policies import make_policy
    from ..core.seeds import seeds_from_labels
    from ..core.track_all import TrackParams
    from ..core.window_geometry import resolve_window

    policy = make_policy(memory)
    window = resolve_window(window)
    params = params or TrackParams()
    if max_gap is not None:
        params = replace(params, max_gap=check_max_gap(max_gap))
    source = FrameSource(data, axis, channel_axis, channels)
    seed_frame = check_frame(seed_frame, source.n_frames)
    seed_path = seeds if isinstance(seeds, (str, Path)) else None
    masks = None
    if seeds is not None:
        masks = seeds_from_labels(_read_labels(seeds), source.frame_shape, seed_frame, source.n_frames,
                                  source=str(seed_path or "seeds"))
        if not masks:
            raise InputError(f"{seed_path or 'seeds'} holds no labels on frame {seed_frame}: nothing to "
                             "track (nothing was written)")
    out = Path(out)
    if out.suffix.lower() != ".zarr":
        raise InputError(f"track writes a .zarr label store (its lineage is kept in the store's "
                         f"attributes), not {out.name}: name the output e.g. {out.stem}.zarr")
    protect = (image_path, seed_path)
    ctc, geff = check_export_paths(ctc, geff, (*protect, out), overwrite)
    job = _TrackJob(source, out, masks, seed_frame, params, image_path, axes, scale)
    with guarded_output(out, protect=(*protect, ctc, geff), overwrite=overwrite, resume=resume,
                        shape=(source.n_frames, *source.frame_shape), verb="restart",
                        remove_untouched=True) as guard:  # nothing written (no cells): no run folder
        from .labels_run import LabelsRun

        guard.run = run = LabelsRun(out, overwrite, resume)
        summary = job.run(run, dict(model=model, device=device, preset=preset, precision=precision,
                                    memory=policy, window=window), progress)
    return summary + job.export(ctc, geff)


def _ctc_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding only a CTC result (replaceable with ``overwrite``)."""
    return path.is_dir() and all(p.is_file() and (p.name == "res_track.txt" or (
        p.name.startswith("mask") and p.suffix == ".tif")) for p in path.iterdir())


def _replace(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _read_labels(seeds):
    import numpy as np

    if isinstance(seeds, (str, Path)):
        from ..core.io import open_image

        if not Path(seeds).exists():
            raise InputError(f"seeds file {seeds} does not exist")
        seeds, _ = open_image(seeds)
    return np.asarray(seeds)


def check_export_paths(ctc, geff, protect, overwrite: bool):
    """Check ``--ctc`` / ``--geff`` before anything runs: the paths are free and named right."""
    import importlib.util

    from ..core.outputs import overlapping

    checked = []
    for option, path in (("--ctc", ctc), ("--geff", geff)):
        if path is None:
            checked.append(None)
            continue
        path = Path(path)
        for other in protect:
            if other is not None and overlapping(path, other):
                raise InputError(f"{option} {path} would overwrite {other}; choose another path")
        if not path.parent.is_dir():
            raise InputError(f"the folder {path.parent} for {option} does not exist")
        if option == "--geff" and importlib.util.find_spec("geff") is None:
            raise InputError("--geff needs the geff package: pip install 'napari-sam2[geff]'")
        if option == "--geff" and path.suffix.lower() not in (".geff", ".zarr"):
            raise InputError(f"--geff {path} must end in .geff or .zarr (a GEFF graph is a zarr store)")
        if path.exists() and not overwrite:
            raise InputError(f"{option} {path} already exists; choose another name or {{fix}}",
                             fix=("overwrite", True))
        if option == "--ctc" and path.exists() and not _ctc_folder(path):
            raise InputError(f"--ctc {path} holds other files than a CTC result (mask*.tif, "
                             "res_track.txt); choose an empty or new folder")
        checked.append(path)
    return tuple(checked)


class _TrackJob:
    """The model side of one ``track_file`` call (after every check)."""

    def __init__(self, source, out, masks, seed_frame, params, image_path, axes, scale):
        self.source, self.out, self.masks, self.seed_frame = source, out, masks, seed_frame
        self.params, self.image_path, self.axes, self.scale = params, image_path, axes, scale
        self.lineage = None
        self.names = self.out_scale = None

    def out_axes(self):
        source, letters = self.source, self.axes
        letters = letters if letters and len(letters) == source.data.ndim else None
        spatial = tuple(d for d in range(source.data.ndim) if d not in (source.axis, source.channel_axis))
        if source.axis is None:
            return ("T" + "".join(letters[d] for d in spatial) if letters else None,
                    [1.0, *(self.scale[d] for d in spatial)] if self.scale is not None else None)
        dims = (source.axis, *spatial)
        return ("".join(letters[d] for d in dims) if letters else None,
                [self.scale[d] for d in dims] if self.scale is not None else None)

    def run(self, run, model_args: dict, progress: bool) -> str:
        from dataclasses import astuple

        import numpy as np
        from tqdm import tqdm

        from ..core.label_metadata import label_metadata
        from ..core.models import load_model
        from ..core.seeds import grid_seeds
        from ..core.session import Session
        from ..core.track_all import TrackAll
        from ..core.tracker import TransformersTracker

        loaded = load_model(model_args["model"], model_args["device"], preset=model_args["preset"],
                            precision=model_args["precision"])
        source = self.source
        params = {"model": loaded.name, "weights_sha256": loaded.fingerprint, "preset": loaded.preset,
                  "precision": loaded.precision, "device": loaded.device, "image_size": loaded.image_size,
                  "seeds": "labels" if self.masks is not None else "automatic",
                  "seed_frame": self.seed_frame, "axis": source.axis, "channel_axis": source.channel_axis,
                  "stack_shape": [int(s) for s in source.data.shape], "memory": model_args["memory"].name,
                  "window": None if model_args["window"] is None else list(astuple(model_args["window"])),
                  "max_gap": self.params.max_gap}
        previous = run.previous_params
        # a run saved before gap closing existed: it restarts from its seeds, gap closing comes last
        run.check_resume(params if previous is None or "max_gap" in previous
                         else {k: v for k, v in params.items() if k != "max_gap"})
        tracker = TransformersTracker(loaded, memory=model_args["memory"], window=model_args["window"])
        masks = self.masks
        if masks is None:
            from ..core.geometry import FrameGeometry

            tracker.attach(source)
            geometry = FrameGeometry(source.frame_shape, tracker.image_size)
            masks = grid_seeds(tracker, geometry, self.seed_frame, self.params.seeds)
            if not masks:
                raise InputError(f"no cells found on frame {self.seed_frame} of "
                                 f"{self.image_path or 'the stack'} (automatic seeds): nothing was "
                                 "written; give seeds from labels (--seeds) or a frame with cells")
        self.names, self.out_scale = self.out_axes()
        metadata = label_metadata(source.n_frames, self.image_path, self.names, self.out_scale, params)
        sink, _ = run.open(params, (source.n_frames, *source.frame_shape), metadata, self.names)
        session = Session(source, tracker, sink)
        engine = TrackAll(session, self.params)
        with tqdm(total=engine.n_steps(), desc="tracking", unit="frame", file=sys.stderr,
                  disable=not progress) as bar:
            for step in engine.run(masks, self.seed_frame):
                if step.direction == "gaps":  # after the last frame: relabelled by gap closing
                    continue
                if step.direction in ("forward", "backward"):
                    sink.journal.frame_done(step.frame, step.direction)
                bar.update()
                bar.set_postfix(tracks=len(engine.lineage.tracks), refresh=False)
        self.lineage = lineage = engine.lineage
        metadata["objects"] = [{"id": int(i), "name": ""} for i in sorted(lineage.tracks)]
        from ..core.label_store import write_label_metadata

        # the group's attributes in an OME-Zarr output; read back by core.track_exports.read_lineage
        write_label_metadata(sink.path, metadata, lineage=lineage.to_dict())
        run.finish()
        divisions = len({t.parent for t in lineage.tracks.values() if t.parent})
        present = int(np.count_nonzero(np.asarray(session.labels[self.seed_frame])))
        gaps = f", {len(engine.joins)} gap(s) closed" if self.params.max_gap else ""
        return (f"wrote {self.out}: {source.n_frames} frames of {source.frame_shape[0]} x "
                f"{source.frame_shape[1]}, {len(lineage.tracks)} tracks from {len(masks)} seeds "
                f"({present} pixels on frame {self.seed_frame}), {divisions} division(s){gaps}, "
                f"{len(lineage.flags)} flag(s) to review; model {loaded.name} ({loaded.preset}, "
                f"{loaded.image_size} px) on {loaded.device}")

    def export(self, ctc, geff) -> str:
        """Write the CTC folder and the GEFF graph (after the labels are complete)."""
        if ctc is None and geff is None:
            return ""
        from ..core import track_exports as exports
        from ..core.label_store import open_labels

        labels = open_labels(self.out)
        written = []
        if ctc is not None:
            _replace(ctc)
            exports.write_ctc_folder(labels, self.lineage, ctc)
            written.append(f"CTC folder {ctc}")
        if geff is not None:
            _replace(geff)
            exports.write_geff(labels, self.lineage, geff, axes=self.names, scale=self.out_scale)
            written.append(f"GEFF {geff}")
        return "; " + " and ".join(written)
