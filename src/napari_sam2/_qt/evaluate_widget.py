"""The "SAM2 evaluate" dock widget: J and F per frame of a Labels layer, and tracks from labels."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPointF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import InputError

COLORS = {"J": QColor(80, 160, 255), "F": QColor(255, 160, 60)}


def _notify(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


class ScorePlot(QWidget):
    """A small line plot of per-frame scores in [0, 1], drawn with QPainter.

    Clicking the plot emits :attr:`frame_clicked` with the nearest frame.
    """

    frame_clicked = Signal(int)
    MARGIN = (28, 8, 8, 16)  # left, top, right, bottom

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(140)
        self.frames = np.zeros(0, int)
        self.series: dict[str, np.ndarray] = {}
        self.setToolTip("per-frame J (region) and F (boundary); click to go to a frame")

    def set_scores(self, frames, **series) -> None:
        """Show ``series`` (name -> values per frame) over ``frames``."""
        self.frames = np.asarray(frames, int)
        self.series = {name: np.asarray(values, float) for name, values in series.items()}
        self.update()

    def _area(self):
        left, top, right, bottom = self.MARGIN
        return left, top, max(self.width() - left - right, 1), max(self.height() - top - bottom, 1)

    def _x(self, frame: float) -> float:
        left, _, width, _ = self._area()
        lo, hi = (self.frames[0], self.frames[-1]) if self.frames.size else (0, 1)
        return left + (frame - lo) / max(hi - lo, 1) * width

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        left, top, width, height = self._area()
        painter.setPen(QPen(text, 1))
        painter.drawRect(left, top, width, height)
        painter.drawText(2, top + 10, "1")
        painter.drawText(2, top + height, "0")
        if self.frames.size:
            painter.drawText(left, top + height + 14, str(self.frames[0]))
            painter.drawText(left + width - 24, top + height + 14, str(self.frames[-1]))
        for n, (name, values) in enumerate(self.series.items()):
            color = COLORS.get(name, text)
            painter.setPen(QPen(color, 1.5))
            points = [QPointF(self._x(f), top + (1 - v) * height)
                      for f, v in zip(self.frames, values, strict=True) if np.isfinite(v)]
            painter.drawPolyline(QPolygonF(points))
            painter.drawText(left + width - 40 + 20 * n - 20, top + 14, name)
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.frames.size:
            x = event.position().x() if hasattr(event, "position") else event.x()
            nearest = np.argmin(np.abs([self._x(f) - x for f in self.frames]))
            self.frame_clicked.emit(int(self.frames[nearest]))


class EvaluateWidget(QWidget):
    """Score a Labels layer against a ground-truth Labels layer; tracks from labels.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.result: dict | None = None
        self.tracks_layer = None
        self.worker = None
        form = QFormLayout()
        self.labels_combo, self.truth_combo, self.axis_combo = QComboBox(), QComboBox(), QComboBox()
        self.exclude_ends = QCheckBox("skip first and last frame (DAVIS)")
        form.addRow("labels", self.labels_combo)
        form.addRow("ground truth", self.truth_combo)
        form.addRow("frame axis", self.axis_combo)
        form.addRow(self.exclude_ends)
        self.score_button = QPushButton("Score")
        self.tracks_button = QPushButton("Tracks from labels")
        self.tracks_button.setToolTip("a Tracks layer of each object's centroid per frame (time = axis 0)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.score_button)
        buttons.addWidget(self.tracks_button)
        self.plot = ScorePlot()
        self.summary = QLabel("choose a labels layer and its ground truth, then Score")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        layout.addStretch()
        self.score_button.clicked.connect(self.score)
        self.tracks_button.clicked.connect(self.add_tracks)
        self.labels_combo.currentTextChanged.connect(self._refresh_axes)
        self.plot.frame_clicked.connect(self._go_to_frame)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._refresh)
        self._refresh()

    # --------------------------------------------------------------- layers
    def _labels_layers(self):
        from napari.layers import Labels

        return [layer.name for layer in self.viewer.layers if isinstance(layer, Labels)]

    def _refresh(self, event=None) -> None:
        names = self._labels_layers()
        for n, combo in enumerate((self.labels_combo, self.truth_combo)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            default = names[min(n, len(names) - 1)] if names else ""
            combo.setCurrentText(current if current in names else default)
            combo.blockSignals(False)
        self._refresh_axes()

    def _refresh_axes(self, name=None) -> None:
        layer = self._layer(self.labels_combo)
        current = self.axis_combo.currentData()
        self.axis_combo.clear()
        if layer is None:
            return
        for i, label in enumerate(layer.axis_labels):  # any axis of a 3D stack can hold the frames
            self.axis_combo.addItem(f"{i}: {label}", i)
        if current is not None and current < self.axis_combo.count():
            self.axis_combo.setCurrentIndex(current)

    def _layer(self, combo):
        name = combo.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    @staticmethod
    def _data(layer):
        return layer.data[0] if getattr(layer, "multiscale", False) else layer.data

    # -------------------------------------------------------------- actions
    def score(self):
        """Score the labels layer against the ground truth in a thread; returns the worker or None."""
        from ..evaluation.stack import frame_scores

        labels, truth = self._layer(self.labels_combo), self._layer(self.truth_combo)
        if labels is None or truth is None:
            _notify("add a labels layer and a ground-truth labels layer first")
            return None
        if labels is truth:
            _notify("choose two different layers: the labels to score and the ground truth")
            return None
        if labels.ndim != 3 or tuple(labels.data.shape) != tuple(truth.data.shape):
            _notify(f"the two layers must be 3D stacks of the same shape: {labels.name} is "
                    f"{tuple(labels.data.shape)}, {truth.name} is {tuple(truth.data.shape)}")
            return None
        axis = self.axis_combo.currentData() or 0
        self.summary.setText("scoring…")
        return self._start(frame_scores, self._show, self._data(truth), self._data(labels), axis,
                           self.exclude_ends.isChecked())

    def add_tracks(self):
        """Add a Tracks layer of object centroids (in a thread); returns the worker or None."""
        from ..evaluation.ctc import tracks_from_labels

        labels = self._layer(self.labels_combo)
        if labels is None or labels.ndim not in (3, 4):
            _notify("choose a labels time-lapse (t, y, x) or (t, z, y, x) first")
            return None
        if (self.axis_combo.currentData() or 0) != 0:
            _notify("tracks take time as the first axis; transpose the layer (or choose axis 0)")
            return None
        return self._start(tracks_from_labels, lambda data: self._show_tracks(labels, data),
                           self._data(labels))

    def _start(self, func, on_result, *args):
        from napari.qt.threading import create_worker

        worker = create_worker(func, *args, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(on_result)
        worker.errored.connect(self._failed)
        worker.finished.connect(lambda: self._busy(False))
        self.worker = worker
        self._busy(True)
        worker.start()
        return worker

    def _busy(self, busy: bool) -> None:
        self.score_button.setEnabled(not busy)
        self.tracks_button.setEnabled(not busy)

    def _failed(self, err) -> None:
        message = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
        self.summary.setText(message)
        _notify(f"SAM2 evaluate: {message}")

    def _show(self, result: dict) -> None:
        self.result = result
        self.plot.set_scores(result["frames"], J=result["J"], F=result["F"])
        self.summary.setText(
            f"J-Mean {result['J-Mean']:.3f}   F-Mean {result['F-Mean']:.3f}   "
            f"J&F {result['J&F-Mean']:.3f}\n{len(result['objects'])} object(s), "
            f"{len(result['frames'])} frames scored")

    def _show_tracks(self, labels, data) -> None:
        if len(data) == 0:
            _notify(f"{labels.name} has no objects: no tracks")
            return
        self.tracks_layer = self.viewer.add_tracks(data, name=f"{labels.name} tracks", scale=labels.scale,
                                                   translate=labels.translate)

    def _go_to_frame(self, frame: int) -> None:
        layer = self._layer(self.labels_combo)
        if layer is None:
            return
        axis = self.axis_combo.currentData() or 0
        world = layer.translate[axis] + layer.scale[axis] * frame
        self.viewer.dims.set_point(self.viewer.dims.ndim - layer.ndim + axis, world)
