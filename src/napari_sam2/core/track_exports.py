"""Track-all outputs in the formats other tools read: Cell Tracking Challenge folders and GEFF.

Every writer reads the label stack one frame at a time (zarr and other lazy
stacks are never loaded whole) and takes 2D+t ``(T, Y, X)`` and 3D+t
``(T, Z, Y, X)`` labels. The label id of a cell is its track id
(:class:`~.lineage.Lineage`); where the labels and the lineage disagree the
labels win: a track's frames are the frames its id has pixels on, an id
without a track is a track without a parent, a track without pixels is left
out. GEFF is written by :mod:`.track_geff` (re-exported here); the per-frame
pass over the labels is :mod:`.track_nodes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError
from .lineage import Lineage, Track
from .track_geff import read_geff, write_geff
from .track_nodes import check_stack, frame_objects, presence, track_nodes

__all__ = ["frame_objects", "track_nodes", "presence", "ctc_lineage", "write_ctc_folder",
           "write_ctc_ground_truth", "read_ctc_folder", "ctc_digits", "write_geff", "read_geff",
           "read_lineage", "write_lineage", "LINEAGE_ATTRS"]

UINT16_MAX = int(np.iinfo(np.uint16).max)
#: where a track output's zarr attributes keep ``Lineage.to_dict()``: ``attrs[a][b]``
LINEAGE_ATTRS = ("napari_sam2", "lineage")


def _runs(frames: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for t in frames:
        if runs and runs[-1][1] == t - 1:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def ctc_lineage(labels, lineage: Lineage | None = None, frames: dict | None = None):
    """The lineage as the CTC format needs it, and the ids to rewrite.

    A CTC track is present on every frame from its first to its last. An id
    that is absent for some frames and comes back is split: the later runs
    get new labels (above every id in use) whose parent is the run before.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
    lineage : Lineage, optional
        Parents and review state; None: every id is a track without parent.
    frames : dict, optional
        :func:`presence` of ``labels`` when already computed.

    Returns
    -------
    lineage : Lineage
        The tracks as written (start, end from the pixels; parents kept when
        the parent has pixels and ends before the daughter starts).
    relabel : dict
        ``{(id, first frame, last frame): new label}`` for the later runs.
    """
    lineage = lineage or Lineage()
    frames = presence(labels) if frames is None else frames
    out, relabel = Lineage(), {}
    next_label = max(list(frames) + list(lineage.tracks), default=0) + 1
    last_run: dict[int, tuple[int, int]] = {}  # id -> (label of its last run, its end)
    order = sorted(frames, key=lambda i: (frames[i][0], i))  # parents start before daughters
    for track_id in order:
        known = lineage.tracks.get(track_id)
        reviewed = bool(known.reviewed) if known else False
        parent = 0
        if known and known.parent in last_run and last_run[known.parent][1] < frames[track_id][0]:
            parent = last_run[known.parent][0]
        for n, (start, end) in enumerate(_runs(frames[track_id])):
            label = track_id
            if n:
                label, next_label = next_label, next_label + 1
                relabel[(track_id, start, end)] = label
                parent = last_run[track_id][0]
            out.tracks[label] = Track(label, start, end, parent, reviewed)
            last_run[track_id] = (label, end)
    out.flags = [f for f in lineage.flags if f.track_id in out.tracks]
    return out, relabel


def ctc_digits(n_frames: int) -> int:
    """Digits of the frame number in CTC file names: 3, or 4 for 1000 frames and more."""
    return max(3, len(str(max(n_frames - 1, 0))))


def _write_ctc(labels, lineage, folder: Path, masks: list[tuple[Path, str]], track_file: Path,
               overwrite: bool) -> Lineage:
    import tifffile

    check_stack(labels)
    existing = [p for d, prefix in masks for p in d.glob(f"{prefix}*.tif")] if not overwrite else []
    if track_file.exists() and not overwrite or existing:
        raise InputError(f"{folder} already holds a CTC result; choose another folder or "
                         "pass overwrite=True", fix=("overwrite", True))
    frames = presence(labels)
    if not frames:
        raise InputError("the labels contain no cells (all zero): there is no track to write")
    written, relabel = ctc_lineage(labels, lineage, frames)
    if max(written.tracks) > UINT16_MAX:
        raise InputError(f"{max(written.tracks)} track labels needed, but CTC masks are uint16 "
                         f"(at most {UINT16_MAX}); relabel the tracks with smaller ids")
    for directory, prefix in masks:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"{prefix}*.tif"):
            stale.unlink()
    width = ctc_digits(labels.shape[0])
    for t in range(labels.shape[0]):
        frame = np.asarray(labels[t]).astype(np.uint16)
        for (track_id, start, end), label in relabel.items():
            if start <= t <= end:
                frame[frame == track_id] = label
        for directory, prefix in masks:
            tifffile.imwrite(directory / f"{prefix}{t:0{width}d}.tif", frame, compression="zlib")
    written.write_ctc(track_file)
    return written


def write_ctc_folder(labels, lineage: Lineage | None, folder, overwrite: bool = False) -> Path:
    """Write a label stack and its lineage as a CTC result folder (``01_RES``).

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Track ids consistent over time (0 = background); read one frame at a
        time, twice (zarr arrays stay on disk).
    lineage : Lineage or None
        Parents (divisions) and review state; None: no divisions.
    folder : str or Path
        Created if needed; gets ``maskTTT.tif`` (uint16, one per frame; 3D
        frames as multi-page TIFF; ``TTTT`` from 1000 frames on) and
        ``res_track.txt`` (``L B E P`` per track, see :func:`ctc_lineage`).
    overwrite : bool
        Replace a CTC result already in ``folder``.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    InputError
        Before anything is written: not a 3D/4D integer stack, no cells, more
        than 65535 labels, or ``folder`` already holds a result.
    """
    folder = Path(folder)
    _write_ctc(labels, lineage, folder, [(folder, "mask")], folder / "res_track.txt", overwrite)
    return folder


def write_ctc_ground_truth(labels, lineage: Lineage | None, folder, seg: bool = True,
                           overwrite: bool = False) -> Lineage:
    """Write labels and lineage as a CTC ground-truth folder (``01_GT``).

    ``TRA/man_trackTTT.tif`` + ``TRA/man_track.txt`` and, when ``seg``,
    ``SEG/man_segTTT.tif`` on every frame (the masks are the full
    segmentation, as for synthetic data). Same rules as :func:`write_ctc_folder`.

    Returns
    -------
    Lineage
        The lineage written to ``man_track.txt``.
    """
    folder = Path(folder)
    masks = [(folder / "TRA", "man_track")] + ([(folder / "SEG", "man_seg")] if seg else [])
    return _write_ctc(labels, lineage, folder, masks, folder / "TRA" / "man_track.txt", overwrite)


def read_ctc_folder(folder) -> tuple[np.ndarray, Lineage]:
    """Read a CTC result (``mask*.tif`` + ``res_track.txt``) or ground truth (``TRA/``) folder.

    Parameters
    ----------
    folder : str or Path
        A ``01_RES`` folder, a ``01_GT`` folder (its ``TRA`` is read) or a
        ``TRA`` folder itself.

    Returns
    -------
    labels : uint16 array (T, Y, X) or (T, Z, Y, X)
    lineage : Lineage
    """
    import tifffile

    folder = Path(folder)
    if (folder / "TRA").is_dir():
        folder = folder / "TRA"
    for prefix, text in (("mask", "res_track.txt"), ("man_track", "man_track.txt")):
        files = sorted(folder.glob(f"{prefix}*.tif"))
        if files and (folder / text).exists():
            lineage = Lineage.from_ctc_text((folder / text).read_text(), str(folder / text))
            return np.stack([tifffile.imread(f) for f in files]).astype(np.uint16), lineage
    raise InputError(f"{folder} is not a CTC folder: expected mask*.tif with res_track.txt "
                     "or man_track*.tif with man_track.txt")


def read_lineage(store) -> Lineage | None:
    """The lineage stored with a track output (``napari-sam2 track``'s ``.zarr`` label store).

    Parameters
    ----------
    store : str, Path or zarr node
        A zarr label array (or an open zarr array or group) whose ``napari_sam2``
        attributes hold ``lineage`` (:meth:`~.lineage.Lineage.to_dict`), or a
        CTC folder (its track file).

    Returns
    -------
    Lineage or None
        None when ``store`` carries no lineage (any other label file).
    """
    if isinstance(store, (str, Path)):
        path = Path(store)
        if path.is_dir() and (any(path.glob("mask*.tif")) or (path / "TRA").is_dir()):
            return read_ctc_folder(path)[1]
        if not (path.is_dir() and ((path / "zarr.json").exists() or (path / ".zattrs").exists())):
            return None
        import zarr

        try:
            attrs = dict(zarr.open(str(path), mode="r").attrs)
        except Exception:  # noqa: BLE001 - not a zarr we can read: no lineage
            return None
    else:
        attrs = dict(store.attrs)
    outer, inner = LINEAGE_ATTRS
    block = attrs.get(outer) or {}
    data = block.get(inner) if isinstance(block, dict) else None
    return Lineage.from_dict(data) if data else None


def write_lineage(store, lineage: Lineage) -> None:
    """Store ``lineage`` (with its review state) with a track output, where :func:`read_lineage` reads it.

    Parameters
    ----------
    store : str, Path or zarr node
        The ``.zarr`` label store, or an open zarr array or group (opened for
        writing). The other ``napari_sam2`` attributes are kept.
    lineage : Lineage
    """
    if isinstance(store, (str, Path)):
        import zarr

        store = zarr.open(str(store), mode="r+")
    outer, inner = LINEAGE_ATTRS
    block = dict(store.attrs.get(outer) or {})
    block[inner] = lineage.to_dict()
    store.attrs[outer] = block
