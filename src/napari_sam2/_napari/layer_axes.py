"""The axis letters of an image layer (``T Z C Y X S``, as :mod:`~napari_sam2.core.axes` reads
them) and the user's letters written into the layer's ``axis_labels``.

The widget's Axes row shows :func:`layer_letters`; letters the user types are
checked by :func:`widget_axes` and written by :func:`apply_letters`. The rest of
the widget reads the layer's axis labels (``t``, ``z``, ``c``, ``y``, ``x``), so
what the letters say is how the layer is treated, and napari shows them on its
dims sliders. The letters are those of the array as stored (``layer.data``; an
RGB layer's colours are its last letter, ``S``), as with the CLI's ``--axes``.
"""

from __future__ import annotations

from ..core.axes import Axes, check_letters, guess_letters, resolve_axes
from ..core.errors import InputError
from .layers import CHANNEL, COLS, ROWS, image_data

__all__ = ["layer_letters", "named_letters", "stored_shape", "widget_axes", "apply_letters",
           "SOURCE_TYPED"]

#: where the letters come from when the user typed them
SOURCE_TYPED = "typed"
#: layer axis names -> letters
_NAMES = {**{name: "Y" for name in ROWS}, **{name: "X" for name in COLS},
          **{name: "C" for name in CHANNEL}, "t": "T", "time": "T", "frame": "T", "z": "Z",
          "plane": "Z", "slice": "Z", "s": "S"}


def stored_shape(layer) -> tuple[int, ...]:
    """The shape of the layer's array as stored (level 0 of a multiscale; RGB: colours last)."""
    return tuple(int(s) for s in image_data(layer).shape)


def _rgb(layer) -> bool:
    return bool(getattr(layer, "rgb", False))


def named_letters(layer) -> str | None:
    """The letters the layer's axis labels name (``("t", "z", "y", "x")`` -> ``"TZYX"``), else None."""
    letters = "".join(_NAMES.get(str(name).lower(), "?") for name in layer.axis_labels)
    letters += "S" if _rgb(layer) else ""
    try:
        return check_letters(letters, stored_shape(layer))
    except InputError:
        return None


def layer_letters(layer) -> tuple[str, str]:
    """``(letters, where from)``: the layer's axis labels, else its file's (``metadata["axes"]``),
    else a guess from the shape (:func:`~napari_sam2.core.axes.guess_letters`)."""
    named = named_letters(layer)
    if named:
        return named, "from the layer's axis labels"
    shape = stored_shape(layer)
    from_file = str((getattr(layer, "metadata", None) or {}).get("axes", ""))
    try:
        return check_letters(from_file, shape), "from the file"
    except InputError:
        pass
    try:
        return guess_letters(shape), "guessed"
    except InputError:  # more dimensions than T Z C Y X: no guess, the row says what is wrong
        return "", "guessed"


def widget_axes(layer, text: str, source: str = SOURCE_TYPED) -> Axes:
    """The user's letters for ``layer``, checked for what the widget reads; their :class:`Axes`.

    Raises
    ------
    InputError
        Letters :func:`~napari_sam2.core.axes.check_letters` refuses, an RGB
        layer whose colours are not the last letter, X before Y, or volumes
        over time (T and Z) with a channel or with Y, X not last.
    """
    shape = stored_shape(layer)
    letters = check_letters(text, shape, what="Axes")
    cli = f"or run napari-sam2 segment IMAGE --axes {letters}"
    if _rgb(layer) and letters[-1] not in "SC":
        raise InputError(f"Axes {letters}: napari shows '{layer.name}' as RGB, its last axis holds "
                         "the colours: end the letters with S (e.g. YXS)")
    if letters.index("Y") > letters.index("X"):
        raise InputError(f"Axes {letters}: the widget reads rows before columns (Y before X): swap the "
                         f"layer's Y and X axes, {cli}")
    axes = resolve_axes(shape, letters, user_source=source)
    if len(shape) - _rgb(layer) > 4:
        raise InputError(f"Axes {letters}: the widget reads at most 4 dimensions (T Z Y X, or T or Z with "
                         f"C): keep one channel as a T Z Y X layer, {cli}")
    if axes.volumes and axes.channel_axis is not None:
        raise InputError(f"Axes {letters}: the widget reads volumes over time without channels: keep "
                         f"one channel as a T Z Y X layer, {cli}")
    if axes.volumes and letters[-2:] != "YX":
        raise InputError(f"Axes {letters}: the widget reads volumes over time with Y and X last "
                         f"(TZYX or ZTYX): reorder the layer's axes, {cli}")
    return axes


def apply_letters(layer, letters: str) -> bool:
    """Write the letters into the layer's axis labels (lower case; RGB colours not a dimension;
    ``S`` of a non-RGB layer as ``c``); returns True when they changed."""
    letters = letters.upper()
    if _rgb(layer):
        letters = letters[:-1]
    labels = tuple("c" if a == "S" else a.lower() for a in letters)
    if tuple(layer.axis_labels) == labels:
        return False
    layer.axis_labels = labels
    return True
