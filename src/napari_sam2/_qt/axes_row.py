"""The widget's Axes row: the letters of the chosen image as stored (``TZYX``, ``CTYX``, ``YXS``...)
and one line saying how they are read.

Prefilled with what the layer or its file says (else a guess); letters the
user types are checked at once (a one-line message for a bad value) and, when
right, written into the layer's axis labels: the rest of the widget treats the
layer by them (propagation axis, z, channel axis) and napari shows them on its
sliders. The same letters and roles as the CLI's ``--axes``.
"""

from __future__ import annotations

from dataclasses import replace

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from .._napari.layer_axes import SOURCE_TYPED, apply_letters, layer_letters, widget_axes
from ..core.axes import Axes, with_roles
from ..core.errors import InputError

__all__ = ["AxesRow"]

ERROR_STYLE = "color: #e0605a"
#: the describe() remedy, in the widget's words
CHANGE = "edit the letters"


class AxesRow(QWidget):
    """A line edit for the axis letters and a label: ``read as T=4 Z=6 Y=96 X=96 (...)``."""

    applied = Signal()  # the user's letters were written into the layer's axis labels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer = None
        self.axes: Axes | None = None  # of the letters shown, None while they are wrong
        self.source = ""  # where the letters shown come from: the layer, its file, a guess, typed
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("letters like TZYX, TYX, CTYX, YXS")
        self.edit.setToolTip("the image's axes as stored, one letter per dimension: T time, Z planes, "
                             "C channels, Y rows, X columns, S RGB colours; they override what the "
                             "file says (as --axes on the command line)")
        self.line = QLabel("")
        self.line.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.line)
        self.edit.textEdited.connect(self._typed)

    def set_layer(self, layer, refill: bool = False) -> None:
        """Show ``layer``'s letters (kept as typed while the layer stays the same, unless ``refill``)."""
        if layer is self.layer and not refill:
            self._check(self.edit.text())
            return
        self.layer = layer
        if layer is None:
            self.edit.setText("")
            self._show(None, "")
            return
        letters, self.source = layer_letters(layer)
        self.edit.setText(letters)
        self._check(letters)

    def show_axis(self, axis) -> None:
        """The stack axis chosen in the widget (an index of the layer), in the read-as line."""
        if self.axes is not None and axis is not None and not self.axes.volumes:
            self._show(with_roles(replace(self.axes, chosen=False), axis=axis))

    def apply(self) -> bool:
        """Check the letters and write them into the layer (at Start); False, with the message
        shown, when they are wrong. True without a layer (nothing to read)."""
        if self.layer is None:
            return True
        axes = self._check(self.edit.text())
        if axes is None:
            return False
        if apply_letters(self.layer, axes.letters):
            self.applied.emit()
        return True

    # ------------------------------------------------------------ inside
    def _typed(self, text: str) -> None:
        self.source = SOURCE_TYPED
        axes = self._check(text)
        if axes is not None and apply_letters(self.layer, axes.letters):
            self.applied.emit()

    def _check(self, text: str) -> Axes | None:
        if self.layer is None:
            return None
        try:
            axes = widget_axes(self.layer, text, self.source or SOURCE_TYPED)
        except InputError as err:
            self._show(None, str(err))
            return None
        self._show(axes)
        return axes

    def _show(self, axes: Axes | None, error: str = "") -> None:
        self.axes = axes
        if axes is None:
            self.line.setStyleSheet(ERROR_STYLE)
            self.line.setText(error)
            return
        rgb = bool(getattr(self.layer, "rgb", False))
        self.line.setStyleSheet("")
        self.line.setText(axes.describe(channels=(0, 1, 2) if rgb else None, option=CHANGE))


def fill_axis_combo(combo, layer) -> None:
    """The stack axes a layer offers (its non-spatial axes; "none" for a single image), by its axis
    labels, with the guessed one chosen."""
    from .._napari.layers import guess_axes, layer_axis_names

    combo.clear()
    if layer is None:
        return
    labels = layer_axis_names(layer)
    try:
        guessed = guess_axes(layer)
    except Exception:  # ambiguous: start() explains
        guessed = None
    if guessed is not None and guessed.axis is None:
        combo.addItem("none: a single image", None)
        return
    spatial = guessed.spatial if guessed is not None else range(layer.ndim - 2, layer.ndim)
    for i in range(layer.ndim):
        if i not in spatial:  # a (y, t, x) layer offers t
            combo.addItem(f"{i}: {labels[i]}", i)
    if guessed is not None:
        combo.setCurrentIndex(max(combo.findData(guessed.axis), 0))
