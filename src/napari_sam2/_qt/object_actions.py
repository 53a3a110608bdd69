"""What the object table and the prompt buttons ask of the controller: the current object, the
sign of new points, rows, presence, visibility, masks, rename, delete."""

from __future__ import annotations

import numpy as np

from .._napari import objects
from .._napari.layers import label_masks, remove_object_prompts
from .._napari.volume_layers import volume_objects
from ..core.errors import InputError

__all__ = ["ObjectActions", "notify", "WIDGET_WORDS", "SHORTCUTS"]

#: how the widget names the API parameters of the core's remedies (see ``InputError.worded``)
WIDGET_WORDS = {"channel_axis": "a channel axis (Advanced)", "overwrite": "a new output name",
                "device": "Device", "model": "Model", "preset": "Preset"}


def notify(message, error: bool = True) -> None:
    """Show an error (or a warning) in napari; an :class:`InputError` in the widget's words."""
    from napari.utils.notifications import show_error, show_warning

    if isinstance(message, InputError):
        message = message.worded(WIDGET_WORDS)
    (show_error if error else show_warning)(str(message))


class ObjectActions:
    """Mixed into :class:`~.controller.Sam2Controller`: the object table's actions.

    Uses the controller's ``session``, ``labels_layer``, ``points_layer``,
    ``shapes_layer``, ``image_layer``, ``sink``, ``worker``, ``hidden`` and its
    worker runner ``_run``.
    """

    def new_object(self) -> int:
        """Make the next clicks and boxes belong to a new object."""
        used = set(self._synced_ids()) | {self.current_object}
        self.select_object(max(used) + 1)
        return self.current_object

    def select_object(self, obj_id: int) -> None:
        """Set the object that new points and boxes belong to, and select its points."""
        self.current_object = int(obj_id)
        if self.points_layer is not None:
            self.points_layer.feature_defaults = {"object_id": obj_id, "positive": self.positive}
            self.shapes_layer.feature_defaults = {"object_id": obj_id}
            ids = self.points_layer.features["object_id"].to_numpy()
            self.points_layer.selected_data = set(np.nonzero(ids == obj_id)[0].tolist())
            self.labels_layer.selected_label = obj_id

    def toggle_positive(self) -> bool:
        """Switch new points between positive and negative; returns the new mode."""
        self.positive = not self.positive
        if self.points_layer is not None:
            self.points_layer.feature_defaults = {"object_id": self.current_object,
                                                  "positive": self.positive}
        self.positive_changed.emit(self.positive)
        self.hint.emit("next points: " + ("positive (object)" if self.positive else "negative (background)"))
        return self.positive

    def _synced_ids(self):
        return [obj for obj, _ in self._synced]

    def object_rows(self) -> list[dict]:
        """One row per object for the object list (see :func:`.._napari.objects.object_rows`)."""
        return objects.object_rows(self._table_session(), self.labels_layer, self.hidden)

    def presence_strip(self, obj_id: int) -> np.ndarray:
        """Presence probability per frame for one object (NaN where not computed)."""
        return objects.presence_strip(self._table_session(), obj_id)

    def _table_session(self):
        """The session the object table shows (on a series of volumes: the objects' time tracks)."""
        volume = getattr(self, "volume", None)
        return self.session if volume is None else volume_objects(volume)

    def set_visible(self, obj_id: int, visible: bool) -> None:
        """Show or hide one object's labels (display only; the data is untouched)."""
        if self._colormap is None:
            self._colormap = self.labels_layer.colormap
        (self.hidden.discard if visible else self.hidden.add)(int(obj_id))
        hiding = objects.visibility_colormap(self._colormap, self._table_session().objects, self.hidden)
        self.labels_layer.colormap = self._colormap if hiding is None else hiding

    def masks_from_labels(self, layer, frame: int | None = None):
        """Use each label of ``layer`` on a frame as a mask prompt for the object with that id.

        For refining another tool's segmentation (e.g. Cellpose). Returns the worker.
        """
        from napari.qt.threading import create_worker

        if self.session is None or self.worker is not None:
            notify("start a session first, and wait for running work to finish", error=False)
            return None
        frame = self.current_frame() if frame is None else frame
        try:
            masks = label_masks(layer, self.labels_layer, self.image_layer, self.sink.index(frame))
        except InputError as err:
            notify(err)
            return None
        if not masks:
            notify(f"labels layer '{layer.name}' has no labels on frame {frame}", error=False)
            return None

        def prompt_all():
            for obj_id, mask in masks:
                yield self.session.add_mask(obj_id, frame, mask)

        worker = create_worker(prompt_all, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._show_result)
        self._run(worker, f"using {len(masks)} masks on frame {frame}")
        return worker

    def rename_object(self, obj_id: int, name: str) -> None:
        """Give an object a name."""
        if self.session is not None and obj_id in self.session.objects:
            self.session.objects[obj_id].name = name
        if getattr(self, "volume", None) is not None and obj_id in self.volume.objects:
            self.volume.objects[obj_id].name = name

    def delete_object(self, obj_id: int) -> None:
        """Remove an object: its prompts, its session state and its labels (one undo step)."""
        if self.session is None or self.worker is not None:
            return
        remove_object_prompts((self.points_layer, self.shapes_layer), obj_id)
        self._synced = {k: v for k, v in self._synced.items() if k[0] != obj_id}
        self.session.remove_object(obj_id)
        data = self.labels_layer.data
        where = np.nonzero(np.asarray(data) == obj_id)
        if len(where[0]):
            self.labels_layer.data_setitem(where, 0)
        self.objects_changed.emit()

#: the widget's tooltip: its keyboard shortcuts
SHORTCUTS = """Shortcuts (with a SAM2 points, boxes or labels layer selected):
  click       add a point (points layer in add mode)
  T           toggle positive / negative points
  N           new object
  Ctrl+Z      undo on the labels layer (a whole propagation is one step; its
              frames are computed again by the next Propagate)
Draw rectangles in the boxes layer for box prompts."""
