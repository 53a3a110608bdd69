"""Drive SAM2 from the napari console (or any script with a viewer).

Paste into napari's console (View > Console), or run with
``python examples/napari_console.py`` for a viewer with sample data.
The widget holds no model state: everything it does is available as
``widget.controller`` (layers, workers) and ``widget.controller.session``
(the headless core API, see docs/engine.md).
"""

import napari
import numpy as np

from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.synthetic import synthetic_timelapse

viewer = napari.current_viewer() or napari.Viewer()
stack, truth = synthetic_timelapse(n_frames=20)
image = viewer.add_image(stack, name="cells", axis_labels=("t", "y", "x"))

# 1. the dock widget, started on the image (model downloaded on first use;
#    "random:tiny" runs offline with meaningless masks)
widget = Sam2Widget(viewer)
viewer.window.add_dock_widget(widget, name="SAM2")
controller = widget.controller
worker = controller.start(image, model="random:tiny")


def prompt_and_propagate(*_):
    session = controller.session
    # 2. prompts straight to the session, in (frame, row, col) pixels of the image
    for cell in np.unique(truth[0])[1:]:
        rows, cols = np.nonzero(truth[0] == cell)
        result = session.add_points(int(cell), 0, [[rows.mean(), cols.mean()]], [1])
        controller.sink.apply(result.frame, result.labels)  # show it in the labels layer
    # 3. propagation in a background worker, one undo step, progress bar, cancellable
    controller.propagate("forward")


if worker is None:
    prompt_and_propagate()
else:
    worker.finished.connect(prompt_and_propagate)

if __name__ == "__main__":
    napari.run()
