"""The dock widget in a real napari viewer (PyQt6 under Xvfb)."""

import threading

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


def hold_at(tracker, frame):
    """Make ``tracker.step`` stop on ``frame`` until the test releases it.

    Returns (reached, release, released): events set when the worker is inside the step on
    ``frame``, for the test to let it go on, and (a list) whether the release came in time.
    """
    reached, release, released = threading.Event(), threading.Event(), []
    step = tracker.step

    def held(f, steps, reverse):
        if f == frame:
            reached.set()
            released.append(release.wait(30))
        return step(f, steps, reverse)

    tracker.step = held
    return reached, release, released


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


def test_cancel_stops_after_the_current_frame_and_keeps_finished_frames(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data = np.random.default_rng(1).integers(0, 100, (12, 30, 30), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    controller, tracker = start_with_double(widget, image, qtbot)
    click(controller, [0, 15, 15])
    wait(qtbot, controller=controller)
    reached, release, released = hold_at(tracker, 6)
    worker = widget.propagate()
    qtbot.waitUntil(reached.is_set, timeout=10_000)
    widget.cancel_button.click()  # while frame 6 is being computed
    release.set()
    wait(qtbot, worker, controller)
    assert released == [True]
    assert [c[0] for c in tracker.calls] == list(range(7))  # the click, then frames 1..6: no more
    frames_with_labels = [f for f in range(12) if (controller.labels_layer.data[f] == 1).any()]
    assert frames_with_labels == list(range(7))  # frame 6, finished after the cancel, is kept too
    assert controller.session.objects[1].forward_done == 6
    worker = widget.propagate()  # the next run resumes after frame 6
    wait(qtbot, worker, controller)
    assert [c[0] for c in tracker.calls[7:]] == list(range(7, 12))


def test_event_loop_stays_responsive_during_a_real_model_run(make_napari_viewer, tiny_model, qtbot):
    from qtpy.QtCore import QTimer

    from napari_sam2.core.tracker import TransformersTracker

    viewer = make_napari_viewer()
    data = np.random.default_rng(2).integers(0, 4000, (8, 96, 128), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    tracker = TransformersTracker(tiny_model)
    widget.controller.start(image, tracker=tracker)
    controller = widget.controller
    click(controller, [4, 40, 60])
    wait(qtbot, controller=controller)
    assert controller.session.objects[1].anchor == 4

    # the model holds frame 6 until a GUI timer tick lets it go: only a GUI thread that keeps
    # running while the model works can do that (how long its largest gap is, is a figure:
    # benchmarks/bench_widget.py prints it)
    reached, release, released = hold_at(tracker, 6)
    timer = QTimer()
    timer.timeout.connect(lambda: reached.is_set() and release.set())
    timer.start(10)
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    timer.stop()
    assert released == [True]
    obj = controller.session.objects[1]
    assert (obj.backward_done, obj.forward_done) == (0, 7)  # every frame was computed
    assert sorted(obj.presence) == list(range(8))


def test_dask_image_is_read_lazily(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    base = np.random.default_rng(3).integers(0, 500, (30, 40, 40), dtype=np.uint16)
    counting = CountingArray(base)
    widget, image = open_widget(viewer, da.from_array(counting, chunks=(1, 40, 40)))
    controller, _ = start_with_double(widget, image, qtbot)
    counting.reads.clear()
    click(controller, [2, 20, 20])
    wait(qtbot, controller=controller)
    worker = widget.propagate()
    wait(qtbot, worker, controller)
    assert all((controller.labels_layer.data[f] == 1).any() for f in range(30))  # the run did happen
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
    assert widget.start() is None and "at most 4 dimensions" in widget.axes_row.line.text()  # the Axes row
    viewer.add_image(np.zeros((2, 2, 2, 2, 30, 40)), name="six")
    widget.image_combo.setCurrentText("six")
    assert widget.axes_row.edit.text() == ""
    assert "image has 6 dimensions" in widget.axes_row.line.text()
    assert widget.start() is None

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
    click(controller, [0, 15, 15])
    wait(qtbot, controller=controller)
    reached, release, released = hold_at(tracker, 4)
    worker = widget.propagate()
    qtbot.waitUntil(reached.is_set, timeout=10_000)
    labels = controller.labels_layer
    viewer.layers.remove(labels)  # while frame 4 is being computed
    release.set()
    wait(qtbot, worker, controller)
    assert released == [True]
    assert "output labels layer was removed" in messages[-1]
    assert controller.session is None
    assert [c[0] for c in tracker.calls] == list(range(5))  # the run stopped after frame 4
    assert [bool((labels.data[f] == 1).any()) for f in range(30)] == [True] * 5 + [False] * 25


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


def test_a_mask_that_excludes_the_click_shows_a_napari_warning(make_napari_viewer, stack, qtbot):
    from napari.utils.notifications import NotificationSeverity, notification_manager

    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    controller, _ = start_with_double(widget, image, qtbot, offset=60.0)  # the disk lands off the click
    before = len(notification_manager.records)
    click(controller, [2, 30, 20])
    wait(qtbot, controller=controller)
    assert (controller.labels_layer.data[2] == 1).any() and controller.labels_layer.data[2, 30, 20] == 0
    qtbot.waitUntil(lambda: len(notification_manager.records) > before, timeout=5_000)
    shown = notification_manager.records[before:]
    assert any(n.severity == NotificationSeverity.WARNING and "object 1, frame 2: the mask excludes the "
               "positive point at row 30, col 20" in str(n.message) for n in shown), shown


def test_labels_on_disk_never_inside_the_image_file(make_napari_viewer, qtbot, monkeypatch, tmp_path):
    import zarr

    messages = []
    _record_notifications(monkeypatch, messages)
    data = (np.random.default_rng(0).random((4, 20, 20)) * 100).astype(np.uint16)
    zarr.save_array(str(tmp_path / "image.zarr"), data)
    viewer = make_napari_viewer()
    [image] = viewer.open(str(tmp_path / "image.zarr"), plugin="napari")
    assert str(image.source.path) == str(tmp_path / "image.zarr")
    widget = Sam2Widget(viewer)
    assert widget.controller.start(image, tracker=DiskTracker(),
                                   output=str(tmp_path / "image.zarr" / "labels.zarr")) is None
    assert "would overwrite the input" in messages[-1]
    assert not (tmp_path / "image.zarr" / "labels.zarr").exists()
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "image.zarr"), mode="r")[:], data)


def test_labels_on_disk_are_locked_against_other_jobs_while_the_session_lasts(make_napari_viewer, stack,
                                                                             tmp_path):
    from napari_sam2.core.errors import InputError
    from napari_sam2.core.outputs import OutputLock

    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    out = tmp_path / "out.zarr"
    widget.controller.start(image, tracker=DiskTracker(), output=str(out))
    with pytest.raises(InputError, match="being written by another job"):
        OutputLock(out).acquire()  # what a CLI run on the same store meets
    widget.controller.close()
    with OutputLock(out):  # released with the session
        pass
    assert not (tmp_path / "out.zarr.sam2-run").exists()
