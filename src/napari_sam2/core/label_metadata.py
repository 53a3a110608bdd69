"""What a label output carries: axis names, the source image and its scale, the model, the objects.

zarr outputs are OME-Zarr 0.5 label images (:func:`ome_attributes`): a zarr v3
group whose ``ome`` attributes hold ``multiscales`` (one dataset ``"0"``, the
axes with their types and units where known, the scale) and ``image-label``
(each object id with its name and a colour, the source image), beside
everything in ``napari_sam2``; the ``uint16`` array is ``OUT/0``, with the axis
names as its ``dimension_names``. Outputs of earlier versions (one zarr array,
:func:`zarr_attributes`) are still read (:mod:`.label_store`). TIFF outputs are ImageJ hyperstacks (axes,
pixel size, z spacing or frame interval) with the same JSON in ImageJ's
``Info``; where ImageJ cannot name the axes, a tifffile TIFF with the axes and
the JSON in its description.
"""

from __future__ import annotations

import json

__all__ = ["label_metadata", "zarr_attributes", "ome_attributes", "ome_axis_names", "imagej_options",
           "AXIS_TYPES", "OME_DATASET"]

#: OME-Zarr axis types of the axis letters
AXIS_TYPES = {"t": "time", "z": "space", "y": "space", "x": "space", "c": "channel"}
#: the path of the label array inside an OME-Zarr label group
OME_DATASET = "0"
#: the name of the first axis of an output whose axes the image does not name
UNNAMED_AXIS = "frame"


def label_metadata(n_frames: int, source=None, axes: str | None = None, scale=None,
                   parameters: dict | None = None, objects=(), selection: dict | None = None) -> dict:
    """The ``napari_sam2`` block of a label output.

    Parameters
    ----------
    n_frames : int
        Frames along the propagation axis.
    source : str or Path, optional
        The image the labels were computed from.
    axes : str, optional
        The output's axis letters (``"TYX"``); None when the image does not name them.
    scale : sequence of float, optional
        The physical size of a step along each output axis.
    parameters : dict, optional
        The run's parameters (model, weights hash, preset, precision...).
    objects : iterable of (int, str)
        Object ids and names.
    selection : dict, optional
        The part of the source the labels hold, in the source's numbers:
        ``{"t": [10, 20]}`` (stop excluded; ``[3, 4]`` for one time point whose
        axis the labels do not have). Recorded as ``"selection"`` when given.

    The physical units of the axes that ``source`` names (OME-Zarr axes,
    ImageJ's unit) are recorded as ``"units"``, e.g. ``{"x": "micrometer"}``.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("napari-sam2")
    except PackageNotFoundError:
        ours = None
    return {"version": ours, "n_frames": int(n_frames),
            "source": None if source is None else str(source),
            "axes": None if axes is None else axes.lower(),
            "scale": None if scale is None else [float(s) for s in scale],
            "parameters": dict(parameters or {}),
            "objects": [{"id": int(i), "name": str(name)} for i, name in objects],
            **({"units": units} if (units := _source_units(source, axes)) else {}),
            **({"selection": {k: [int(a), int(b)] for k, (a, b) in selection.items()}}
               if selection else {})}


def zarr_attributes(axes: str | None, metadata: dict) -> tuple[list[str] | None, dict]:
    """``(dimension_names, attributes)`` of a zarr label array."""
    names = [a.lower() for a in axes] if axes and len(set(axes)) == len(axes) else None
    if not metadata:
        return names, ({"_ARRAY_DIMENSIONS": names} if names else {})
    attrs = {"napari_sam2": metadata}
    if names:
        attrs["_ARRAY_DIMENSIONS"] = names
        axes_meta = [{"name": n, "type": AXIS_TYPES.get(n, "space")} for n in names]
        scale = metadata.get("scale") or [1.0] * len(names)
        attrs["multiscales"] = [{"version": "0.4", "name": "labels", "axes": axes_meta, "datasets": [
            {"path": ".", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}]
    attrs["image-label"] = {
        "version": "0.4",
        "properties": [{"label-value": o["id"], "name": o["name"]} for o in metadata["objects"]],
    }
    if metadata.get("source"):
        attrs["image-label"]["source"] = {"image": metadata["source"]}
    return names, attrs


def ome_axis_names(axes: str | None, ndim: int, spatial: tuple[int, int] | None = None) -> list[str]:
    """The OME-Zarr axis names of an output: its letters where they make valid OME axes.

    OME-Zarr wants the time axis first, then one channel or custom axis, then
    2 or 3 space axes. An output whose letters are unknown or break that order
    gets ``y``, ``x`` for its frame's rows and columns (``spatial``, default the
    last two axes), ``frame`` (no type) for the first other axis and
    ``dim_N`` for any further one (valid OME axes for 3D outputs only).
    """
    names = [a.lower() for a in axes] if axes and len(axes) == ndim else None
    if names and len(set(names)) == ndim and _valid_ome_order([AXIS_TYPES.get(n) for n in names]):
        return names
    rows, cols = spatial if spatial is not None else (ndim - 2, ndim - 1)
    others = iter([UNNAMED_AXIS] + [f"dim_{i}" for i in range(1, ndim)])
    return ["y" if d == rows else "x" if d == cols else next(others) for d in range(ndim)]


def _valid_ome_order(types: list) -> bool:
    spaces = types.count("space")
    others = [t for t in types if t != "space"]
    if not 2 <= spaces <= 3 or types[len(others):] != ["space"] * spaces or len(types) > 5:
        return False
    if types.count("time") > 1 or "time" in types and types[0] != "time":
        return False
    return sum(t not in ("time",) for t in others) <= 1


def ome_attributes(ndim: int, axes: str | None, metadata: dict, out=None,
                   spatial: tuple[int, int] | None = None) -> tuple[list[str], dict]:
    """``(dimension_names, group attributes)`` of an OME-Zarr 0.5 label image.

    Parameters
    ----------
    ndim : int
        Dimensions of the label array.
    axes : str, optional
        The output's axis letters.
    metadata : dict
        The ``napari_sam2`` block (:func:`label_metadata`), may be empty.
    out : str or Path, optional
        Where the group is written: the source image is recorded relative to it.
    spatial : (int, int), optional
        The row and column axes (default the last two), for outputs without axis letters.
    """
    names = ome_axis_names(axes, ndim, spatial)
    units = metadata.get("units") or {}
    axes_meta = []
    for name in names:
        axis = {"name": name}
        if AXIS_TYPES.get(name):
            axis["type"] = AXIS_TYPES[name]
        if units.get(name):
            axis["unit"] = units[name]
        axes_meta.append(axis)
    scale = metadata.get("scale")
    scale = [float(s) for s in scale] if scale and len(scale) == ndim else [1.0] * ndim
    ome = {"version": "0.5",
           "multiscales": [{"name": "labels", "axes": axes_meta, "datasets": [
               {"path": OME_DATASET, "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}],
           "image-label": image_label(metadata, out)}
    return names, {"ome": ome, "napari_sam2": metadata}  # an empty block still says "ours"


def image_label(metadata: dict, out=None) -> dict:
    """The ``image-label`` block: each object's id, name and colour, and the source image."""
    import os

    objects = metadata.get("objects") or []
    block: dict = {}
    if objects:
        block["colors"] = [{"label-value": o["id"], "rgba": label_color(o["id"])} for o in objects]
        block["properties"] = [{"label-value": o["id"], "name": o["name"]} for o in objects]
    source = metadata.get("source")
    if source:
        try:
            where = os.path.relpath(os.path.abspath(source), _final_output(out)) if out else source
        except ValueError:  # another drive (Windows)
            where = str(source)
        block["source"] = {"image": where}
    return block


