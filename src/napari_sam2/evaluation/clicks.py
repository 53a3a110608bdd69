"""The interactive protocol of the SAM2 paper, simulated: J&F against the number of clicks.

1. On the first chosen frame, one positive click per ground-truth object at
   its interior point (the pixel farthest from the object's edge), then
   propagate through the whole stack.
2. Each round, on every chosen frame and for every object, one corrective
   click at the interior point of the largest error region: positive in a
   missed region, negative in a false-positive region. Then propagate again.

Everything is deterministic: ties go to the first pixel in row-major order,
and a missed region wins a tie in size against a false-positive one.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.frames import InputError, check_frame
from .matching import check_tracking, match_objects
from .objects import object_table
from .stack import FramesAlong

__all__ = ["Click", "interior_point", "corrective_click", "run_clicks"]


@dataclass(frozen=True)
class Click:
    """A simulated click: pixel ``(row, col)``, positive or negative, and the region it corrects."""

    row: int
    col: int
    positive: bool
    region_pixels: int


def interior_point(mask) -> tuple[int, int]:
    """The pixel of ``mask`` farthest from its edge and from the image border.

    Parameters
    ----------
    mask : array_like of bool, shape (Y, X)
        A non-empty mask.

    Returns
    -------
    (row, col)
        The maximum of the Euclidean distance transform; the first in
        row-major order on ties.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("the mask is empty: there is no interior point")
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return int(row), int(col)


def corrective_click(truth, prediction) -> Click | None:
    """The click that corrects the largest error region of a predicted mask.

    Parameters
    ----------
    truth, prediction : array_like of bool, shape (Y, X)
        The object's true and predicted masks.

    Returns
    -------
    Click or None
        A positive click inside the largest missed region (``truth & ~prediction``)
        or a negative click inside the largest false-positive region
        (``prediction & ~truth``), whichever is larger (4-connected regions);
        None when the prediction is exact.
    """
    truth, prediction = np.asarray(truth, bool), np.asarray(prediction, bool)
    best = None
    for positive, error in ((True, truth & ~prediction), (False, prediction & ~truth)):
        regions, n = ndimage.label(error)
        if n == 0:
            continue
        sizes = np.bincount(regions.ravel())[1:]
        k = int(np.argmax(sizes))
        if best is None or sizes[k] > best[0]:
            best = (int(sizes[k]), positive, regions == k + 1)
    if best is None:
        return None
    row, col = interior_point(best[2])
    return Click(row, col, best[1], best[0])


def _check_truth(truth, source, axis: int, channel_axis: int | None) -> FramesAlong:
    """The ground truth as frames matching the image's frames."""
    expected = [n for d, n in enumerate(source.data.shape) if d != channel_axis]
    if tuple(truth.shape) != tuple(expected):
        raise InputError(f"the truth has shape {tuple(truth.shape)}; the image needs {tuple(expected)}")
    if not np.issubdtype(np.dtype(truth.dtype), np.integer):
        raise InputError(f"the truth must be integer labels, not {truth.dtype}")
    shift = 1 if channel_axis is not None and channel_axis < source.axis else 0
    return FramesAlong(truth, source.axis - shift)


