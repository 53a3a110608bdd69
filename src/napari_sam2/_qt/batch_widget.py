"""The "SAM2 batch" dock widget: segment a folder, a manifest or the open stacks on a local cluster.

The batch (:func:`~napari_sam2.workflows.batch.run_batch`) runs in a napari
thread worker that yields each :class:`~napari_sam2.workflows.batch.BatchEvent`;
the viewer stays responsive, the table and progress bar follow the events, and
"Cancel" sets the batch's cancel event (finished outputs are kept; "Resume"
continues the rest). "Open result" adds a finished stack's labels, lazily.
"""

from __future__ import annotations

import threading
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import InputError
from ..core.models import AUTO, DEFAULT_PRESET, PRESETS, REGISTRY
from .memory_choice import memory_combo
from .model_choices import device_combo, precision_combo

TABLE_COLUMNS = ("stack", "outcome", "seconds", "message")
STACK_KINDS = ("skipped", "finished", "failed", "cancelled")


def _notify(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def batch_events(jobs, out_dir, cancel: threading.Event, settings: dict):
    """:func:`run_batch`'s events; a cancel ends with a ``cancelled`` event instead of raising."""
    from ..workflows.batch import BatchEvent, run_batch

    events = run_batch(jobs, out_dir, cancel=cancel, **settings)
    try:
        yield from events
    except KeyboardInterrupt:
        yield BatchEvent("cancelled", message="cancelled: finished outputs kept; Resume continues")


def _sensible_workers() -> int:
    from ..workflows.batch import default_workers

    return default_workers()


class BatchWidget(QWidget):
    """Run ``napari-sam2 batch`` from napari, in the background, with progress and cancel."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.worker = None
        self.cancel_event: threading.Event | None = None
        self.outputs: dict[int, Path] = {}  # table row -> the stack's labels zarr
        self.rows: dict[int, int] = {}  # manifest row -> table row
        self.last_event = None

        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("a folder, a manifest .csv or a glob (*.tif)")
        self.input_edit.setToolTip("a folder: every image in it (prompts from <stem>.json beside "
                                   "each, else automatic seeds); or a manifest .csv; or a glob")
        self.input_button = QPushButton("Folder…")
        self.input_button.clicked.connect(self._choose_input)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("folder for the labels (<stem>.zarr per stack)")
        self.out_button = QPushButton("Folder…")
        self.out_button.clicked.connect(self._choose_out)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 64)
        self.workers_spin.setValue(_sensible_workers())
        self.workers_spin.setToolTip("worker processes of the local cluster (one per two cores "
                                     "by default); each keeps its model loaded")
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItems([AUTO, *REGISTRY, "random:tiny"])
        self.model_combo.setToolTip("auto: the speed preset chooses; a registry name, or a "
                                    "save_pretrained folder")
        self.preset_combo = QComboBox()
        for preset in PRESETS.values():
            self.preset_combo.addItem(preset.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                           Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setCurrentText(DEFAULT_PRESET)
        self.device_combo = device_combo()
        self.precision_combo = precision_combo()
        self.memory_combo = memory_combo()
        self.resume_check = QCheckBox("Resume (skip finished outputs, continue unfinished ones)")
        self.resume_check.setChecked(True)
        self.overwrite_check = QCheckBox("Overwrite (recompute every stack)")
        self.overwrite_check.setToolTip("an existing output is replaced only once its new labels "
                                        "are complete")
        self.resume_check.toggled.connect(lambda on: on and self.overwrite_check.setChecked(False))
        self.overwrite_check.toggled.connect(lambda on: on and self.resume_check.setChecked(False))

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("segment every stack of the folder, manifest or glob")
        self.run_button.clicked.connect(self.run)
        self.open_stacks_button = QPushButton("Run on all open stacks")
        self.open_stacks_button.setToolTip("the image layers opened from files, each with the "
                                           "prompts file beside it or automatic seeds")
        self.open_stacks_button.clicked.connect(self.run_open_stacks)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m stacks")
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _: self.open_result())
        self.open_button = QPushButton("Open result")
        self.open_button.setToolTip("add the selected stack's labels as a Labels layer (lazily)")
        self.open_button.clicked.connect(self.open_result)

        form = QFormLayout()
        form.addRow("Stacks", self._row(self.input_edit, self.input_button))
        form.addRow("Output", self._row(self.out_edit, self.out_button))
        form.addRow("Workers", self.workers_spin)
        form.addRow("Model", self.model_combo)
        form.addRow("Speed", self.preset_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        form.addRow("Memory", self.memory_combo)
        buttons = QHBoxLayout()
        for button in (self.run_button, self.open_stacks_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.resume_check)
        layout.addWidget(self.overwrite_check)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.open_button)

    @staticmethod
    def _row(edit, button) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return box

    def _choose_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of stacks")
        if folder:
            self.input_edit.setText(folder)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.out_edit.setText(folder)

    # -- running -----------------------------------------------------------------------------
    def settings(self) -> dict:
        """The keyword arguments of :func:`run_batch` chosen in the widget."""
        return dict(workers=self.workers_spin.value(), resume=self.resume_check.isChecked(),
                    overwrite=self.overwrite_check.isChecked(),
                    model=self.model_combo.currentText().strip() or AUTO,
                    preset=self.preset_combo.currentText(), device=self.device_combo.currentText(),
                    precision=self.precision_combo.currentText(),
                    memory=self.memory_combo.currentText())

    def _out_dir(self) -> Path:
        text = self.out_edit.text().strip()
        if not text:
            raise InputError("choose an output folder for the labels")
        return Path(text).expanduser()

    def _stacks(self) -> str:
        text = self.input_edit.text().strip()
        if not text:
            raise InputError("choose a folder of stacks, a manifest .csv or a glob")
        path = Path(text).expanduser()
        return str(path / "*") if path.is_dir() else text

    def run(self) -> None:
        """Plan the folder/manifest/glob (errors shown at once) and start the batch."""
        try:
            self._start(self._stacks(), self._out_dir())
        except InputError as err:
            _notify(str(err))

    def run_open_stacks(self) -> None:
        """Send the viewer's image layers opened from files as one batch."""
        from .._napari.batch_jobs import write_open_stacks_manifest

        try:
            out_dir = self._out_dir()
            self._start(str(write_open_stacks_manifest(self.viewer.layers, out_dir)), out_dir)
        except InputError as err:
            _notify(str(err))

    def _start(self, stacks: str, out_dir: Path) -> None:
        from napari.qt.threading import create_worker

        from ..workflows.batch import plan_batch

        if self.worker is not None:
            raise InputError("a batch is running: cancel it or wait for it to finish")
        settings = self.settings()
        jobs = plan_batch(stacks, out_dir, settings["resume"], settings["overwrite"])  # bad rows refused
        self._reset(jobs)
        self.cancel_event = threading.Event()
        self.worker = create_worker(batch_events, jobs, out_dir, self.cancel_event, settings,
                                    _start_thread=False)
        self.worker.yielded.connect(self.on_event)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self._set_running(True)
        self.status.setText(f"starting a local cluster of {settings['workers']} worker(s)…")
        self.worker.start()

    def _reset(self, jobs) -> None:
        self.table.setRowCount(0)
        self.rows.clear()
        self.outputs.clear()
        self.last_event = None
        for job in jobs:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.rows[job.row] = row
            self.outputs[row] = job.out
            for column, text in enumerate((job.out.stem, "queued", "", "")):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.progress.setRange(0, max(len(jobs), 1))
        self.progress.setValue(0)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.open_stacks_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def cancel(self) -> None:
        """Stop the batch: queued stacks are cancelled, finished outputs kept."""
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.status.setText("cancelling…")

    def on_event(self, event) -> None:
        """Show one :class:`BatchEvent` in the table, progress bar and status line."""
        self.last_event = event
        if event.kind == "started":
            self.status.setText(f"running on {event.message}"
                                + (f"; dashboard {event.dashboard}" if event.dashboard else ""))
        elif event.kind in STACK_KINDS and event.job is not None:
            row = self.rows.get(event.job.row)
            if row is not None:
                values = (event.kind, f"{event.seconds:.1f}" if event.seconds else "", event.message)
                for column, text in enumerate(values, start=1):
                    item = QTableWidgetItem(text)
                    item.setToolTip(text)
                    self.table.setItem(row, column, item)
            self.progress.setValue(self.progress.value() + 1)
        elif event.kind == "done":
            counts = {}
            for result in event.results:
                counts[result.kind] = counts.get(result.kind, 0) + 1
            summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
            self.status.setText(f"done: {summary}; report {event.message}")
        elif event.kind == "cancelled":
            for row in range(self.table.rowCount()):
                if self.table.item(row, 1).text() == "queued":
                    self.table.setItem(row, 1, QTableWidgetItem("cancelled"))
            self.status.setText(event.message)

    def _on_error(self, err) -> None:
        self.status.setText(f"batch failed: {err}")
        _notify(str(err) if isinstance(err, InputError) else f"batch failed: {err!r}")

    def _on_finished(self) -> None:
        self.worker = None
        self.cancel_event = None
        self._set_running(False)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Closing the dock cancels a running batch (its finished outputs are kept)."""
        self.cancel()
        super().closeEvent(event)

    # -- results -----------------------------------------------------------------------------
    def open_result(self) -> None:
        """Add the selected stack's labels zarr as a Labels layer (read lazily)."""
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        if not rows:
            _notify("select a stack in the table first")
            return
        name = self.table.item(rows[0], 0).text()
        outcome = self.table.item(rows[0], 1).text()
        path = self.outputs.get(rows[0])
        if outcome not in ("finished", "skipped") or path is None or not path.exists():
            _notify(f"{name} has no finished labels ({outcome})")
            return
        from .._napari.reader import label_layers

        for data, kwargs, kind in label_layers(path):  # either zarr layout; axes, scale, lineage
            kwargs["name"] = f"{name} batch {kind}"
            getattr(self.viewer, f"add_{kind}")(data, **kwargs)
