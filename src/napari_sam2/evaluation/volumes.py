"""Scores of a 3D+t label series (T, Z, Y, X): per-object 3D IoU over time, and CTC SEG / TRA.

The per-object table is :func:`~.objects.object_table` with a whole volume as
its "frame": each predicted object is paired with a true object (by id, or by
the largest 3D overlap), its ``IoU`` is pooled over every voxel of every time
point, its ``J_active`` is the mean of its 3D IoU over the time points where it
or its true object is present. :func:`iou_over_time` gives the 3D IoU of each
pair at each time point. :func:`score_volumes_ctc` writes both series as Cell
Tracking Challenge folders (3D masks) and scores them with py-ctcmetrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .matching import check_tracking, match_objects, overlaps
from .objects import ObjectTable, object_table
from .stack import FramesAlong

__all__ = ["VolumesAlong", "volume_iou", "iou_over_time", "score_volumes_ctc"]


class VolumesAlong(FramesAlong):
    """The volumes ``(Z, Y, X)`` of a 4D label series along its time axis, read one at a time."""

    def __init__(self, data, axis: int = 0):
        if data.ndim != 4:
            raise InputError(f"expected a 4D (T, Z, Y, X) label series, got shape {tuple(data.shape)}")
        self.data, self.axis = data, int(axis) % 4

    def __getitem__(self, index):
        key = [slice(None)] * 4
        key[self.axis] = int(index)
        return np.asarray(self.data[tuple(key)])


def _series(data, time_axis: int) -> VolumesAlong:
    return data if isinstance(data, VolumesAlong) else VolumesAlong(data, time_axis)


def volume_iou(prediction, truth, match: str = "overlap", time_axis: int = 0, frames=None) -> ObjectTable:
    """Per-object 3D IoU over time of a predicted label series against its ground truth.

    Parameters
    ----------
    prediction, truth : array-like of int, 4D, same shape
        numpy, dask or zarr, read one volume at a time.
    match : {"overlap", "id"}
        Pairing of predicted and true objects (:func:`~.matching.match_objects`,
        the overlap being 3D).
    time_axis : int
    frames : int or dict, optional
        Reference time point(s) of the overlap matching (e.g. the prompted ones).

    Returns
    -------
    ObjectTable
        Rows per predicted object (``IoU`` pooled over t and z, ``J_active``
        the mean 3D IoU over active time points...), the matching and the
        check that the truth keeps one id per object over time.
    """
    pred, gt = _series(prediction, time_axis), _series(truth, time_axis)
    matching = match_objects(gt, pred, 0, match, frames)
    table = object_table(gt, pred, matching, 0)
    table.tracking = check_tracking(gt, 0)
    return table


def iou_over_time(prediction, truth, pairs: dict[int, int] | None = None, time_axis: int = 0
                  ) -> dict[int, np.ndarray]:
    """The 3D IoU of each ``predicted id -> true id`` pair at each time point (NaN where both are absent).

    ``pairs`` defaults to equal ids.
    """
    pred, gt = _series(prediction, time_axis), _series(truth, time_axis)
    out: dict[int, np.ndarray] = {}
    for t in range(len(gt)):
        p_sizes, g_sizes, inter = overlaps(pred[t], gt[t])
        wanted = pairs if pairs is not None else {k: k for k in set(p_sizes) | set(g_sizes)}
        for k, j in wanted.items():
            row = out.setdefault(k, np.full(len(gt), np.nan))
            union = p_sizes.get(k, 0) + g_sizes.get(j, 0) - inter.get((k, j), 0)
            if union:
                row[t] = inter.get((k, j), 0) / union
    return out


def score_volumes_ctc(prediction, truth, folder, time_axis: int = 0, metrics=("SEG", "TRA")) -> dict:
    """CTC SEG / TRA (py-ctcmetrics) of a predicted 3D+t label series against a tracked truth.

    Both are written under ``folder`` (a new or empty folder) as CTC folders
    with 3D masks: ``01_RES`` and ``01_GT`` (``TRA`` and ``SEG`` from the
    truth, every time point annotated). An id that leaves and comes back is
    split into linked tracks, as the CTC asks.

    Parameters
    ----------
    prediction, truth : array-like of int, 4D, same shape
    folder : str or Path
    time_axis : int
    metrics : sequence of str

    Returns
    -------
    dict
        ``{metric: score}``.
    """
    import tifffile

    from .ctc import export_ctc, score_ctc

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder} is not empty; give a new folder for the CTC files")
    pred, gt = _series(prediction, time_axis), _series(truth, time_axis)
    res = export_ctc(pred, folder / "01_RES")
    tra = export_ctc(gt, folder / "01_GT" / "TRA")
    (tra / "res_track.txt").rename(tra / "man_track.txt")
    seg = folder / "01_GT" / "SEG"
    seg.mkdir()
    for mask in sorted(tra.glob("mask*.tif")):
        tifffile.imwrite(seg / mask.name.replace("mask", "man_seg"), tifffile.imread(mask))
        mask.rename(tra / mask.name.replace("mask", "man_track"))
    return score_ctc(folder / "01_GT", res, metrics)
