"""What a label output carries: axis names, the source image and its scale, the model, the objects.

zarr outputs (one ``uint16`` array) store the axis names as zarr v3
``dimension_names`` and as ``_ARRAY_DIMENSIONS`` (xarray's convention, which
:func:`~napari_sam2.core.io.open_image` reads), OME-Zarr style ``axes`` with
their types and ``coordinateTransformations`` (the scale), OME-Zarr's
``image-label`` block (each object id with its name, the source image), and
everything in ``napari_sam2``. TIFF outputs are ImageJ hyperstacks (axes,
pixel size, z spacing or frame interval) with the same JSON in ImageJ's
``Info``; where ImageJ cannot name the axes, a tifffile TIFF with the axes and
the JSON in its description.
"""

from __future__ import annotations

import json

__all__ = ["label_metadata", "zarr_attributes", "imagej_options", "AXIS_TYPES"]

#: OME-Zarr axis types of the axis letters
AXIS_TYPES = {"t": "time", "z": "space", "y": "space", "x": "space", "c": "channel"}


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
