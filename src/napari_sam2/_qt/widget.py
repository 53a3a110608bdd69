"""The SAM2 dock widget: controls only; the work is in the controller and the core."""

from __future__ import annotations

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.models import AUTO, PRESETS, REGISTRY
from ..core.records import DIRECTIONS
from .axes_row import AxesRow, fill_axis_combo
from .controller import Sam2Controller
from .memory_choice import memory_combo
from .model_choices import device_combo, precision_combo
from .object_actions import SHORTCUTS
from .object_table import STRIP_WIDTH, fill_table
from .track_all_actions import TrackAllRow


class Sam2Widget(QWidget):
    """Dock widget: pick an image, click objects, propagate through the stack.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.controller = Sam2Controller(napari_viewer)
        self.setToolTip(SHORTCUTS)
        self._build()
        self._connect()
        self._refresh_images()

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        form = QFormLayout()
        self.image_combo = QComboBox()
        self.axis_combo = QComboBox()
        self.axis_combo.setToolTip("the axis to propagate along: time (t) or z")
        self.channels_edit = QLineEdit()
        self.channels_edit.setPlaceholderText("0  (or 0,1,2 as RGB; multichannel only)")
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItems([AUTO, *REGISTRY, "random:tiny"])
        self.model_combo.setToolTip("auto: the speed preset chooses (fast: EdgeTAM where it can run, "
                                    "else sam2.1-tiny); a registry name (downloaded on first use), a "
                                    "save_pretrained folder, or random:tiny (random weights, for "
                                    "trying things out)")
        self.browse_button = QPushButton("Folder…")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.browse_button)
        self.device_combo = device_combo()
        self.preset_combo = QComboBox()
        for preset in PRESETS.values():
            self.preset_combo.addItem(preset.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setCurrentText("accurate")
        self.precision_combo = precision_combo()
        self.memory_combo = memory_combo()
        self.cache_edit = QLineEdit()
        self.cache_edit.setPlaceholderText("in memory only  (or a features.zarr folder on disk)")
        self.cache_edit.setToolTip("keep every frame's image features in this zarr store: later "
                                   "sessions on the same stack and model skip the image encoder")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("in memory  (or a new labels.zarr folder on disk)")
        self.output_edit.setToolTip("for stacks larger than memory: labels written to a zarr "
                                    "folder frame by frame")
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("create the prompt and label layers and load the model")
        form.addRow("Image", self.image_combo)
        self.axes_row = AxesRow()  # the image's axis letters: how it is read
        form.addRow("Axes", self.axes_row)
        form.addRow("Model", model_row)
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setToolTip("stack axis, channels, device, speed, precision, memory, "
                                        "feature cache, output on disk")
        self.advanced = QWidget()
        advanced = QFormLayout(self.advanced)
        advanced.setContentsMargins(12, 0, 0, 0)
        advanced.addRow("Stack axis", self.axis_combo)
        advanced.addRow("Channels", self.channels_edit)
        advanced.addRow("Device", self.device_combo)
        advanced.addRow("Speed", self.preset_combo)
        advanced.addRow("Precision", self.precision_combo)
        advanced.addRow("Memory", self.memory_combo)
        advanced.addRow("Feature cache", self.cache_edit)
        advanced.addRow("Output", self.output_edit)
        self.advanced.setVisible(False)
        self.save_button = QPushButton("Save session")
        self.save_button.setToolTip("save prompts, object names, settings and labels to NAME.sam2.json "
                                    "+ NAME.labels.tif, to continue later")
        self.load_button = QPushButton("Load session")
        self.load_button.setToolTip("open a saved NAME.sam2.json: loads the model with its settings "
                                    "and restores prompts, names and labels (open its image first)")
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_button, 1)
        start_row.addWidget(self.load_button)

        self.new_button = QPushButton("New object (N)")
        self.sign_button = QPushButton("Positive (T)")
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.new_button)
        prompt_row.addWidget(self.sign_button)

        self.direction_combo = QComboBox()
        self.direction_combo.addItems(list(DIRECTIONS))
        self.propagate_button = QPushButton("Propagate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        run_row = QHBoxLayout()
        run_row.addWidget(self.direction_combo)
        run_row.addWidget(self.propagate_button, 1)
        run_row.addWidget(self.cancel_button)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["id", "name", "frames", "presence", "timeline"])
        self.table.setToolTip("select a row to add prompts to that object; edit a name to rename; "
                              "untick an id to hide its labels")
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)  # the presence strip
        header.resizeSection(4, STRIP_WIDTH + 6)
        self.delete_button = QPushButton("Delete object")
        self.masks_combo = QComboBox()
        self.masks_button = QPushButton("Labels → mask prompts")
        self.masks_button.setToolTip("use each label of the chosen Labels layer on the current frame "
                                     "as a mask prompt for the object with that id")
        masks_row = QHBoxLayout()
        masks_row.addWidget(self.masks_combo, 1)
        masks_row.addWidget(self.masks_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status = QLabel("")  # what is running
        self.hint = QLabel("choose an image and press Start")  # what to know or do next
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("font-weight: bold")

        self.session_box = QWidget()  # shown once a session has started
        session = QVBoxLayout(self.session_box)
        session.setContentsMargins(0, 0, 0, 0)
        session.addLayout(prompt_row)
        session.addLayout(masks_row)
        session.addLayout(run_row)
        self.track_all_row = TrackAllRow(self.controller)
        session.addWidget(self.track_all_row)
        session.addWidget(self.table)
        object_row = QHBoxLayout()
        object_row.addWidget(self.delete_button)
        object_row.addWidget(self.save_button)
        session.addLayout(object_row)
        self.session_box.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        layout.addLayout(start_row)
        layout.addWidget(self.hint)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.session_box)
        layout.addStretch()

    def _connect(self) -> None:
        layers = self.viewer.layers.events
        layers.inserted.connect(self._refresh_images)
        layers.removed.connect(self._refresh_images)
        self.image_combo.currentIndexChanged.connect(self._refresh_axes)
        self.axes_row.applied.connect(self._refresh_axes)  # typed letters: the stack axes they give
        self.axis_combo.currentIndexChanged.connect(
            lambda: self.axes_row.show_axis(self.axis_combo.currentData()))
        self.advanced_button.toggled.connect(self._show_advanced)
        self.save_button.clicked.connect(lambda: self.save_session())
        self.load_button.clicked.connect(lambda: self.load_session())
        self.browse_button.clicked.connect(self._browse)
        self.start_button.clicked.connect(self.start)
        self.new_button.clicked.connect(self.controller.new_object)
        self.sign_button.clicked.connect(self.controller.toggle_positive)
        self.propagate_button.clicked.connect(self.propagate)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.delete_button.clicked.connect(self._delete_selected)
        self.masks_button.clicked.connect(self._masks_from_labels)
        self.table.itemChanged.connect(self._renamed)
        self.table.itemSelectionChanged.connect(self._table_selected)
        c = self.controller
        c.status.connect(lambda text: self.status.setText(text))
        c.hint.connect(lambda text: self.hint.setText(text))
        c.positive_changed.connect(
            lambda positive: self.sign_button.setText("Positive (T)" if positive else "Negative (T)"))
        c.progress.connect(self._progress)
        c.busy_changed.connect(self._busy)
        c.objects_changed.connect(self._refresh_table)
        c.session_ready.connect(self._bind_keys)
        c.session_ready.connect(lambda: self.session_box.setVisible(True))
        self.destroyed.connect(lambda *_: c.close())

    # --------------------------------------------------------------- actions
    def _image_layers(self):
        from napari.layers import Image

        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _refresh_images(self, event=None) -> None:
        current = self.image_combo.currentText()
        self.image_combo.blockSignals(True)
        self.image_combo.clear()
        names = [layer.name for layer in self._image_layers()]
        self.image_combo.addItems(names)
        if current in names:
            self.image_combo.setCurrentText(current)
        self.image_combo.blockSignals(False)
        self._refresh_axes()
        self._refresh_mask_layers()

    def _refresh_mask_layers(self) -> None:
        from napari.layers import Labels

        own = self.controller.labels_layer
        self.masks_combo.clear()
        self.masks_combo.addItems([layer.name for layer in self.viewer.layers
                                   if isinstance(layer, Labels) and layer is not own])

    def _masks_from_labels(self):
        name = self.masks_combo.currentText()
        if name in self.viewer.layers:
            return self.controller.masks_from_labels(self.viewer.layers[name])
        return None

    def _refresh_axes(self, index=None) -> None:
        self.axes_row.set_layer(self.selected_image())
        fill_axis_combo(self.axis_combo, self.selected_image())

    def selected_image(self):
        """The image layer chosen in the combo box (or None)."""
        name = self.image_combo.currentText()
        return self.viewer.layers[name] if name in self.viewer.layers else None

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder written by save_pretrained")
        if folder:
            self.model_combo.setCurrentText(folder)

    def start(self):
        """Start a session on the chosen image with the chosen model (returns the load worker)."""
        if not self.axes_row.apply():  # wrong letters: the row says why; nothing runs
            return None
        channels = self.channels_edit.text().strip()
        try:
            channels = tuple(int(c) for c in channels.split(",")) if channels else None
        except ValueError:
            self.status.setText("channels must be numbers like 0 or 0,1,2")
            return None
        return self.controller.start(self.selected_image(), self.model_combo.currentText(),
                                     self.device_combo.currentText(), axis=self.axis_combo.currentData(),
                                     channels=channels, output=self.output_edit.text().strip() or None,
                                     preset=self.preset_combo.currentText(),
                                     precision=self.precision_combo.currentText(),
                                     memory=self.memory_combo.currentText(),
                                     feature_cache=self.cache_edit.text().strip() or None)

    def propagate(self):
        """Propagate in the chosen direction (returns the worker)."""
        return self.controller.propagate(self.direction_combo.currentText())

    def _busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for button in (self.propagate_button, self.start_button, self.save_button, self.load_button):
            button.setEnabled(not busy)
        if not busy:  # shown by progress signals only: loading, propagating, restoring (not clicks)
            self.progress_bar.setVisible(False)

    def _progress(self, done: int, total: int) -> None:
        """Frames done of total (total 0: busy, no count).

        Busy is a still bar saying so, not Qt's animated busy bar: its ~15
        repaints a second recompose the whole OpenGL window, which with
        software OpenGL took seconds of CPU from a model load.
        """
        if self.updatesEnabled():  # the table refresh that follows is painted with the bar, in one go
            self.setUpdatesEnabled(False)  # (QProgressBar.setValue repaints at once, the window with it)
            QTimer.singleShot(0, self._end_progress_hold)
        text = "%v / %m frames" if total else "working..."
        if self.progress_bar.maximum() != max(total, 1) or self.progress_bar.format() != text:
            self.progress_bar.setRange(0, max(total, 1))
            self.progress_bar.setFormat(text)
        self.progress_bar.setValue(done if total else 0)
        self.progress_bar.setVisible(True)

    def _end_progress_hold(self) -> None:
        try:
            self.setUpdatesEnabled(True)
        except RuntimeError:  # the widget is gone
            pass

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _bind_keys(self) -> None:
        c = self.controller
        for layer in (c.points_layer, c.shapes_layer, c.labels_layer):
            layer.bind_key("n", lambda _layer: c.new_object(), overwrite=True)
            layer.bind_key("t", lambda _layer: c.toggle_positive(), overwrite=True)
            layer.bind_key("Control-Z", lambda _layer: c.undo(), overwrite=True)
            layer.bind_key("Control-Shift-Z", lambda _layer: c.redo(), overwrite=True)

    def save_session(self, path=None):
        """Save the session (a file dialog unless ``path`` is given); returns the file or None."""
        if path is None:
            image = self.controller.image_layer
            suggested = f"{image.name if image is not None else 'session'}.sam2.json"
            path, _ = QFileDialog.getSaveFileName(self, "Save the SAM2 session", suggested,
                                                  "SAM2 sessions (*.sam2.json)")
            if not path:
                return None
            path = path if path.endswith(".json") else path + ".sam2.json"
        return self.controller.save_session(path)

    def load_session(self, path=None, tracker=None):
        """Load a saved session (a file dialog unless ``path`` is given); returns the load worker."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load a SAM2 session", "",
                                                  "SAM2 sessions (*.sam2.json)")
            if not path:
                return None
        worker = self.controller.load_session(path, tracker=tracker)
        self._show_settings(self.controller.settings)
        return worker

    def _show_settings(self, settings: dict) -> None:
        """Put the settings a session runs with into the widget's fields."""
        if self.controller.image_layer is not None:
            self.image_combo.setCurrentText(self.controller.image_layer.name)
            self.axes_row.set_layer(self.controller.image_layer, refill=True)  # the saved letters
        for combo, key in ((self.model_combo, "model"), (self.device_combo, "device"),
                           (self.preset_combo, "preset"), (self.precision_combo, "precision"),
                           (self.memory_combo, "memory")):
            if settings.get(key):
                combo.setCurrentText(str(settings[key]))
        channels = settings.get("channels")
        self.channels_edit.setText(",".join(map(str, channels)) if channels else "")
        self.cache_edit.setText(settings.get("feature_cache") or "")

    # ----------------------------------------------------------- object list
    def _refresh_table(self) -> None:
        fill_table(self.table, self.controller.object_rows(), self.controller.presence_strip)

    def _selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(self.table.item(items[0].row(), 0).text()) if items else None

    def _table_selected(self) -> None:
        obj_id = self._selected_id()
        if obj_id is not None:
            self.controller.select_object(obj_id)

    def _renamed(self, item) -> None:
        if item.column() == 0:
            obj_id = int(item.text())
            self.controller.set_visible(obj_id, item.checkState() == Qt.CheckState.Checked)
        if item.column() == 1:
            self.controller.rename_object(int(self.table.item(item.row(), 0).text()), item.text())

    def _delete_selected(self) -> None:
        obj_id = self._selected_id()
        if obj_id is not None:
            self.controller.delete_object(obj_id)

