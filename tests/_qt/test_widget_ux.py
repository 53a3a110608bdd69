"""What a user sees and presses in the dock widget, in a real napari viewer (PyQt6 under Xvfb):
sign button, hints, progress, live table, undo, colours, Advanced, session files, 2D images."""

import time

import numpy as np
import pytest
from qtpy.QtCore import Qt
from test_widget import centroid, click, open_widget, start_with_double, wait

from doubles import DiskTracker
from napari_sam2._napari.layers import NEGATIVE_BORDER, POSITIVE_BORDER


@pytest.fixture
def stack():
    return np.random.default_rng(0).integers(0, 1000, (8, 60, 80), dtype=np.uint16)


def press(viewer, key, modifiers=Qt.KeyboardModifier.NoModifier):
    """A real key press on the canvas: napari dispatches it to the active layer's key bindings."""
    from pytestqt.qtbot import QtBot

    canvas = viewer.window._qt_viewer.canvas.native
    QtBot.keyClick(canvas, key, modifiers)


def propagate(widget, direction):
    widget.direction_combo.setCurrentText(direction)
    return widget.propagate()


def slow(tracker, seconds):
    step = tracker.step
    tracker.step = lambda *args: (time.sleep(seconds), step(*args))[1]


def test_sign_button_follows_the_mode_and_hints_outlive_the_busy_status(make_napari_viewer, stack, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    controller, _ = start_with_double(widget, image, qtbot)
    assert "ready: click on the image" in widget.hint.text()
    widget.sign_button.click()  # the button itself
    assert widget.sign_button.text() == "Negative (T)" and not controller.positive
    assert "negative" in widget.hint.text()
    viewer.layers.selection.active = controller.points_layer
    press(viewer, Qt.Key.Key_T)  # the T key on the points layer
    assert widget.sign_button.text() == "Positive (T)" and controller.positive
    press(viewer, Qt.Key.Key_T)
    assert widget.sign_button.text() == "Negative (T)"
    click(controller, [2, 30, 40], positive=True)  # work runs: "segmenting…", then "ready"
    wait(qtbot, controller=controller)
    assert widget.status.text() == "ready" and "next points: negative" in widget.hint.text()


def test_progress_bar_and_live_object_table_during_a_propagation(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data = np.random.default_rng(1).integers(0, 100, (30, 30, 30), dtype=np.uint16)
    widget, image = open_widget(viewer, data)
    controller, tracker = start_with_double(widget, image, qtbot)
    click(controller, [0, 15, 15])
    wait(qtbot, controller=controller)
    slow(tracker, 0.08)
    refreshes, seen = [], []
    controller.objects_changed.connect(lambda: refreshes.append(time.monotonic()))
    strip = widget.table.cellWidget(0, 4)
    worker = widget.propagate()
    assert not widget.progress_bar.isHidden() and widget.progress_bar.maximum() == 29
    qtbot.waitUntil(lambda: widget.progress_bar.value() >= 10, timeout=20_000)
    seen.append((widget.progress_bar.value(), widget.table.item(0, 2).text()))
    wait(qtbot, worker, controller)
    value, span = seen[0]
    assert 10 <= value < 29 and int(span.split()[0]) >= 5  # the table counted frames mid-run
    assert widget.progress_bar.isHidden() and widget.table.item(0, 2).text().startswith("30")
    duration = refreshes[-1] - refreshes[0]
    assert len(refreshes) <= duration / 0.5 + 3  # throttled, not once per frame (29 frames)
    assert "29 frame(s) computed" in widget.hint.text()
    # the presence strip is redrawn in place (a new cell widget costs a second window composition),
    # and the hold on repaints over each progress tick has ended
    assert widget.table.cellWidget(0, 4) is strip and widget.updatesEnabled()


def test_ctrl_z_with_the_points_layer_active_undoes_a_run_and_propagate_redoes_its_frames(
        make_napari_viewer, stack, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    controller, tracker = start_with_double(widget, image, qtbot)
    click(controller, [3, 30, 40])
    wait(qtbot, controller=controller)
    worker = propagate(widget, "forward")
    wait(qtbot, worker, controller)
    labels = controller.labels_layer.data
    assert all((labels[f] == 1).any() for f in range(3, 8))
    assert propagate(widget, "forward") is None and "nothing to propagate forward" in widget.hint.text()

    viewer.layers.selection.active = controller.points_layer  # where the user is after clicking
    press(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not any((labels[f] == 1).any() for f in range(4, 8)) and (labels[3] == 1).any()
    obj = controller.session.objects[1]
    assert obj.forward_done == 3 and sorted(obj.presence) == [3]
    assert "undone: 4 frame(s)" in widget.hint.text() and widget.table.item(0, 2).text().startswith("1")
    n_calls = len(tracker.calls)
    worker = propagate(widget, "forward")
    wait(qtbot, worker, controller)
    assert [c[0] for c in tracker.calls[n_calls:]] == [4, 5, 6, 7]  # exactly the undone frames
    assert all((labels[f] == 1).any() for f in range(3, 8))

    controller.labels_layer.undo()  # from the console or napari's own binding: seen at Propagate
    n_calls = len(tracker.calls)
    worker = propagate(widget, "forward")
    wait(qtbot, worker, controller)
    assert [c[0] for c in tracker.calls[n_calls:]] == [4, 5, 6, 7]


def test_points_share_their_mask_colour_and_show_their_sign(make_napari_viewer, stack, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    controller, _ = start_with_double(widget, image, qtbot)
    for obj in (1, 2, 3):
        controller.select_object(obj)
        click(controller, [0, 10 + 15 * obj, 20])
        wait(qtbot, controller=controller)
    click(controller, [0, 55, 75], positive=False)
    wait(qtbot, controller=controller)
    points, labels = controller.points_layer, controller.labels_layer
    np.testing.assert_allclose(points.face_color, [labels.get_color(i) for i in (1, 2, 3, 3)])
    np.testing.assert_allclose(points.border_color, [POSITIVE_BORDER] * 3 + [NEGATIVE_BORDER])
    table_colours = [widget.table.item(n, 0).background().color().getRgbF()[:3] for n in range(3)]
    np.testing.assert_allclose(table_colours, [labels.get_color(i)[:3] for i in (1, 2, 3)], atol=0.01)
    assert [layer.name for layer in viewer.layers][1:] == ["SAM2 labels", "SAM2 boxes", "SAM2 points"]


def test_first_view_is_image_model_and_start_with_the_rest_under_advanced(make_napari_viewer, stack):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    for shown in (widget.image_combo, widget.model_combo, widget.start_button, widget.advanced_button):
        assert shown.isVisibleTo(widget)
    for hidden in (widget.axis_combo, widget.channels_edit, widget.device_combo, widget.preset_combo,
                   widget.precision_combo, widget.cache_edit, widget.output_edit):
        assert not hidden.isVisibleTo(widget)
    assert widget.load_button.isVisibleTo(widget)  # a saved session can be loaded from here
    for later in (widget.new_button, widget.propagate_button, widget.table, widget.save_button):
        assert not later.isVisibleTo(widget)  # shown once a session runs
    widget.advanced_button.click()
    assert widget.preset_combo.isVisibleTo(widget) and widget.output_edit.isVisibleTo(widget)
    widget.controller.start(image, tracker=DiskTracker())
    assert widget.new_button.isVisibleTo(widget) and widget.table.isVisibleTo(widget)


def test_save_and_load_a_session_through_the_widget(make_napari_viewer, stack, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, stack)
    widget.preset_combo.setCurrentText("fast")
    widget.start()  # no model here: its load fails, the settings are kept for the session
    qtbot.waitUntil(lambda: widget.controller.worker is None, timeout=30_000)
    controller, _ = start_with_double(widget, image, qtbot)
    controller.settings["preset"] = "fast"
    click(controller, [3, 30, 40])
    click(controller, [3, 32, 60], positive=False)
    wait(qtbot, controller=controller)
    controller.new_object()
    controller.shapes_layer.add_rectangles(np.array([[5, 5, 10], [5, 5, 30], [5, 20, 30], [5, 20, 10.0]]))
    wait(qtbot, controller=controller)
    controller.rename_object(1, "mother")
    worker = propagate(widget, "forward")
    wait(qtbot, worker, controller)
    controller.set_visible(2, False)
    saved_labels = np.array(controller.labels_layer.data)
    path = widget.save_session(str(tmp_path / "cells.sam2.json"))
    assert path.is_file() and (tmp_path / "cells.labels.tif").is_file()
    assert "session saved" in widget.hint.text()

    viewer2 = make_napari_viewer()  # tomorrow: a new viewer, the image opened again
    widget2, _ = open_widget(viewer2, stack)
    tracker2 = DiskTracker()
    widget2.load_session(str(path), tracker=tracker2)
    wait(qtbot, controller=widget2.controller)
    c2 = widget2.controller
    assert widget2.preset_combo.currentText() == "fast"
    assert np.array_equal(c2.labels_layer.data, saved_labels)
    assert c2.points_layer.features["positive"].tolist() == [True, False]
    np.testing.assert_allclose(c2.points_layer.data, controller.points_layer.data)
    assert len(c2.shapes_layer.data) == 1 and c2.shapes_layer.features["object_id"].tolist() == [2]
    assert c2.session.objects[1].name == "mother" and widget2.table.item(0, 1).text() == "mother"
    assert widget2.table.item(1, 0).checkState() == Qt.CheckState.Unchecked  # still hidden
    for obj_id in (1, 2):
        a, b = controller.session.objects[obj_id], c2.session.objects[obj_id]
        assert (a.anchor, a.backward_done, a.forward_done) == (b.anchor, b.backward_done, b.forward_done)
    assert sorted(call[0] for call in tracker2.calls) == [3, 5]  # the prompted frames, nothing else
    assert propagate(widget2, "forward") is None  # done frames stay done
    assert "session loaded: 2 object(s)" in widget2.hint.text() or "nothing" in widget2.hint.text()
    worker = propagate(widget2, "backward")  # the rest continues from there
    wait(qtbot, worker, c2)
    assert (c2.labels_layer.data[0] == 1).any()


@pytest.mark.parametrize("kind", ["grey", "rgb", "channels"])
def test_clicks_and_boxes_on_a_single_2d_image(make_napari_viewer, qtbot, kind):
    rng = np.random.default_rng(5)
    viewer = make_napari_viewer()
    if kind == "grey":
        image = viewer.add_image(rng.integers(0, 1000, (60, 80), dtype=np.uint16), name="photo")
    elif kind == "rgb":
        image = viewer.add_image(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), name="photo", rgb=True)
    else:
        image = viewer.add_image(rng.integers(0, 1000, (2, 60, 80), dtype=np.uint16), name="photo",
                                 axis_labels=("c", "y", "x"))
    from napari_sam2._qt.widget import Sam2Widget

    widget = Sam2Widget(viewer)
    assert widget.axis_combo.currentData() is None and "single image" in widget.axis_combo.currentText()
    tracker = DiskTracker()
    widget.controller.start(image, tracker=tracker)
    controller = widget.controller
    assert "a single image" in widget.hint.text()
    labels_layer = controller.labels_layer
    assert labels_layer.data.shape == ((2, 60, 80)[1:] if kind != "channels" else (1, 60, 80))
    position = [20, 30] if kind != "channels" else [0, 20, 30]
    controller.points_layer.add(np.array(position, float))
    wait(qtbot, controller=controller)
    plane = np.asarray(labels_layer.data).reshape(60, 80)
    assert np.allclose(centroid(plane == 1), (20, 30), atol=1.5)
    controller.new_object()
    box = np.array([[40, 50], [40, 70], [55, 70], [55, 50.0]])
    if kind == "channels":
        box = np.c_[np.zeros(4), box]
    controller.shapes_layer.add_rectangles(box)
    wait(qtbot, controller=controller)
    plane = np.asarray(labels_layer.data).reshape(60, 80)
    assert np.allclose(centroid(plane == 2), (47.5, 60), atol=1.5)
    assert widget.propagate() is None and "nothing to propagate" in widget.hint.text()


def test_a_y_t_x_layer_offers_its_t_axis(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((40, 5, 50), np.uint16), name="ytx", axis_labels=("y", "t", "x"))
    from napari_sam2._qt.widget import Sam2Widget

    widget = Sam2Widget(viewer)
    items = [widget.axis_combo.itemText(i) for i in range(widget.axis_combo.count())]
    assert items == ["1: t"] and widget.axis_combo.currentData() == 1
