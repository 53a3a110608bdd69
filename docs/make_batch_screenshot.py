"""Run the "SAM2 batch" dock on a folder of synthetic stacks and save docs/images/batch_widget.png.

Run (a display or Xvfb is needed; the bundled demo model, offline):

    xvfb-run -a python docs/make_batch_screenshot.py

Three synthetic time-lapses (seeds 2030-2032, 8 frames of 160 x 160, no
prompts files: automatic seeds) and a blank stack (a failed row: nothing to
track) are segmented by one local worker; the first stack's result is then
opened over its image with "Open result".
"""

import tempfile
from pathlib import Path

import napari
import numpy as np
import tifffile
from qtpy.QtWidgets import QApplication

from napari_sam2._qt.batch_widget import BatchWidget
from napari_sam2.core.synthetic import synthetic_timelapse

OUT = Path(__file__).parent / "images"


def main():
    folder = Path(tempfile.mkdtemp())
    (folder / "stacks").mkdir()
    for i in range(3):
        stack, _ = synthetic_timelapse(n_frames=8, shape=(160, 160), n_cells=5, seed=2030 + i)
        tifffile.imwrite(folder / "stacks" / f"cells{i + 1}.tif", stack, metadata={"axes": "TYX"})
    tifffile.imwrite(folder / "stacks" / "blank.tif", np.zeros((8, 160, 160), np.uint16),
                     metadata={"axes": "TYX"})

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    widget = BatchWidget(viewer)
    widget.setFixedWidth(560)
    viewer.window.add_dock_widget(widget, name="SAM2 batch")
    widget.input_edit.setText(str(folder / "stacks"))
    widget.out_edit.setText(str(folder / "labels"))
    widget.model_combo.setCurrentText("demo")
    widget.workers_spin.setValue(1)
    widget.run_button.click()
    app = QApplication.instance()
    while widget.worker is not None:
        app.processEvents()
    print(widget.status.text())
    viewer.open(str(folder / "stacks" / "cells1.tif"), plugin="napari", name="cells1")
    widget.table.selectRow(1)
    widget.open_result()
    widget.table.resizeColumnsToContents()
    for _ in range(30):
        app.processEvents()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "batch_widget.png"), canvas_only=False)
    print("wrote", OUT / "batch_widget.png")
    viewer.close()


if __name__ == "__main__":
    main()
