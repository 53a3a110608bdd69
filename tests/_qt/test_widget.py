"""The dock widget in a real napari viewer (PyQt6 under Xvfb)."""

import time

import dask.array as da
import numpy as np
import pytest

from conftest import CountingArray
from doubles import DiskTracker
from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.evaluation.metrics import jaccard

SCALE = (2.0, 0.5, 0.25)
TRANSLATE = (10.0, -3.0, 7.0)


@pytest.fixture
def stack():
    rng = np.random.default_rng(0)
    return rng.integers(0, 1000, (8, 60, 80), dtype=np.uint16)


def open_widget(viewer, data, **image_kwargs):
    image = viewer.add_image(data, name="cells", axis_labels=("t", "y", "x"), **image_kwargs)
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget, image


def click(controller, world_point, positive=True):
    """Add a point where the user clicked, given in world coordinates."""
    layer = controller.points_layer
    layer.feature_defaults = {"object_id": controller.current_object, "positive": positive}
    layer.add(layer.world_to_data(world_point))


def wait(qtbot, worker=None, controller=None):
    """Wait for a worker, or until the controller is idle (queued prompt syncs included)."""
    if worker is not None:
        qtbot.waitUntil(lambda: not worker.is_running, timeout=60_000)
    if controller is not None:
        qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=60_000)


def centroid(mask):
    rows, cols = np.nonzero(mask)
    return rows.mean(), cols.mean()


def start_with_double(widget, image, qtbot, **tracker_args):
    tracker = DiskTracker(**tracker_args)
    widget.controller.start(image, tracker=tracker)
    return widget.controller, tracker


