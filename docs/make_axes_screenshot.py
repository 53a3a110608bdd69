"""The widget's Axes row on a series of volumes whose napari axis labels are wrong: docs/images/axes_row.png.

Run (a display or Xvfb is needed):

    xvfb-run -a python docs/make_axes_screenshot.py

A synthetic (T, Z, Y, X) series (3 time points of 12 planes, seed 3) opened
with the axis labels z, t, y, x (napari would take its 3 time points for
planes); the letters ``TZYX`` are typed into the row, which writes them into
the layer's axis labels (napari's sliders say t and z) and says how the
image is now read. No model runs.
"""

from pathlib import Path

import napari
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.synthetic_volumes import synthetic_volumes

OUT = Path(__file__).parent / "images"


def settle():
    for _ in range(20):
        QApplication.instance().processEvents()


def main():
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    data, _ = synthetic_volumes(n_times=3, n_planes=12, shape=(256, 256), n_nuclei=4, seed=3, leaving=0)
    viewer.add_image(data, name="nuclei", axis_labels=("z", "t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget, name="SAM2")
    settle()
    widget.axes_row.edit.clear()
    QTest.keyClicks(widget.axes_row.edit, "TZYX")
    viewer.dims.set_current_step(1, 6)
    widget.axes_row.edit.setFocus(Qt.FocusReason.OtherFocusReason)
    settle()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "axes_row.png"), canvas_only=False)
    print(f"wrote {OUT / 'axes_row.png'}: {widget.axes_row.line.text()}")
    viewer.close()


if __name__ == "__main__":
    main()
