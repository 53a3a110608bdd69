"""The widget on a 4D (t, z, y, x) image layer: clicks on the current (t, z) go to a
:class:`~napari_sam2.core.volumes.VolumeSession`, Propagate runs the 3D+t propagation.

:class:`VolumeActions` is mixed into the controller: :meth:`start_volumes` is
called by ``start`` for such layers; prompts and ``propagate`` are routed here
while ``self.volume`` is set. The worker runner, progress, cancel and undo are
the controller's.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial

from .._napari.layers import add_session_layers, color_points
from .._napari.volume_layers import stack_axes, volume_axes, volume_prompts, write_volume

__all__ = ["VolumeActions", "volume_axes"]
from ..core.errors import InputError
from .model_loading import load_in_one_step
from .object_actions import notify


class VolumeActions:
    """Mixed into :class:`~.controller.Sam2Controller`."""

    volume = None  # the VolumeSession while the image is a series of volumes
    _volume_axes = None  # (time axis, z axis) of the image layer
    _volume_synced: dict = {}

    def start_volumes(self, image_layer, model, device="auto", preset=None, precision="auto"):
        """Layers (4D labels, points, boxes) and the model (in a worker) for a (t, z, y, x) image.

        Returns the loading worker, or None when the layer is no series of volumes.
        """
        from napari.qt.threading import create_worker

        axes = volume_axes(image_layer)
        if axes is None:
            return None
        self.cancel()
        self.image_layer, self.session, self.volume, self._volume_axes = None, None, None, axes
        self.settings = dict(model=str(model), device=device, preset=preset, axes="4D t, z")
        shape = tuple(image_layer.data.shape[2:])
        self.labels_layer, self.points_layer, self.shapes_layer = add_session_layers(
            self.viewer, image_layer, stack_axes(axes[0]), shape, self.current_object)
        for layer in (self.points_layer, self.shapes_layer):
            layer.events.data.connect(self._on_volume_prompts)
            layer.events.features.connect(self._on_volume_prompts)
        self._volume_synced, self._volume_image = {}, image_layer
        kwargs = {} if preset is None else {"preset": preset}
        worker = create_worker(load_in_one_step, model, device, precision=precision, **kwargs,
                               _start_thread=False, _ignore_errors=True,
                               _progress={"total": 1, "desc": f"Loading {model}"})
        worker.returned.connect(partial(self._on_volume_model, image_layer))
        self._run(worker, "loading the model")
        self.progress.emit(0, 0)
        return worker

    def _on_volume_model(self, image_layer, loaded) -> None:
        from ..core.feature_cache import FeatureCache
        from ..core.tracker import TransformersTracker
        from ..core.volumes import VolumeSession

        cache = FeatureCache()
        time_axis, z_axis = self._volume_axes
        try:
            self.volume = VolumeSession(image_layer.data, time_axis, z_axis,
                                        lambda: TransformersTracker(loaded, feature_cache=cache))
        except InputError as err:
            notify(err)
            return
        self.hint.emit(f"{loaded.name} ready on a series of volumes (T={self.volume.n_times}, "
                       f"Z={self.volume.n_planes}): click on the image at any t and z")
        self.session_ready.emit()

    def _on_volume_prompts(self, event=None) -> None:
        if getattr(event, "action", "added") not in ("added", "removed", "changed"):
            return
        color_points(self.points_layer, self.labels_layer)
        self.sync_volume_prompts()

    def sync_volume_prompts(self):
        """Send new or changed prompts to the volume session (in a worker); returns it or None."""
        from napari.qt.threading import create_worker

        if self.volume is None:
            return None
        if self.worker is not None:
            self._dirty = True
            return None
        wanted = volume_prompts(self.points_layer, self.shapes_layer, *self._volume_axes)
        changes = [(key, prompt) for key, prompt in wanted.items()
                   if _signature(prompt) != _signature(self._volume_synced.get(key))]
        if self._volume_synced.keys() - wanted.keys():
            notify("a removed prompt stays in the volume session until Start again", error=False)
        if not changes:
            return None
        self._volume_synced = wanted
        self._synced = wanted  # the object ids in use (New object)
        worker = create_worker(_apply, self.volume, changes, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._show_volume)
        self._run(worker, "segmenting")
        return worker

    def _show_volume(self, result) -> None:
        if isinstance(result, Exception):
            notify(str(result))
            return
        if hasattr(result, "labels"):  # a VolumeResult (time-track steps only count)
            write_volume(self.labels_layer, result.time, result.labels, *self._volume_axes)
        if self._history is not None or getattr(self, "_volume_history", None) is not None:
            self._done += 1
            self.progress.emit(self._done, self._total)

    def propagate_volumes(self, direction: str = "both"):
        """The 3D+t propagation in a worker (progress, cancel); the whole run is one undo step."""
        from napari.qt.threading import create_worker

        if self.worker is not None:
            notify("wait for the current step to finish, or cancel it", error=False)
            return None
        if not any(track.track_plane for track in self.volume.objects.values()):
            notify("nothing to propagate: click on an object first")
            return None
        steps, volumes = self.volume.pending(direction)
        total = steps + volumes
        worker = create_worker(self.volume.propagate, direction, _start_thread=False, _ignore_errors=True,
                               _progress={"total": total, "desc": "SAM2 3D+t propagation"})
        worker.yielded.connect(self._show_volume)
        self._volume_history = ExitStack()
        self._volume_history.enter_context(self.labels_layer.block_history())
        self._done, self._total = 0, total
        self._run(worker, f"propagating in 3D+t ({direction})")
        worker.finished.connect(self._volume_finished)
        self.progress.emit(0, total)
        return worker

    def _volume_finished(self) -> None:
        history, self._volume_history = self._volume_history, None
        if history is not None:
            history.close()  # commits the run as one undo step
        done = len(self.volume.done) if self.volume is not None else 0
        self.status.emit("ready")
        self.hint.emit(f"3D+t propagation: {done} of {self.volume.n_times} volumes up to date; "
                       "Ctrl+Z undoes the whole run")


def _signature(prompt):
    if prompt is None:
        return None
    return prompt.points.tobytes(), prompt.labels.tobytes(), prompt.box


def _apply(volume, changes):
    for (obj_id, (time, plane)), prompt in changes:
        if prompt.is_empty:
            continue
        try:
            yield volume.set_prompt(obj_id, time, plane, prompt)
        except InputError as err:
            yield err
