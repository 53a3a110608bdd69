"""Per-object IoU of a predicted label stack against a ground truth, not dominated by empty frames.

Each predicted object is paired with a true object (:func:`~.matching.match_objects`);
each pair gets:

* ``IoU``: the intersection over union pooled over all frames (total
  intersection / total union), so frames where both are empty count for nothing;
* ``J active``: the mean per-frame IoU over the *active* frames only, those where
  the true or the predicted object is present (``active`` counts them);
* the frames where each is present, the *lost* frames (true object present,
  prediction empty) and the IoU on the last frame where the true object is
  present. An object is flagged lost when it has lost frames or its last IoU is
  below 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .matching import Matching, TrackingCheck, check_tracking, match_objects, overlaps
from .stack import frames_along

__all__ = ["ObjectTable", "object_table", "object_iou", "matched_frame_scores", "rows_text", "LOST_IOU"]

#: an object whose IoU on the last frame of its true object is below this is flagged lost
LOST_IOU = 0.5


@dataclass
class ObjectTable:
    """Per-object scores (see the module docstring), how the objects were matched, and the truth check.

    Attributes
    ----------
    rows : list of dict
        One per predicted object: ``pred``, ``truth`` (None when unmatched), ``IoU``,
        ``J_active``, ``active``, ``pred_frames``, ``truth_frames``, ``lost_frames``,
        ``last_IoU`` (None without a true object), ``lost`` (bool).
    matching : Matching
    tracking : TrackingCheck or None
    """

    rows: list = field(default_factory=list)
    matching: Matching | None = None
    tracking: TrackingCheck | None = None

    @property
    def mean_iou(self) -> float:
        """Mean of the objects' IoU (unmatched predicted objects count 0); NaN without objects."""
        return float(np.mean([r["IoU"] for r in self.rows])) if self.rows else float("nan")

    @property
    def mean_j_active(self) -> float:
        """Mean of the objects' J over their active frames."""
        return float(np.mean([r["J_active"] for r in self.rows])) if self.rows else float("nan")

    @property
    def lost(self) -> list:
        """The predicted ids flagged lost."""
        return [r["pred"] for r in self.rows if r["lost"]]

    def text(self) -> str:
        """The table, its means, the matching line and the tracking warning, as printed by the CLI."""
        lines = [rows_text(self.rows)]
        if self.matching is not None:
            lines.append(f"matching: {self.matching.describe()}")
        if self.tracking is not None and not self.tracking.tracked:
            lines.append(f"WARNING: {self.tracking.message}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """JSON-ready: rows, means, the matching line and the tracking warning."""
        return {"objects": self.rows, "mean_IoU": self.mean_iou, "mean_J_active": self.mean_j_active,
                "lost": self.lost, "matching": self.matching.describe() if self.matching else None,
                "untracked_truth": (self.tracking.message or None) if self.tracking else None}


def rows_text(rows, mean: bool = True) -> str:
    """A text table of :attr:`ObjectTable.rows`, then (``mean``) the mean IoU and the lost objects."""
    lines = [f"{'pred':>5}{'truth':>7}{'IoU':>7}{'J active':>10}{'active':>8}{'in pred':>9}"
             f"{'in truth':>10}{'lost':>6}{'last IoU':>10}"]
    for r in rows:
        truth = "-" if r["truth"] is None else r["truth"]
        last = "-" if r["last_IoU"] is None else f"{r['last_IoU']:.3f}"
        lines.append(f"{r['pred']:>5}{truth:>7}{r['IoU']:>7.3f}{r['J_active']:>10.3f}{r['active']:>8}"
                     f"{r['pred_frames']:>9}{r['truth_frames']:>10}{r['lost_frames']:>6}{last:>10}"
                     + ("  LOST" if r["lost"] else ""))
    if rows and mean:
        lost = [r["pred"] for r in rows if r["lost"]]
        lines.append(f"mean IoU {np.mean([r['IoU'] for r in rows]):.3f}, mean J over active frames "
                     f"{np.mean([r['J_active'] for r in rows]):.3f}, {len(rows)} object(s); "
                     + (f"lost: {', '.join(map(str, lost))}" if lost else "none lost"))
    elif not rows:
        lines.append("no predicted objects")
    return "\n".join(lines)


def object_table(truth, prediction, matching: Matching, axis: int = 0) -> ObjectTable:
    """Score each predicted object against its matched true object, reading each frame once.

    Parameters
    ----------
    truth, prediction : array-like of int, 3D, same shape
    matching : Matching
        From :func:`~.matching.match_objects`; unmatched predicted objects get IoU 0.
    axis : int
        The frame axis.

    Returns
    -------
    ObjectTable
    """
    gt, pred = frames_along(truth, axis), frames_along(prediction, axis)
    ids = sorted(set(matching.pairs) | set(matching.unmatched_pred))
    stats = {k: {"inter": 0, "union": 0, "j": [], "pred": 0, "truth": 0, "lost": 0, "last": None}
             for k in ids}
    for t in range(len(gt)):
        p_sizes, g_sizes, inter = overlaps(pred[t], gt[t])
        for k in ids:
            s, j = stats[k], matching.pairs.get(k)
            n_p, n_g = p_sizes.get(k, 0), g_sizes.get(j, 0) if j is not None else 0
            if not (n_p or n_g):
                continue
            n_i = inter.get((k, j), 0)
            s["inter"] += n_i
            s["union"] += n_p + n_g - n_i
            s["j"].append(n_i / (n_p + n_g - n_i))
            s["pred"] += n_p > 0
            s["truth"] += n_g > 0
            s["lost"] += n_g > 0 and n_p == 0
            if n_g:
                s["last"] = n_i / (n_p + n_g - n_i)
    rows = []
    for k in ids:
        s = stats[k]
        last = s["last"] if matching.pairs.get(k) is not None else None
        rows.append({"pred": k, "truth": matching.pairs.get(k),
                     "IoU": s["inter"] / s["union"] if s["union"] else 0.0,
                     "J_active": float(np.mean(s["j"])) if s["j"] else 0.0, "active": len(s["j"]),
                     "pred_frames": int(s["pred"]), "truth_frames": int(s["truth"]),
                     "lost_frames": int(s["lost"]), "last_IoU": last,
                     "lost": last is not None and bool(s["lost"] or last < LOST_IOU)})
    return ObjectTable(rows, matching)


def object_iou(prediction, truth, match: str = "overlap", axis: int = 0, frames=None,
               check: bool = True) -> ObjectTable:
    """Per-object IoU of a predicted label stack against a ground truth, objects matched first.

    Parameters
    ----------
    prediction, truth : array-like of int, 3D, same shape
        numpy, dask or zarr label stacks, read one frame at a time.
    match : {"overlap", "id"}
        How predicted objects are paired with true ones, see
        :func:`~.matching.match_objects` (overlap: Hungarian on IoU).
    axis : int
        The frame axis.
    frames : int or dict, optional
        Reference frame(s) for the overlap matching (e.g. the prompted frames).
    check : bool
        Check that the truth is tracked over time; the table then carries the
        warning (:attr:`ObjectTable.tracking`).

    Returns
    -------
    ObjectTable
    """
    matching = match_objects(truth, prediction, axis, match, frames)
    table = object_table(truth, prediction, matching, axis)
    if check:
        table.tracking = check_tracking(truth, axis)
    return table


class _Renamed:
    """The frames of a predicted label stack with its ids replaced by their matched true ids (others 0)."""

    def __init__(self, frames, pairs: dict):
        self.frames = frames
        self.lut = np.zeros(max(pairs, default=0) + 1, np.int64)
        for pred_id, truth_id in pairs.items():
            self.lut[pred_id] = truth_id

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index):
        frame = np.asarray(self.frames[index])
        inside = frame < len(self.lut)
        return np.where(inside, self.lut[np.where(inside, frame, 0)], 0)


def matched_frame_scores(truth, prediction, axis: int = 0, exclude_ends: bool = False,
                         match: str = "overlap", frames=None) -> dict:
    """Per-frame J and F of the matched objects, the per-object table and the truth check.

    Parameters
    ----------
    truth, prediction : array-like of int, 3D, same shape
        Label stacks, read one frame at a time; the prediction's ids need not be the truth's.
    axis : int
        The frame axis.
    exclude_ends : bool
        Skip the first and last frame in J and F (DAVIS convention).
    match : {"overlap", "id"}
        See :func:`~.matching.match_objects`.
    frames : int or dict, optional
        Reference frame(s) of the matching.

    Returns
    -------
    dict
        As :func:`~.stack.frame_scores` (``frames``, ``J``, ``F``, ``J-Mean``, ``F-Mean``,
        ``J&F-Mean``, ``objects``: the matched true ids), computed over the matched pairs only,
        plus ``table`` (:class:`ObjectTable`, with ``matching`` and ``tracking``).
    """
    from ..core.errors import InputError
    from .metrics import evaluate_labels

    table = object_iou(prediction, truth, match, axis, frames)
    matching = table.matching
    if not matching.pairs:
        if not matching.unmatched_truth:
            raise InputError("the ground truth has no objects")
        if not matching.unmatched_pred:
            raise InputError("the prediction has no objects")
        raise InputError(f"no predicted object matches a true object ({matching.describe()}); "
                         "check which layer is the prediction and which the ground truth")
    gt = frames_along(truth, axis)
    renamed = _Renamed(frames_along(prediction, axis), table.matching.pairs)
    scores = evaluate_labels(gt, renamed, sorted(table.matching.pairs.values()), exclude_ends=exclude_ends)
    objects = list(scores.objects.values())
    return {"frames": objects[0].frames, "J": np.mean([o.j for o in objects], axis=0),
            "F": np.mean([o.f for o in objects], axis=0), "J-Mean": scores.j_mean,
            "F-Mean": scores.f_mean, "J&F-Mean": scores.j_and_f, "objects": list(scores.objects),
            "table": table}
