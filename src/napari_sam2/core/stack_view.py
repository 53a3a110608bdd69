"""Open a stack with its axes, and lazy views of some of its time points or planes.

``--frames 10:20`` / ``frames="10:20"`` and ``--planes 3`` select a range (stop
excluded) or one entry along T or Z for a quick try; nothing is read until a
frame is asked for. The view's :class:`~.axes.Axes` keeps the stored array's
numbers (``start``, ``held``): prompts are given in them, outputs record them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .axes import Axes, resolve_axes, with_roles
from .errors import InputError

__all__ = ["open_stack", "select_axes", "stack_axes", "check_leftover", "view_prompts", "view_scale",
           "parse_range", "AxisView"]


def open_stack(path: str | Path, axes: str | None = None, *, axis=None, channel_axis=None,
               frames=None, planes=None, user_source: str = "from --axes"):
    """Open an image file lazily with its axes resolved and the selection applied.

    Parameters
    ----------
    path : str or Path
        See :func:`~.io.read_image`.
    axes : str, optional
        The user's letters; they win over the file's. A TIFF whose ImageJ/OME
        sizes do not fit its pages is read as its plain pages when ``axes``
        has one letter per dimension of the pages (and Y, X).
    axis, channel_axis : int or str, optional
        The old way to choose the propagation and channel axes (number or letter).
    frames, planes : str or int, optional
        See :func:`select_axes`.
    user_source : str
        How ``axes`` is named in messages (``"from axes="`` for the API).

    Returns
    -------
    data : array-like
        The stored array, or a lazy :class:`AxisView` of it.
    resolved : Axes
    """
    from .io import read_image

    try:
        image = read_image(path)
    except InputError as err:
        if not axes or err.fix != ("axes", None):
            raise
        image = None
    if axes and (image is None or image.warnings) and (
            image is None or len(axes.strip()) != image.array.ndim):
        plain = read_image(path, plain=True)
        if len(axes.strip()) == plain.array.ndim:
            note = f"{Path(path).name}: its metadata does not fit its pages: read as the plain pages"
            image = replace(plain, warnings=(note,))
    if image is None:
        return read_image(path)  # raises the metadata error again
    resolved = resolve_axes(image.array.shape, axes, image.axes, image.source, axis, channel_axis,
                            image.warnings, user_source)
    return select_axes(image.array, resolved, frames, planes)


def stack_axes(data, axes=None, axis=None, channel_axis=None, frames=None, planes=None,
               user_source: str = "from axes="):
    """``(data or a view of it, Axes)`` for the API: ``axes`` letters or an :class:`Axes`.

    Without ``axes`` (and no ``frames``/``planes``) the result is ``(data, None)``:
    the caller's ``axis``/``channel_axis`` are used as given.
    """
    if axes is None and frames is None and planes is None:
        return data, None
    if isinstance(axes, Axes):
        if tuple(int(s) for s in data.shape) != tuple(axes.shape):
            raise InputError(f"the axes {axes.letters} are for shape {axes.shape}, but the image "
                             f"has shape {tuple(data.shape)}")
        resolved = axes if axis is None and channel_axis is None else with_roles(
            axes, axis, channel_axis if channel_axis is not None else axes.channel_axis)
    else:
        resolved = resolve_axes(data.shape, axes, axis=axis, channel_axis=channel_axis,
                                user_source=user_source)
    return select_axes(data, resolved, frames, planes)


def default_channels(axes: Axes, channels=None):
    """The channels to use: ``channels`` if given, an RGB(A) image's three colours, else None."""
    channel = axes.channel_axis
    colours = channel is not None and axes.shape[channel] in (3, 4) and (
        axes.letters[channel] == "S" or axes.axis is None and not axes.volumes)
    if channels is None and colours:
        return (0, 1, 2)  # RGB(A): its colours, not its red channel alone
    return None if channels is None else tuple(channels)


def check_leftover(axes: Axes) -> None:
    """Refuse a chosen propagation axis that leaves a T or Z axis over (no role for it).

    Raises
    ------
    InputError
        Naming the axis left over and how to give it a role.
    """
    if axes.axis is None or axes.volumes:
        return
    roles = (axes.axis, axes.channel_axis, axes.y, axes.x)
    left = [d for d in range(len(axes.shape)) if d not in roles]
    if not left:
        return
    letter = axes.letters[left[0]]
    option, noun = ("planes", "plane") if letter == "Z" else ("frames", "time point")
    raise InputError(
        f"propagating along {axes.letters[axes.axis]} leaves {letter} ({axes.shape[left[0]]}) over "
        f"({axes.letters}, {axes.source}): take one {noun} ({{fix}} N), read {letter} as channels "
        "(channel axis), or leave the propagation axis to the default to track volumes over time",
        fix=(option, None))


def view_prompts(objects: list, axes: Axes, axis: int | None, n_frames: int) -> list:
    """Prompts by the stored array's frame numbers -> by the view's, leaving out those outside it.

    Raises
    ------
    InputError
        An object with no prompt inside the view.
    """
    if not axes.held:
        return objects
    first = axes.offset(axis)
    import warnings

    held = ", ".join(f"{k} {a}:{b}" for k, (a, b) in axes.selection().items())
    for obj in objects:
        inside = {f - first: p for f, p in obj.prompts.items() if 0 <= f - first < n_frames}
        outside = sorted(set(obj.prompts) - {f + first for f in inside})
        if not inside:
            raise InputError(f"object {obj.obj_id} has no prompt inside the selection ({held}; "
                             f"its prompts are on frame(s) {', '.join(map(str, outside))})")
        if outside:
            warnings.warn(f"object {obj.obj_id}: prompts on frame(s) {', '.join(map(str, outside))} "
                          f"are outside the selection ({held}) and not used", stacklevel=2)
        obj.prompts = inside
    return objects


