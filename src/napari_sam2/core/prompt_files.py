"""Read prompts from a JSON file or a CSV saved from a napari Points layer.

JSON::

    {"objects": [{"id": 1, "name": "cell A", "prompts": [
        {"frame": 0, "points": [[120, 88], [130, 95]], "labels": [1, 0]},
        {"frame": 12, "box": [100, 70, 150, 120]},
        {"frame": 30, "mask": "mask30.tif"}]}]}

Points are ``[row, col]``; labels 1 positive / 0 negative (default positive);
a box is ``[row_min, col_min, row_max, col_max]``; a mask is a 2D TIFF or
``.npy`` file (relative to the JSON file), nonzero = object.

CSV: napari's Points writer output (``axis-0, axis-1, axis-2`` columns in the
image's data coordinates) with feature columns ``object_id`` and ``positive``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .prompts import FramePrompt

__all__ = ["ObjectPrompts", "read_prompts"]


@dataclass
class ObjectPrompts:
    """One object's id, name and prompts by frame."""

    obj_id: int
    name: str = ""
    prompts: dict[int, FramePrompt] = field(default_factory=dict)


def read_prompts(path: str | Path, axis: int = 0, spatial_axes: tuple[int, int] = (1, 2)
                 ) -> list[ObjectPrompts]:
    """Read a prompts file.

    Parameters
    ----------
    path : str or Path
        ``.json`` or ``.csv``.
    axis : int or None
        For CSV: which ``axis-N`` column is the frame index (None: a single
        image, every point on frame 0).
    spatial_axes : (int, int)
        For CSV: which ``axis-N`` columns are row and col.

    Returns
    -------
    list of ObjectPrompts
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file {path} does not exist")
    if path.suffix.lower() == ".json":
        return _read_json(path)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, axis, spatial_axes)
    raise InputError(f"prompts file {path} must be .json or .csv")


def _read_json(path: Path) -> list[ObjectPrompts]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise InputError(f'{path} must hold {{"objects": [...]}}, e.g. {{"objects": [{{"id": 1, '
                         '"prompts": [{"frame": 0, "points": [[row, col]]}]}]}')
    objects = []
    for n, entry in enumerate(data["objects"]):
        if not isinstance(entry, dict) or "id" not in entry:
            raise InputError(f"{path}: object #{n + 1} has no \"id\"")
        obj = ObjectPrompts(_int(entry["id"], f"object #{n + 1} id"), str(entry.get("name", "")))
        items = entry.get("prompts") or []
        if not items:
            raise InputError(f"{path}: object {obj.obj_id} has no prompts; give it a point, box or mask")
        for item in items:
            where = f"{path}: object {obj.obj_id}"
            if not isinstance(item, dict) or "frame" not in item:
                raise InputError(f"{where}: every prompt needs a \"frame\"")
            frame = _int(item["frame"], f"{where} frame")
            obj.prompts[frame] = _prompt_from_json(item, path.parent, f"{where}, frame {frame}")
        objects.append(obj)
    if not objects:
        raise InputError(f"{path} lists no objects")
    _check_unique([o.obj_id for o in objects], path)
    return objects


def _prompt_from_json(item: dict, folder: Path, where: str) -> FramePrompt:
    if "mask" in item:
        return FramePrompt(mask=_read_mask(folder / str(item["mask"]), where))
    points = np.asarray(item.get("points", []), np.float32)
    if points.size and (points.ndim != 2 or points.shape[1] != 2):
        raise InputError(f"{where}: points must be a list of [row, col] pairs")
    points = points.reshape(-1, 2)
    labels = np.asarray(item.get("labels", [1] * len(points)), np.int32).reshape(-1)
    box = item.get("box")
    if box is not None and (not isinstance(box, list) or len(box) != 4):
        raise InputError(f"{where}: box must be [row_min, col_min, row_max, col_max]")
    return FramePrompt(points, labels, None if box is None else tuple(map(float, box)))


def _read_mask(path: Path, where: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{where}: mask file {path} does not exist")
    if path.suffix.lower() == ".npy":
        mask = np.load(path, allow_pickle=False)
    else:
        import tifffile

        mask = tifffile.imread(path)
    mask = np.squeeze(mask)
    if mask.ndim != 2:
        raise InputError(f"{where}: mask {path} must be a 2D image, got shape {mask.shape}")
    return mask != 0


def _read_csv(path: Path, axis: int, spatial_axes: tuple[int, int]) -> list[ObjectPrompts]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise InputError(f"{path} has no points")
    needed = [f"axis-{i}" for i in (axis, *spatial_axes) if i is not None]
    if axis is None:  # a single image: no frame column
        needed.insert(0, "")
    missing = [c for c in needed if c and c not in rows[0]]
    if missing:
        raise InputError(
            f"{path} lacks column(s) {', '.join(missing)}; expected a CSV saved from a napari "
            "Points layer on this image, with feature columns object_id and positive"
        )
    objects: dict[int, ObjectPrompts] = {}
    points: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
    for n, row in enumerate(rows, start=2):
        where = f"{path} line {n}"
        obj_id = _int(row.get("object_id") or 1, f"{where} object_id")
        frame = _int(round(float(row[needed[0]])), f"{where} frame") if needed[0] else 0
        positive = str(row.get("positive", "1")).strip().lower() in ("1", "true", "yes", "1.0")
        objects.setdefault(obj_id, ObjectPrompts(obj_id))
        points.setdefault((obj_id, frame), []).append(
            (float(row[needed[1]]), float(row[needed[2]]), int(positive))
        )
    for (obj_id, frame), pts in points.items():
        arr = np.array(pts, np.float32)
        objects[obj_id].prompts[frame] = FramePrompt(arr[:, :2], arr[:, 2].astype(np.int32))
    return [objects[k] for k in sorted(objects)]


def _int(value, what: str) -> int:
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be an integer, got {value!r}") from None
    if not as_float.is_integer():
        raise InputError(f"{what} must be an integer, got {value!r}")
    return int(as_float)


def _check_unique(ids: list[int], path: Path) -> None:
    seen = {i for i in ids if ids.count(i) > 1}
    if seen:
        raise InputError(f"{path}: object id(s) {sorted(seen)} appear more than once")
