"""Cell Tracking Challenge (CTC) format: export, napari tracks and scoring.

A CTC result folder (``01_RES``) holds one uint16 mask per frame
(``mask000.tif`` ...) and ``res_track.txt``, one line ``L B E P`` per track:
label, first frame, last frame, parent label (0 if none). A track must be
present in every frame from B to E, so an id that disappears and comes back
is split into tracks linked as parent and child (as the CTC ground truth
does). Scoring uses the optional package ``py-ctcmetrics``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

DEFAULT_METRICS = ("SEG", "TRA", "DET")


def _segments(labels) -> dict:
    """Runs of consecutive frames per nonzero id: ``{id: [(begin, end), ...]}``."""
    runs: dict = {}
    for t in range(len(labels)):
        for i in np.unique(np.asarray(labels[t])):
            if i == 0:
                continue
            spans = runs.setdefault(int(i), [])
            if spans and spans[-1][1] == t - 1:
                spans[-1] = (spans[-1][0], t)
            else:
                spans.append((t, t))
    return runs


def _parent_label(tracks: dict, parent: int, begin: int) -> int:
    """Label of the track of id ``parent`` that ended last before frame ``begin``."""
    candidates = [(e, lab) for lab, (pid, _, e) in tracks.items() if pid == parent and e < begin]
    if not candidates:
        raise ValueError(f"parent {parent} has no track ending before frame {begin}")
    return max(candidates)[1]


def export_ctc(labels, out_dir, parents=None) -> Path:
    """Write a labels time-lapse as a CTC result folder.

    Parameters
    ----------
    labels : array_like of int, shape (T, Y, X) or (T, Z, Y, X)
        Label images with ids consistent over time (0 is background); lazy
        arrays are read frame by frame (twice).
    out_dir : str or Path
        Folder to create or fill, e.g. ``.../01_RES``; it must not already
        hold a CTC result (existing output is never overwritten).
    parents : dict of int to int, optional
        ``{child_id: parent_id}`` lineage (divisions). The child's first track
        gets the parent's track that ended last before the child begins.

    Returns
    -------
    Path
        ``out_dir``. An id that is absent for some frames and then reappears
        gets a new label from the reappearance on, with the earlier track as
        its parent.

    Raises
    ------
    FileExistsError
        If ``out_dir`` already holds ``res_track.txt`` or ``mask*.tif`` files.
    ValueError
        If a label does not fit in uint16 or a parent is not found before its child.
    """
    import tifffile

    out = Path(out_dir)
    if (out / "res_track.txt").exists() or any(out.glob("mask*.tif")):
        raise FileExistsError(f"{out} already holds a CTC result")
    out.mkdir(parents=True, exist_ok=True)
    runs = _segments(labels)
    next_label = max(runs, default=0) + 1
    tracks: dict = {}  # label -> (original id, begin, end)
    relabel: dict = {}  # (original id, begin, end) -> label for later segments
    for i, spans in sorted(runs.items()):
        for n, (b, e) in enumerate(spans):
            lab = i
            if n:
                lab, next_label = next_label, next_label + 1
                relabel[(i, b, e)] = lab
            tracks[lab] = (i, b, e)
    if next_label - 1 > np.iinfo(np.uint16).max:
        raise ValueError(f"{next_label - 1} labels needed; the CTC format stores uint16")
    lines = []
    for lab, (i, b, e) in sorted(tracks.items()):
        if lab != i:
            parent = _parent_label(tracks, i, b)
        elif parents and parents.get(i):
            parent = _parent_label(tracks, int(parents[i]), b)
        else:
            parent = 0
        lines.append(f"{lab} {b} {e} {parent}\n")
    width = max(3, len(str(len(labels) - 1)))
    for t in range(len(labels)):
        frame = np.asarray(labels[t]).astype(np.uint16)
        for (i, b, e), lab in relabel.items():
            if b <= t <= e:
                frame[frame == i] = lab
        tifffile.imwrite(out / f"mask{t:0{width}d}.tif", frame)
    (out / "res_track.txt").write_text("".join(lines))
    return out


def read_track_file(path) -> np.ndarray:
    """Read a CTC ``man_track.txt`` / ``res_track.txt``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    numpy.ndarray of int, shape (N, 4)
        Rows ``L B E P``; ``{L: P for L, B, E, P in rows if P}`` is the
        ``parents`` mapping of :func:`export_ctc`.
    """
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def tracks_from_labels(labels) -> np.ndarray:
    """napari Tracks data from object centroids.

    Parameters
    ----------
    labels : array_like of int, shape (T, Y, X) or (T, Z, Y, X)
        Label images with ids consistent over time; lazy arrays are read frame by frame.

    Returns
    -------
    numpy.ndarray of float, shape (N, 4) or (N, 5)
        Rows ``(track_id, t, y, x)`` (or ``(track_id, t, z, y, x)``), one per
        object and frame, sorted by track id then time.
    """
    rows = []
    for t in range(len(labels)):
        frame = np.asarray(labels[t])
        ids = np.unique(frame)
        ids = ids[ids != 0]
        if ids.size == 0:
            continue
        centres = np.array(ndimage.center_of_mass(np.ones(frame.shape), frame, ids), dtype=float)
        rows.append(np.column_stack([ids, np.full(ids.size, t), centres.reshape(ids.size, -1)]))
    if not rows:
        return np.zeros((0, 1 + np.ndim(labels)))
    data = np.concatenate(rows).astype(float)
    return data[np.lexsort((data[:, 1], data[:, 0]))]


def score_ctc(gt_dir, res_dir, metrics=None, threads: int = 1) -> dict:
    """Score a CTC result folder with ``py-ctcmetrics``.

    Parameters
    ----------
    gt_dir : str or Path
        Ground-truth folder (``01_GT``) with ``TRA/man_track*.tif`` +
        ``TRA/man_track.txt`` and, for SEG, ``SEG/man_seg*.tif``.
    res_dir : str or Path
        Result folder (``01_RES``) as written by :func:`export_ctc`.
    metrics : sequence of str, optional
        py-ctcmetrics metric names. Default: SEG, TRA and DET (SEG only when
        ``gt_dir/SEG`` exists).
    threads : int
        Worker processes for mask matching; 0 uses every CPU.

    Returns
    -------
    dict
        ``{name: float}`` for each requested metric, e.g. ``{"SEG": .., "TRA": .., "DET": ..}``.

    Raises
    ------
    ImportError
        If py-ctcmetrics is not installed.
    ValueError
        If py-ctcmetrics rejects the result folder as invalid.
    """
    try:
        from ctc_metrics import evaluate_sequence
    except ImportError as err:
        raise ImportError("CTC scoring needs py-ctcmetrics: pip install py-ctcmetrics") from err
    gt_dir, res_dir = Path(gt_dir), Path(res_dir)
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m != "SEG" or (gt_dir / "SEG").is_dir()]
    metrics = list(metrics)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = evaluate_sequence(str(res_dir), str(gt_dir), metrics + ["Valid"], threads=threads)
    if not results.get("Valid"):
        reasons = "; ".join(str(w.message) for w in caught[:5])
        raise ValueError(f"py-ctcmetrics found {res_dir} invalid against {gt_dir}: {reasons}")
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return {m: float(results[m]) for m in metrics}
