"""Drive a core :class:`~napari_sam2.core.session.Session` from napari layers.

The controller owns the prompt layers and the output Labels layer, turns
layer edits into session prompts, and runs all model work in napari thread
workers. Layer writes happen on the GUI thread (in the workers' ``yielded``
and ``returned`` handlers). It holds no model state itself: everything goes
through ``controller.session``, which can be used from the console as well.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from functools import partial

from psygnal import Signal

from .._napari.history import PropagationRun
from .._napari.layers import (
    LayerSink,
    StackAxes,
    add_session_layers,
    changed_prompts,
    color_points,
    guess_axes,
    image_data,
    prompts_from_layers,
)
from ..core.errors import InputError
from ..core.frames import FrameSource
from ..core.memory_policies import DEFAULT_MEMORY, make_policy
from ..core.models import AUTO, DEFAULT_PRESET
from ..core.outputs import OutputLock
from ..core.prompts import PromptWarning
from .model_loading import load_in_one_step as _load_in_one_step
from .object_actions import ObjectActions, notify
from .session_actions import SessionActions
from .track_all_actions import TrackAllActions
from .volume_actions import VolumeActions, volume_axes
from .worker_runs import WorkerRuns

__all__ = ["Sam2Controller"]

#: seconds between two refreshes of the progress bar and the object table during a propagation: both
#: in one go, so that Qt composes the window (OpenGL canvas included) once for the two
REFRESH_EVERY = 0.5


class Sam2Controller(WorkerRuns, ObjectActions, SessionActions, TrackAllActions, VolumeActions):
    """Links an image layer, prompt layers, a Labels layer and a SAM2 session.

    Parameters
    ----------
    viewer : napari.Viewer
    """

    status = Signal(str)  # what is running: "propagating both…", "ready"
    hint = Signal(str)  # what the user should know or do next; not replaced by the status
    busy_changed = Signal(bool)
    progress = Signal(int, int)  # frames done, total (0, 0: busy without a count)
    positive_changed = Signal(bool)  # the sign of the next points, whatever changed it
    objects_changed = Signal()
    session_ready = Signal()

    def __init__(self, viewer):
        self.viewer = viewer
        self.session = None
        #: ``{"model": name, "preset": preset}`` of the loaded model (None: a given tracker), kept in a
        #: Track all result's layer metadata so that the review's fixes re-track with the same model
        self.model_source = None
        self.image_layer = self.points_layer = self.shapes_layer = self.labels_layer = None
        self.axes: StackAxes | None = None
        self.sink: LayerSink | None = None
        self.current_object = 1
        self.positive = True
        self.worker = None
        self._synced: dict = {}
        self._dirty = False
        self._history: ExitStack | None = None
        self._paused: list = []  # animations paused while a worker runs (see repaints.py)
        self.hidden: set[int] = set()  # objects whose labels are not shown
        self._colormap = None  # the labels layer's own colormap, while some objects are hidden
        self.settings: dict = {}  # what start() was given (saved with a session)
        self._runs: list[PropagationRun] = []  # propagations whose undo is watched
        self._table_time = 0.0
        self._output_lock = None
        viewer.layers.events.removed.connect(self._on_layer_removed)
        viewer.dims.events.current_step.connect(self._on_step)

    def close(self) -> None:
        """Stop work and disconnect from the viewer (the widget is going away)."""
        self.cancel()
        self._end_worker_timers()
        self._release_output()
        self.viewer.layers.events.removed.disconnect(self._on_layer_removed)
        self.viewer.dims.events.current_step.disconnect(self._on_step)
        for signal in (self.status, self.hint, self.busy_changed, self.progress, self.positive_changed,
                       self.objects_changed, self.session_ready):
            signal.disconnect()

    # ------------------------------------------------------------- set-up
    def start(self, image_layer, model=AUTO, device="auto", axis=None, channel_axis=None,
              channels=None, tracker=None, output=None, preset=DEFAULT_PRESET, precision="auto",
              feature_cache=None, memory=DEFAULT_MEMORY):
        """Check the image, create the prompt and label layers, load the model in the background.

        Parameters
        ----------
        image_layer : napari.layers.Image
        model : str
            ``auto`` (the preset chooses: EdgeTAM for ``fast`` where it can run,
            else SAM2.1-tiny), a registry name, a ``save_pretrained`` folder or
            ``random:tiny``.
        device : str
            ``auto``, ``cpu``, ``cuda`` or ``mps``.
        axis, channel_axis, channels
            Stack axis, channel axis (4D layers) and channels to use.
        tracker : Tracker, optional
            Use this model adapter instead of loading ``model`` (tests, custom models).
        preset : {"fast", "balanced", "accurate"}
            Speed/accuracy preset (model input size, memory frames).
        output : str or Path, optional
            A new ``.zarr`` folder to hold the labels on disk, written frame by
            frame (for stacks larger than memory). Default: labels in memory.
        precision : {"auto", "fp32", "bf16"}
            See :func:`~napari_sam2.core.models.load_model`.
        feature_cache : str or Path, optional
            A zarr store that keeps image features on disk across sessions
            (created if missing). Default: in memory only.
        memory : str
            Memory policy, one of :data:`~napari_sam2.core.memory_policies.MEMORY_POLICIES`.

        Returns
        -------
        The loading worker (started), None when ``tracker`` is given or after a notification.
        """
        from napari.qt.threading import create_worker

        from ..core.feature_cache import FeatureCache

        if image_layer is None:
            notify("open or choose an image layer first (File > Open, or File > Open Sample)")
            return None
        if volume_axes(image_layer) is not None and tracker is None:  # (t, z, y, x): a VolumeSession
            return self.start_volumes(image_layer, model, device, preset, precision)
        try:
            axes = guess_axes(image_layer, axis, channel_axis)
            if channels is None and axes.rgb:  # an RGB layer: its colours, not its red channel
                channels = (0, 1, 2)
            source = FrameSource(image_data(image_layer), axes.axis, axes.channel_axis, channels)
            features = FeatureCache(folder=feature_cache) if feature_cache else None
            make_policy(memory)  # a wrong name: said before the model loads
        except InputError as err:
            notify(err)
            return None
        self.cancel()
        self.image_layer, self.axes, self.session, self.volume = image_layer, axes, None, None
        self.model_source = None
        self.settings = dict(model=str(model), device=device, axis=axes.axis, channel_axis=channel_axis,
                             channels=None if channels is None else list(channels), preset=preset,
                             precision=precision, feature_cache=None if feature_cache is None
                             else str(feature_cache), output=None if output is None else str(output),
                             memory=memory)
        self._runs = []
        self._source = source
        worker = None
        if tracker is None:  # load while the layers are built: on a CPU both take seconds
            # a one-step bar: napari animates an indeterminate one, repainting the window all along
            worker = create_worker(_load_in_one_step, model, device, preset=preset,
                                   precision=precision, _start_thread=False, _ignore_errors=True,
                                   _progress={"total": 1, "desc": f"Loading {model}"})
            worker.returned.connect(partial(self._on_model_loaded, features=features, memory=memory))
            self._run(worker, "loading the model")
            self.progress.emit(0, 0)
        try:
            self._make_layers(source, output)
        except InputError as err:
            self._release_output()
            if worker is not None:
                worker.quit()  # the loaded model is dropped: no `returned` after quit
            notify(err)
            return None
        self.sink = LayerSink(self.labels_layer, axes, source.n_frames, source.frame_shape)
        if tracker is not None:
            self._on_tracker(tracker, "custom model")
        return worker

    def _release_output(self) -> None:
        if self._output_lock is not None:
            self._output_lock.release()
            self._output_lock = None

    def _make_layers(self, source: FrameSource, output=None) -> None:
        self._release_output()  # one job per labels store on disk, a CLI run's included
        self._output_lock = OutputLock(output).acquire() if output else None
        self.labels_layer, self.points_layer, self.shapes_layer = add_session_layers(
            self.viewer, self.image_layer, self.axes, source.frame_shape, self.current_object, output)
        self.hidden, self._colormap = set(), None
        for layer in (self.points_layer, self.shapes_layer):
            layer.events.data.connect(self._on_prompt_layer_changed)
            layer.events.features.connect(self._on_prompt_layer_changed)

    def _on_model_loaded(self, loaded, features=None, memory=None) -> None:
        from ..core.tracker import TransformersTracker

        self.model_source = {"model": loaded.name, "preset": loaded.preset}
        self._on_tracker(TransformersTracker(loaded, feature_cache=features, memory=memory),
                         f"{loaded.name} ({loaded.preset}, {loaded.image_size} px) on {loaded.device}"
                         f"{' (bf16)' if loaded.bf16 else ''}")

    def _on_tracker(self, tracker, what: str) -> None:
        from ..core.session import Session

        self.session = Session(self._source, tracker, self.sink)
        self._synced = {}
        self.hint.emit(f"{what} ready: click on the image"
                       + (" (a single image: one frame)" if self._source.n_frames == 1 else ""))
        self.session_ready.emit()
        if self.worker is None:  # a given tracker: no loading worker to finish first
            self._restore_pending()

    # ------------------------------------------------------------ prompts
    def _on_prompt_layer_changed(self, event=None) -> None:
        if getattr(event, "action", "added") not in ("added", "removed", "changed"):
            return
        color_points(self.points_layer, self.labels_layer)
        self.sync_prompts()

    def sync_prompts(self):
        """Send prompt-layer changes to the session (in a worker); returns it or None."""
        from napari.qt.threading import create_worker

        if self.volume is not None:
            return self.sync_volume_prompts()
        if self.session is None:
            return None
        if self.worker is not None:
            self._dirty = True
            return None
        try:
            wanted = prompts_from_layers(self.points_layer, self.shapes_layer, self.image_layer,
                                         self.axes, self._source.frame_shape)
        except InputError as err:
            notify(err)
            return None
        changes = changed_prompts(wanted, self._synced)
        if not changes:
            return None
        self._synced = wanted
        worker = create_worker(self._apply_prompts, changes, _start_thread=False, _ignore_errors=True)
        worker.yielded.connect(self._show_result)
        worker.warned.connect(self._show_warning)
        self._run(worker, "segmenting", quiet=True, hold=True)
        return worker

    def _apply_prompts(self, changes):
        for (obj_id, frame), prompt in changes:
            if prompt is None:
                self.session.remove_prompt(obj_id, frame)
            elif not prompt.is_empty:
                try:
                    yield self.session.set_prompt(obj_id, frame, prompt)
                except InputError as err:
                    yield err

    def _show_result(self, result) -> None:
        if isinstance(result, Exception):
            notify(str(result))
            return
        self.sink.apply(result.frame, result.labels, refresh=self._on_screen(result.frame))
        if self._history is not None:  # a propagation: progress and table every REFRESH_EVERY s
            self._runs[-1].add(result)
            self._done += 1
            now = time.monotonic()  # each widget change recomposes the window: twice a second
            if now - self._table_time >= REFRESH_EVERY or self._done == self._total:
                self._table_time = now
                self.progress.emit(self._done, self._total)
                self.objects_changed.emit()

    def _show_warning(self, warning_args) -> None:
        """A core warning from a prompt (a mask that excludes the clicked point) as a napari warning."""
        message, category = warning_args[:2]
        if issubclass(category, PromptWarning):
            notify(str(message), error=False)

    # -------------------------------------------------------- propagation
    def propagate(self, direction: str = "both"):
        """Propagate all objects in a worker; the whole run is one undo step."""
        from napari.qt.threading import create_worker

        if self.volume is not None:
            return self.propagate_volumes(direction)
        if self.session is None:
            notify("start a session and add a prompt first")
            return None
        if self.worker is not None:
            notify("wait for the current step to finish, or cancel it", error=False)
            return None
        if not any(o.anchor is not None for o in self.session.objects.values()):
            notify("nothing to propagate: click on an object first")
            return None
        self.check_undo()
        total = self.session.pending_frames(direction)
        if total == 0:
            self.hint.emit(f"nothing to propagate {direction}: every frame is done. Add a correcting "
                           "click, or undo (Ctrl+Z) a run to compute its frames again")
            return None
        worker = create_worker(self.session.propagate, direction, _start_thread=False, _ignore_errors=True,
                               _progress={"total": total, "desc": "SAM2 propagation"})
        worker.yielded.connect(self._show_result)
        self._history = ExitStack()
        self._history.enter_context(self.labels_layer.block_history())
        self._runs.append(PropagationRun.start(self.session))
        self._done, self._total, self._table_time = 0, total, time.monotonic()
        self._run(worker, f"propagating {direction}")
        self.progress.emit(0, total)
        return worker

    def cancel(self) -> None:
        """Stop the running worker after the current frame (finished frames stay)."""
        if self.worker is not None:
            self.worker.quit()

    def prefetch(self, frame: int):
        """Encode a frame in the background so the next click on it is instant."""
        from napari.qt.threading import create_worker

        if self.session is None or self.worker is not None:
            return None
        worker = create_worker(self.session.prefetch, frame, _start_thread=False, _ignore_errors=True)
        self._run(worker, f"encoding frame {frame}", quiet=True)
        return worker

    def current_frame(self) -> int | None:
        """The image frame shown by the viewer's sliders."""
        if self.image_layer is None:
            return None
        if self.axes.axis is None:  # a single image
            return 0
        position = self.image_layer.world_to_data(self.viewer.dims.point[-self.image_layer.ndim:])
        return int(round(position[self.axes.axis]))

    def _on_screen(self, frame: int) -> bool:
        """Whether ``frame`` is in the viewer's current view (else writing it needs no redraw)."""
        if self.axes.axis is None:  # a single image: its one frame is always shown
            return True
        axis = self.axes.axis + self.viewer.dims.ndim - self.image_layer.ndim
        return axis in self.viewer.dims.displayed or frame == self.current_frame()

    def _on_step(self, event=None) -> None:
        frame = self.current_frame()
        if frame is not None and 0 <= frame < self._source.n_frames:
            self.prefetch(frame)

    # ------------------------------------------------------------ workers
    def _on_finished(self) -> None:
        self.worker = None
        if self._history is not None:
            items = []
            self.labels_layer.events.paint.connect(items.append)
            self._history.close()  # commits the run as one undo step
            self.labels_layer.events.paint.disconnect(items.append)
            self._runs[-1].committed(items[-1].value if items else None)
            self._history = None
            self.hint.emit(f"propagation: {self._done} frame(s) computed")
        self.busy_changed.emit(False)
        self.objects_changed.emit()
        if self.session is not None:
            self.status.emit("ready")
        self._resume_animations()  # and the window repaints, once, all of the above
        self._restore_pending()  # after Load session: the model is loaded now
        if self._dirty:
            self._dirty = False
            self.sync_prompts()

    def _failed(self, message: str) -> None:
        self._pending_restore = None
        notify(message)
        self.status.emit(message)

    def _on_layer_removed(self, event) -> None:
        layer = event.value
        if layer is self.labels_layer or layer is self.image_layer:
            self.cancel()
            what = "output labels" if layer is self.labels_layer else "image"
            notify(f"the {what} layer was removed: the SAM2 session stopped (finished frames are "
                    "kept in the labels layer); press Start to begin again", error=False)
            self.session = None
            self.status.emit("stopped: layer removed")

