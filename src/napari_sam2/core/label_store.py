"""Label outputs on disk, every layout: open the label array, read and update what the output carries.

A zarr label output is one of two layouts, and every reader goes through
:func:`open_labels` / :func:`read_label_metadata` to accept both:

* **OME-Zarr 0.5 label image** (written since OME-Zarr support): a zarr v3
  group ``OUT`` whose attributes hold ``ome`` (``multiscales``, ``image-label``)
  and ``napari_sam2``; the ``uint16`` array is ``OUT/0``.
* **flat** (earlier outputs, and ``new_label_array(..., ome_zarr=False)``):
  one zarr array ``OUT`` carrying those attributes itself.

TIFF outputs are one memory-mapped stack with the ``napari_sam2`` block in
ImageJ's ``Info`` or the tifffile description.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

__all__ = ["open_labels", "label_group", "read_label_metadata", "write_label_metadata",
           "is_ome_label_group"]

BLOCK = "napari_sam2"


def is_ome_label_group(path: str | Path) -> bool:
    """Whether ``path`` is a zarr v3 group with OME-Zarr ``multiscales`` (reads its ``zarr.json`` only)."""
    try:
        meta = json.loads((Path(path) / "zarr.json").read_text())
    except (OSError, ValueError):
        return False
    ome = (meta.get("attributes") or {}).get("ome") or {}
    return meta.get("node_type") == "group" and bool(ome.get("multiscales"))


def label_group(path: str | Path, mode: str = "r"):
    """``(array, owner)``: the label array of a zarr output and the node whose attributes describe it.

    ``owner`` is the group of an OME-Zarr label image, the array itself for a flat output
    (and for a group whose array alone carries the ``napari_sam2`` attributes).

    Raises
    ------
    InputError
        ``path`` is not a zarr store, or a group without one label array.
    """
    import zarr

    path = Path(path)
    try:
        node = zarr.open(str(path), mode=mode)
    except Exception as err:  # zarr raises several types for "not a store"
        raise InputError(f"{path} is not a zarr store napari-sam2 can read ({err})") from None
    if isinstance(node, zarr.Array):
        return node, node
    attrs = dict(node.attrs)
    multiscales = (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales")
    arrays = dict(node.arrays())
    if multiscales:
        name = multiscales[0]["datasets"][0]["path"]
    else:  # a group of ours with one array (e.g. the review tests' "labels")
        name = next((n for n in ("0", "labels") if n in arrays), None)
        if name is None and len(arrays) == 1:
            name = next(iter(arrays))
    if name not in arrays:
        raise InputError(f"{path} is a zarr group without one label array (it holds "
                         f"{', '.join(arrays) or 'none'}): open a napari-sam2 label output")
    array = arrays[name]
    if BLOCK not in node.attrs and BLOCK in array.attrs:  # our attributes on the array inside a group
        return array, array
    return array, node


def open_labels(path: str | Path, mode: str = "r"):
    """The label array of a label output, lazily: zarr (either layout) or TIFF (memory-mapped).

    Parameters
    ----------
    path : str or Path
        A ``.zarr`` output (an OME-Zarr label group or one array) or a ``.tif``/``.tiff``.
    mode : str
        ``"r"`` to read, ``"r+"`` to write into it (continue a run, edit labels).

    Returns
    -------
    zarr array or numpy memmap
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"label output {path} does not exist")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.memmap(str(path), mode=mode)
    return label_group(path, mode)[0]


def read_label_metadata(path: str | Path) -> dict | None:
    """The ``napari_sam2`` block of a label output (None when it has none or cannot be read)."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                info = (tif.imagej_metadata or {}).get("Info")
                shaped = tif.shaped_metadata
            if info:
                return json.loads(info).get(BLOCK)
            return shaped[0].get(BLOCK) if shaped else None
        _, owner = label_group(path)
        block = dict(owner.attrs).get(BLOCK)
        return dict(block) if isinstance(block, dict) else None
    except Exception:  # not ours, or unreadable: no metadata
        return None


def write_label_metadata(path: str | Path, metadata: dict, **extra) -> None:
    """Replace the ``napari_sam2`` block of a zarr output (and its ``image-label`` objects to match).

    Parameters
    ----------
    path : str or Path
        A ``.zarr`` label output, either layout.
    metadata : dict
        The new block (:func:`~.label_metadata.label_metadata`); keys of
        ``extra`` are set in it too (e.g. ``lineage=...``).
    """
    from .label_metadata import image_label

    array, owner = label_group(path, mode="r+")
    metadata = {**metadata, **extra}
    attrs = {BLOCK: metadata}
    ome = dict(owner.attrs).get("ome")
    if isinstance(ome, dict):  # OME-Zarr: the objects' names and colours follow the block
        attrs["ome"] = {**ome, "image-label": image_label(metadata, path)}
    elif "image-label" in owner.attrs:  # a flat output (OME 0.4 style attributes)
        label = image_label(metadata, None)
        attrs["image-label"] = {"version": "0.4", **{k: v for k, v in label.items() if k != "colors"}}
    owner.attrs.update(attrs)
