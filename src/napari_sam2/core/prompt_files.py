"""Read prompts from a JSON file or a CSV saved from a napari Points layer.

JSON::

    {"objects": [{"id": 1, "name": "cell A", "prompts": [
        {"frame": 0, "points": [[120, 88], [130, 95]], "labels": [1, 0]},
        {"frame": 12, "box": [100, 70, 150, 120]},
        {"frame": 30, "mask": "mask30.tif"}]}]}

For a series of volumes (T, Z, Y, X), ``"frame"`` is the time point and
every prompt also gives ``"plane"``, the z index::

    {"objects": [{"id": 1, "prompts": [{"frame": 0, "plane": 4, "points": [[120, 88]]}]}]}

Points are ``[row, col]``; labels 1 positive / 0 negative (default positive);
a box is ``[row_min, col_min, row_max, col_max]``; a mask is a 2D TIFF or
``.npy`` file (relative to the JSON file; never unpickled), nonzero = object.
Object ids are integers from 1 to 65535 (``true`` is not an id), frames are
whole numbers. Several entries for one object and frame are combined: points
add up, and points with a box are one prompt (SAM2 takes both together); two
boxes, or a mask with anything else, are refused.

CSV: napari's Points writer output (``index, axis-0, ... axis-N`` columns in
the image's data coordinates) with feature columns ``object_id`` and
``positive``. It has one ``axis-N`` column per image dimension, or one fewer
when the image has a channel axis that napari split into one layer per channel;
anything else is refused with the columns named. For a series of volumes
the time and z columns are found by the image's axes (``plane_axis``). Without an ``object_id``
column every point is object 1, with a warning saying so.
"""

from __future__ import annotations

import csv
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .prompts import FramePrompt
from .sink import LABEL_DTYPE

__all__ = ["ObjectPrompts", "read_prompts"]


@dataclass
class ObjectPrompts:
    """One object's id, name and prompts by frame (by ``(time, plane)`` for a series of volumes)."""

    obj_id: int
    name: str = ""
    prompts: dict = field(default_factory=dict)


#: the largest object id a label image holds
MAX_OBJECT_ID = int(np.iinfo(LABEL_DTYPE).max)
#: how far a CSV frame coordinate may be from a whole number (napari's float round trips)
FRAME_TOLERANCE = 1e-6
_TRUE, _FALSE = ("1", "1.0", "true", "yes"), ("0", "0.0", "false", "no")


