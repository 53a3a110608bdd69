"""Open the viewer with sample data, prompt, propagate, and save screenshots.

Run (a display or Xvfb is needed):

    xvfb-run -a python docs/make_screenshots.py            # the bundled demo model, offline

Writes, on a synthetic time-lapse the demo model was not trained on (seed 2026):
docs/images/first_view.png (the widget before Start: image, model, Start,
Advanced collapsed), widget.png (after clicks on three cells),
propagating.png (a propagation in progress, its progress bar in the widget)
and propagated.png (after propagation). ``--model sam2.1-tiny`` for SAM2.1
(downloaded on first use); ``--model random:tiny`` gives meaningless blobs.
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
    settle()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "first_view.png"), canvas_only=False)
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
    viewer.screenshot(str(OUT / "widget.png"), canvas_only=False)
    worker = widget.propagate()
    finished = []
    worker.finished.connect(lambda: finished.append(True))
    app = QApplication.instance()
    while not finished and widget.progress_bar.value() < widget.progress_bar.maximum() // 2:
        app.processEvents()
    viewer.dims.set_current_step(0, widget.progress_bar.value())
    for _ in range(5):
        app.processEvents()
    viewer.screenshot(str(OUT / "propagating.png"), canvas_only=False)
    settle(worker, controller)
    viewer.dims.set_current_step(0, 12)
    settle()
    viewer.screenshot(str(OUT / "propagated.png"), canvas_only=False)
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} in {OUT}")
    viewer.close()


if __name__ == "__main__":
    main()
