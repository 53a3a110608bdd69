"""The widget's Axes row in a real napari viewer: prefilled letters, typed letters checked at once,
bad letters refused before anything runs, letters kept in the session file."""

import numpy as np

from doubles import DiskTracker
from napari_sam2._qt.widget import Sam2Widget


def open_widget(viewer, data, **image_kwargs):
    image = viewer.add_image(data, name="cells", **image_kwargs)
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget, image


def type_letters(qtbot, widget, letters):
    widget.axes_row.edit.clear()
    qtbot.keyClicks(widget.axes_row.edit, letters)


def test_the_row_shows_what_the_layer_says_else_a_guess(make_napari_viewer):
    viewer = make_napari_viewer()
    widget, _ = open_widget(viewer, np.zeros((3, 5, 40, 50), np.uint8), axis_labels=("z", "t", "y", "x"))
    assert widget.axes_row.edit.text() == "ZTYX"
    assert widget.axes_row.line.text() == ("read as Z=3 T=5 Y=40 X=50 (from the layer's axis labels; edit "
                                           "the letters to change); volumes over time: T (5) and Z (3)")
    viewer.add_image(np.zeros((40, 50, 3), np.uint8), name="photo", rgb=True)
    widget.image_combo.setCurrentText("photo")
    assert widget.axes_row.edit.text() == "YXS" and "(guessed;" in widget.axes_row.line.text()
    assert "one image; channel(s) 0,1,2 of S (3)" in widget.axes_row.line.text()


def test_bad_letters_are_refused_with_a_message_and_nothing_runs(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget, image = open_widget(viewer, np.zeros((3, 5, 40, 50), np.uint8), axis_labels=("z", "t", "y", "x"))
    widget.model_combo.setCurrentText("demo")
    type_letters(qtbot, widget, "TZYQ")
    line = widget.axes_row.line.text()
    assert line.startswith("Axes 'TZYQ' has 'Q': use only the letters T Z C Y X S (one letter per "
                           "dimension of (3, 5, 40, 50), e.g. ")
    assert widget.axes_row.line.styleSheet()  # shown as an error
    assert image.axis_labels == ("z", "t", "y", "x")  # the layer is left as it was
    assert widget.start() is None  # Start refuses: no model load, no layers
    assert widget.controller.worker is None and len(viewer.layers) == 1
    assert widget.axes_row.line.text() == line
    type_letters(qtbot, widget, "TYXZ")
    assert "with Y and X last" in widget.axes_row.line.text() and widget.start() is None
    type_letters(qtbot, widget, "TZY")
    assert "has 3 letters but the image has 4 dimensions" in widget.axes_row.line.text()
    assert widget.start() is None and len(viewer.layers) == 1 and widget.controller.worker is None


def test_ctyx_typed_segments_2d_t_on_a_channel_and_the_letters_are_saved(make_napari_viewer, qtbot,
                                                                          tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, (3, 8, 60, 80), dtype=np.uint16)
    viewer = make_napari_viewer()
    wrong = ("t", "c", "y", "x")  # read as 3 time points of 8 channels
    widget, image = open_widget(viewer, data, axis_labels=wrong)
    assert widget.axes_row.edit.text() == "TCYX"
    type_letters(qtbot, widget, "CTYX")
    assert image.axis_labels == ("c", "t", "y", "x")
    assert widget.axis_combo.currentData() == 1  # the stack axis follows the letters
    assert widget.axes_row.line.text().endswith("propagating along T (8); channel(s) 0 of C (3)")
    controller = widget.controller
    controller.start(image, tracker=DiskTracker())  # the layer as the row left it
    assert (controller.axes.axis, controller.axes.channel_axis) == (1, 0)
    assert controller._source.n_frames == 8
    controller.points_layer.add([0, 4, 30, 40])
    qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=30_000)
    assert controller.labels_layer.data.shape == (1, 8, 60, 80)  # the channel axis: one entry
    assert (controller.labels_layer.data[0, 4] == 1).any() and not controller.labels_layer.data[0, 3].any()
    path = widget.save_session(str(tmp_path / "cells.sam2.json"))
    assert path is not None

    viewer2 = make_napari_viewer()  # the image opened again, napari's axis labels wrong again
    widget2, image2 = open_widget(viewer2, data, axis_labels=wrong)
    widget2.load_session(str(path), tracker=DiskTracker())
    qtbot.waitUntil(lambda: widget2.controller.worker is None, timeout=30_000)
    assert image2.axis_labels == ("c", "t", "y", "x") and widget2.axes_row.edit.text() == "CTYX"
    assert (widget2.controller.axes.axis, widget2.controller.axes.channel_axis) == (1, 0)
    assert np.array_equal(widget2.controller.labels_layer.data, controller.labels_layer.data)