def view_scale(scale, axes: Axes):
    """The stored array's per-axis ``scale`` for the dimensions of a view (None stays None)."""
    if scale is None or not axes.kept or len(scale) == len(axes.kept):
        return scale
    return [scale[d] for d in axes.kept]


def parse_range(text, size: int, what: str) -> tuple[int, int]:
    """``"3"`` or ``"10:20"`` (stop excluded; ``":20"``, ``"10:"``) to ``(start, stop)`` in range(size)."""
    text = str(text).strip()
    try:
        if ":" in text:
            first, _, last = text.partition(":")
            start = int(first) if first.strip() else 0
            stop = int(last) if last.strip() else size
        else:
            start = int(text)
            stop = start + 1
    except ValueError:
        raise InputError(f"{what} must be N or START:STOP (stop excluded), not {text!r}") from None
    if not 0 <= start < stop <= size:
        raise InputError(f"{what} {text} is outside 0..{size - 1} (the image has {size}; "
                         "START:STOP excludes STOP)")
    return start, stop


def select_axes(data, axes: Axes, frames=None, planes=None) -> tuple[object, Axes]:
    """A lazy view of some time points (``frames``) and planes (``planes``), without size-1 axes.

    Parameters
    ----------
    data : array-like
        The stored array, shaped ``axes.shape``.
    axes : Axes
        Its axes (roles are recomputed for the view unless ``axes.axis`` was chosen).
    frames, planes : str or int, optional
        ``3`` (one, the axis is dropped) or ``"10:20"`` (a range, stop excluded) along T or Z.

    Returns
    -------
    view : AxisView or array-like
        ``data`` itself when nothing is selected or dropped.
    view_axes : Axes
        The view's letters and sizes, with ``start`` and ``held`` in the stored array's numbers.
    """
    key: list = [slice(None)] * len(axes.shape)
    for letter, text, option in (("T", frames, "frames"), ("Z", planes, "planes")):
        if text is None:
            continue
        dim = axes.find(letter)
        if dim is None:
            raise InputError(f"{option} selects along {letter}, but the image has no {letter} axis "
                             f"({axes.letters}, {axes.source}); {{fix}} to name the axes",
                             fix=("axes", None))
        start, stop = parse_range(text, axes.shape[dim], option)
        single = ":" not in str(text)
        key[dim] = start if single else slice(start, stop)
    for dim, size in enumerate(axes.shape):  # size-1 T, Z, C say nothing: drop them
        if size == 1 and axes.letters[dim] in "TZC" and isinstance(key[dim], slice):
            key[dim] = 0
    if all(k == slice(None) for k in key):
        return data, axes
    kept = [d for d, k in enumerate(key) if isinstance(k, slice)]
    letters = "".join(axes.letters[d] for d in kept)
    view = AxisView(data, tuple(key))
    start = tuple(key[d].start or 0 for d in kept)
    held = []
    for d, k in enumerate(key):
        if isinstance(k, slice) and k != slice(None):
            held.append((axes.letters[d], k.start, k.stop))
        elif not isinstance(k, slice) and axes.shape[d] > 1:
            held.append((axes.letters[d], int(k), int(k) + 1))
    old_axis = axes.letters[axes.axis] if axes.axis is not None and axes.chosen else None
    if old_axis is not None and old_axis not in letters:
        raise InputError(f"the propagation axis {old_axis} has one entry in the selection: "
                         "select a range (START:STOP) or propagate along another axis")
    channel = axes.letters[axes.channel_axis] if axes.channel_axis is not None else None
    view_axes = Axes(letters, view.shape, axes.source, start=start, held=tuple(held),
                     kept=tuple(kept), stored_shape=axes.stored_shape or axes.shape,
                     warnings=axes.warnings)
    return view, with_roles(view_axes, old_axis, channel if channel and channel in letters else None)


class AxisView:
    """Lazy basic indexing of an array: ``AxisView(data, (3, slice(10, 20)))`` reads nothing.

    Indexing it (ints, slices, ``...``) reads only what is asked for from ``data``.
    """

    def __init__(self, data, key: tuple):
        self.data, self.key = data, tuple(key)
        self._dims = [d for d, k in enumerate(self.key) if isinstance(k, slice)]
        self._ranges = {d: range(*self.key[d].indices(int(data.shape[d]))) for d in self._dims}
        self.shape = tuple(len(self._ranges[d]) for d in self._dims)
        self.ndim = len(self.shape)
        self.dtype = data.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            at = key.index(Ellipsis)
            key = key[:at] + (slice(None),) * (self.ndim - len(key) + 1) + key[at + 1:]
        key = key + (slice(None),) * (self.ndim - len(key))
        full = list(self.key)
        for d, k in zip(self._dims, key, strict=True):
            full[d] = _compose(self._ranges[d], k)
        return np.asarray(self.data[tuple(full)])

    def __array__(self, dtype=None, copy=None):
        block = self[...]
        return block if dtype is None else block.astype(dtype, copy=False)


def _compose(outer: range, inner):
    """Index ``inner`` (int or slice) of the entries ``outer`` of a dimension, as an index of the data."""
    if isinstance(inner, slice):
        picked = outer[inner]
        if len(picked) == 0:
            return slice(0, 0)
        stop = picked.start + len(picked) * picked.step
        return slice(picked.start, stop if stop >= 0 else None, picked.step)
    return outer[int(inner)]
