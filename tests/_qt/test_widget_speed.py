"""What keeps the viewer from slowing the model down (see benchmarks/bench_widget.py for the figures)."""

import time

import numpy as np

from doubles import DiskTracker
from napari_sam2._qt.repaints import _running_movies
from napari_sam2._qt.widget import Sam2Widget


class SlowDiskTracker(DiskTracker):
    """The disk double, taking a while per frame like a model does."""

    def step(self, frame, steps, reverse):
        time.sleep(0.1)
        return super().step(frame, steps, reverse)


def start(viewer, n_frames=8):
    rng = np.random.default_rng(0)
    image = viewer.add_image(rng.integers(0, 1000, (n_frames, 60, 80), dtype=np.uint16),
                             name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    tracker = SlowDiskTracker()
    widget.controller.start(image, tracker=tracker)
    return widget.controller


def click(controller, qtbot, frame, row, col):
    layer = controller.points_layer
    layer.feature_defaults = {"object_id": controller.current_object, "positive": True}
    layer.add([frame, row, col])
    qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=20_000)


def test_propagation_shows_progress_without_the_animated_indicator(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    controller = start(viewer)
    click(controller, qtbot, 0, 30, 40)
    worker = controller.propagate("forward")
    qtbot.waitUntil(lambda: worker.pbar.n >= 2, timeout=20_000)  # running, two frames done
    assert worker.pbar.total == 7 and worker.pbar in type(worker.pbar)._all_instances
    assert not _running_movies()  # napari's "in progress" GIF repaints the whole window
    qtbot.waitUntil(lambda: controller.worker is None, timeout=20_000)
    assert all(controller.labels_layer.data[f].any() for f in range(8))


def test_frames_off_screen_are_written_without_redrawing_the_labels(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    controller = start(viewer)
    viewer.dims.set_current_step(0, 2)
    click(controller, qtbot, 2, 30, 40)
    redraws = []
    controller.labels_layer.events.labels_update.connect(lambda event: redraws.append(event))
    worker = controller.propagate("forward")
    qtbot.waitUntil(lambda: not worker.is_running and controller.worker is None, timeout=20_000)
    assert all(controller.labels_layer.data[f].any() for f in range(3, 8))
    assert not redraws  # frames 3..7 were not on screen
    viewer.dims.set_current_step(0, 5)  # napari slices the written data when the slider moves
    shown = np.asarray(controller.labels_layer._slice.image.raw)  # napari's current 2D slice
    assert np.array_equal(shown, controller.labels_layer.data[5]) and shown.any()


def test_a_quick_click_leaves_the_widget_alone_and_holds_repaints_until_its_mask(make_napari_viewer, qtbot,
                                                                                 monkeypatch):
    from napari_sam2._qt import worker_runs

    monkeypatch.setattr(worker_runs, "BUSY_AFTER_S", 3600.0)  # "quick" whatever the machine's load
    viewer = make_napari_viewer()
    image = viewer.add_image(np.random.default_rng(0).integers(0, 1000, (4, 60, 80), dtype=np.uint16),
                             name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    controller = widget.controller
    controller.start(image, tracker=DiskTracker())  # answers at once
    window = viewer.window._qt_window
    busy, held = [], []
    controller.busy_changed.connect(busy.append)

    def record(event):
        held.append(not window.updatesEnabled())

    controller.points_layer.events.data.connect(record, position="last")  # after the controller's
    rows_before = widget.table.rowCount()
    click(controller, qtbot, 0, 30, 40)
    assert True not in busy  # no "segmenting…", no buttons disabled and enabled again
    assert widget.propagate_button.isEnabled() and window.updatesEnabled()  # repaints again
    assert held[-1]  # while the click was computed, the window did not repaint
    controller.points_layer.events.data.disconnect(record)
    assert controller.labels_layer.data[0].any() and widget.table.rowCount() == rows_before + 1
    first_name_item = widget.table.item(0, 1)
    controller.objects_changed.emit()  # nothing changed: the table keeps its items
    assert widget.table.item(0, 1) is first_name_item

    tracker = controller.session.tracker  # a step that lasts: the busy state is shown, then cleared
    step = tracker.step
    monkeypatch.setattr(worker_runs, "BUSY_AFTER_S", 0.2)
    tracker.step = lambda *args: (time.sleep(0.6), step(*args))[1]
    click(controller, qtbot, 0, 20, 20)
    assert True in busy and busy[-1] is False and window.updatesEnabled()
