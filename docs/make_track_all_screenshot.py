"""Track all on a synthetic time-lapse with divisions, and save docs/images/track_all.png.

Run (a display or Xvfb is needed):

    xvfb-run -a python docs/make_track_all_screenshot.py     # the bundled demo model, offline

Automatic seeds on frame 0 of a time-lapse the demo model was not trained on
(seed 2029: 6 cells, 4 divisions in 20 frames), tracked through every frame; the screenshot shows
the labels, the Tracks layer (divisions as branches) and the summary line.
"""

import argparse
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.synthetic import synthetic_timelapse

OUT = Path(__file__).parent / "images"


def settle(controller):
    app = QApplication.instance()
    while controller.worker is not None:
        app.processEvents()
    for _ in range(20):
        app.processEvents()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    stack, _ = synthetic_timelapse(n_frames=args.frames, seed=2029, n_cells=6, divisions=True)
    viewer.add_image(stack, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget, name="SAM2")
    controller = widget.controller
    widget.model_combo.setCurrentText(args.model)
    widget.preset_combo.setCurrentText("fast")
    widget.start()
    settle(controller)
    began = time.perf_counter()
    widget.track_all_row.track_all()
    settle(controller)
    print(f"track all: {len(stack)} frames of {stack.shape[1:]} in {time.perf_counter() - began:.1f} s; "
          f"{widget.hint.text()}")
    viewer.dims.set_current_step(0, len(stack) - 1)
    viewer.layers.selection.active = viewer.layers["tracks"]
    for _ in range(20):
        QApplication.instance().processEvents()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "track_all.png"), canvas_only=False)


if __name__ == "__main__":
    main()
