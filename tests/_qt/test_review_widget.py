"""The "SAM2 review" dock widget in a real napari viewer: open a track result, jump, accept, delete, save."""

import numpy as np

from napari_sam2._napari.review import read_track_result
from napari_sam2._qt.review_widget import ReviewWidget
from review_data import synthetic_track_result


def _open(viewer, path):
    widget = ReviewWidget(viewer)
    viewer.window.add_dock_widget(widget)
    layer = widget.open_result(str(path))
    return widget, layer


def _select(widget, track_id):
    row = next(i for i, r in enumerate(widget._rows) if r.track_id == track_id)
    widget.table.selectRow(row)
    return widget._rows[row]


def test_review_widget_is_contributed_to_the_plugins_menu(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM2 review")
    assert isinstance(widget, ReviewWidget)


def test_open_lists_flags_and_selecting_one_jumps_to_its_frame_and_cell(make_napari_viewer, tmp_path):
    synthetic_track_result(tmp_path / "tracks.zarr")
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, tmp_path / "tracks.zarr")
    assert not isinstance(layer.data, np.ndarray)  # the zarr store, not a copy in memory
    assert [widget.table.item(i, 1).text() for i in range(widget.table.rowCount())] == ["1", "2", "3", "4"]
    assert widget.table.item(0, 0).text() == "jump"
    row = _select(widget, 2)
    assert viewer.dims.current_step[0] == row.frame == 3
    assert layer.selected_label == 2
    np.testing.assert_allclose(viewer.camera.center[-2:], [23.0, 23.0])  # label 2's centre on frame 3
    _select(widget, 1)
    assert viewer.dims.current_step[0] == 5 and layer.selected_label == 1


def test_delete_accept_division_and_save_persist_in_the_zarr(make_napari_viewer, tmp_path):
    path = tmp_path / "tracks.zarr"
    labels, _ = synthetic_track_result(path)
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, path)
    _select(widget, 4)
    widget.delete_selected()
    assert not (np.asarray(layer.data[:]) == 4).any()
    assert [r.track_id for r in widget._rows] == [1, 2, 3]
    _select(widget, 1)
    widget.accept_selected()
    assert [r.track_id for r in widget._rows] == [2, 3]
    viewer.dims.set_current_step(0, 3)
    widget.parent_spin.setValue(2)
    widget.daughter_spins[0].setValue(2)
    widget.daughter_spins[1].setValue(3)
    assert widget.mark_division() == (5, 3)
    assert widget.save() == path

    data, lineage = read_track_result(path)  # what another session opens
    assert lineage.tracks[1].reviewed and not lineage.tracks[2].reviewed
    assert 4 not in lineage.tracks and lineage.edges() == [(2, 3), (2, 5)]
    saved = np.asarray(data[:])
    assert not (saved == 4).any() and (saved[3:] == 5).any() and not (saved[3:] == 2).any()
    widget2, _ = _open(make_napari_viewer(), path)
    assert [r.track_id for r in widget2._rows] == [5, 3]  # track 1 accepted; 2's flag moved to 5


def test_a_folder_without_lineage_is_a_notification_not_a_traceback(make_napari_viewer, tmp_path,
                                                                    monkeypatch):
    import napari.utils.notifications as notifications
    import zarr

    messages = []
    monkeypatch.setattr(notifications, "show_error", messages.append)
    zarr.open_array(str(tmp_path / "plain.zarr"), mode="w", shape=(2, 4, 4), dtype="uint8")
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, tmp_path / "plain.zarr")
    assert layer is None and len(viewer.layers) == 0
    assert len(messages) == 1 and "no lineage" in messages[0]


def test_ctrl_z_on_a_delete_brings_the_track_back_in_the_list_and_in_the_saved_lineage(make_napari_viewer,
                                                                                       tmp_path):
    path = tmp_path / "tracks.zarr"
    synthetic_track_result(path)
    viewer = make_napari_viewer()
    widget, layer = _open(viewer, path)
    _select(widget, 4)
    widget.delete_selected()
    assert [r.track_id for r in widget._rows] == [1, 2, 3]
    viewer.layers.selection.active = layer
    layer.undo()  # what Ctrl+Z on the labels layer does
    assert (np.asarray(layer.data[:]) == 4).any()
    assert [r.track_id for r in widget._rows] == [1, 2, 3, 4]
    assert "undone: delete of track 4" in widget.status.text()
    widget.save()
    assert 4 in read_track_result(path)[1].tracks
