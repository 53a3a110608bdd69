"""Open the viewer with sample data, prompt, propagate, and save screenshots.

Run (a display or Xvfb is needed):

    xvfb-run -a python docs/make_screenshots.py            # the bundled demo model, offline

Writes docs/images/widget.png (after the clicks) and docs/images/propagated.png
(after propagation), on a synthetic time-lapse the demo model was not trained on
(seed 2026). ``--model sam2.1-tiny`` for SAM2.1 (downloaded on first use);
``--model random:tiny`` gives meaningless blobs.
"""

import argparse
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.synthetic import synthetic_timelapse

OUT = Path(__file__).parent / "images"


def settle(worker=None, controller=None):
    app = QApplication.instance()
    while (worker is not None and worker.is_running) or (controller is not None and controller.worker):
        app.processEvents()
    for _ in range(20):
        app.processEvents()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    args = parser.parse_args()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    stack, truth = synthetic_timelapse(n_frames=20, seed=2026, divisions=False)
    viewer.add_image(stack, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget, name="SAM2")
    controller = widget.controller
    widget.model_combo.setCurrentText(args.model)
    settle(widget.start())
    points = controller.points_layer
    for n, cell in enumerate(np.unique(truth[0])[1:4]):
        if n:
            controller.new_object()
        rows, cols = np.nonzero(truth[0] == cell)
        points.feature_defaults = {"object_id": controller.current_object, "positive": True}
        points.add([0, rows.mean(), cols.mean()])
        settle(controller=controller)
    viewer.dims.set_current_step(0, 0)
    settle()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "widget.png"), canvas_only=False)
    settle(widget.propagate(), controller)
    viewer.dims.set_current_step(0, 12)
    settle()
    viewer.screenshot(str(OUT / "propagated.png"), canvas_only=False)
    print(f"wrote {OUT / 'widget.png'} and {OUT / 'propagated.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