def _final_output(path) -> str:
    """Where an output ends up: a replacement written in ``OUT.sam2-run/`` is swapped in as ``OUT``."""
    import os

    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if folder.endswith(".sam2-run"):  # core.outputs.run_folder
        return folder[: -len(".sam2-run")]
    return path


def label_color(label: int) -> list[int]:
    """A bright RGBA colour of one object id, well apart from its neighbours' (golden-ratio hues)."""
    import colorsys

    hue = (label * 0.618033988749895) % 1.0
    return [round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.75, 1.0)] + [255]


def _source_units(source, axes: str | None) -> dict:
    """The physical units of the output's axes that the source image names (empty when none)."""
    if source is None or not axes:
        return {}
    from .io import image_units

    units = image_units(source)
    return {a: units[a] for a in axes.lower() if a in units}


def imagej_options(axes: str | None, metadata: dict) -> dict:
    """Keyword arguments of ``tifffile.memmap`` for a TIFF label output."""
    if not axes:
        return {"metadata": {"napari_sam2": metadata}} if metadata else {}
    axes = axes.upper()
    order = "TZCYXS"
    if not (set(axes) <= set(order) and list(axes) == sorted(axes, key=order.index)
            and axes.endswith("YX")):
        return {"metadata": {"axes": axes, "napari_sam2": metadata}}
    options = {"imagej": True, "metadata": {"axes": axes}}
    if metadata:
        options["metadata"]["Info"] = json.dumps({"napari_sam2": metadata})
    scale = metadata.get("scale") if metadata else None
    if scale:
        steps = dict(zip(axes, scale, strict=False))
        if steps.get("Y") and steps.get("X"):
            options["resolution"] = (1 / steps["X"], 1 / steps["Y"])
        if "Z" in steps:
            options["metadata"]["spacing"] = steps["Z"]
        if "T" in steps:
            options["metadata"]["finterval"] = steps["T"]
    return options
