"""Save an annotation session to a file and continue it later: prompts, names, progress, settings, labels.

A session file ``NAME.sam2.json`` is a prompts file (the format of
:func:`~napari_sam2.core.prompt_files.read_prompts`, so ``napari-sam2 segment
--prompts NAME.sam2.json`` reads it) with more keys: each object's anchor,
done-range and presence scores, the settings the session ran with, and what
the viewer showed. Next to it: ``NAME.labels.tif``, the label stack
``(frame, row, col)``, and ``NAME.masks/``, mask prompts as ``.npy`` files.

What is not saved: the model's memory of tracked frames. After loading, a
correction propagates with the memory of the prompted frames and of the
frames it computes from there on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .prompt_files import ObjectPrompts, read_prompts

__all__ = ["SavedSession", "save_session", "load_session", "restore_session", "session_paths"]

FORMAT = "napari-sam2 session"
VERSION = 1


@dataclass
class SavedSession:
    """What :func:`load_session` read.

    Attributes
    ----------
    objects : list of ObjectPrompts
        Id, name and prompts (frame -> FramePrompt) of each object.
    progress : dict
        ``id -> {"anchor", "backward_done", "forward_done", "presence": {frame: score}}``.
    settings : dict
        What the session ran with (model, device, preset, precision, axis, channels...).
    view : dict
        What the viewer showed (image layer name, hidden objects...).
    labels : Path or None
        The label stack file.
    n_frames, frame_shape
        The stack the session was on.
    """

    objects: list[ObjectPrompts]
    progress: dict[int, dict]
    settings: dict = field(default_factory=dict)
    view: dict = field(default_factory=dict)
    labels: Path | None = None
    n_frames: int = 0
    frame_shape: tuple[int, int] = (0, 0)

    def read_labels(self) -> np.ndarray | None:
        """The saved label stack ``(frame, row, col)``, or None if there is none."""
        if self.labels is None:
            return None
        import tifffile

        if not self.labels.is_file():
            raise InputError(f"the session's labels {self.labels} are missing")
        return tifffile.imread(self.labels).reshape(self.n_frames, *self.frame_shape)


def session_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """The session file, its label stack and its mask folder: ``NAME.sam2.json``,
    ``NAME.labels.tif``, ``NAME.masks``."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise InputError(f"a session file ends in .json (e.g. cells.sam2.json), not {path.name}")
    stem = path.name[: -len(".sam2.json")] if path.name.endswith(".sam2.json") else path.stem
    return path, path.with_name(f"{stem}.labels.tif"), path.with_name(f"{stem}.masks")


