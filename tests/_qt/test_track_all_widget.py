"""Track all in the dock widget: a real viewer, the bundled demo model, a synthetic time-lapse."""

import numpy as np
import pytest

from napari_sam2._napari.track_all import LINEAGE_KEY
from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.evaluation.metrics import jaccard


@pytest.fixture(scope="module")
def movie():
    return synthetic_timelapse(6, (128, 128), 4, seed=7, divisions=False)


def started(viewer, data, qtbot):
    viewer.add_image(data, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.model_combo.setCurrentText("demo")
    widget.preset_combo.setCurrentText("fast")
    widget.start()
    qtbot.waitUntil(lambda: widget.controller.session is not None and widget.controller.worker is None,
                    timeout=60_000)
    return widget, widget.controller


def test_track_all_from_a_labels_layer_fills_every_frame_with_one_undo_step(make_napari_viewer, movie, qtbot):
    data, truth = movie
    viewer = make_napari_viewer()
    widget, controller = started(viewer, data, qtbot)
    viewer.add_labels(truth[0], name="cellpose")
    row = widget.track_all_row
    row.seeds_combo.setCurrentText("cellpose")
    worker = row.track_all()
    assert worker is not None
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    labels = controller.labels_layer.data
    for t in range(len(data)):
        assert labels[t].any(), f"frame {t} has no labels"
    seeds = set(np.unique(truth[0])) - {0}
    assert seeds <= set(np.unique(labels[0]))  # the seed ids are kept
    assert set(np.unique(labels[-1])) - {0} <= set(controller.engine.lineage.tracks)
    for cell in seeds:  # each seed followed as itself
        ious = [jaccard(labels[t] == cell, truth[t] == cell)
                for t in range(len(data)) if (truth[t] == cell).any()]
        assert np.mean(ious) >= 0.7, (cell, ious)
    lineage = controller.labels_layer.metadata[LINEAGE_KEY]
    assert isinstance(lineage, Lineage) and seeds <= set(lineage.tracks)
    assert "tracks" in viewer.layers and len(viewer.layers["tracks"].data)
    assert widget.hint.text().startswith(f"track all: {len(lineage.tracks)} tracks, ")
    flags = len(lineage.flags)
    assert f", {flags} flag{'' if flags == 1 else 's'} to review" in widget.hint.text()
    controller.undo()  # the whole run is one step; its tracks and lineage go with it
    assert not np.asarray(controller.labels_layer.data).any()
    assert not controller.session.objects and LINEAGE_KEY not in controller.labels_layer.metadata
    assert "napari_sam2_model" not in controller.labels_layer.metadata
    assert "tracks" not in viewer.layers
    worker = row.track_all()  # and Track all can run again
    assert worker is not None
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    assert all(labels[t].any() for t in range(len(data)))


def test_track_all_with_automatic_seeds_and_cancel(make_napari_viewer, qtbot):
    # longer than `movie`: under load the worker runs frames ahead of the GUI that cancels it
    data, _ = synthetic_timelapse(14, (128, 128), 4, seed=7, divisions=False)
    viewer = make_napari_viewer()
    widget, controller = started(viewer, data, qtbot)
    viewer.dims.set_current_step(0, 0)  # seeds on frame 0 (napari opens a stack on its middle frame)
    qtbot.waitUntil(lambda: controller.worker is None, timeout=60_000)  # frame 0 encoded ahead
    worker = widget.track_all_row.track_all()
    assert not widget.track_all_row.button.isEnabled()
    qtbot.waitUntil(lambda: controller._done >= 2, timeout=120_000)  # seeds found, one frame tracked
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: controller.worker is None, timeout=60_000)
    assert worker.abort_requested
    labels = controller.labels_layer.data
    assert labels[0].any() and not labels[-1].any()  # stopped before the last frame
    assert "cancelled" in widget.hint.text()
    assert isinstance(controller.labels_layer.metadata[LINEAGE_KEY], Lineage)
    assert widget.track_all_row.button.isEnabled()


def test_track_all_refuses_a_session_with_objects(make_napari_viewer, movie, qtbot, monkeypatch):
    import napari.utils.notifications as notifications

    data, truth = movie
    messages = []
    monkeypatch.setattr(notifications, "show_error", messages.append)
    viewer = make_napari_viewer()
    widget, controller = started(viewer, data, qtbot)
    combo = widget.track_all_row.seeds_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["automatic seeds (grid)"]  # not its own
    viewer.add_labels(np.zeros((50, 50), np.uint16), name="small")
    widget.track_all_row.seeds_combo.setCurrentText("small")
    assert widget.track_all_row.track_all() is None
    assert "shape (50, 50)" in str(messages[-1]) and not controller.session.objects
    controller.session.add_mask(1, 0, truth[0] == 1)
    assert widget.track_all_row.track_all() is None
    assert any("empty session" in str(m) for m in messages)


def test_an_open_review_dock_picks_up_the_tracks_of_track_all(make_napari_viewer, movie, qtbot):
    from napari_sam2._napari.review import MODEL_METADATA
    from napari_sam2._napari.review_fix import fix_model_name
    from napari_sam2._qt.review_widget import ReviewWidget

    data, truth = movie
    viewer = make_napari_viewer()
    review = ReviewWidget(viewer)  # opened before the run: it must notice the new lineage
    viewer.window.add_dock_widget(review)
    widget, controller = started(viewer, data, qtbot)
    viewer.add_labels(truth[0], name="cellpose")
    widget.track_all_row.seeds_combo.setCurrentText("cellpose")
    assert widget.track_all_row.track_all() is not None
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    lineage = controller.labels_layer.metadata[LINEAGE_KEY]
    assert review.review is not None and review.review.layer is controller.labels_layer
    assert review.table.rowCount() == len(lineage.flags)
    assert f"0 of {len(lineage.tracks)} tracks reviewed" in review.status.text()
    # a fix from the review re-tracks with the model of the run, not the fallback
    source = controller.labels_layer.metadata[MODEL_METADATA]
    assert source == {"model": "demo", "preset": "fast"} == controller.model_source
    assert fix_model_name(controller.labels_layer) == ("demo", "fast")


def test_frames_relabelled_by_gap_closing_reach_the_layer(make_napari_viewer, movie, qtbot, monkeypatch):
    """Gap closing runs in the worker after the last frame; the frames it rewrites are shown (and undone)."""
    from napari_sam2.core import track_all
    from napari_sam2.core.gap_closing import Join

    def renaming(sink, lineage, max_gap, **kwargs):  # a stand-in join: track 1 is renamed 9 everywhere
        track = lineage.tracks.pop(1)
        for t in range(track.start, track.end + 1):
            frame = sink.read(t).copy()
            frame[frame == 1] = 9
            sink.write(t, frame)
        lineage.add(9, track.start, track.end)
        return [Join(0, 9, -1, track.start, 0.0, track.end)]

    monkeypatch.setattr(track_all, "close_gaps", renaming)
    data, truth = movie
    viewer = make_napari_viewer()
    widget, controller = started(viewer, data, qtbot)
    viewer.add_labels(truth[0], name="cellpose")
    widget.track_all_row.seeds_combo.setCurrentText("cellpose")
    assert widget.track_all_row.track_all() is not None
    qtbot.waitUntil(lambda: controller.worker is None, timeout=120_000)
    labels = np.asarray(controller.labels_layer.data)
    assert not (labels == 1).any() and all((labels[t] == 9).any() for t in range(len(data)))
    controller.undo()  # still one undo step
    assert not np.asarray(controller.labels_layer.data).any()
