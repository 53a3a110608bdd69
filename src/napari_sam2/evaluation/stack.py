"""Label stacks: per-frame J and F against a ground truth, and Cell Tracking Challenge export."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..core.errors import InputError

__all__ = ["FramesAlong", "frames_along", "frame_scores", "export_and_score_ctc"]


class FramesAlong:
    """The 2D frames of a 3D array along one axis, read one at a time (for the metrics).

    Parameters
    ----------
    data : array-like, 3D
        numpy, dask or zarr array.
    axis : int
        The frame axis.
    """

    def __init__(self, data, axis: int = 0):
        if data.ndim != 3:
            raise InputError(f"expected a 3D (frame, row, col) stack, got shape {tuple(data.shape)}")
        self.data, self.axis = data, int(axis) % 3

    def __len__(self) -> int:
        return int(self.data.shape[self.axis])

    @property
    def shape(self) -> tuple:
        """``(frames, rows, cols)``, the frame axis first."""
        rest = [n for d, n in enumerate(self.data.shape) if d != self.axis]
        return (len(self), *map(int, rest))

    def __getitem__(self, index):
        key = [slice(None)] * 3
        key[self.axis] = int(index)
        return np.asarray(self.data[tuple(key)])


def frames_along(data, axis: int = 0) -> FramesAlong:
    """``data`` as :class:`FramesAlong` (unchanged when it already is one)."""
    return data if isinstance(data, FramesAlong) else FramesAlong(data, axis)


def frame_scores(truth, prediction, axis: int = 0, exclude_ends: bool = False) -> dict:
    """Per-frame J and F of a label stack against the ground truth (averaged over objects).

    Parameters
    ----------
    truth, prediction : array-like of int, 3D, same shape
        Label stacks with the same ids for the same objects; read one frame at a time.
    axis : int
        The frame axis.
    exclude_ends : bool
        Skip the first and last frame (DAVIS semi-supervised convention).

    Returns
    -------
    dict
        ``frames``, ``J`` and ``F`` (arrays, one value per frame: the mean over the
        ground truth's objects), ``J-Mean``, ``F-Mean``, ``J&F-Mean`` (means over
        objects, as :class:`~napari_sam2.evaluation.metrics.SequenceScores`) and ``objects``.
    """
    from .metrics import evaluate_labels

    if tuple(truth.shape) != tuple(prediction.shape):
        raise InputError(f"the labels have shape {tuple(prediction.shape)}, the ground truth "
                         f"{tuple(truth.shape)}; they must be the same")
    scores = evaluate_labels(FramesAlong(truth, axis), FramesAlong(prediction, axis),
                             exclude_ends=exclude_ends)
    if not scores.objects:
        raise InputError("the ground truth has no objects on the scored frames")
    objects = list(scores.objects.values())
    return {"frames": objects[0].frames, "J": np.mean([o.j for o in objects], axis=0),
            "F": np.mean([o.f for o in objects], axis=0), "J-Mean": scores.j_mean,
            "F-Mean": scores.f_mean, "J&F-Mean": scores.j_and_f, "objects": list(scores.objects)}


class _Counted:
    """Frames of a stack read through a progress bar."""

    def __init__(self, data, bar):
        self.data, self.bar = data, bar
        self.shape, self.ndim = data.shape, data.ndim

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, index):
        self.bar.update()
        return np.asarray(self.data[index])


def export_and_score_ctc(labels_path, out, gt=None, parents=None, progress: bool = True) -> dict:
    """Export a labels time-lapse (time first) to a CTC result folder, and score it against ``gt``.

    Parameters
    ----------
    labels_path : str or Path
        ``.tif``, ``.zarr`` or ``.npy`` label stack ``(T, Y, X)`` or ``(T, Z, Y, X)``,
        ids consistent over time.
    out : str or Path
        The CTC result folder to write (``.../01_RES``).
    gt : str or Path, optional
        CTC ground-truth folder (``01_GT`` with ``TRA/`` and optionally ``SEG/``).
    parents : str or Path, optional
        A CTC track file (``L B E P`` lines, e.g. a ``man_track.txt``) whose
        parent column links ids to their parent ids (divisions).
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    dict
        ``out``, ``frames``, ``tracks`` and, with ``gt``, ``scores`` (``{"SEG": .., "TRA": .., "DET": ..}``).
    """
    from tqdm import tqdm

    from ..core.io import open_image
    from .ctc import export_ctc, read_track_file, score_ctc

    data, _ = open_image(labels_path)
    if data.ndim not in (3, 4) or not np.issubdtype(np.dtype(data.dtype), np.integer):
        raise InputError(f"{labels_path} must be an integer label stack (T, Y, X) or (T, Z, Y, X); "
                         f"it is {data.dtype} with shape {tuple(data.shape)}")
    if gt is not None and not (Path(gt) / "TRA" / "man_track.txt").is_file():
        raise InputError(f"{gt} is not a CTC ground-truth folder: it has no TRA/man_track.txt")
    lineage = None
    if parents is not None:
        try:
            lineage = {int(lab): int(par) for lab, _, _, par in read_track_file(parents) if par}
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the track file {parents}: {err}") from None
    with tqdm(total=2 * int(data.shape[0]), desc="exporting", unit="read", file=sys.stderr,
              disable=not progress) as bar:
        try:
            res = export_ctc(_Counted(data, bar), out, lineage)
        except (FileExistsError, ValueError) as err:
            raise InputError(str(err)) from None
    tracks = len(read_track_file(res / "res_track.txt"))
    result = {"out": str(res), "frames": int(data.shape[0]), "tracks": tracks}
    if gt is not None:
        try:
            result["scores"] = score_ctc(gt, res)
        except (ImportError, ValueError) as err:
            raise InputError(str(err)) from None
    return result
