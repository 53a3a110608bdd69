"""napari layers <-> core objects: axes, prompts in frame pixels, label writes.

Prompt layers may have any scale, translate or affine: positions go through
world coordinates into the image layer's data pixels, so a click lands on the
data pixel and frame under the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..core.prompts import FramePrompt
from ..core.sink import new_label_array
from .layer_sink import LayerSink

__all__ = ["StackAxes", "guess_axes", "layer_axis_names", "image_data", "prompts_from_layers",
           "changed_prompts", "LayerSink",
           "add_session_layers", "color_points", "label_masks", "remove_object_prompts", "label_colormap",
           "layer_names", "PALETTE"]

#: object colours, id 1 first, then cycling: neighbouring ids far apart in hue and brightness (napari's
#: default label colormap gives ids 3, 4, 5 three near-identical purples)
PALETTE = np.array([
    (1.00, 0.60, 0.00), (0.00, 0.75, 1.00), (1.00, 0.90, 0.10), (0.75, 0.35, 1.00),
    (0.25, 0.90, 0.35), (1.00, 0.30, 0.45), (0.30, 0.45, 1.00), (0.70, 1.00, 0.30),
    (1.00, 0.50, 0.85), (0.00, 0.85, 0.70), (0.85, 0.55, 0.30), (0.60, 0.80, 1.00),
])
#: a point's border says its sign; its face is its object's label colour
POSITIVE_BORDER = np.array([1.0, 1.0, 1.0, 1.0])
NEGATIVE_BORDER = np.array([0.0, 0.0, 0.0, 1.0])
#: points are drawn at least this many screen pixels wide, however far the view is zoomed out
MIN_POINT_PIXELS = 10

TIME_OR_Z = ("t", "time", "z", "plane", "slice", "frame")
CHANNEL = ("c", "ch", "channel", "channels")
ROWS = ("y", "row", "rows", "height")
COLS = ("x", "col", "cols", "column", "columns", "width")
SPATIAL = ROWS + COLS


def layer_axis_names(layer) -> list[str]:
    """The names of an image layer's axes, lower-case: its ``axis_labels``, else the axis
    letters in its ``metadata["axes"]`` (``"TYX"``; S, an RGB layer's colours, not counted),
    else napari's defaults (``"-3"``...)."""
    ndim = layer.ndim
    labels = [str(name).lower() for name in getattr(layer, "axis_labels", ())] or [""] * ndim
    letters = str((getattr(layer, "metadata", None) or {}).get("axes", "")).lower().replace("s", "")
    unnamed = all(name.lstrip("-").isdigit() or not name for name in labels)
    if unnamed and len(letters) == ndim:
        return list(letters)
    return labels


@dataclass(frozen=True)
class StackAxes:
    """Which data axes of an image layer are the stack, channel, row and col.

    ``axis``, ``spatial`` and a non-RGB ``channel_axis`` index the layer's
    dimensions; an RGB layer's colour axis is the last data axis. ``axis`` is
    None for a single 2D image (grey, RGB, or with a channel axis): one frame.
    """

    axis: int | None
    spatial: tuple[int, int]
    channel_axis: int | None = None
    rgb: bool = False


def image_data(layer):
    """The full-resolution array of an image layer (multiscale: level 0)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def guess_axes(layer, axis: int | None = None, channel_axis: int | None = None) -> StackAxes:
    """Propagation, channel and spatial axes for an image layer.

    Parameters
    ----------
    layer : napari.layers.Image
    axis : int, optional
        The propagation axis; default from the layer's axis labels (t, then z),
        else the first axis.
    channel_axis : int, optional
        For 4D non-RGB layers; default from the axis labels (c).
    """
    ndim = layer.ndim  # RGB layers do not count their colour axis
    labels = layer_axis_names(layer)
    rgb = bool(getattr(layer, "rgb", False))
    if ndim < 2 or ndim > 4:
        raise InputError(
            f"layer '{layer.name}' has {ndim} dimensions; SAM2 needs a 2D image or a stack: "
            "(plane, row, col), optionally with a channel axis"
        )
    if ndim == 3 and axis is None and channel_axis is None:  # (c, y, x) or (y, x, c): one image
        found = [i for i, name in enumerate(labels) if name in CHANNEL]
        if found and all(name in SPATIAL for i, name in enumerate(labels) if i != found[0]):
            channel_axis = found[0]
    if ndim == 2 or (ndim == 3 and axis is None and channel_axis is not None):  # one image
        spatial = tuple(i for i in range(ndim) if i != channel_axis)
        if rgb:
            channel_axis = image_data(layer).ndim - 1
        return StackAxes(None, spatial, channel_axis, rgb)
    if ndim == 4 and channel_axis is None:
        found = [i for i, name in enumerate(labels) if name in CHANNEL]
        if not found:
            raise InputError(
                f"layer '{layer.name}' is 4D: choose its channel axis, or split the channels "
                "(right-click the layer > Split Stack)"
            )
        channel_axis = found[0]
    if ndim == 3:
        channel_axis = None
    others = [i for i in range(ndim) if i != channel_axis]
    rows = [i for i in others if labels[i] in ROWS]
    cols = [i for i in others if labels[i] in COLS]
    spatial = (rows[0], cols[0]) if len(rows) == 1 and len(cols) == 1 else tuple(others[-2:])
    stack = [i for i in others if i not in spatial]  # a (y, t, x) layer: t, wherever it is
    if axis is None:
        named = [i for i in stack if labels[i] in TIME_OR_Z]
        axis = named[0] if named else stack[0]
    if axis not in stack:
        raise InputError(f"axis {axis} of layer '{layer.name}' cannot be the stack axis")
    if rgb:
        channel_axis = layer.data[0].ndim - 1 if layer.multiscale else layer.data.ndim - 1
    return StackAxes(axis, spatial, channel_axis, rgb)


def _to_image_pixels(layer, positions: np.ndarray, image_layer) -> np.ndarray:
    """Positions in ``layer``'s data coordinates -> ``image_layer``'s data coordinates."""
    if layer.ndim != image_layer.ndim:
        raise InputError(
            f"layer '{layer.name}' has {layer.ndim} dimensions but image '{image_layer.name}' has "
            f"{image_layer.ndim}; prompts need a layer with the image's dimensions"
        )
    if len(positions) == 0:
        return np.zeros((0, image_layer.ndim))
    return np.array([image_layer.world_to_data(layer.data_to_world(p)) for p in positions])


def points_prompts(points_layer, image_layer, axes: StackAxes) -> dict[tuple[int, int], FramePrompt]:
    """Prompts from a Points layer with features ``object_id`` and ``positive``.

    Returns
    -------
    dict
        ``(object id, frame) -> FramePrompt`` with the points of that frame.
    """
    pixels = _to_image_pixels(points_layer, np.asarray(points_layer.data), image_layer)
    features = points_layer.features
    ids = features["object_id"].to_numpy() if "object_id" in features else np.ones(len(pixels))
    positive = features["positive"].to_numpy() if "positive" in features else np.ones(len(pixels))
    groups: dict[tuple[int, int], list] = {}
    for pixel, obj, pos in zip(pixels, ids, positive, strict=True):
        key = (int(obj), _frame_of(pixel, axes))
        groups.setdefault(key, []).append((pixel[axes.spatial[0]], pixel[axes.spatial[1]], int(bool(pos))))
    prompts = {}
    for key, rows in groups.items():
        arr = np.array(rows, np.float32)
        prompts[key] = FramePrompt(arr[:, :2], arr[:, 2].astype(np.int32))
    return prompts


def _frame_of(pixel: np.ndarray, axes: StackAxes) -> int:
    return 0 if axes.axis is None else int(round(pixel[axes.axis]))


def box_prompts(shapes_layer, image_layer, axes: StackAxes) -> dict[tuple[int, int], tuple]:
    """Boxes ``(row_min, col_min, row_max, col_max)`` from a Shapes layer's rectangles.

    The ``object_id`` feature names the object (default 1); the last box of an
    object on a frame wins.
    """
    features = shapes_layer.features
    ids = features["object_id"].to_numpy() if "object_id" in features else np.ones(len(shapes_layer.data))
    boxes = {}
    for vertices, kind, obj in zip(shapes_layer.data, shapes_layer.shape_type, ids, strict=True):
        if kind != "rectangle":
            continue
        pixels = _to_image_pixels(shapes_layer, np.asarray(vertices), image_layer)
        rows, cols = pixels[:, axes.spatial[0]], pixels[:, axes.spatial[1]]
        frame = _frame_of(pixels[0], axes)
        boxes[(int(obj), frame)] = (rows.min(), cols.min(), rows.max(), cols.max())
    return boxes


def prompts_from_layers(points_layer, shapes_layer, image_layer, axes: StackAxes,
                        frame_shape: tuple[int, int]) -> dict[tuple[int, int], FramePrompt]:
    """All prompts of the prompt layers (either may be None), merged per object and frame.

    Boxes are clipped to the frame (a rectangle drawn past the edge is fine).
    """
    prompts = points_prompts(points_layer, image_layer, axes) if points_layer is not None else {}
    boxes = box_prompts(shapes_layer, image_layer, axes) if shapes_layer is not None else {}
    rows, cols = frame_shape
    for key, (r0, c0, r1, c1) in boxes.items():
        box = (max(r0, 0.0), max(c0, 0.0), min(r1, rows - 1.0), min(c1, cols - 1.0))
        if box[0] > box[2] or box[1] > box[3]:
            raise InputError(f"the box of object {key[0]} on frame {key[1]} lies outside the "
                             f"{rows} x {cols} frame; draw it over the object")
        prompts[key] = prompts.get(key, FramePrompt()).with_box(box)
    return prompts


def changed_prompts(wanted: dict, synced: dict) -> list:
    """``[(key, prompt or None), ...]`` turning the ``synced`` prompts into the ``wanted`` ones.

    Keys are ``(object id, frame)``; None removes the prompt of that key.
    """
    return [(key, wanted.get(key)) for key in sorted(set(wanted) | set(synced))
            if key not in synced or key not in wanted or not _same_prompt(wanted[key], synced[key])]


def _same_prompt(a, b) -> bool:
    return (np.array_equal(a.points, b.points) and np.array_equal(a.labels, b.labels)
            and a.box == b.box)


def add_session_layers(viewer, image, axes: StackAxes, frame_shape, obj_id: int = 1, output=None):
    """Add the output Labels layer and the Points and Shapes prompt layers of a session over ``image``.

    Parameters
    ----------
    viewer : napari.Viewer
    image : napari.layers.Image
    axes : StackAxes
    frame_shape : (rows, cols)
        Sizes the points.
    obj_id : int
        The object new prompts belong to.
    output : str or Path, optional
        A new ``.zarr`` store for the labels (else they stay in memory); never
        the file the image was opened from, inside it or around it.

    Returns
    -------
    labels, points, shapes : napari layers
    """
    shape = list(image.data[0].shape if image.multiscale else image.data.shape)[: image.ndim]
    if axes.channel_axis is not None and not axes.rgb:
        shape[axes.channel_axis] = 1
    if output and not str(output).endswith(".zarr"):
        raise InputError(f"the output {output} must be a .zarr folder")
    source = getattr(getattr(image, "source", None), "path", None)  # the image's file: never written
    labels = new_label_array(output or None, tuple(shape), spatial=axes.spatial, protect=[source])
    common = dict(scale=image.scale, translate=image.translate, axis_labels=image.axis_labels)
    names = layer_names(viewer, image.name)
    labels_layer = viewer.add_labels(labels, name=names["labels"], colormap=label_colormap(), **common)
    shapes = viewer.add_shapes(
        ndim=image.ndim, name=names["boxes"], face_color="transparent", edge_width=2,
        features={"object_id": np.zeros(0, int)}, **common)
    shapes.feature_defaults = {"object_id": obj_id}
    points = viewer.add_points(
        ndim=image.ndim, name=names["points"], size=max(4.0, min(frame_shape) / 40), border_width=0.25,
        features={"object_id": np.zeros(0, int), "positive": np.zeros(0, bool)}, **common)
    points.canvas_size_limits = (MIN_POINT_PIXELS, 10000)
    points.feature_defaults = {"object_id": obj_id, "positive": True}
    points.mode = "add"
    return labels_layer, points, shapes


def layer_names(viewer, image_name: str) -> dict[str, str]:
    """Short layer names that fit the layer list: ``SAM2 labels``, ``SAM2 points``, ``SAM2 boxes``.

    When the viewer already has a session's layers (another image, or Start
    pressed again), the image's name, cut to 12 characters, is added.
    """
    names = {kind: f"SAM2 {kind}" for kind in ("labels", "points", "boxes")}
    if any(name in viewer.layers for name in names.values()):
        short = image_name if len(image_name) <= 12 else image_name[:11] + "…"
        names = {kind: f"{name} ({short})" for kind, name in names.items()}
    return names


def label_colormap():
    """The session's label colormap: :data:`PALETTE` cycling over ids, 0 transparent."""
    from napari.utils.colormaps import CyclicLabelColormap

    colors = np.concatenate([np.zeros((1, 4)), np.c_[PALETTE, np.ones(len(PALETTE))]])
    return CyclicLabelColormap(colors=colors)