def read_prompts(path: str | Path, axis: int = 0, spatial_axes: tuple[int, int] = (1, 2),
                 ndim: int | None = None, channel_axis: int | None = None,
                 plane_axis: int | None = None) -> list[ObjectPrompts]:
    """Read a prompts file, checking every value before anything runs.

    Parameters
    ----------
    path : str or Path
        ``.json`` or ``.csv``.
    axis : int or None
        For CSV: the image axis that is the frame index (None: a single
        image, no frame column, every point on frame 0).
    spatial_axes : (int, int)
        For CSV: the image axes that are row and col.
    ndim : int, optional
        For CSV: the image's number of dimensions (default: the highest of
        ``axis`` and ``spatial_axes`` plus one).
    channel_axis : int, optional
        For CSV: the image's channel axis, if any.
    plane_axis : int, optional
        A series of volumes: the image's z axis (``axis`` is then time).
        Prompts are keyed by ``(time, plane)``; every JSON prompt needs
        ``"plane"``.

    Returns
    -------
    list of ObjectPrompts
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file {path} does not exist")
    if path.suffix.lower() == ".json":
        return _read_json(path, plane_axis is not None)
    if path.suffix.lower() == ".csv":
        image_axes = tuple(d for d in (axis, plane_axis, *spatial_axes) if d is not None)
        if ndim is None:
            ndim = max(image_axes) + 1
        return _read_csv(path, _csv_columns_for(image_axes, ndim, channel_axis))
    raise InputError(f"prompts file {path} must be .json or .csv")


def _read_json(path: Path, planes: bool = False) -> list[ObjectPrompts]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a readable JSON file (it is not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise InputError(f'{path} must hold {{"objects": [...]}}, e.g. {{"objects": [{{"id": 1, '
                         '"prompts": [{"frame": 0, "points": [[row, col]]}]}]}')
    objects = []
    for n, entry in enumerate(data["objects"]):
        if not isinstance(entry, dict) or "id" not in entry:
            raise InputError(f"{path}: object #{n + 1} has no \"id\"")
        obj = ObjectPrompts(_object_id(entry["id"], f"{path}: object #{n + 1} id"),
                            str(entry.get("name", "")))
        items = entry.get("prompts") or []
        if not isinstance(items, list):
            raise InputError(f"{path}: object {obj.obj_id}: prompts must be a list of "
                             '{"frame": ..., "points"/"box"/"mask": ...} entries')
        if not items:
            raise InputError(f"{path}: object {obj.obj_id} has no prompts; give it a point, box or mask")
        for item in items:
            where = f"{path}: object {obj.obj_id}"
            if not isinstance(item, dict) or "frame" not in item:
                raise InputError(f"{where}: every prompt needs a \"frame\"")
            frame = _int(item["frame"], f"{where} frame")
            where = f"{where}, frame {frame}"
            if planes != ("plane" in item):
                raise InputError(f'{where}: a prompt on a series of volumes needs "plane" (the z index)'
                                 if planes else f'{where}: "plane" is for a series of volumes (axes with '
                                 "T and Z); this image is a stack of 2D frames")
            if planes:
                plane = _int(item["plane"], f"{where} plane")
                frame, where = (frame, plane), f"{where}, plane {plane}"
            prompt = _prompt_from_json(item, path.parent, where)
            old = obj.prompts.get(frame)
            obj.prompts[frame] = prompt if old is None else _combine(old, prompt, where)
        objects.append(obj)
    if not objects:
        raise InputError(f"{path} lists no objects")
    _check_unique([o.obj_id for o in objects], path)
    return objects


def _combine(old: FramePrompt, new: FramePrompt, where: str) -> FramePrompt:
    """Two entries for one object and frame as one prompt: points add up, a box joins them."""
    if old.mask is not None or new.mask is not None:
        raise InputError(f"{where}: a mask and other prompts on one frame; a mask replaces points "
                         "and box, so give either the mask or the points and box")
    if old.box is not None and new.box is not None:
        raise InputError(f"{where}: two boxes on one frame; SAM2 takes one box per object and "
                         "frame (with any number of points)")
    return FramePrompt(np.concatenate([old.points, new.points]),
                       np.concatenate([old.labels, new.labels]),
                       old.box if old.box is not None else new.box)


def _prompt_from_json(item: dict, folder: Path, where: str) -> FramePrompt:
    if "mask" in item:
        if any(k in item for k in ("points", "labels", "box")):
            raise InputError(f"{where}: a mask and other prompts on one frame; a mask replaces "
                             "points and box, so give either the mask or the points and box")
        return FramePrompt(mask=_read_mask(folder / str(item["mask"]), where))
    points = item.get("points", [])
    if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in points):
        raise InputError(f"{where}: points must be a list of [row, col] pairs of numbers, "
                         f"got {_short(points)}")
    labels = item.get("labels", [1] * len(points))
    if not isinstance(labels, list) or not all(_is_label(v) for v in labels):
        raise InputError(f"{where}: labels must be 1 or 0 (positive or negative), one per point, "
                         f"got {_short(labels)}")
    box = item.get("box")
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(
            _is_number(v) and math.isfinite(v) for v in box)):
        raise InputError(f"{where}: box must be [row_min, col_min, row_max, col_max] (numbers), "
                         f"got {_short(box)}")
    return FramePrompt(np.array(points, np.float32).reshape(-1, 2), np.array(labels, np.int32),
                       None if box is None else tuple(float(v) for v in box))


def _read_mask(path: Path, where: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{where}: mask file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".tif", ".tiff"):
        raise InputError(f"{where}: mask {path} must be a 2D TIFF or .npy file")
    try:
        if suffix == ".npy":
            mask = np.load(path, allow_pickle=False)
        else:
            import tifffile

            mask = tifffile.imread(path)
    except (ValueError, OSError, EOFError, TypeError) as err:  # TiffFileError is a ValueError
        kind = ".npy" if suffix == ".npy" else "TIFF"
        raise InputError(f"{where}: mask {path} is not a readable {kind} file "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    mask = np.squeeze(np.asarray(mask))
    if mask.dtype.kind not in "biuf":
        raise InputError(f"{where}: mask {path} must hold numbers (nonzero = object), not {mask.dtype}")
    if mask.ndim != 2:
        raise InputError(f"{where}: mask {path} must be a 2D image, got shape {mask.shape}")
    return mask != 0


def _csv_columns_for(image_axes: tuple[int, ...], ndim: int,
                     channel_axis: int | None) -> dict[int, tuple[int, ...]]:
    """Number of ``axis-N`` columns -> the columns of ([time,] [plane,] row, col) for that layout."""
    layouts = {ndim: image_axes}
    if channel_axis is not None:  # napari splits the channels into layers of ndim - 1 axes
        layouts[ndim - 1] = tuple(d - (d > channel_axis) for d in image_axes)
    return layouts


def _read_csv(path: Path, layouts: dict[int, tuple[int, ...]]) -> list[ObjectPrompts]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows, fields = list(reader), list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path} is not a readable CSV file ({err})") from None
    if not rows:
        raise InputError(f"{path} has no points")
    coordinates = sorted(int(m[1]) for f in fields if (m := re.fullmatch(r"axis-(\d+)", f)))
    if coordinates != list(range(len(coordinates))) or len(coordinates) not in layouts:
        ndim = max(layouts)
        names = ", ".join(f"axis-{i}" for i in coordinates) or "none"
        raise InputError(
            f"{path} has {len(coordinates)} coordinate columns ({names}: a {len(coordinates)}D "
            f"Points layer) but the image has {ndim} dimensions"
            + (f" ({ndim - 1} without its channel axis)" if len(layouts) > 1 else "")
            + "; save the points from a Points layer on this image, with feature columns "
            "object_id and positive")
    columns = [f"axis-{i}" for i in layouts[len(coordinates)]]
    has_ids = "object_id" in fields
    if not has_ids:
        warnings.warn(f"{path} has no object_id column: its {len(rows)} point"
                      f"{'s are all' if len(rows) > 1 else ' is'} taken as object 1; add an "
                      "object_id feature to the Points layer to prompt several objects", stacklevel=3)
    objects: dict[int, ObjectPrompts] = {}
    points: dict[tuple, list[tuple[float, float, int]]] = {}
    for n, row in enumerate(rows, start=2):
        where = f"{path} line {n}"
        values = [_number(row.get(col), f"{where}: {col}") for col in columns]
        *index, r, c = values if len(values) > 2 else (0.0, *values)  # a single image: frame 0
        for what, value, col in zip(("frame", "plane"), index, columns, strict=False):
            if abs(value - round(value)) > FRAME_TOLERANCE:
                raise InputError(f"{where}: {what} {row[col]} (column {col}) is not a whole {what} "
                                 "number; points must lie on a frame")
        key = tuple(int(round(v)) for v in index)
        obj_id = _csv_object_id(row.get("object_id"), where) if has_ids else 1
        objects.setdefault(obj_id, ObjectPrompts(obj_id))
        points.setdefault((obj_id, key[0] if len(key) == 1 else key), []).append(
            (r, c, _positive(row.get("positive"), where)))
    for (obj_id, frame), pts in points.items():
        arr = np.array(pts, np.float32)
        objects[obj_id].prompts[frame] = FramePrompt(arr[:, :2], arr[:, 2].astype(np.int32))
    return [objects[k] for k in sorted(objects)]


def _csv_object_id(value, where: str) -> int:
    if value is None or not str(value).strip():
        raise InputError(f"{where}: object_id is empty; give every point an object id")
    return _object_id(str(value).strip(), f"{where}: object_id")


def _positive(value, where: str) -> int:
    if value is None:  # no positive column: every point is positive
        return 1
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return int(text in _TRUE)
    raise InputError(f"{where}: positive must be True or False (or 1 / 0), got {value!r}")


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{what} must be a finite number, got {value!r}")
    return number


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_label(value) -> bool:
    """1 / 0 (or true / false): a positive or negative point."""
    return isinstance(value, bool) or (_is_number(value) and value in (0, 1))


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object_id(value, what: str) -> int:
    obj_id = _int(value, what)
    if not 1 <= obj_id <= MAX_OBJECT_ID:
        raise InputError(f"{what}: object ids must be integers from 1 to {MAX_OBJECT_ID}, got {obj_id}")
    return obj_id


def _int(value, what: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{what} must be an integer, got {json.dumps(value).title()}")
    try:
        as_float = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be an integer, got {value!r}") from None
    if not as_float.is_integer():
        raise InputError(f"{what} must be an integer, got {value!r}")
    return int(value) if isinstance(value, int) else int(as_float)


def _check_unique(ids: list[int], path: Path) -> None:
    seen = {i for i in ids if ids.count(i) > 1}
    if seen:
        raise InputError(f"{path}: object id(s) {sorted(seen)} appear more than once")