def run_clicks(image, truth, frames=(0,), clicks: int = 3, model="sam2.1-tiny", device: str = "auto",
               target: float = 0.9, axis: int = 0, channel_axis=None, channels=None,
               progress: bool = True, preset: str = "accurate", allow_untracked: bool = False) -> dict:
    """Simulate the interactive protocol and report J&F after each round of clicks.

    Parameters
    ----------
    image : array-like
        The stack (see :class:`~napari_sam2.core.frames.FrameSource`).
    truth : array-like of int
        Ground-truth labels, the image's shape without its channel axis.
    frames : sequence of int
        Frames that get clicks; the first one gets the initial clicks.
    clicks : int
        Rounds of corrective clicks (each adds at most one click per object and chosen frame).
    model, device
        Model name, folder or loaded model, and device.
    target : float
        The J&F to reach; the report gives the clicks needed.
    axis, channel_axis, channels
        See :class:`~napari_sam2.core.frames.FrameSource`.
    progress : bool
        Progress bars on stderr.
    preset : {"fast", "balanced", "accurate"}
        Model input size and memory frames, see ``napari_sam2.core.models.PRESETS``.
    allow_untracked : bool
        The truth must keep one id per object over time
        (:func:`~napari_sam2.evaluation.matching.check_tracking`): per-frame labels
        are refused before the model loads. True scores them anyway, with a warning.

    Returns
    -------
    dict
        ``rounds``: per round the total ``clicks``, ``clicks_per_object``, ``J``, ``F``, ``J&F``
        and per object; ``clicks_log``: every click (round, frame, object, row, col, positive,
        region_pixels); ``clicks_to_target``: total clicks at the first round reaching ``target``
        (None if never), and per object; ``object_table``: the last round's per-object IoU
        (:class:`~napari_sam2.evaluation.objects.ObjectTable` ``.as_dict()``, objects matched by
        id), ``untracked_truth``: the warning about the truth, or None.
    """
    from tqdm import tqdm

    from ..core.frames import FrameSource
    from ..core.session import Session
    from .metrics import evaluate_labels

    source = FrameSource(image, axis, channel_axis, channels)
    gt = _check_truth(truth, source, source.axis, source.channel_axis)
    frames = list(dict.fromkeys(check_frame(f, source.n_frames) for f in frames))
    if not frames or clicks < 0:
        raise InputError("give at least one frame and a number of clicks >= 0")
    first = gt[frames[0]]
    ids = [int(i) for i in np.unique(first) if i]
    if not ids:
        raise InputError(f"the truth has no object on frame {frames[0]}: nothing to click")
    tracking = check_tracking(gt)
    if not tracking.tracked:
        if not allow_untracked:
            raise InputError(f"{tracking.message}; track the labels first (one id per object on every "
                             "frame) or {fix}", fix=("allow_untracked", True))
        warnings.warn(tracking.message, stacklevel=2)
    from ..core.models import LoadedModel, load_model

    if not isinstance(model, LoadedModel):
        model = load_model(model, device, preset=preset)
    session = Session.from_array(image, source.axis, source.channel_axis, channels, model, device)
    log: list[dict] = []

    def add(round_, frame, obj_id, click):
        session.add_points(obj_id, frame, [[click.row, click.col]], [int(click.positive)])
        log.append({"round": round_, "frame": frame, "object": obj_id, "row": click.row,
                    "col": click.col, "positive": click.positive, "region_pixels": click.region_pixels})

    rounds = []
    with tqdm(total=clicks + 1, desc="click rounds", unit="round", file=sys.stderr,
              disable=not progress) as bar:
        for round_ in range(clicks + 1):
            if round_ == 0:
                for obj_id in ids:
                    mask = first == obj_id
                    add(0, frames[0], obj_id, Click(*interior_point(mask), True, int(mask.sum())))
            else:
                for frame in frames:
                    for obj_id in ids:
                        labels = np.asarray(session.labels[frame])
                        click = corrective_click(gt[frame] == obj_id, labels == obj_id)
                        if click is not None:
                            add(round_, frame, obj_id, click)
            for _ in session.propagate("both"):
                pass
            rounds.append(_score_round(evaluate_labels(gt, session.labels, ids, exclude_ends=False), log))
            bar.update()
    labels = FramesAlong(session.labels, 0)
    table = object_table(gt, labels, match_objects(gt, labels, by="id"))
    table.rows = [r for r in table.rows if r["pred"] in ids]
    return {"objects": ids, "frames": frames, "target": target, "model": session.tracker.loaded.name,
            "rounds": rounds, "clicks_log": log, "clicks_to_target": _to_target(rounds, ids, target),
            "object_table": table.as_dict(), "untracked_truth": tracking.message or None}


def _score_round(scores, log) -> dict:
    per_object = {
        k: {"clicks": sum(c["object"] == k for c in log), "J&F": float(o.j_and_f)}
        for k, o in scores.objects.items()
    }
    return {"clicks": len(log), "clicks_per_object": len(log) / len(per_object),
            "J": scores.j_mean, "F": scores.f_mean, "J&F": scores.j_and_f, "per_object": per_object}


def _to_target(rounds, ids, target) -> dict:
    overall = next((r["clicks"] for r in rounds if r["J&F"] >= target), None)
    per_object = {
        k: next((r["per_object"][k]["clicks"] for r in rounds if r["per_object"][k]["J&F"] >= target), None)
        for k in ids
    }
    return {"total": overall, "per_object": per_object}
