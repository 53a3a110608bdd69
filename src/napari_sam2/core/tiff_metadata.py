"""TIFF axes and the metadata that may lie about them (ImageJ hyperstack sizes, OME sizes).

ImageJ writes ``channels``, ``slices`` and ``frames`` in its description and
OME its ``SizeC``, ``SizeZ`` and ``SizeT``; tifffile shapes the series by
them. When they do not multiply out to the number of images in the file,
tifffile either drops the extra pages (more pages than the sizes say) or fails
or pads with zeros (fewer): :func:`open_tiff` says so, and refuses the second
case, because the data cannot be read as described.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .errors import InputError

__all__ = ["open_tiff", "metadata_problem"]


def open_tiff(path: Path, plain: bool = False) -> tuple[object, str, str, tuple[str, ...]]:
    """Open a TIFF's first series lazily: ``(array, tifffile's axes, source, warnings)``.

    See :func:`~.io.read_image`.
    """
    import tifffile
    import zarr

    flags = {"is_imagej": False, "is_ome": False, "is_shaped": False} if plain else {}
    try:
        with tifffile.TiffFile(path, **flags) as tif:
            series = tif.series[0]
            axes, source = series.axes, _source(tif, plain)
            problem = None if plain else metadata_problem(tif)
    except (tifffile.TiffFileError, ValueError) as err:
        raise InputError(f"{path} is not a readable TIFF: {err}") from None
    warnings = ()
    if problem is not None:
        text, readable = problem
        advice = ("fix the sizes (Fiji: Image > Properties) and save again, or {fix} with 3 letters "
                  "(e.g. ZYX or TYX) to read the pages as one stack")
        if not readable:
            raise InputError(f"{path.name}: {text}: it cannot be read as described; {advice}",
                             fix=("axes", None))
        warnings = (f"{path.name}: {text}; " + advice.replace("{fix}", "name the axes"),)
    try:
        store = tifffile.imread(path, aszarr=True, series=0, level=0, **flags)
    except (tifffile.TiffFileError, ValueError) as err:
        raise InputError(f"{path} is not a readable TIFF: {err}") from None
    array = zarr.open(store, mode="r")
    return array, axes, source, warnings


def _source(tif, plain: bool) -> str:
    if plain:
        return "the pages as one stack"
    if tif.is_ome:
        return "from OME metadata"
    if tif.is_imagej:
        return "from ImageJ metadata"
    return "from the TIFF description"


def metadata_problem(tif) -> tuple[str, bool] | None:
    """What the ImageJ or OME sizes of an open ``tifffile.TiffFile`` get wrong, if anything.

    Returns
    -------
    (str, bool) or None
        The problem in words, and whether the data can still be read as the
        metadata describes (more pages than described: yes, the rest is left
        out; fewer: no).
    """
    pages = len(tif.pages)
    if tif.is_imagej:
        meta = tif.imagej_metadata or {}
        sizes = {k: int(meta.get(k, 1) or 1) for k in ("channels", "slices", "frames")}
        samples = tif.pages.first.samplesperpixel
        colours = samples > 1 and sizes["channels"] in (1, samples)  # RGB: channels are the samples
        described = sizes["slices"] * sizes["frames"] * (1 if colours else sizes["channels"])
        if pages == 1 and int(meta.get("images", 1) or 1) > 1:
            return None  # one page with contiguous data (ImageJ's large files): no page count to check
        if described != pages:
            said = ", ".join(f"{k}={v}" for k, v in sizes.items() if v > 1) or "one image"
            return _words("ImageJ metadata", said, described, pages)
        return None
    if tif.is_ome and len(tif.series) == 1:
        sizes = _ome_sizes(tif.pages.first.description or "")
        if sizes is None:
            return None
        size_c = sizes["C"] // max(1, sizes["S"]) if sizes["S"] > 1 else sizes["C"]
        described = sizes["T"] * sizes["Z"] * size_c
        if described != pages:
            said = " ".join(f"Size{k}={sizes[k]}" for k in "TZC")
            return _words("OME metadata", said, described, pages)
    return None


def _words(what: str, said: str, described: int, pages: int) -> tuple[str, bool]:
    text = (f"{what} says {said} ({described} image{'s' * (described != 1)}) but the file holds "
            f"{pages} page{'s' * (pages != 1)}")
    if described < pages:
        text += f"; read as described, {pages - described} page(s) are left out"
    return text, described <= pages


def _ome_sizes(xml: str) -> dict[str, int] | None:
    pixels = re.search(r"<(?:\w+:)?Pixels\b[^>]*>", xml)
    if pixels is None:
        return None
    found = dict(re.findall(r'\b(Size[TZC])="(\d+)"', pixels.group(0)))
    if len(found) != 3:
        return None
    samples = re.search(r'SamplesPerPixel="(\d+)"', xml)
    sizes = {k[-1]: int(v) for k, v in found.items()}
    sizes["S"] = int(samples.group(1)) if samples else 1
    return sizes if math.prod(sizes.values()) else None
