"""Where label frames go: a numpy array, a zarr array on disk, or a TIFF file.

Every sink stores one ``uint16`` label image per frame (0 = background, one
integer per object, the same id on every frame). Frames are written one at a
time as soon as they are computed, so a cancelled or crashed run keeps every
frame it finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["LabelSink", "open_label_sink", "new_label_array", "LABEL_DTYPE"]

LABEL_DTYPE = np.uint16


class LabelSink:
    """A ``(frame, row, col)`` label array written frame by frame.

    Parameters
    ----------
    array : array-like
        numpy array, numpy memmap or zarr array, shape ``(n_frames, rows, cols)``.
    """

    def __init__(self, array):
        if array.ndim != 3:
            raise InputError(f"a label sink needs a (frame, row, col) array, got shape {array.shape}")
        self.array = array
        self.shape = tuple(array.shape)

    @classmethod
    def in_memory(cls, n_frames: int, frame_shape: tuple[int, int]) -> LabelSink:
        """An all-zero numpy sink."""
        return cls(np.zeros((n_frames, *frame_shape), LABEL_DTYPE))

    def read(self, frame: int) -> np.ndarray:
        """The current labels of one frame."""
        return np.asarray(self.array[frame])

    def write(self, frame: int, labels: np.ndarray) -> None:
        """Store one frame's labels (and flush it to disk for file-backed sinks)."""
        self.array[frame] = labels.astype(LABEL_DTYPE, copy=False)
        flush = getattr(self.array, "flush", None)
        if flush is not None:
            flush()


def open_label_sink(path: str | Path, n_frames: int, frame_shape: tuple[int, int],
                    overwrite: bool = False) -> LabelSink:
    """Create a file-backed sink at ``path`` (``.zarr`` or ``.tif``/``.tiff``).

    A zarr store is chunked one frame per chunk. A TIFF is created full-size
    and uncompressed, then written in place (memory-mapped), so both can be
    opened while a run is still going.

    Parameters
    ----------
    path : str or Path
        Output file or folder.
    n_frames, frame_shape
        Size of the label stack.
    overwrite : bool
        Replace an existing output. Without it an existing path is an error:
        nothing is ever clobbered silently.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".zarr", ".tif", ".tiff"):
        raise InputError(f"output {path} must end in .zarr, .tif or .tiff")
    if path.exists():
        if not overwrite:
            raise InputError(f"output {path} already exists; choose another name "
                             "or {fix}", fix=("overwrite", True))
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shape = (n_frames, *frame_shape)
    return LabelSink(new_label_array(path, shape))


def new_label_array(path: str | Path | None, shape: tuple[int, ...],
                    spatial: tuple[int, int] | None = None):
    """An all-zero label array: in memory, a new zarr store, or a new TIFF (memory-mapped).

    A zarr store is chunked one frame per chunk (whole frames along
    ``spatial``, one index along every other axis); a TIFF is created full-size
    and uncompressed, so both can be read while a run is still going.

    Parameters
    ----------
    path : str or Path, optional
        ``.zarr`` or ``.tif``/``.tiff``; None for a numpy array.
    shape : tuple of int
        The array's shape.
    spatial : (int, int), optional
        The row and column axes; default the last two.

    Returns
    -------
    numpy array, zarr array or numpy memmap
    """
    if path is None:
        return np.zeros(shape, LABEL_DTYPE)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".zarr", ".tif", ".tiff"):
        raise InputError(f"output {path} must end in .zarr, .tif or .tiff")
    if path.exists():
        raise InputError(f"output {path} already exists; choose a new name (nothing is overwritten)")
    if not path.parent.exists():
        raise InputError(f"the folder {path.parent} for the output does not exist")
    spatial = spatial if spatial is not None else (len(shape) - 2, len(shape) - 1)
    if suffix == ".zarr":
        import zarr

        chunks = [1] * len(shape)
        for dim in spatial:
            chunks[dim] = shape[dim]
        return zarr.open_array(str(path), mode="w-", shape=shape, chunks=chunks, dtype=LABEL_DTYPE,
                               fill_value=0)
    import tifffile

    return tifffile.memmap(str(path), shape=shape, dtype=LABEL_DTYPE, photometric="minisblack")