def test_widget_is_contributed_to_the_plugins_menu(make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM2 segmentation and tracking")
    assert isinstance(widget, Sam2Widget)
    assert "Ctrl+Z" in widget.toolTip() and "N " in widget.toolTip()


def test_click_in_world_coordinates_lands_on_the_right_pixel_and_frame(make_napari_viewer, stack, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack, scale=SCALE, translate=TRANSLATE)
    controller, tracker = start_with_double(widget, image, qtbot)
    frame, row, col = 5, 20, 50
    world = np.array(TRANSLATE) + np.array(SCALE) * [frame, row, col]
    click(controller, world)
    wait(qtbot, controller=controller)
    labels = controller.labels_layer.data
    assert tracker.calls[0][0] == frame
    assert np.allclose(centroid(labels[frame] == 1), (row, col), atol=1.5)
    assert not labels[frame - 1].any() and not labels[frame + 1].any()
    assert controller.labels_layer.scale.tolist() == list(SCALE)


def test_propagate_both_ways_cancel_undo_and_correction(make_napari_viewer, stack, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    controller, tracker = start_with_double(widget, image, qtbot)
    click(controller, [3, 30, 40])
    wait(qtbot, controller=controller)
    painted = controller.labels_layer.data
    painted[0, 0:5, 0:5] = 99  # painted by hand: never overwritten

    worker = widget.propagate()
    wait(qtbot, worker, controller)
    assert all((painted[f] == 1).any() for f in range(8))
    assert (painted[0, 0:5, 0:5] == 99).all()
    assert widget.table.rowCount() == 1 and widget.table.item(0, 2).text().startswith("8")

    controller.labels_layer.undo()  # the whole run is one step
    assert (painted[3] == 1).any() and not any((painted[f] == 1).any() for f in (0, 1, 2, 4, 5, 6, 7))
    controller.labels_layer.redo()
    assert all((painted[f] == 1).any() for f in range(8))

    n_calls = len(tracker.calls)
    click(controller, [6, 10, 10], positive=False)  # a correction on frame 6
    wait(qtbot, controller=controller)
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    assert [c[0] for c in tracker.calls[n_calls:]] == [6, 7]


def test_cancel_stops_within_a_frame_and_keeps_finished_frames(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data = np.random.default_rng(1).integers(0, 100, (40, 30, 30), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    controller, tracker = start_with_double(widget, image, qtbot)
    slow_step = tracker.step

    def step(*args):
        time.sleep(0.05)
        return slow_step(*args)

    tracker.step = step
    click(controller, [0, 15, 15])
    wait(qtbot, controller=controller)
    worker = widget.propagate()
    qtbot.waitUntil(lambda: len(tracker.calls) > 5, timeout=10_000)
    widget.cancel_button.click()
    wait(qtbot, worker)
    done = len(tracker.calls) - 1
    assert done < 20
    frames_with_labels = [f for f in range(40) if (controller.labels_layer.data[f] == 1).any()]
    assert frames_with_labels == list(range(done + 1)) or len(frames_with_labels) == done  # no gaps
    assert controller.session.objects[1].forward_done == max(frames_with_labels)


def test_event_loop_stays_responsive_during_a_real_model_run(make_napari_viewer, tiny_model, qtbot):
    from napari_sam2.core.tracker import TransformersTracker

    viewer = make_napari_viewer()
    data = np.random.default_rng(2).integers(0, 4000, (16, 96, 128), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    widget.controller.start(image, tracker=TransformersTracker(tiny_model))
    controller = widget.controller
    click(controller, [8, 40, 60])
    wait(qtbot, controller=controller)
    assert controller.session.objects[1].anchor == 8

    from qtpy.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    timer.stop()
    # the GUI thread kept running its timer while the model worked in the background (how long
    # its largest gap is, is a figure: benchmarks/bench_widget.py prints it)
    assert len(ticks) > 10
    obj = controller.session.objects[1]
    assert (obj.backward_done, obj.forward_done) == (0, 15)  # every frame was computed
    assert sorted(obj.presence) == list(range(16))


def test_dask_image_is_read_lazily(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    base = np.random.default_rng(3).integers(0, 500, (30, 40, 40), dtype=np.uint16)
    counting = CountingArray(base)
    widget, image = open_widget(viewer, da.from_array(counting, chunks=(1, 40, 40)))
    controller, _ = start_with_double(widget, image, qtbot)
    counting.reads.clear()
    click(controller, [2, 20, 20])
    wait(qtbot, controller=controller)
    worker = widget.propagate("forward") if False else widget.propagate()
    wait(qtbot, worker)
    assert max(counting.reads.values()) <= 3  # viewer display + sample + tracking, never the whole stack
    assert sum(counting.reads.values()) < 30 * 3


def test_bad_input_gives_notifications_not_tracebacks(make_napari_viewer, qtbot, monkeypatch, tmp_path):

    messages = []
    _record_notifications(monkeypatch, messages)
    viewer = make_napari_viewer()
    widget = Sam2Widget(viewer)
    assert widget.start() is None
    assert "open or choose an image layer first" in messages[-1]
    viewer.add_image(np.zeros((2, 2, 2, 30, 40)), name="five")
    widget._refresh_images()
    assert widget.start() is None and "has 5 dimensions" in messages[-1]

    image = viewer.add_image(np.zeros((5, 20, 20), np.uint16), name="stack")
    controller, _ = start_with_double(widget, image, qtbot)
    other = viewer.add_points(np.array([[1.0, 2.0]]), name="2d points")
    controller.points_layer = other  # a prompt layer whose shape does not match
    controller.sync_prompts()
    assert "has 2 dimensions but image 'stack' has 3" in messages[-1]

    (tmp_path / "file.txt").write_text("not a zarr store")
    assert widget.controller.start(image, feature_cache=tmp_path / "file.txt") is None
    assert "feature cache" in messages[-1]
    widget.controller.start(image, model="no-such-model")
    qtbot.waitUntil(lambda: controller.worker is None, timeout=10_000)
    assert "loading the model failed" in messages[-1] and "unknown model" in messages[-1]


def test_removing_the_output_layer_during_a_run_stops_safely(make_napari_viewer, qtbot, monkeypatch):

    messages = []
    _record_notifications(monkeypatch, messages)
    viewer = make_napari_viewer()
    data = np.random.default_rng(1).integers(0, 100, (30, 30, 30), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    controller, tracker = start_with_double(widget, image, qtbot)
    slow_step = tracker.step
    tracker.step = lambda *a: (time.sleep(0.05), slow_step(*a))[1]
    click(controller, [0, 15, 15])
    wait(qtbot, controller=controller)
    worker = widget.propagate()
    qtbot.waitUntil(lambda: len(tracker.calls) > 3, timeout=10_000)
    viewer.layers.remove(controller.labels_layer)
    wait(qtbot, worker)
    assert "output labels layer was removed" in messages[-1]
    assert controller.session is None and len(tracker.calls) < 30


def test_start_loads_a_model_folder_in_the_background(make_napari_viewer, tiny_model_dir, stack, qtbot,
                                                           tmp_path):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    assert widget.model_combo.currentText() == "auto"  # the preset chooses unless told
    widget.model_combo.setCurrentText(str(tiny_model_dir))
    widget.preset_combo.setCurrentText("fast")
    widget.precision_combo.setCurrentText("fp32")
    widget.cache_edit.setText(str(tmp_path / "features.zarr"))
    worker = widget.start()
    wait(qtbot, worker, widget.controller)
    controller = widget.controller
    assert controller.session is not None and "ready" in widget.status.text()
    tracker = controller.session.tracker
    assert type(tracker.model).__name__ == "Sam2VideoModel" and not tracker.autocast_bf16
    click(controller, [2, 30, 40])
    wait(qtbot, controller=controller)
    assert controller.session.objects[1].anchor == 2
    assert widget.table.rowCount() == 1
    assert tracker.feature_cache.disk is not None and (tmp_path / "features.zarr").is_dir()
    assert len(list(tracker.feature_cache.disk.root.group_keys())) >= 1  # frame 2's features, on disk


def test_labels_on_disk_and_mask_prompts_from_another_layer(make_napari_viewer, stack, qtbot, tmp_path):
    import zarr

    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    tracker = DiskTracker()
    widget.controller.start(image, tracker=tracker, output=str(tmp_path / "out.zarr"))
    controller = widget.controller
    cellpose = np.zeros(stack.shape, np.uint16)
    cellpose[4, 10:20, 10:30] = 5
    cellpose[4, 40:50, 50:70] = 6
    other = viewer.add_labels(cellpose, name="cellpose")
    viewer.dims.set_current_step(0, 4)
    wait(qtbot, controller=controller)
    worker = controller.masks_from_labels(other)
    wait(qtbot, worker, controller)
    assert sorted(controller.session.objects) == [5, 6]
    on_disk = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert np.allclose(centroid(on_disk[4] == 5), (14.5, 19.5), atol=1.5)
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    assert all((on_disk[f] == 6).any() for f in range(8))
    controller.set_visible(5, False)
    assert controller.labels_layer.get_color(5)[3] == 0 and controller.labels_layer.get_color(6)[3] > 0
    controller.set_visible(5, True)
    assert controller.labels_layer.get_color(5)[3] > 0
    controller.delete_object(6)
    assert not (np.asarray(on_disk) == 6).any() and 6 not in controller.session.objects


def test_bundled_demo_model_segments_and_tracks_a_cell_in_the_viewer(make_napari_viewer, qtbot):
    """Real masks through the widget: Start loads `demo`, a click masks the cell, propagation tracks it."""
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.evaluation.clicks import interior_point

    data, truth = synthetic_timelapse(10, (256, 256), 6, seed=4243, divisions=False)  # held out
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, data, scale=(1.0, 0.5, 0.5))
    widget.model_combo.setCurrentText("demo")
    worker = widget.start()
    wait(qtbot, worker, widget.controller)
    controller = widget.controller
    cell = int(np.bincount(truth[0][truth[0] > 0]).argmax())  # the largest cell on frame 0
    row, col = interior_point(truth[0] == cell)
    click(controller, [0, row * 0.5, col * 0.5])
    wait(qtbot, controller=controller)
    assert jaccard(controller.labels_layer.data[0] == 1, truth[0] == cell) >= DEMO_CLICK_IOU
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    labels = controller.labels_layer.data
    tracked = [jaccard(labels[t] == 1, truth[t] == cell)
               for t in range(1, len(truth)) if (truth[t] == cell).any()]
    assert np.mean(tracked) >= DEMO_TRACKED_IOU, tracked


DEMO_CLICK_IOU = 0.85    # measured 0.986 with the bundled model (through Session)
DEMO_TRACKED_IOU = 0.85  # measured 0.981


def _record_notifications(monkeypatch, messages: list) -> None:
    """Collect what the widget shows as napari notifications (errors and warnings)."""
    import napari.utils.notifications as notifications

    monkeypatch.setattr(notifications, "show_error", messages.append)
    monkeypatch.setattr(notifications, "show_warning", messages.append)
