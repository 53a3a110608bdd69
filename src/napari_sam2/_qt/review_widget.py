"""The "SAM2 review" dock widget: go through the flagged tracks of a track-all result.

Controls only; what they do is :class:`~napari_sam2._napari.review.Review`; the "Fix track"
controls (clicks on a frame, one track re-tracked in a worker) are :mod:`.review_fix_row`.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .._napari.review import LINEAGE_METADATA, SOURCE_METADATA, Review, read_track_result
from ..core.errors import InputError
from .object_actions import notify
from .review_fix_row import FixTrackRow

COLUMNS = ("flag", "track", "frame", "what was seen")


class ReviewWidget(QWidget):
    """Dock widget: the review list of a Labels layer with a lineage, and its actions.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.review: Review | None = None
        self._rows = []
        self._build()
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    def _build(self) -> None:
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("a Labels layer whose metadata holds a lineage (a track result)")
        self.open_button = QPushButton("Open track result…")
        self.open_button.setToolTip("a labels .zarr written by 'napari-sam2 track': labels and lineage")
        top = QHBoxLayout()
        top.addWidget(self.layer_combo, 1)
        top.addWidget(self.open_button)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("most severe first; select a flag to go to its frame and cell")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.accept_button = QPushButton("Accept track")
        self.accept_button.setToolTip("the track is right: mark it reviewed, its flags leave the list")
        self.delete_button = QPushButton("Delete track")
        self.delete_button.setToolTip("remove the track's labels on every frame (Ctrl+Z on the "
                                      "labels layer undoes it) and drop it from the lineage")
        self.parent_spin, self.daughter_spins = QSpinBox(), (QSpinBox(), QSpinBox())
        for spin in (self.parent_spin, *self.daughter_spins):
            spin.setRange(1, 2**31 - 1)
        self.divide_button = QPushButton("Mark division")
        self.divide_button.setToolTip("on the current frame: the mother's track ends on the frame "
                                      "before, the two labels become its daughters (a daughter may "
                                      "be the mother's own label: it gets a new id)")
        division = QHBoxLayout()
        division.addWidget(QLabel("mother"))
        division.addWidget(self.parent_spin)
        division.addWidget(QLabel("daughters"))
        for spin in self.daughter_spins:
            division.addWidget(spin)
        actions = QHBoxLayout()
        for button in (self.accept_button, self.delete_button, self.divide_button):
            actions.addWidget(button)
        self.save_button = QPushButton("Save review")
        self.save_button.setToolTip("write the lineage and which tracks are reviewed into the "
                                    "track result's zarr attributes")
        self.status = QLabel("open a track result, or choose a Labels layer with a lineage")
        self.status.setWordWrap(True)
        self.fix_row = FixTrackRow(self)  # fix a track: clicks on a frame, re-track it alone
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addLayout(division)
        layout.addLayout(actions)
        layout.addWidget(self.fix_row)
        layout.addWidget(self.save_button)
        layout.addWidget(self.status)
        self.open_button.clicked.connect(lambda: self.open_result())
        self.layer_combo.currentTextChanged.connect(self._layer_chosen)
        self.table.itemSelectionChanged.connect(self._selected)
        self.accept_button.clicked.connect(self.accept_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.divide_button.clicked.connect(self.mark_division)
        self.save_button.clicked.connect(self.save)

    # ---------------------------------------------------------------- layers
    def _refresh_layers(self, event=None) -> None:
        from napari.layers import Labels

        current = self.layer_combo.currentText()
        names = [layer.name for layer in self.viewer.layers
                 if isinstance(layer, Labels) and LINEAGE_METADATA in layer.metadata]
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        self.layer_combo.blockSignals(False)
        if current in names:
            self.layer_combo.setCurrentText(current)
        elif names:
            self._layer_chosen(names[0])
        else:
            self.review = None
            self._fill()
        self.fix_row.refresh_images()

    def _layer_chosen(self, name: str) -> None:
        if name in self.viewer.layers and (self.review is None or self.review.layer.name != name):
            self.show_layer(self.viewer.layers[name])

    def show_layer(self, layer) -> None:
        """Review ``layer`` (its metadata holds the lineage)."""
        try:
            review = Review(layer)
        except InputError as err:
            notify(err)
            return
        if self.review is not None:
            self.review.layer.events.set_data.disconnect(self._on_labels_set)
        self.review = review
        layer.events.set_data.connect(self._on_labels_set)  # Ctrl+Z / Ctrl+Shift+Z on the labels
        self._fill()
        self.fix_row.refresh_images()

    def open_result(self, path=None):
        """Open a track output zarr (a dialog unless ``path`` is given) as a Labels layer; returns it."""
        if path is None:
            path = QFileDialog.getExistingDirectory(self, "A labels .zarr written by napari-sam2 track")
            if not path:
                return None
        try:
            data, lineage = read_track_result(path)
        except InputError as err:
            notify(err)
            return None
        layer = self.viewer.add_labels(data, name=Path(path).stem, metadata={
            LINEAGE_METADATA: lineage, SOURCE_METADATA: str(path)})
        self.layer_combo.setCurrentText(layer.name)
        self.show_layer(layer)
        return layer

    # ------------------------------------------------------------------ list
    def _fill(self) -> None:
        self._rows = self.review.rows() if self.review is not None else []
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._rows))
        for i, row in enumerate(self._rows):
            for j, text in enumerate((row.kind, str(row.track_id), str(row.frame), row.message)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"severity {row.severity:.2f}: {row.message}")
                self.table.setItem(i, j, item)
        self.table.blockSignals(False)
        if self.review is not None:
            tracks = self.review.lineage.tracks
            done = sum(t.reviewed for t in tracks.values())
            self.status.setText(f"{len(self._rows)} flags to review; {done} of {len(tracks)} "
                                "tracks reviewed")

    def _on_labels_set(self, event=None) -> None:
        """After an undo or redo of the labels: the lineage follows, and the list with it."""
        said = self.review.sync() if self.review is not None else []
        if said:
            self._fill()
            self.status.setText("; ".join(said) + " (lineage too)")

    def refill(self) -> None:
        """Refill the list and the status from the review (after a fix)."""
        self._fill()

    def action_buttons(self) -> tuple:
        """The buttons that change the labels or the lineage (disabled while a re-track runs)."""
        return self.accept_button, self.delete_button, self.divide_button, self.save_button

    def selected_row(self):
        """The selected review row, or None."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self._rows[rows[0].row()] if rows else None

    def _selected(self) -> None:
        row = self.selected_row()
        if row is None or self.review is None:
            return
        self.review.jump(self.viewer, row)
        track = self.review.lineage.tracks.get(row.track_id)
        mother = track.parent if track is not None and track.parent else row.track_id
        self.parent_spin.setValue(mother)
        for spin, daughter in zip(self.daughter_spins, self.review.lineage.daughters(mother), strict=False):
            spin.setValue(daughter)

    # --------------------------------------------------------------- actions
    def _act(self, action, *args):
        try:
            result = action(*args)
        except InputError as err:
            notify(err)
            return None
        self._fill()
        return result

    def accept_selected(self) -> None:
        """Mark the selected flag's track reviewed."""
        row = self.selected_row()
        if row is not None:
            self._act(self.review.accept, row.track_id)

    def delete_selected(self) -> None:
        """Delete the selected flag's track (labels on every frame, lineage)."""
        row = self.selected_row()
        if row is not None:
            self._act(self.review.delete, row.track_id)

    def mark_division(self):
        """Mother and daughters from the spin boxes, on the frame the viewer shows."""
        if self.review is None:
            return None
        frame = int(self.viewer.dims.current_step[0])
        daughters = tuple(spin.value() for spin in self.daughter_spins)
        return self._act(self.review.mark_division, self.parent_spin.value(), daughters, frame)

    def save(self):
        """Write the review state to the track result's zarr attributes."""
        if self.review is None:
            return None
        path = self._act(self.review.save)
        if path is not None:
            self.status.setText(f"review saved in {path.name}")
        return path
