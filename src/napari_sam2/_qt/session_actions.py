"""What the controller does with whole sessions: undo of a propagation, save and load to a file."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from .._napari.layer_axes import apply_letters, named_letters, widget_axes
from .._napari.layers import color_points, prompts_from_layers
from ..core.errors import InputError
from .object_actions import notify

__all__ = ["SessionActions"]


class SessionActions:
    """Mixed into :class:`~.controller.Sam2Controller`.

    Uses the controller's ``session``, ``settings``, layers, ``sink``,
    ``axes``, ``hidden``, ``worker``, ``_runs`` and its worker runner ``_run``.
    """

    _pending_restore = None

    # ------------------------------------------------------------- undo
    def undo(self) -> None:
        """Undo the last step of the labels layer (a whole propagation is one); the frames of an
        undone propagation count as not done, so the next Propagate computes them again."""
        if self.labels_layer is not None and self.worker is None:
            self.labels_layer.undo()
            self.check_undo()

    def redo(self) -> None:
        """Redo on the labels layer (a redone propagation's frames stay marked not done)."""
        if self.labels_layer is not None and self.worker is None:
            self.labels_layer.redo()

    def check_undo(self) -> int:
        """Mark the frames of propagations undone in the labels layer as not done; returns how many."""
        self.forget_undone_track_all()  # a Track all run undone: its objects and lineage go too
        undone = [run for run in self._runs if run.undone(self.labels_layer)] if self.session else []
        count = sum(run.mark_not_done(self.session) for run in undone)
        self._runs = [run for run in self._runs if run not in undone]
        if undone:
            self.hint.emit(f"undone: {count} frame(s) to compute again; press Propagate")
            self.objects_changed.emit()
        return count

    # ------------------------------------------------------ session files
    def save_session(self, path) -> Path | None:
        """Save prompts, names, progress, settings and labels (``NAME.sam2.json`` + ``NAME.labels.tif``)."""
        from ..core.session_file import save_session

        if self.session is None or self.worker is not None:
            notify("start a session first, and wait for running work to finish", error=False)
            return None
        view = {"image": self.image_layer.name, "hidden": sorted(self.hidden)}
        settings = dict(self.settings, axes=named_letters(self.image_layer))  # the Axes row's letters
        try:
            path = save_session(self.session, path, settings, view, overwrite=True)
        except (InputError, OSError) as err:
            notify(err if isinstance(err, InputError) else f"could not save the session: {err}")
            return None
        self.hint.emit(f"session saved: {path.name}")
        return path

    def load_session(self, path, image_layer=None, tracker=None):
        """Start the model with a saved session's settings, then restore its prompts, names and labels.

        Parameters
        ----------
        path : str or Path
            A ``NAME.sam2.json`` written by :meth:`save_session`.
        image_layer : napari.layers.Image, optional
            Default: the layer of the name the session was saved with.
        tracker : Tracker, optional
            Instead of loading the saved model (tests, custom models).

        Returns
        -------
        The model loading worker, or None (``tracker`` given, or a notification).
        """
        from ..core.session_file import load_session

        try:
            saved = load_session(path)
            saved.read_labels()  # missing labels: say so before anything changes
        except InputError as err:
            notify(err)
            return None
        name = saved.view.get("image")
        if image_layer is None and name in self.viewer.layers:
            image_layer = self.viewer.layers[name]
        if image_layer is None:
            notify(f"open the image '{name}' first: the session was saved on it")
            return None
        settings = {k: v for k, v in saved.settings.items() if k in (
            "model", "device", "axis", "channel_axis", "channels", "preset", "precision", "feature_cache",
            "memory")}
        try:  # the saved axis letters, as the Axes row would write them
            if saved.settings.get("axes"):
                apply_letters(image_layer, widget_axes(image_layer, saved.settings["axes"]).letters)
        except InputError as err:
            notify(err)
            return None
        self._pending_restore = saved
        worker = self.start(image_layer, tracker=tracker, **settings)
        if self.labels_layer is None or self.image_layer is not image_layer:
            self._pending_restore = None  # start() refused and said why
        return worker

    def _restore_pending(self):
        """After a start from :meth:`load_session`: prompt layers, then the session (in a worker)."""
        from napari.qt.threading import create_worker

        from ..core.session_file import restore_session

        saved, self._pending_restore = self._pending_restore, None
        if saved is None or self.session is None:
            return None
        self._restore_layers(saved)
        worker = create_worker(restore_session, self.session, saved, labels=False,
                               _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._show_result)
        worker.returned.connect(lambda _: self._restored(saved))
        self._run(worker, f"restoring {len(saved.objects)} object(s)")
        self.progress.emit(0, 0)
        return worker

    def _restore_layers(self, saved) -> None:
        points, boxes, ids, positive, box_ids = [], [], [], [], []
        for obj in saved.objects:
            for frame, prompt in obj.prompts.items():
                for (row, col), label in zip(prompt.points, prompt.labels, strict=True):
                    points.append(self._layer_position(frame, row, col))
                    ids.append(obj.obj_id)
                    positive.append(bool(label))
                if prompt.box is not None:
                    r0, c0, r1, c1 = prompt.box
                    boxes.append([self._layer_position(frame, r, c) for r, c in
                                  ((r0, c0), (r0, c1), (r1, c1), (r1, c0))])
                    box_ids.append(obj.obj_id)
        layers = (self.points_layer, self.shapes_layer)
        with ExitStack() as blocked:  # no prompt sync: the session gets the prompts in their order
            for layer in layers:
                blocked.enter_context(layer.events.data.blocker())
                blocked.enter_context(layer.events.features.blocker())
            if points:
                self.points_layer.data = np.array(points)
                self.points_layer.features = {"object_id": ids, "positive": positive}
            if boxes:
                self.shapes_layer.add_rectangles(np.array(boxes))
                self.shapes_layer.features = {"object_id": box_ids}
        for layer in layers:
            layer.feature_defaults = {**layer.feature_defaults, "object_id": self.current_object}
            layer.refresh()
        color_points(self.points_layer, self.labels_layer)
        self._synced = prompts_from_layers(*layers, self.image_layer, self.axes, self._source.frame_shape)

    def _layer_position(self, frame: int, row: float, col: float) -> list[float]:
        position = [0.0] * self.image_layer.ndim
        if self.axes.axis is not None:
            position[self.axes.axis] = frame
        position[self.axes.spatial[0]], position[self.axes.spatial[1]] = row, col
        return position

    def _restored(self, saved) -> None:
        stack = saved.read_labels()
        if stack is not None:  # the labels as saved (prompted frames were just recomputed)
            for frame in range(len(stack)):
                self.labels_layer.data[self.sink.index(frame)] = stack[frame]
            self.labels_layer.refresh()
        for obj in saved.objects:
            self.session.objects[obj.obj_id].name = obj.name
        for obj_id in saved.view.get("hidden", []):
            if obj_id in self.session.objects:
                self.set_visible(obj_id, False)
        self.objects_changed.emit()
        self.hint.emit(f"session loaded: {len(saved.objects)} object(s); continue clicking or Propagate")
