"""Folders of JPEG/PNG frames as lazy stacks, and indexed PNG label masks.

This is how benchmark datasets such as DAVIS store videos: one JPEG per
frame and one PNG mask per frame (``{0, 255}`` for one object, or a palette
image whose indices are object ids). Pillow reads and writes the files; it
is imported only when a file is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["ImageFolder", "MaskFolder", "read_mask", "write_mask", "davis_palette"]

VOID = 255  # DAVIS: 255 in a multi-object annotation marks void pixels


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise InputError("reading JPEG/PNG frames needs Pillow: pip install pillow") from None
    return Image


def read_mask(path) -> np.ndarray:
    """Read a PNG mask as object ids.

    Parameters
    ----------
    path : str or Path
        A binary mask (values ``{0, 255}`` or ``{0, 1}``) or an indexed
        (palette) PNG whose indices are object ids.

    Returns
    -------
    numpy.ndarray of uint16, shape (Y, X)
        0 is background; a ``{0, 255}`` mask becomes one object, id 1. In a
        multi-object mask, 255 (DAVIS "void") is read as background.
    """
    image = _pillow().open(path)
    if image.mode not in ("1", "L", "P", "I", "I;16"):
        raise InputError(f"{path} is a {image.mode} image; a mask must be a grey or indexed (palette) PNG")
    values = np.asarray(image)
    if values.ndim != 2:
        raise InputError(f"{path} is not a 2D mask (shape {values.shape})")
    ids = np.unique(values)
    if ids.dtype == bool or set(ids.tolist()) <= {0, VOID}:
        return (values != 0).astype(np.uint16)
    return np.where(values == VOID, 0, values).astype(np.uint16)


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS / PASCAL VOC masks (0 black, 1 dark red, 2 green...)."""
    palette = []
    for index in range(256):
        rgb = [0, 0, 0]
        code = index
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << (7 - bit)
            code >>= 3
        palette += rgb
    return palette


def write_mask(path, labels) -> None:
    """Write object ids 0..255 as an indexed PNG with the DAVIS palette.

    Parameters
    ----------
    path : str or Path
        Output ``.png``.
    labels : array_like of int, shape (Y, X)
        Object ids; 0 is background.
    """
    labels = np.asarray(labels)
    if labels.size and labels.max() > 254:
        raise InputError(f"object id {labels.max()} does not fit an indexed PNG mask (ids 1..254)")
    rows, cols = labels.shape
    image = _pillow().frombytes("P", (cols, rows), np.ascontiguousarray(labels, np.uint8).tobytes())
    image.putpalette(davis_palette())
    image.save(path)


class ImageFolder:
    """A list of image files seen as one lazy ``(T, Y, X[, 3])`` array.

    Only the frames that are indexed are read, one file per frame.

    Parameters
    ----------
    files : sequence of str or Path
        One image per frame, all the same size.
    kind : {"rgb", "mask"}
        ``"rgb"``: colour frames, ``uint8 (Y, X, 3)``; ``"mask"``: object ids
        read with :func:`read_mask`, ``uint16 (Y, X)``.

    Examples
    --------
    >>> frames = ImageFolder(sorted(Path("JPEGImages/480p/dog").glob("*.jpg")))  # doctest: +SKIP
    >>> frames.shape, frames[0].shape  # doctest: +SKIP
    ((60, 480, 854, 3), (480, 854, 3))
    """

    def __init__(self, files, kind: str = "rgb"):
        if kind not in ("rgb", "mask"):
            raise ValueError(f"kind must be 'rgb' or 'mask', not {kind!r}")
        self.files = [Path(f) for f in files]
        if not self.files:
            raise InputError("no image files given")
        self.kind = kind
        first = self._read(0)
        self.frame_shape = first.shape
        self.shape = (len(self.files), *first.shape)
        self.ndim = len(self.shape)
        self.dtype = first.dtype

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> np.ndarray:
        path = self.files[index]
        if self.kind == "mask":
            frame = read_mask(path)
        else:
            try:
                frame = np.asarray(_pillow().open(path).convert("RGB"))
            except OSError as err:
                raise InputError(f"cannot read {path}: {err}") from None
        if hasattr(self, "frame_shape") and frame.shape != self.frame_shape:
            raise InputError(f"{path} is {frame.shape}, the first frame is {self.frame_shape}")
        return frame

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, slice):
            block = np.stack([self._read(i) for i in range(*first.indices(len(self)))])
            return block[(slice(None), *rest)]
        index = int(first)
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} out of range for {len(self)} frames")
        return self._read(index % len(self))[rest]

    def __array__(self, dtype=None, copy=None):
        block = self[:]
        return block if dtype is None else block.astype(dtype)


class MaskFolder:
    """A ``(T, Y, X)`` label array backed by one indexed PNG per frame, for a :class:`LabelSink`.

    Writing frame ``t`` writes ``folder/names[t].png`` at once. Frames not
    written yet read as zeros (earlier files in the folder are ignored).

    Parameters
    ----------
    folder : str or Path
        Output folder (created).
    names : sequence of str
        File stem of each frame, e.g. ``["00000", "00001", ...]``.
    frame_shape : (rows, cols)
    """

    dtype = np.dtype(np.uint16)
    ndim = 3

    def __init__(self, folder, names, frame_shape):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.names = list(names)
        self.shape = (len(self.names), *frame_shape)
        self._written: set[int] = set()

    def path(self, index: int) -> Path:
        """The PNG file of frame ``index``."""
        return self.folder / f"{self.names[index]}.png"

    def __getitem__(self, index):
        index = int(index)
        if index not in self._written:
            return np.zeros(self.shape[1:], self.dtype)
        return read_mask(self.path(index))

    def __setitem__(self, index, labels) -> None:
        write_mask(self.path(int(index)), labels)
        self._written.add(int(index))
