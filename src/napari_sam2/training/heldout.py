"""Held-out scores of a model through the inference path users run (Session, FrameSource).

* **click / box IoU**: one object at a time, a fresh :class:`~.session.Session`
  gets one positive click at the object's interior point (the pixel farthest
  from its edge), or its exact bounding box, on one frame; IoU of the mask
  the session returns.
* **propagation J&F**: every object present on frame 0 gets one click there,
  ``Session.propagate("forward")`` runs through the stack, and the labels
  are scored with DAVIS J&F (:func:`.metrics.evaluate_labels`, frames
  ``1 .. n-2``).
* **absent empty**: among the frames of that run where a prompted object
  is not in the ground truth (it left the field), the share where its
  predicted mask is empty.
"""

from __future__ import annotations

import numpy as np

from ..evaluation.clicks import interior_point
from ..evaluation.metrics import jaccard

__all__ = ["prompt_ious", "propagation_scores", "evaluate_heldout"]


def prompt_ious(loaded, image, labels, frame: int = 0, kind: str = "click", object_ids=None,
                source=None) -> dict[int, float]:
    """IoU of each object's mask from one prompt on one frame (a fresh session per object).

    Parameters
    ----------
    loaded : LoadedModel
    image : array-like (T, Y, X)
        The stack, as a user would open it.
    labels : array-like of int (T, Y, X)
        Ground truth.
    frame : int
        The prompted frame.
    kind : {"click", "box"}
        One positive click at the interior point, or the exact bounding box.
    object_ids : sequence of int, optional
        Default every object on ``frame``.
    source : FrameSource, optional
        Reuse a source (and its normalisation) across calls.

    Returns
    -------
    dict
        Object id -> IoU.
    """
    from ..core.frames import FrameSource
    from ..core.session import Session
    from ..core.tracker import TransformersTracker

    truth = np.asarray(labels[frame])
    source = source or FrameSource(image)
    ids = [int(i) for i in np.unique(truth) if i] if object_ids is None else list(object_ids)
    scores = {}
    for obj in ids:
        mask = truth == obj
        session = Session(source, TransformersTracker(loaded))
        if kind == "box":
            rows, cols = np.nonzero(mask)
            result = session.add_box(1, frame, [rows.min(), cols.min(), rows.max(), cols.max()])
        else:
            result = session.add_points(1, frame, [interior_point(mask)], [1])
        scores[obj] = jaccard(mask, result.masks[0])
    return scores


def propagation_scores(loaded, image, labels, max_objects: int | None = None, memory=None,
                       window=None) -> dict:
    """Click every object on frame 0, propagate forward, score J&F and absent frames.

    ``memory`` is the tracker's memory policy (:mod:`napari_sam2.core.memory_policies`);
    ``window`` a :class:`~napari_sam2.core.window_geometry.WindowParams` to track
    each object on a window of the feature map (default: the whole map).

    Returns
    -------
    dict
        ``jf`` (DAVIS J&F mean over objects), ``j``, ``f``, ``absent_frames``
        (object-frames where the object is gone), ``absent_empty`` (how many
        of those have an empty predicted mask), ``cpu_seconds`` (process CPU
        time of the propagation) and, with ``window``, ``windowed_steps`` and
        ``full_map_steps`` (object-frames run on a window / on the whole map).
    """
    import time

    from ..core.frames import FrameSource
    from ..core.session import Session
    from ..core.tracker import TransformersTracker
    from ..evaluation.metrics import absent_empty, evaluate_labels

    labels = np.asarray(labels)
    ids = [int(i) for i in np.unique(labels[0]) if i][:max_objects]
    tracker = TransformersTracker(loaded, memory=memory, window=window)
    session = Session(FrameSource(image), tracker)
    start = time.process_time()
    for obj in ids:
        session.add_points(obj, 0, [interior_point(labels[0] == obj)], [1])
    for _ in session.propagate("forward"):
        pass
    cpu = time.process_time() - start
    pred = np.asarray(session.labels)
    scores = evaluate_labels(labels, pred, object_ids=ids)
    absent, empty = absent_empty(labels, pred, ids)
    result = {"jf": scores.j_and_f, "j": scores.j_mean, "f": scores.f_mean,
              "absent_frames": absent, "absent_empty": empty, "cpu_seconds": cpu}
    if tracker.windowed is not None:
        result |= {"windowed_steps": tracker.windowed.windows_used,
                   "full_map_steps": tracker.windowed.full_used}
    return result


def evaluate_heldout(loaded, stacks, max_objects: int = 8) -> dict:
    """Scores on held-out ``(image, labels)`` stacks, as logged during training.

    Returns
    -------
    dict
        ``click_iou`` and ``box_iou`` (medians over objects of frame 0),
        ``jf`` (mean over stacks of the propagation J&F; stacks of 3 frames
        or more) and ``absent_empty`` (share of absent object-frames with an
        empty mask; NaN when no object left).
    """
    from ..core.frames import FrameSource

    clicks, boxes, jfs, absent, empty = [], [], [], 0, 0
    for image, labels in stacks:
        source = FrameSource(image)
        ids = [int(i) for i in np.unique(np.asarray(labels[0])) if i][:max_objects]
        clicks += prompt_ious(loaded, image, labels, 0, "click", ids, source).values()
        boxes += prompt_ious(loaded, image, labels, 0, "box", ids, source).values()
        if len(image) >= 3:
            run = propagation_scores(loaded, image, labels, max_objects)
            jfs.append(run["jf"])
            absent, empty = absent + run["absent_frames"], empty + run["absent_empty"]
    return {"click_iou": float(np.median(clicks)), "box_iou": float(np.median(boxes)),
            "jf": float(np.mean(jfs)) if jfs else float("nan"),
            "absent_empty": empty / absent if absent else float("nan")}
