"""Where label frames go: a numpy array, a zarr array on disk, or a TIFF file.

Every sink stores one ``uint16`` label image per frame (0 = background, one
integer per object, the same id on every frame). Frames are written one at a
time as soon as they are computed, so a cancelled or crashed run keeps every
frame it finished.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import InputError
from .outputs import check_free_space, check_output_path, label_store_bytes, remove_output, write_error

__all__ = ["LabelSink", "open_label_sink", "new_label_array", "open_label_array", "LABEL_DTYPE"]

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
                    overwrite: bool = False, protect: Iterable[str | Path] = ()) -> LabelSink:
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
    protect : iterable of paths
        Inputs (the image) that ``path`` must not be, contain or lie inside:
        refused even with ``overwrite``.
    """
    shape = (n_frames, *frame_shape)
    path = check_output_path(path, protect, overwrite)
    check_free_space(path, label_store_bytes(shape, path.suffix))
    if path.exists():
        remove_output(path)
    return LabelSink(new_label_array(path, shape))


def new_label_array(path: str | Path | None, shape: tuple[int, ...],
                    spatial: tuple[int, int] | None = None, protect: Iterable[str | Path] = (),
                    axes: str | None = None, metadata: dict | None = None, ome_zarr: bool = True):
    """An all-zero label array: in memory, a new zarr store, or a new TIFF (memory-mapped).

    A zarr store is an OME-Zarr 0.5 label image (a group ``path`` with the array
    at ``path/0``; see :mod:`.label_store`), chunked one frame per chunk (whole frames along
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
    protect : iterable of paths
        Inputs that ``path`` must not be, contain or lie inside.
    axes : str, optional
        Axis letters of ``shape`` (``"TYX"``), stored as the axis names of the
        output (zarr ``dimension_names``, ImageJ TIFF axes); see :mod:`.label_metadata`.
    metadata : dict, optional
        What else the output carries (source image, scale, model, objects):
        see :func:`.label_metadata.label_metadata`.
    ome_zarr : bool
        zarr only: write the OME-Zarr label image (default); False writes one
        zarr array with the attributes on it (the layout of earlier versions).

    Returns
    -------
    numpy array, zarr array or numpy memmap
    """
    if path is None:
        return np.zeros(shape, LABEL_DTYPE)
    path = Path(path)
    if path.exists():
        check_output_path(path, protect, exists_ok=True)
        raise InputError(f"output {path} already exists; choose a new name (nothing is overwritten)")
    path = check_output_path(path, protect)
    check_free_space(path, label_store_bytes(shape, path.suffix))
    try:
        return _create(path, shape, spatial, axes, metadata or {}, ome_zarr)
    except OSError as err:
        remove_output(path)
        raise write_error(err, path, "nothing was written") from None


def open_label_array(path: str | Path, shape: tuple[int, ...]):
    """An existing label output (either zarr layout, or TIFF), opened for writing (to continue a run)."""
    from .label_store import open_labels

    path = Path(path)
    array = open_labels(path, mode="r+")
    if tuple(array.shape) != tuple(shape) or array.dtype != LABEL_DTYPE:
        raise InputError(f"{path} has shape {tuple(array.shape)} and type {array.dtype}; the run "
                         f"needs {tuple(shape)} uint16")
    return array


def _create(path: Path, shape: tuple[int, ...], spatial: tuple[int, int] | None, axes, metadata,
            ome_zarr: bool = True):
    from .label_metadata import OME_DATASET, imagej_options, ome_attributes, zarr_attributes

    suffix = path.suffix.lower()
    spatial = spatial if spatial is not None else (len(shape) - 2, len(shape) - 1)
    if suffix == ".zarr":
        import zarr

        chunks = [1] * len(shape)
        for dim in spatial:
            chunks[dim] = shape[dim]
        if ome_zarr:
            names, attrs = ome_attributes(len(shape), axes, metadata, path, spatial)
            group = zarr.create_group(str(path), zarr_format=3, attributes=attrs)
            return group.create_array(OME_DATASET, shape=shape, chunks=chunks, dtype=LABEL_DTYPE,
                                      fill_value=0, dimension_names=names)
        names, attrs = zarr_attributes(axes, metadata)
        array = zarr.open_array(str(path), mode="w-", shape=shape, chunks=chunks, dtype=LABEL_DTYPE,
                                fill_value=0, dimension_names=names)
        if attrs:
            array.attrs.update(attrs)
        return array
    import tifffile

    array = tifffile.memmap(str(path), shape=shape, dtype=LABEL_DTYPE, photometric="minisblack",
                            **imagej_options(axes, metadata))
    _allocate(path)
    return array


def _allocate(path: Path) -> None:
    """Reserve the blocks of a new (sparse) TIFF, so that a full disk fails now, not by SIGBUS later."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # the file system cannot: carry on
            raise
    finally:
        os.close(fd)
