"""The widget's "Track all": every cell of the stack from automatic or given seeds, in a worker.

:class:`TrackAllActions` is mixed into the controller (it uses the same worker
runner, progress, cancel and one-undo-step machinery as Propagate);
:class:`TrackAllRow` is the row of the dock widget (seed source + button).
"""

from __future__ import annotations

import time
from contextlib import ExitStack

from qtpy.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from .._napari.history import PropagationRun
from .._napari.review import MODEL_METADATA
from .._napari.track_all import LINEAGE_KEY, check_can_track, seeds_from_layer, show_lineage, summary
from ..core.errors import InputError
from .object_actions import notify

__all__ = ["TrackAllActions", "TrackAllRow"]

AUTOMATIC = "automatic seeds (grid)"


class TrackAllActions:
    """Mixed into :class:`~.controller.Sam2Controller`: :meth:`track_all`."""

    engine = None  # the last TrackAll run (its ``lineage`` is also in the labels layer's metadata)
    _track_run = None  # its PropagationRun (one undo step)

    def track_all(self, seeds_layer=None, params=None):
        """Track every cell from seeds on the current frame, in a worker; one undo step.

        Parameters
        ----------
        seeds_layer : napari.layers.Labels, optional
            Its labels on the current frame are the seeds (ids kept). Default:
            automatic seeds from a grid of point prompts.
        params : TrackParams, optional
            Thresholds of seeds, new objects, divisions and flags.

        Returns
        -------
        The worker (started), or None after a notification.
        """
        from napari.qt.threading import create_worker

        from ..core.track_all import TrackAll

        if self.worker is not None:
            notify("wait for the current step to finish, or cancel it", error=False)
            return None
        try:
            check_can_track(self.session, self.axes)
            frame = self.current_frame()
            seeds = None
            if seeds_layer is not None:
                seeds = seeds_from_layer(seeds_layer, self.sink, frame, self._source.frame_shape,
                                         self._source.n_frames)
                if not seeds:
                    raise InputError(f"labels layer '{seeds_layer.name}' has no labels on frame {frame}: "
                                     "go to a frame with seeds, or use automatic seeds")
        except InputError as err:
            notify(err)
            return None
        self.engine = engine = TrackAll(self.session, params)
        total = engine.n_steps(frame)
        worker = create_worker(_track_steps, engine, seeds, frame, self.sink, _start_thread=False,
                               _ignore_errors=True, _progress={"total": total, "desc": "SAM2 track all"})
        worker.yielded.connect(self._show_track_step)
        self._history = ExitStack()
        self._history.enter_context(self.labels_layer.block_history())
        self._runs.append(PropagationRun.start(self.session))
        self._track_run = self._runs[-1]
        self._done, self._total, self._table_time = 0, total, time.monotonic()
        # before _on_finished closes the undo step: frames a cancel kept from the GUI (gap closing
        # relabels every frame of a join at once, then hands them over one by one)
        worker.finished.connect(lambda: self.sink.flush(self._on_screen))
        self._run(worker, f"tracking all cells from frame {frame}")
        worker.finished.connect(lambda: self._track_all_finished(engine, worker))  # after _on_finished
        self.progress.emit(0, total)
        return worker

    def _show_track_step(self, item) -> None:
        step, labels = item
        self.sink.apply(step.frame, labels, refresh=self._on_screen(step.frame))
        if step.result is not None:
            self._runs[-1].add(step.result)
        if step.direction == "gaps":  # a frame gap closing relabelled, after the last frame
            return
        self._done += 1
        self.progress.emit(self._done, self._total)
        if time.monotonic() - self._table_time >= 0.5:
            self._table_time = time.monotonic()
            self.objects_changed.emit()

    def _track_all_finished(self, engine, worker) -> None:
        if not engine.lineage.tracks or self.labels_layer is None:
            return  # failed before any seed (said by the worker's error) or the layer went away
        show_lineage(self.viewer, self.labels_layer, engine.lineage)
        if self.model_source is not None:  # a fix from the review re-tracks with this model
            self.labels_layer.metadata[MODEL_METADATA] = dict(self.model_source)
        self.select_object(max(self.session.objects, default=0) + 1)  # next clicks: a new object
        cancelled = " (cancelled: frames not reached are empty)" if worker.abort_requested else ""
        self.hint.emit(f"track all: {summary(engine.lineage)}{cancelled}; Ctrl+Z undoes the whole run")


    def forget_undone_track_all(self) -> bool:
        """After Ctrl+Z took a Track all run's labels away: its objects, lineage and Tracks layer go too
        (the session is empty again, ready for another Track all). Returns whether it happened."""
        run = self._track_run
        if run is None or self.session is None or not run.undone(self.labels_layer):
            return False
        for obj_id in list(self.engine.lineage.tracks):
            self.session.remove_object(obj_id)
        self.labels_layer.metadata.pop(LINEAGE_KEY, None)
        self.labels_layer.metadata.pop(MODEL_METADATA, None)
        if "tracks" in self.viewer.layers:
            self.viewer.layers.remove("tracks")
        self._track_run = self.engine = None
        self.hint.emit("Track all undone: its tracks and lineage are gone")
        return True


def _track_steps(engine, seeds, frame, sink):
    """The run in the worker: each step with its frame's final labels (applied on the GUI thread)."""
    for step in engine.run(seeds, frame):
        yield step, sink.read(step.frame)


class TrackAllRow(QWidget):
    """Seed source (automatic or a Labels layer) and the "Track all" button.

    Parameters
    ----------
    controller : Sam2Controller
    """

    def __init__(self, controller):
        super().__init__()
        self.controller = controller
        self.seeds_combo = QComboBox()
        self.seeds_combo.setToolTip("seeds on the current frame: a grid of point prompts, or the labels "
                                    "of a Labels layer (Cellpose, StarDist, manual; ids kept)")
        self.button = QPushButton("Track all")
        self.button.setToolTip("find and track every cell through the whole stack (new cells, "
                               "divisions, review flags); one undo step, Cancel stops it")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.seeds_combo, 1)
        row.addWidget(self.button)
        self.button.clicked.connect(lambda: self.track_all())
        controller.busy_changed.connect(lambda busy: self.button.setEnabled(not busy))
        controller.session_ready.connect(self.refresh)  # the session's own labels layer is no seed source
        events = controller.viewer.layers.events
        for event in (events.inserted, events.removed):
            event.connect(self.refresh)
        self.destroyed.connect(lambda *_: [e.disconnect(self.refresh) for e in (events.inserted,
                                                                                events.removed)])
        self.refresh()

    def refresh(self, event=None) -> None:
        """List the Labels layers that can give seeds (not the session's own)."""
        from napari.layers import Labels

        current = self.seeds_combo.currentText()
        self.seeds_combo.clear()
        self.seeds_combo.addItem(AUTOMATIC)
        own = self.controller.labels_layer
        self.seeds_combo.addItems([layer.name for layer in self.controller.viewer.layers
                                   if isinstance(layer, Labels) and layer is not own])
        self.seeds_combo.setCurrentText(current if current else AUTOMATIC)

    def track_all(self, params=None):
        """Run Track all with the chosen seeds (returns the worker or None)."""
        name = self.seeds_combo.currentText()
        layers = self.controller.viewer.layers
        seeds_layer = layers[name] if name != AUTOMATIC and name in layers else None
        return self.controller.track_all(seeds_layer, params)
