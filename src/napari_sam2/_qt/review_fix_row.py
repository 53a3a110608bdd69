"""The "Fix track" controls of the review dock: clicks on a frame, that track re-tracked in a worker.

Controls only; the fix is :class:`~napari_sam2._napari.review_fix.TrackFix`.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QPushButton, QWidget

from .._napari.layers import color_points
from .._napari.review_fix import (
    FIX_POINTS,
    TrackFix,
    fix_images,
    fix_model_name,
    fix_points,
    load_fix_model,
)
from ..core.errors import InputError
from .object_actions import notify

__all__ = ["FixTrackRow"]


class FixTrackRow(QWidget):
    """Image choice, "Fix from this frame", negative clicks, "Re-track" and Cancel.

    Parameters
    ----------
    dock : ReviewWidget
        Its ``review``, ``viewer``, ``selected_row()``, ``status`` and ``refill()``.
    """

    def __init__(self, dock):
        super().__init__()
        self.dock, self.viewer = dock, dock.viewer
        self.worker = None
        self.fix: TrackFix | None = None
        self._target: tuple[int, int] | None = None  # (track, frame) of the clicks
        self._model = None  # loaded once per dock, in the first re-track's worker
        self._model_of: tuple[str, str] | None = None  # the (model, preset) asked for
        self.image_combo = QComboBox()
        self.image_combo.setToolTip("the image the labels were made from (the re-track reads it)")
        self.fix_button = QPushButton("Fix from this frame")
        self.fix_button.setToolTip("click on the right cell of the selected flag's track on the frame "
                                   "shown (a 'SAM2 fix points' layer in add mode), then Re-track")
        self.negative_check = QCheckBox("negative clicks")
        self.negative_check.setToolTip("new clicks say 'not this cell' (untick for positive clicks)")
        self.retrack_button = QPushButton("Re-track")
        self.retrack_button.setToolTip("re-track that track alone from the clicked frame on; the other "
                                       "tracks stay as they are; one undo step (Ctrl+Z on the labels)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("stop the re-track: the frames done stay (one undo step)")
        self.cancel_button.setEnabled(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("image"), 0, 0)
        grid.addWidget(self.image_combo, 0, 1, 1, 3)
        for column, widget in enumerate((self.fix_button, self.negative_check, self.retrack_button,
                                         self.cancel_button)):
            grid.addWidget(widget, 1, column)
        self.fix_button.clicked.connect(lambda: self.start_fix())
        self.negative_check.toggled.connect(self._clicks_kind)
        self.retrack_button.clicked.connect(lambda: self.retrack())
        self.cancel_button.clicked.connect(self.cancel)

    # ---------------------------------------------------------------- layers
    def refresh_images(self) -> None:
        """List the Image layers whose frames fit the reviewed labels."""
        current = self.image_combo.currentText()
        review = self.dock.review
        names = [layer.name for layer in fix_images(self.viewer.layers, review.layer)] if review else []
        self.image_combo.clear()
        self.image_combo.addItems(names)
        if current in names:
            self.image_combo.setCurrentText(current)

    def points_layer(self):
        """The "SAM2 fix points" layer (added over the labels when missing), on top, in add mode."""
        layers, labels = self.viewer.layers, self.dock.review.layer
        if FIX_POINTS in layers:
            points = layers[FIX_POINTS]
        else:
            size = max(3.0, min(labels.data.shape[-2:]) / 40)
            points = self.viewer.add_points(
                ndim=labels.ndim, name=FIX_POINTS, scale=labels.scale, translate=labels.translate,
                size=size, border_width=0.25,
                features={"object_id": np.zeros(0, int), "positive": np.zeros(0, bool)})
            points.events.data.connect(lambda event: self._color(points))
        if layers.index(points) != len(layers) - 1:
            layers.move(layers.index(points), len(layers))
        layers.selection.active = points
        points.mode = "add"
        return points

    def _color(self, points) -> None:
        if self.dock.review is not None:
            color_points(points, self.dock.review.layer)

    def _clicks_kind(self, negative: bool = False) -> None:
        if FIX_POINTS in self.viewer.layers and self._target is not None:
            self.viewer.layers[FIX_POINTS].feature_defaults = {"object_id": self._target[0],
                                                               "positive": not negative}

    # --------------------------------------------------------------- actions
    def start_fix(self):
        """Clicks for the selected flag's track (else the selected label) on the frame shown."""
        review = self.dock.review
        if review is None or self.worker is not None:
            return None
        row = self.dock.selected_row()
        track_id = row.track_id if row is not None else int(review.layer.selected_label)
        if track_id not in review.lineage.tracks:
            notify(f"label {track_id} is not a track: select a flag in the list first")
            return None
        frame = int(self.viewer.dims.current_step[0])
        points = self.points_layer()
        points.data = np.zeros((0, points.ndim))
        self._target = (track_id, frame)
        self._clicks_kind(self.negative_check.isChecked())
        self.dock.status.setText(f"fix track {track_id} from frame {frame}: click inside the right "
                                 "cell (tick 'negative clicks' for 'not here'), then Re-track")
        return points

    def retrack(self):
        """Run the re-track of the clicked track in a worker; returns the worker (or None)."""
        from napari.qt.threading import create_worker

        review = self.dock.review
        if review is None or self.worker is not None:
            return None
        try:
            if self._target is None or FIX_POINTS not in self.viewer.layers:
                raise InputError("press 'Fix from this frame' and click on the cell first")
            track_id, frame = self._target
            name = self.image_combo.currentText()
            if name not in self.viewer.layers:
                raise InputError("no image fits these labels: open the image they were made from")
            image = self.viewer.layers[name]
            points, labels = fix_points(self.viewer.layers[FIX_POINTS], review.layer, frame)
            fix = TrackFix(review, track_id, frame)
            rgb = dict(channel_axis=3, channels=(0, 1, 2)) if image.rgb else {}
            steps = fix.steps(image.data, points, labels, lambda: self._loaded_model(review.layer),
                              **rgb)
        except InputError as err:
            notify(err)
            return None
        total = fix.last - frame + 1
        worker = create_worker(_each, steps, _start_thread=False, _ignore_errors=True,
                               _progress={"total": total, "desc": "SAM2 re-track"})
        worker.yielded.connect(lambda step: self._show(step, total))
        worker.errored.connect(notify)
        worker.finished.connect(self._finished)
        self.fix, self.worker = fix, worker
        fix.begin()
        self._busy(True)
        self.dock.status.setText(f"re-tracking track {track_id} from frame {frame}…")
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the re-track after the frame being computed (the frames done stay)."""
        if self.worker is not None:
            self.worker.quit()

    def _loaded_model(self, labels_layer):
        """The model (worker thread): the labels' own when it loads offline, else the demo; kept
        for the next re-track (loaded again only for labels that name another model)."""
        wanted = fix_model_name(labels_layer)
        if self._model is None or self._model_of != wanted:
            self._model, self._model_of = load_fix_model(labels_layer), wanted
        return self._model

    def _show(self, step, total: int) -> None:
        self.fix.apply(step, refresh=int(self.viewer.dims.current_step[0]) == step.frame)
        done = step.frame - self.fix.frame + 1
        self.dock.status.setText(f"re-tracking track {self.fix.track_id}: frame {step.frame} "
                                 f"({done} of {total}); Cancel keeps the frames done")

    def _finished(self) -> None:
        fix, worker = self.fix, self.worker
        self.fix = self.worker = None
        said = fix.finish(cancelled=worker.abort_requested)
        self._busy(False)
        self.dock.refill()
        self.dock.status.setText(said)

    def _busy(self, busy: bool) -> None:
        for widget in (self.fix_button, self.retrack_button, *self.dock.action_buttons()):
            widget.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)


def _each(steps):
    """The re-track in the worker: the frames, each applied on the GUI thread."""
    yield from steps
