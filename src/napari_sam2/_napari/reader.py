"""napari reader of our label outputs: a lazy Labels layer with its axes and scale, and the lineage as Tracks.

Claims only ``.zarr`` stores that carry a ``napari_sam2`` block (either
layout: an OME-Zarr label group or one zarr array, see
:mod:`napari_sam2.core.label_store`); any other path gets ``None`` so napari
asks the next reader. The Labels layer reads the store lazily (dask) and is
read-only: edits in napari never touch the file. A track output's lineage
becomes a Tracks layer (every frame is read once for the centroids); to review
and edit a track result, open it from the SAM2 review dock.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["get_reader", "read_labels", "label_layers"]


def get_reader(path):
    """The reader of ``path`` when it is a napari-sam2 label output, else None."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    if path.suffix.lower() != ".zarr" or not path.is_dir():
        return None
    from ..core.label_store import read_label_metadata

    return read_labels if read_label_metadata(path) is not None else None


def read_labels(path) -> list[tuple]:
    """napari layer data of a label output (``path`` or a one-item list of it)."""
    if isinstance(path, (list, tuple)):
        path = path[0]
    return label_layers(path)


def label_layers(path) -> list[tuple]:
    """``[(data, kwargs, "labels")]``, plus ``(data, kwargs, "tracks")`` when the output has a lineage.

    Parameters
    ----------
    path : str or Path
        A zarr label output of napari-sam2 (either layout).
    """
    import dask.array as da

    from ..core.label_store import label_group, read_label_metadata
    from ..core.lineage import Lineage

    path = Path(path)
    array, owner = label_group(path)
    meta = read_label_metadata(path) or {}
    names, scale, units = _axes(array, dict(owner.attrs), meta)
    objects = meta.get("objects") or []
    kwargs = {"name": path.stem, "scale": scale, "axis_labels": names,
              "metadata": {"napari_sam2": meta, "napari_sam2_path": str(path)}}
    if units:
        kwargs["units"] = units
    if objects:
        kwargs["features"] = {"index": [0] + [o["id"] for o in objects],
                              "name": ["background"] + [o["name"] or f"object {o['id']}" for o in objects]}
    layers = [(da.from_zarr(array), kwargs, "labels")]
    if meta.get("lineage") and array.ndim >= 3:
        from .tracks import tracks_layer_data

        data, graph, properties = tracks_layer_data(array, Lineage.from_dict(meta["lineage"]))
        layers.append((data, {"name": f"{path.stem} tracks", "graph": graph, "properties": properties,
                              "scale": scale, "axis_labels": names, "tail_length": 30,
                              "color_by": "track_id"}, "tracks"))
    return layers


def _axes(array, attrs: dict, meta: dict) -> tuple[list[str], list[float], list[str] | None]:
    """Axis names, scale and units (None unless the output names any) from whichever metadata there is."""
    ndim = array.ndim
    multiscales = (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales") or []
    axes = multiscales[0].get("axes", []) if multiscales else []
    names = [a.get("name") if isinstance(a, dict) else a for a in axes]
    scale = None
    if multiscales:
        for transform in multiscales[0]["datasets"][0].get("coordinateTransformations", []):
            if transform.get("type") == "scale":
                scale = transform.get("scale")
    if len(names) != ndim:
        dims = getattr(array.metadata, "dimension_names", None) or attrs.get("_ARRAY_DIMENSIONS")
        letters = meta.get("axes")
        names = list(dims) if dims else list(letters) if letters and len(letters) == ndim else [
            f"axis {i}" for i in range(ndim)]
    scale = scale or meta.get("scale")
    scale = [float(s) for s in scale] if scale and len(scale) == ndim else [1.0] * ndim
    unit_of = {a.get("name"): a.get("unit") for a in axes if isinstance(a, dict)}
    unit_of = {**(meta.get("units") or {}), **{k: v for k, v in unit_of.items() if v}}
    units = [unit_of.get(n) or "pixel" for n in names] if any(unit_of.get(n) for n in names) else None
    return [str(n) for n in names], scale, units
