"""The review dock's "Fix track" in a real napari viewer: a flag, a click, a re-track with the demo model."""

import numpy as np
import pytest

from napari_sam2._napari.review import LINEAGE_METADATA
from napari_sam2._napari.review_fix import FIX_POINTS, fix_model_name
from napari_sam2._qt.review_widget import ReviewWidget
from napari_sam2.core.lineage import Lineage
from review_data import inside, jumped_track

N_FRAMES, FIX_FRAME, OBJ = 6, 2, 2


@pytest.fixture(scope="module")
def broken_track():
    """A synthetic time-lapse whose track 2 jumps to an empty spot from frame 2 on, with its lineage."""
    image, truth, labels = jumped_track(N_FRAMES, FIX_FRAME, OBJ, (96, 96), n_cells=3, half=3)
    lineage = Lineage()
    for obj in (1, 2, 3):
        lineage.add(obj, 0, N_FRAMES - 1)
    lineage.flag(OBJ, FIX_FRAME, "jump", 0.9, "mask moved onto another cell")
    return image, truth, labels, lineage


def _dock(viewer, image, labels, lineage):
    viewer.add_image(image, name="cells")
    layer = viewer.add_labels(labels.copy(), name="tracks", metadata={LINEAGE_METADATA: lineage})
    widget = ReviewWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget, layer


def test_a_click_and_retrack_fix_that_track_only_in_one_undo_step(make_napari_viewer, qtbot, broken_track):
    from copy import deepcopy

    image, truth, labels, lineage = broken_track
    viewer = make_napari_viewer()
    widget, layer = _dock(viewer, image, labels, deepcopy(lineage))
    row = widget.fix_row
    assert row.image_combo.currentText() == "cells"
    widget.table.selectRow(0)  # the flag: frame 2, track 2
    assert viewer.dims.current_step[0] == FIX_FRAME
    points = row.start_fix()
    assert points.name == FIX_POINTS and viewer.layers[-1] is points and points.mode == "add"
    points.add([FIX_FRAME, *inside(truth[FIX_FRAME] == OBJ)])
    assert points.features["positive"].tolist() == [True]
    worker = row.retrack()
    assert worker is not None and not widget.delete_button.isEnabled()
    qtbot.waitUntil(lambda: row.worker is None, timeout=120_000)
    fixed = np.asarray(layer.data)
    assert np.array_equal(fixed[:FIX_FRAME], labels[:FIX_FRAME])
    for t in range(FIX_FRAME, N_FRAMES):
        assert (fixed[t] != labels[t]).any()
        changed = fixed[t] != labels[t]
        assert set(np.unique(fixed[t][changed])) | set(np.unique(labels[t][changed])) <= {0, OBJ}
        new, true = fixed[t] == OBJ, truth[t] == OBJ
        assert (new & true).sum() / (new | true).sum() > 0.8
    review = widget.review
    assert review.lineage.tracks[OBJ].reviewed and widget.table.rowCount() == 0
    assert "track 2 re-tracked on frames 2-5" in widget.status.text()
    assert widget.delete_button.isEnabled() and row._model is not None
    layer.undo()  # Ctrl+Z: the whole re-track at once
    assert np.array_equal(np.asarray(layer.data), labels)


def test_retrack_without_clicks_is_a_notification(make_napari_viewer, broken_track, monkeypatch):
    import napari.utils.notifications as notifications

    messages = []
    monkeypatch.setattr(notifications, "show_error", messages.append)
    image, _, labels, lineage = broken_track
    viewer = make_napari_viewer()
    widget, layer = _dock(viewer, image, labels, lineage)
    assert widget.fix_row.retrack() is None and "Fix from this frame" in messages[-1]
    widget.table.selectRow(0)
    widget.fix_row.start_fix()
    assert widget.fix_row.retrack() is None and "no positive point" in messages[-1]
    assert np.array_equal(np.asarray(layer.data), labels)


def test_cancel_keeps_the_frames_done_as_one_undo_step(make_napari_viewer, qtbot, broken_track):
    import time
    from copy import deepcopy

    from doubles import DiskTracker

    class SlowTracker(DiskTracker):
        def step(self, frame, steps, reverse):
            time.sleep(0.4)
            return super().step(frame, steps, reverse)

    image, truth, labels, lineage = broken_track
    viewer = make_napari_viewer()
    widget, layer = _dock(viewer, image, labels, deepcopy(lineage))
    row = widget.fix_row
    row._model, row._model_of = SlowTracker(), fix_model_name(layer)  # the dock's cached model
    widget.table.selectRow(0)
    row.start_fix().add([FIX_FRAME, *inside(truth[FIX_FRAME] == OBJ)])
    row.retrack()
    qtbot.waitUntil(lambda: "frame 2 (1 of 4)" in widget.status.text(), timeout=30_000)
    row.cancel()
    qtbot.waitUntil(lambda: row.worker is None, timeout=30_000)
    fixed = np.asarray(layer.data)
    assert "cancelled: frames after" in widget.status.text()
    assert (fixed[FIX_FRAME] != labels[FIX_FRAME]).any()  # done: kept
    assert np.array_equal(fixed[-1], labels[-1])  # not reached: as it was
    assert widget.review.lineage.tracks[OBJ].end == N_FRAMES - 1
    assert isinstance(row._model, SlowTracker)  # kept: not loaded again
    layer.undo()
    assert np.array_equal(np.asarray(layer.data), labels)
