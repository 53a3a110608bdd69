"""The widget on a 4D (t, z, y, x) image layer: a real viewer, the demo model, synthetic volumes."""

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.evaluation.clicks import interior_point
from napari_sam2.evaluation.metrics import jaccard


@pytest.fixture
def started_widget(make_napari_viewer, qtbot):
    """``start(data, axis_labels, typed=None)``: a viewer with the 4D image, the widget docked with the
    demo model (fast), the letters ``typed`` into its Axes row, Start pressed, the volume session ready."""

    def start(data, axis_labels=("t", "z", "y", "x"), typed=None):
        viewer = make_napari_viewer()
        viewer.add_image(data, name="nuclei", axis_labels=axis_labels)
        widget = Sam2Widget(viewer)
        viewer.window.add_dock_widget(widget)
        widget.model_combo.setCurrentText("demo")
        widget.preset_combo.setCurrentText("fast")
        if typed is not None:
            widget.axes_row.edit.clear()
            qtbot.keyClicks(widget.axes_row.edit, typed)
        widget.start()
        controller = widget.controller
        qtbot.waitUntil(lambda: controller.volume is not None and controller.worker is None, timeout=180_000)
        return widget

    return start

def test_click_at_t_z_masks_that_plane_and_propagate_fills_t_and_z(started_widget, qtbot):
    data, truth = synthetic_volumes(n_times=4, n_planes=6, shape=(96, 96), n_nuclei=3, seed=3, leaving=0)
    widget = started_widget(data)
    controller = widget.controller
    assert widget.session_box.isVisible() or not widget.isVisible()
    labels = controller.labels_layer
    assert labels.data.shape == data.shape
    t, z = 1, int(np.argmax([(truth[1, p] > 0).sum() for p in range(data.shape[1])]))
    cell = int(np.bincount(truth[t, z][truth[t, z] > 0]).argmax())
    row, col = interior_point(truth[t, z] == cell)
    controller.points_layer.add([t, z, row, col])
    qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=60_000)
    assert jaccard(labels.data[t, z] == 1, truth[t, z] == cell) >= 0.7  # at once (measured 0.87)
    assert not labels.data[0].any() and not labels.data[3].any()
    worker = widget.propagate()
    assert worker is not None
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    for time in range(data.shape[0]):
        planes = [p for p in range(data.shape[1]) if (truth[time, p] == cell).any()]
        assert sum(labels.data[time, p].any() for p in planes) >= len(planes) // 2, time
        assert labels.data[time].any()
    overlap = jaccard(labels.data == 1, truth == cell)
    assert overlap >= 0.5, overlap  # 3D IoU over t and z, measured 0.82
    assert "3D+t propagation: 4 of 4 volumes" in widget.hint.text()
    present = [time for time in range(data.shape[0]) if (labels.data[time] == 1).any()]
    assert widget.table.rowCount() == 1  # the object table: presence over time
    assert widget.table.item(0, 2).text() == f"{len(present)} ({present[0]}–{present[-1]})"
    widget.table.item(0, 1).setText("nucleus A")  # rename and hide through the table
    widget.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert controller.volume.objects[1].name == "nucleus A" and controller.hidden == {1}
    controller.undo()  # the whole propagation is one step: back to the clicked volume only
    assert labels.data[t, z].any() and not labels.data[0].any() and not labels.data[3].any()


def test_cancel_stops_the_3d_t_propagation(started_widget, qtbot):
    data, truth = synthetic_volumes(n_times=8, n_planes=4, shape=(96, 96), n_nuclei=2, seed=5, leaving=0)
    widget = started_widget(data)
    controller = widget.controller
    z = int(np.argmax([(truth[0, p] > 0).sum() for p in range(data.shape[1])]))
    cell = int(np.bincount(truth[0, z][truth[0, z] > 0]).argmax())
    controller.points_layer.add([0, z, *interior_point(truth[0, z] == cell)])
    qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=60_000)
    widget.propagate()
    qtbot.waitUntil(lambda: controller._done >= 1, timeout=60_000)
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: controller.worker is None, timeout=60_000)
    assert len(controller.volume.done) < data.shape[0]  # stopped before every volume was swept
    assert widget.propagate_button.isEnabled()
    worker = widget.propagate()  # the next Propagate continues
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    assert worker is not None and len(controller.volume.done) == data.shape[0]
    present = [bool((truth[t] == cell).any()) for t in range(data.shape[0])]  # it drifts out at t=5
    assert [bool(controller.labels_layer.data[t].any()) for t in range(data.shape[0])] == present


def test_a_t_z_layer_napari_reads_as_z_t_propagates_in_3d_t_once_the_user_types_tzyx(started_widget, qtbot):
    data, truth = synthetic_volumes(n_times=3, n_planes=5, shape=(96, 96), n_nuclei=2, seed=3, leaving=0)
    widget = started_widget(data, axis_labels=("z", "t", "y", "x"), typed="TZYX")  # the labels lie
    controller, image = widget.controller, widget.viewer.layers["nuclei"]
    assert image.axis_labels == ("t", "z", "y", "x")  # the letters became the layer's axis labels
    assert tuple(widget.viewer.dims.axis_labels) == ("t", "z", "y", "x")  # shown on napari's sliders
    assert widget.axes_row.line.text().startswith("read as T=3 Z=5 Y=96 X=96 (typed;")
    assert "volumes over time: T (3) and Z (5)" in widget.axes_row.line.text()
    assert (controller.volume.n_times, controller.volume.n_planes) == (3, 5)  # not 5 time points of 3
    z = int(np.argmax([(truth[0, p] > 0).sum() for p in range(data.shape[1])]))
    cell = int(np.bincount(truth[0, z][truth[0, z] > 0]).argmax())
    controller.points_layer.add([0, z, *interior_point(truth[0, z] == cell)])
    qtbot.waitUntil(lambda: controller.worker is None and not controller._dirty, timeout=60_000)
    worker = widget.propagate()
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    labels = controller.labels_layer.data
    assert worker is not None and labels.shape == data.shape and len(controller.volume.done) == 3
    assert all(labels[t].any() for t in range(3))  # every time point, several planes each
    assert all(sum(labels[t, p].any() for p in range(5)) >= 2 for t in range(3))
    overlap = jaccard(labels == 1, truth == cell)
    assert overlap >= 0.5, overlap
