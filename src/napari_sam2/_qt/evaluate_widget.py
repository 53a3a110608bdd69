"""The "SAM2 evaluate" dock widget: J and F per frame of a Labels layer, per-object IoU, tracks.

The prediction's objects are matched to the ground truth's by overlap (their ids
need not agree: clicked objects get ids 1, 2, ... whatever the truth calls them).
"""

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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import InputError

COLORS = {"J": QColor(80, 160, 255), "F": QColor(255, 160, 60)}
#: the name of the layer the SAM2 widget writes its labels to ends with this
SAM2_LABELS = "SAM2 labels"
MATCHES = {"by overlap": "overlap", "by id": "id"}
TABLE_COLUMNS = ("pred", "truth", "IoU", "J active", "lost", "last")


def _notify(message: str, error: bool = True) -> None:
    from napari.utils.notifications import show_error, show_warning

    (show_error if error else show_warning)(message)


def default_layers(names: list) -> tuple[str, str]:
    """The default prediction (the last SAM2 labels layer) and ground truth (another Labels layer)."""
    if not names:
        return "", ""
    sam2 = [n for n in names if n.endswith(SAM2_LABELS)]
    prediction = sam2[-1] if sam2 else names[-1]
    others = [n for n in names if n != prediction]
    truth = next((n for n in others if not n.endswith(SAM2_LABELS)), others[0] if others else prediction)
    return prediction, truth


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
        self.match_combo = QComboBox()
        self.match_combo.addItems(list(MATCHES))
        self.match_combo.setToolTip("pair each predicted object with the true object it overlaps most "
                                    "(one to one, on its first frame where both have objects), "
                                    "or with the true object of the same id")
        self.exclude_ends = QCheckBox("skip first and last frame (DAVIS)")
        form.addRow("prediction", self.labels_combo)
        form.addRow("ground truth", self.truth_combo)
        form.addRow("frame axis", self.axis_combo)
        form.addRow("match objects", self.match_combo)
        form.addRow(self.exclude_ends)
        self.score_button = QPushButton("Score")
        self.tracks_button = QPushButton("Tracks from labels")
        self.tracks_button.setToolTip("a Tracks layer of each object's centroid per frame (time = axis 0)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.score_button)
        buttons.addWidget(self.tracks_button)
        self.plot = ScorePlot()
        self.summary = QLabel("choose the prediction and its ground truth, then Score")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(170)
        self.table.setToolTip("per object: IoU pooled over all frames; J active: mean IoU over the frames "
                              "where the true or the predicted object is present; lost: frames with the true "
                              "object and no prediction; last: IoU on its last frame; "
                              "red: lost frames or last IoU < 0.5")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
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
        prediction, truth = default_layers(names)
        current = self.labels_combo.currentText()
        added = getattr(getattr(event, "value", None), "name", None) if event is not None else None
        if not (getattr(event, "type", None) == "inserted" and added in names
                and added.endswith(SAM2_LABELS)):  # a new SAM2 labels layer becomes the prediction
            prediction = current if current in names else prediction
        current = self.truth_combo.currentText()
        if current in names and current != prediction:
            truth = current
        elif truth == prediction:
            truth = next((n for n in names if n != prediction), prediction)
        for combo, choice in ((self.labels_combo, prediction), (self.truth_combo, truth)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentText(choice)
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
        """Score the prediction against the ground truth in a thread; returns the worker or None."""
        from ..evaluation.objects import matched_frame_scores

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
        return self._start(matched_frame_scores, self._show, self._data(truth), self._data(labels), axis,
                           self.exclude_ends.isChecked(), MATCHES[self.match_combo.currentText()])

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
        table = result["table"]
        self.plot.set_scores(result["frames"], J=result["J"], F=result["F"])
        lines = [f"J-Mean {result['J-Mean']:.3f}   F-Mean {result['F-Mean']:.3f}   "
                 f"J&F {result['J&F-Mean']:.3f} over {len(result['objects'])} matched object(s), "
                 f"{len(result['frames'])} frames",
                 f"mean IoU {table.mean_iou:.3f}; lost: {', '.join(map(str, table.lost)) or 'none'}",
                 f"matching: {table.matching.describe()}"]
        if not table.tracking.tracked:
            lines.append(f"WARNING: {table.tracking.message}")
            _notify(f"SAM2 evaluate: {table.tracking.message}", error=False)
        self.summary.setText("\n".join(lines))
        self._fill_table(table.rows)

    def _fill_table(self, rows) -> None:
        self.table.setRowCount(len(rows))
        for n, row in enumerate(rows):
            last = "-" if row["last_IoU"] is None else f"{row['last_IoU']:.3f}"
            values = (row["pred"], "-" if row["truth"] is None else row["truth"], f"{row['IoU']:.3f}",
                      f"{row['J_active']:.3f}", row["lost_frames"], last)
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if row["lost"]:
                    item.setForeground(QColor(230, 70, 70))
                    item.setToolTip("lost: the true object is present where the prediction is empty, "
                                    "or the IoU on its last frame is below 0.5")
                self.table.setItem(n, column, item)
        self.table.resizeColumnsToContents()

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
