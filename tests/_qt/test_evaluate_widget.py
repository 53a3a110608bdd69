"""The "SAM2 evaluate" dock widget in a real napari viewer."""

import numpy as np
import pytest

from napari_sam2._qt import evaluate_widget as widget_module
from napari_sam2._qt.evaluate_widget import EvaluateWidget
from napari_sam2.evaluation.metrics import boundary_f


def hand_made():
    """4 frames: object 1 exact, shifted by 5 columns (J = 50/150), missing, exact; object 2 always exact."""
    truth = np.zeros((4, 30, 30), np.uint8)
    truth[:, 5:15, 5:15] = 1
    truth[:, 20:26, 20:26] = 2
    pred = truth.copy()
    pred[1][pred[1] == 1] = 0
    pred[1, 5:15, 10:20] = 1
    pred[2][pred[2] == 1] = 0
    return truth, pred


def open_widget(viewer, truth, pred, **kwargs):
    viewer.add_labels(truth, name="truth", **kwargs)
    viewer.add_labels(pred, name="pred", **kwargs)
    widget = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.labels_combo.setCurrentText("pred")
    widget.truth_combo.setCurrentText("truth")
    return widget


def wait_for(qtbot, widget, worker):
    assert worker is not None
    qtbot.waitUntil(lambda: not worker.is_running and widget.score_button.isEnabled(), timeout=30_000)


