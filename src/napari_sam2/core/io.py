"""Open image stacks lazily: TIFF/OME-TIFF, zarr arrays, OME-Zarr groups, .npy.

Nothing is read whole: TIFFs are opened as zarr stores through tifffile,
``.npy`` files are memory-mapped, zarr arrays stay on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["open_image", "read_image", "ImageFile", "default_axes", "image_scale", "image_units"]


@dataclass(frozen=True)
class ImageFile:
    """An image opened lazily, with the axis letters its file names.

    Attributes
    ----------
    array : array-like
        Lazily read (zarr or numpy memmap).
    axes : str or None
        Letters among T Z C Y X S, one per dimension, or None when the file
        does not name them all (tifffile's own codes such as Q or I are dropped).
    source : str or None
        Where the letters come from: ``"from ImageJ metadata"``, ``"from OME metadata"``...
    warnings : tuple of str
        Metadata that disagrees with the data (e.g. ImageJ sizes against the page count).
    """

    array: object
    axes: str | None
    source: str | None = None
    warnings: tuple[str, ...] = ()


def read_image(path: str | Path, plain: bool = False) -> ImageFile:
    """Open an image stack without reading it; its axis letters and what is wrong with its metadata.

    Parameters
    ----------
    path : str or Path
        ``.tif``/``.tiff`` (OME-TIFF, ImageJ), ``.zarr`` (array or OME-Zarr) or ``.npy``.
    plain : bool
        TIFF only: ignore ImageJ/OME metadata and read the pages as one stack
        (for files whose metadata does not fit their data).

    Raises
    ------
    InputError
        A file that does not exist or cannot be read, or TIFF metadata that
        describes more images than the file holds (unless ``plain``).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"image {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return ImageFile(np.load(path, mmap_mode="r", allow_pickle=False), None)
    if suffix in (".tif", ".tiff"):
        from .tiff_metadata import open_tiff

        array, axes, source, warnings = open_tiff(path, plain)
        return ImageFile(array, clean_axes(axes, array.ndim), source, warnings)
    if suffix == ".zarr" or (path / ".zattrs").exists() or (path / "zarr.json").exists():
        return _open_zarr(path)
    raise InputError(f"cannot read {path}: use a .tif/.tiff, .zarr or .npy file")


def open_image(path: str | Path):
    """Open an image stack without reading it (see :func:`read_image`).

    Parameters
    ----------
    path : str or Path
        ``.tif``/``.tiff`` (OME-TIFF too), ``.zarr`` (an array or an OME-Zarr
        group, whose full-resolution level is used) or ``.npy``.

    Returns
    -------
    array : array-like
        A lazily read array (zarr or numpy memmap).
    axes : str or None
        Axis letters such as ``"TCYX"`` when the file names them.
    """
    image = read_image(path)
    return image.array, image.axes


def _open_zarr(path: Path):
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises several types for "not a store"
        raise InputError(f"{path} is not a readable zarr store: {err}") from None
    if isinstance(node, zarr.Array):
        names = node.attrs.get("_ARRAY_DIMENSIONS")
        axes = "".join(str(n)[0] for n in names) if names else None
        return ImageFile(node, clean_axes(axes, node.ndim), "from the zarr attributes")
    attrs = dict(node.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not multiscales:
        arrays = list(node.array_keys())
        if len(arrays) == 1:
            return ImageFile(node[arrays[0]], None)
        raise InputError(
            f"{path} is a zarr group without OME-Zarr metadata; point to one of its arrays: "
            f"{', '.join(arrays) or '(none)'}"
        )
    first = multiscales[0]
    array = node[first["datasets"][0]["path"]]
    names = [a["name"] if isinstance(a, dict) else a for a in first.get("axes", [])]
    letters = "".join(n[0] for n in names) if names else None
    return ImageFile(array, clean_axes(letters, array.ndim), "from OME-Zarr metadata")


def clean_axes(axes: str | None, ndim: int) -> str | None:
    """A file's axis letters if they are one of T Z C Y X S per dimension, else None.

    tifffile's own codes (Q unknown, I image sequence, ...) are not axes a
    user knows: a file that uses them is treated as not naming its axes.
    """
    if not axes or len(axes) != ndim:
        return None
    axes = axes.upper()
    if not set(axes) <= set("TZCYXS") or len(set(axes)) != ndim or "C" in axes and "S" in axes:
        return None
    return axes


def default_axes(axes: str | None, ndim: int) -> tuple[int, int | None]:
    """Pick the propagation and channel axes from axis letters.

    Time (``T``) wins over ``Z``; ``C`` is the channel axis of 4D data, and of
    3D data without ``T`` or ``Z`` (one multichannel or RGB image). With no
    letters, axis 0 is propagated and 4D data needs an explicit channel axis.
    """
    if not axes:
        return 0, None
    axes = axes.replace("S", "C")
    single = ndim == 3 and "T" not in axes and "Z" not in axes
    channel = axes.index("C") if "C" in axes and (ndim == 4 or single) else None
    for letter in ("T", "Z"):
        if letter in axes:
            return axes.index(letter), channel
    others = [i for i, a in enumerate(axes) if a not in "YXC"]
    return (others[0] if others else 0), channel


def parse_axis(value: str | None, axes: str | None, what: str) -> int | None:
    """An axis given as a number or a letter (``t``, ``z``, ``c``) to its index."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    letters = axes.replace("S", "C") if axes else axes
    if letters and value.upper() in letters:
        return letters.index(value.upper())
    known = f"the file's axes are {axes}" if axes else "the file does not name its axes"
    raise InputError(f"{what} {value!r} is neither a number nor an axis letter ({known})")


def image_scale(path: str | Path, ndim: int) -> list[float] | None:
    """The physical step along each axis of an image file, where the file says (else None).

    OME-Zarr: the ``scale`` transformation of the full-resolution level;
    TIFF: the pixel size of the X/Y resolution tags, ImageJ's z spacing and
    frame interval. Axes the file says nothing about get 1.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            return _tiff_scale(path, ndim)
        if path.is_dir():
            return _zarr_scale(path, ndim)
    except Exception:  # metadata is a courtesy: an odd file has none
        return None
    return None


def _tiff_scale(path: Path, ndim: int) -> list[float] | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        axes = tif.series[0].axes.upper()
        tags = tif.pages[0].tags
        ij = tif.imagej_metadata or {}
        steps = {}
        for letter, tag in (("X", "XResolution"), ("Y", "YResolution")):
            if tag in tags:
                num, den = tags[tag].value
                if num and den and (num, den) != (1, 1):
                    steps[letter] = den / num
        if ij.get("spacing"):
            steps["Z"] = float(ij["spacing"])
        if ij.get("finterval"):
            steps["T"] = float(ij["finterval"])
    if not steps or len(axes) != ndim:
        return None
    return [float(steps.get(a, 1.0)) for a in axes]


def _zarr_scale(path: Path, ndim: int) -> list[float] | None:
    import zarr

    attrs = dict(zarr.open(str(path), mode="r").attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not multiscales:
        return None
    for transform in multiscales[0]["datasets"][0].get("coordinateTransformations", []):
        if transform.get("type") == "scale" and len(transform["scale"]) == ndim:
            return [float(s) for s in transform["scale"]]
    return None


#: spellings of units in image files, to the names OME-Zarr uses
_UNIT_NAMES = {"micron": "micrometer", "microns": "micrometer", "um": "micrometer", "\u00b5m": "micrometer",
               "\u03bcm": "micrometer", "\\u00b5m": "micrometer", "nm": "nanometer", "mm": "millimeter",
               "s": "second", "sec": "second", "ms": "millisecond", "min": "minute", "h": "hour"}


def image_units(path: str | Path) -> dict[str, str]:
    """The physical unit of each axis letter (lower case) an image file names: ``{"x": "micrometer"}``.

    OME-Zarr: the ``unit`` of each named axis; ImageJ TIFF: its ``unit`` for
    x, y (and z when the file has a z spacing). Empty when the file names none.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                ij = tif.imagej_metadata or {}
            unit = _unit_name(ij.get("unit"))
            letters = "xyz" if ij.get("spacing") else "xy"
            return {a: unit for a in letters} if unit else {}
        if path.is_dir():
            import zarr

            attrs = dict(zarr.open(str(path), mode="r").attrs)
            multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
            axes = multiscales[0].get("axes", []) if multiscales else []
            return {a["name"].lower(): _unit_name(a["unit"]) for a in axes
                    if isinstance(a, dict) and a.get("name") and a.get("unit")}
    except Exception:  # metadata is a courtesy: an odd file has none
        return {}
    return {}


def _unit_name(unit) -> str | None:
    if not unit or not isinstance(unit, str) or unit.lower() in ("pixel", "pixels", "none"):
        return None
    return _UNIT_NAMES.get(unit.strip().lower(), unit.strip())