def color_points(points_layer, labels_layer) -> None:
    """Points in their object's label colour (a point and its mask share one colour); positive
    points are discs ringed in white, negative ones crosses ringed in black."""
    if points_layer is None or len(points_layer.data) == 0:
        return
    positive = points_layer.features["positive"].to_numpy().astype(bool)
    ids = points_layer.features["object_id"].to_numpy()
    face = np.array([labels_layer.get_color(int(i)) for i in ids])
    border = np.where(positive[:, None], POSITIVE_BORDER, NEGATIVE_BORDER)
    symbol = np.where(positive, "disc", "x")
    if (face.shape == points_layer.face_color.shape and np.allclose(face, points_layer.face_color)
            and border.shape == points_layer.border_color.shape
            and np.allclose(border, points_layer.border_color)
            and [str(s) for s in symbol] == [str(getattr(s, "value", s)) for s in points_layer.symbol]):
        return  # as shown (setting them would redraw the layer)
    events = points_layer.events
    with events.face_color.blocker(), events.border_color.blocker(), events.symbol.blocker():
        points_layer.face_color = face
        points_layer.border_color = border
        points_layer.symbol = symbol


def label_masks(layer, labels_layer, image_layer, index) -> list[tuple[int, np.ndarray]]:
    """``[(id, mask), ...]`` of a Labels layer's plane at ``index``, checked against the session's image.

    Parameters
    ----------
    layer : napari.layers.Labels
        Another tool's labels (e.g. Cellpose), the shape of the output labels or of the image.
    labels_layer, image_layer : napari layers
        The session's output labels and image.
    index : tuple
        The plane to read (:meth:`LayerSink.index`).
    """
    if tuple(layer.data.shape[: layer.ndim]) != tuple(labels_layer.data.shape) and (
        layer.ndim != image_layer.ndim
        or tuple(layer.data.shape) != tuple(image_data(image_layer).shape[: layer.ndim])
    ):
        raise InputError(f"labels layer '{layer.name}' has shape {layer.data.shape}, which does not "
                         f"match the image '{image_layer.name}'")
    plane = np.asarray(layer.data[index])
    return [(int(i), plane == i) for i in np.unique(plane) if i != 0]


def remove_object_prompts(layers, obj_id: int) -> None:
    """Delete the points and shapes of one object from prompt layers (without data events)."""
    for layer in layers:
        ids = layer.features["object_id"].to_numpy()
        drop = set(np.nonzero(ids == obj_id)[0].tolist())
        if drop:
            with layer.events.data.blocker():
                layer.selected_data = drop
                layer.remove_selected()