def test_widget_is_contributed(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM2 evaluate")
    assert isinstance(widget, EvaluateWidget)


def test_per_frame_j_and_f_along_the_chosen_axis(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    widget = open_widget(viewer, truth, pred)
    wait_for(qtbot, widget, widget.score())
    f_shifted = boundary_f(truth[1] == 1, pred[1] == 1)
    assert 0 < f_shifted < 1
    result = widget.result
    np.testing.assert_array_equal(result["frames"], [0, 1, 2, 3])
    np.testing.assert_allclose(result["J"], [1, (1 / 3 + 1) / 2, 0.5, 1])  # mean of objects 1 and 2
    np.testing.assert_allclose(result["F"], [1, (f_shifted + 1) / 2, 0.5, 1])
    assert result["J-Mean"] == pytest.approx(((1 + 1 / 3 + 0 + 1) / 4 + 1) / 2)
    np.testing.assert_allclose(widget.plot.series["J"], result["J"])
    assert f"J-Mean {result['J-Mean']:.3f}" in widget.summary.text()
    assert not widget.plot.grab().isNull()  # paints

    widget.exclude_ends.setChecked(True)  # DAVIS convention: frames 1..n-2
    wait_for(qtbot, widget, widget.score())
    np.testing.assert_array_equal(widget.result["frames"], [1, 2])

    # the same data with time as axis 1 gives the same scores
    widget.exclude_ends.setChecked(False)
    viewer.add_labels(truth.transpose(1, 0, 2), name="truth T")
    viewer.add_labels(pred.transpose(1, 0, 2), name="pred T")
    widget.labels_combo.setCurrentText("pred T")
    widget.truth_combo.setCurrentText("truth T")
    widget.axis_combo.setCurrentIndex(1)
    wait_for(qtbot, widget, widget.score())
    np.testing.assert_allclose(widget.result["J"], [1, (1 / 3 + 1) / 2, 0.5, 1])
    widget.plot.frame_clicked.emit(2)
    assert viewer.dims.current_step[1] == 2


def test_bad_input_notifies(make_napari_viewer, qtbot, monkeypatch):
    messages = []
    monkeypatch.setattr(widget_module, "_notify", messages.append)
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    widget = open_widget(viewer, truth, pred[:, :20])
    assert widget.score() is None and "same shape" in messages[-1]
    widget.truth_combo.setCurrentText("pred")
    assert widget.score() is None and "two different layers" in messages[-1]
    viewer.layers["truth"].data = np.zeros_like(truth)
    widget.truth_combo.setCurrentText("truth")
    widget.labels_combo.setCurrentText("truth")
    viewer.add_labels(np.zeros_like(truth), name="empty")
    widget.truth_combo.setCurrentText("empty")
    wait_for(qtbot, widget, widget.score())
    assert "the ground truth has no objects" in messages[-1] and widget.result is None


def test_tracks_from_labels_keep_scale_and_translate(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    pred[3, 0:3, 0:3] = 7  # a third object, on the last frame only
    widget = open_widget(viewer, truth, pred, scale=(2.0, 0.5, 0.5), translate=(1.0, 10.0, -5.0))
    worker = widget.add_tracks()
    qtbot.waitUntil(lambda: widget.tracks_layer is not None, timeout=30_000)
    wait_for(qtbot, widget, worker)
    tracks = widget.tracks_layer
    assert tracks.name == "pred tracks"
    assert sorted(np.unique(tracks.data[:, 0])) == [1, 2, 7]
    assert len(tracks.data) == 3 + 4 + 1  # object 1 is missing on frame 2
    assert tracks.scale.tolist() == [2.0, 0.5, 0.5] and tracks.translate.tolist() == [1.0, 10.0, -5.0]


def test_defaults_pick_the_sam2_labels_as_prediction(make_napari_viewer):
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    widget = EvaluateWidget(viewer)
    viewer.add_labels(pred, name="cells SAM2 labels")
    viewer.add_labels(truth, name="ground truth")  # added after: still the truth
    assert widget.labels_combo.currentText() == "cells SAM2 labels"
    assert widget.truth_combo.currentText() == "ground truth"
    viewer.add_labels(truth, name="masks")  # another layer changes nothing
    assert (widget.labels_combo.currentText(), widget.truth_combo.currentText()) == (
        "cells SAM2 labels", "ground truth")
    viewer.add_labels(pred, name="more SAM2 labels")  # a new SAM2 session's labels: the prediction
    assert (widget.labels_combo.currentText(), widget.truth_combo.currentText()) == (
        "more SAM2 labels", "ground truth")

    other = EvaluateWidget(make_napari_viewer())
    other.viewer.add_labels(truth, name="truth")  # truth first, then the SAM2 labels
    other.viewer.add_labels(pred, name="cells SAM2 labels")
    assert (other.labels_combo.currentText(), other.truth_combo.currentText()) == (
        "cells SAM2 labels", "truth")
    assert widget_module.default_layers(["a", "b SAM2 labels", "c"]) == ("b SAM2 labels", "a")
    assert widget_module.default_layers(["only"]) == ("only", "only")


def test_clicked_ids_are_matched_to_the_truth_by_overlap(make_napari_viewer, qtbot, monkeypatch):
    """Clicked objects are numbered 1, 2, ... whatever the truth calls them: match them by overlap."""
    messages = []
    monkeypatch.setattr(widget_module, "_notify", lambda m, error=True: messages.append(m))
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    truth = np.where(truth > 0, truth + 10, 0).astype(np.uint8)  # truth ids 11 and 12
    truth[:, 25:29, 0:4] = 13  # a true object nobody clicked
    viewer.add_labels(truth, name="truth")
    viewer.add_labels(pred, name="cells SAM2 labels")
    widget = EvaluateWidget(viewer)
    wait_for(qtbot, widget, widget.score())
    result = widget.result
    table = result["table"]
    assert table.matching.pairs == {1: 11, 2: 12} and result["objects"] == [11, 12]
    np.testing.assert_allclose(result["J"], [1, (1 / 3 + 1) / 2, 0.5, 1])  # as with equal ids
    text = widget.summary.text()
    assert "matching: 2 predicted object(s) matched to true objects by overlap" in text
    assert "1 true object(s) have no prediction (not scored)" in text and "lost: 1" in text
    assert widget.table.rowCount() == 2
    assert [widget.table.item(0, c).text() for c in (0, 1, 4)] == ["1", "11", "1"]
    assert widget.table.item(0, 2).text() == f"{(100 + 50 + 0 + 100) / (100 + 150 + 100 + 100):.3f}"
    assert not messages

    widget.match_combo.setCurrentText("by id")  # the ids do not agree: nothing to score
    wait_for(qtbot, widget, widget.score())
    assert "no predicted object matches a true object" in messages[-1]


def test_untracked_truth_is_flagged(make_napari_viewer, qtbot, monkeypatch):
    messages = []
    monkeypatch.setattr(widget_module, "_notify", lambda m, error=True: messages.append((m, error)))
    viewer = make_napari_viewer()
    truth, pred = hand_made()
    untracked = truth.copy()
    untracked[1::2][truth[1::2] == 1], untracked[1::2][truth[1::2] == 2] = 2, 1  # ids swap every frame
    widget = open_widget(viewer, untracked, pred)
    wait_for(qtbot, widget, widget.score())
    assert "WARNING: the ground truth is not tracked over time" in widget.summary.text()
    assert messages and "not tracked" in messages[-1][0] and messages[-1][1] is False