def save_session(session, path: str | Path, settings: dict | None = None, view: dict | None = None,
                 labels: bool = True, overwrite: bool = False) -> Path:
    """Write ``session``'s prompts, object names, progress and labels next to ``path``.

    Parameters
    ----------
    session : Session
    path : str or Path
        The session file, ``NAME.sam2.json``.
    settings, view : dict, optional
        Saved as they are (JSON types): the settings to start the model with
        again, and what the viewer showed.
    labels : bool
        Also write the label stack to ``NAME.labels.tif``.
    overwrite : bool
        Replace an existing session of that name (else an error).

    Returns
    -------
    Path
        The session file.
    """
    path, labels_path, masks = session_paths(path)
    if path.exists() and not overwrite:
        raise InputError(f"session file {path} already exists; choose another name or {{fix}}",
                         fix=("overwrite", True))
    if not path.parent.is_dir():
        raise InputError(f"the folder {path.parent} does not exist")
    objects = [_object_json(obj, masks) for obj in session.objects.values() if obj.anchor is not None]
    data = {"format": FORMAT, "version": VERSION, "frames": session.source.n_frames,
            "frame_shape": list(session.source.frame_shape), "settings": settings or {},
            "view": view or {}, "labels": labels_path.name if labels else None, "objects": objects}
    if labels:
        _write_labels(session, labels_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    return path


def _object_json(obj, masks: Path) -> dict:
    prompts = []
    for frame, prompt in sorted(obj.prompts.items()):
        item: dict = {"frame": int(frame)}
        if prompt.mask is not None:
            masks.mkdir(exist_ok=True)
            name = f"object{obj.obj_id}_frame{frame}.npy"
            np.save(masks / name, np.asarray(prompt.mask, bool))
            item["mask"] = f"{masks.name}/{name}"
        else:
            if len(prompt.points):
                item["points"] = np.asarray(prompt.points, float).tolist()
                item["labels"] = np.asarray(prompt.labels, int).tolist()
            if prompt.box is not None:
                item["box"] = [float(v) for v in prompt.box]
        prompts.append(item)
    return {"id": obj.obj_id, "name": obj.name, "anchor": obj.anchor, "backward_done": obj.backward_done,
            "forward_done": obj.forward_done,
            "presence": {str(f): round(float(s), 6) for f, s in sorted(obj.presence.items())},
            "prompts": prompts}


def _write_labels(session, path: Path) -> None:
    from .sink import new_label_array

    tmp = path.with_name(path.stem + ".tmp.tif")
    tmp.unlink(missing_ok=True)
    array = new_label_array(tmp, (session.source.n_frames, *session.source.frame_shape))
    for frame in range(session.source.n_frames):
        array[frame] = session.sink.read(frame)
    array.flush()
    del array
    tmp.replace(path)


def load_session(path: str | Path) -> SavedSession:
    """Read a session file written by :func:`save_session` (checked before anything is used)."""
    path, _, _ = session_paths(path)
    if not path.is_file():
        raise InputError(f"session file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a napari-sam2 session file (no \"format\": \"{FORMAT}\")")
    if data.get("version", 0) > VERSION:
        raise InputError(f"{path} was written by a newer napari-sam2 (version {data['version']}); "
                         "update napari-sam2 to read it")
    objects = read_prompts(path) if data.get("objects") else []
    progress = {int(o["id"]): {"anchor": o.get("anchor"), "backward_done": o.get("backward_done"),
                               "forward_done": o.get("forward_done"),
                               "presence": {int(f): float(s) for f, s in (o.get("presence") or {}).items()}}
                for o in data.get("objects", [])}
    labels = path.with_name(data["labels"]) if data.get("labels") else None
    return SavedSession(objects, progress, dict(data.get("settings") or {}), dict(data.get("view") or {}),
                        labels, int(data.get("frames", 0)), tuple(data.get("frame_shape", (0, 0))))


def restore_session(session, saved: SavedSession, labels: bool = True) -> Iterator:
    """Put a saved session's objects, prompts and progress into a new ``session`` on the same stack.

    Each object's anchor prompt goes first, then its other prompts; each
    prompt's frame is computed (one :class:`~.session.FrameResult` yielded per
    prompt). Then each object's done-range and presence scores are set as
    saved, and with ``labels`` the saved label stack is written to the
    session's sink, so that propagation resumes where the saved session stood.
    """
    shape = (session.source.n_frames, tuple(session.source.frame_shape))
    if shape != (saved.n_frames, tuple(saved.frame_shape)):
        raise InputError(f"the session was saved on a stack of {saved.n_frames} frames of "
                         f"{tuple(saved.frame_shape)}; this one has {shape[0]} frames of {shape[1]}")
    stack = saved.read_labels() if labels else None
    for obj in saved.objects:
        state = saved.progress.get(obj.obj_id, {})
        session.add_object(obj.obj_id, obj.name)
        anchor = state.get("anchor") if state.get("anchor") in obj.prompts else min(obj.prompts)
        for frame in [anchor, *sorted(f for f in obj.prompts if f != anchor)]:
            yield session.set_prompt(obj.obj_id, frame, obj.prompts[frame])
        tracked = session.objects[obj.obj_id]
        if state.get("backward_done") is not None and state.get("forward_done") is not None:
            tracked.backward_done = min(tracked.backward_done, int(state["backward_done"]))
            tracked.forward_done = max(tracked.forward_done, int(state["forward_done"]))
        tracked.presence.update(state.get("presence", {}))
    if stack is not None:
        for frame in range(saved.n_frames):
            session.sink.write(frame, stack[frame])
