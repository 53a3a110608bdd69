"""The "SAM2 batch" dock: a real viewer, a real local cluster, tiny stacks."""

from __future__ import annotations

import pytest
from qtpy.QtCore import QTimer

from batch_stacks import MODEL_ARGS, read_labels, write_stacks
from napari_sam2._qt.batch_widget import BatchWidget
from napari_sam2.core.label_store import read_label_metadata
from napari_sam2.workflows.batch import REPORT_NAME
from napari_sam2.workflows.manifest import output_state

pytest.importorskip("distributed")


def _widget(make_napari_viewer, qtbot, folder, out):
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    qtbot.addWidget(widget)
    widget.input_edit.setText(str(folder))
    widget.out_edit.setText(str(out))
    widget.model_combo.setCurrentText(MODEL_ARGS["model"])
    widget.workers_spin.setValue(1)
    return viewer, widget


def _outcomes(widget):
    return {widget.table.item(r, 0).text(): widget.table.item(r, 1).text()
            for r in range(widget.table.rowCount())}


def _wait_done(qtbot, widget, timeout=240_000):
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


def test_a_folder_batch_fills_the_table_while_the_viewer_keeps_running(
        make_napari_viewer, qtbot, tmp_path):
    (tmp_path / "in").mkdir()
    names = write_stacks(tmp_path / "in", n=2, frames=3)
    viewer, widget = _widget(make_napari_viewer, qtbot, tmp_path / "in", tmp_path / "out")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(50)
    widget.run_button.click()
    assert widget.worker is not None and widget.cancel_button.isEnabled()
    assert set(_outcomes(widget).values()) == {"queued"}  # planned at once, before any result
    _wait_done(qtbot, widget)
    timer.stop()
    assert len(ticks) > 10  # the event loop ran during the batch
    assert _outcomes(widget) == {n: "finished" for n in names}
    assert widget.progress.value() == widget.progress.maximum() == 2
    assert widget.status.text().startswith("done: 2 finished")
    for name in names:
        assert output_state(tmp_path / "out" / f"{name}.zarr") == "finished"
        assert read_labels(tmp_path / "out" / f"{name}.zarr").max() > 0
    assert (tmp_path / "out" / REPORT_NAME).is_file()
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()

    widget.table.selectRow(1)
    widget.open_result()
    layer = viewer.layers[f"{names[1]} batch labels"]
    assert type(layer.data).__module__.startswith("dask")  # lazily read (the plugin reader)
    assert tuple(layer.axis_labels)[-2:] == ("y", "x")
    assert (layer.data.compute() == read_labels(tmp_path / "out" / f"{names[1]}.zarr")).all()


def test_cancel_keeps_a_resumable_state_and_resume_finishes(make_napari_viewer, qtbot, tmp_path):
    (tmp_path / "in").mkdir()
    names = write_stacks(tmp_path / "in", n=2, frames=3)
    viewer, widget = _widget(make_napari_viewer, qtbot, tmp_path / "in", tmp_path / "out")
    widget.run_button.click()
    qtbot.waitUntil(lambda: widget.last_event is not None, timeout=120_000)  # cluster is up
    widget.cancel_button.click()
    ticks = []
    QTimer.singleShot(10, lambda: ticks.append(1))
    _wait_done(qtbot, widget, timeout=120_000)
    assert ticks  # still responsive while it cancels
    assert widget.last_event.kind == "cancelled"
    assert "cancelled" in widget.status.text()
    outcomes = set(_outcomes(widget).values())
    assert "cancelled" in outcomes and outcomes <= {"finished", "cancelled"}
    assert "cancelled" in (tmp_path / "out" / REPORT_NAME).read_text()
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()

    widget.resume_check.setChecked(True)
    widget.run_button.click()
    _wait_done(qtbot, widget)
    assert set(_outcomes(widget).values()) <= {"finished", "skipped"}
    for name in names:
        assert output_state(tmp_path / "out" / f"{name}.zarr") == "finished"


def test_run_on_all_open_stacks_uses_the_file_layers_and_their_prompts(
        make_napari_viewer, qtbot, tmp_path):
    import numpy as np

    from napari_sam2._napari.batch_jobs import OPEN_STACKS_MANIFEST

    (tmp_path / "in").mkdir()
    names = write_stacks(tmp_path / "in", n=2, frames=3)
    (tmp_path / "in" / f"{names[1]}.json").unlink()  # this one: automatic seeds
    viewer, widget = _widget(make_napari_viewer, qtbot, "", tmp_path / "out")
    for name in names:
        viewer.open(str(tmp_path / "in" / f"{name}.tif"), plugin="napari")
    viewer.add_image(np.zeros((3, 8, 8)), name="in memory")  # no file: left out
    widget.open_stacks_button.click()
    _wait_done(qtbot, widget)
    manifest = (tmp_path / "out" / OPEN_STACKS_MANIFEST).read_text().splitlines()
    assert len(manifest) == 3 and manifest[1].endswith(f"{names[0]}.json")
    assert manifest[2].endswith(",")
    assert sorted(_outcomes(widget)) == names
    assert _outcomes(widget)[names[0]] == "finished"
    assert output_state(tmp_path / "out" / f"{names[0]}.zarr") == "finished"


def test_bad_input_is_refused_before_anything_runs(make_napari_viewer, qtbot, tmp_path):
    viewer, widget = _widget(make_napari_viewer, qtbot, tmp_path / "nothing*.tif", tmp_path / "out")
    widget.run_button.click()
    assert widget.worker is None and widget.table.rowCount() == 0
    widget.open_stacks_button.click()  # no layer from a file
    assert widget.worker is None and not (tmp_path / "out" / "open-stacks.csv").exists()


def test_device_precision_and_overwrite_reach_the_batch(make_napari_viewer, qtbot, tmp_path):
    (tmp_path / "in").mkdir()
    (name,) = write_stacks(tmp_path / "in", n=1, frames=3)
    out = tmp_path / "out" / f"{name}.zarr"
    viewer, widget = _widget(make_napari_viewer, qtbot, tmp_path / "in", tmp_path / "out")
    widget.device_combo.setCurrentText("cpu")
    widget.precision_combo.setCurrentText("fp32")
    widget.run_button.click()
    _wait_done(qtbot, widget)
    assert _outcomes(widget) == {name: "finished"}
    params = read_label_metadata(out)["parameters"]
    assert (params["device"], params["precision"]) == ("cpu", "fp32")
    first, stamp = read_labels(out), (out / "zarr.json").stat().st_mtime

    widget.overwrite_check.setChecked(True)
    assert not widget.resume_check.isChecked()  # one or the other
    widget.run_button.click()
    _wait_done(qtbot, widget)
    assert _outcomes(widget) == {name: "finished"}  # recomputed, not skipped
    stamp, previous = (out / "zarr.json").stat().st_mtime, stamp
    assert stamp > previous
    assert (read_labels(out) == first).all()

    widget.overwrite_check.setChecked(False)  # neither: an existing output is refused at once
    widget.run_button.click()
    assert widget.worker is None and (out / "zarr.json").stat().st_mtime == stamp
