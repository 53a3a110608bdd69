"""Click latency on an already-encoded frame: through the API and in the napari widget.

What it does (``--model``, default ``random:sam2.1-tiny``: the SAM2.1 Hiera-T
architecture at 1024 px input with random weights, offline; or ``demo``):

1. A synthetic time-lapse of 3 frames of ``--size`` x ``--size`` px; points
   inside its cells on frame 0 (from the ground truth), the same for every run.
2. **API**: a :class:`~napari_sam2.core.session.Session`, ``prefetch(0)``
   (the image encoder runs before the clicks: what moving the slider to a
   frame does in the widget), then ``--clicks`` calls of ``add_points`` on
   frame 0, three clicks per object (each adds a point to the object's
   earlier points). Each call is timed: prompt in, full-resolution mask out.
3. **Widget** (a real napari viewer; under Xvfb when there is no display):
   Start, the frame encoded, then the same clicks as points added to the
   points layer (what a mouse click in add mode does). Each click is timed
   until the mask is in the labels layer and the event loop has processed
   the repaint (the controller idle, then ``processEvents``).

``--immediate-memory`` makes every prompt run the memory encoder on its frame
at once, as the code before the deferred memory did (the "before" figure in
the same run); ``--skip-widget`` times the API only.

Figures: median and 90th percentile of the click latency in ms, the first
click excluded (it warms up code paths). Goal: < 100 ms at 1024 px.

Commands used for ``docs/benchmarks.md``::

    python benchmarks/bench_click.py
    python benchmarks/bench_click.py --immediate-memory
    python benchmarks/bench_click.py --model demo
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
from bench_widget import _ensure_display, machine, wait_until


def click_points(size: int, n: int):
    """Stack (3, size, size) and ``n`` (object id, (row, col)) clicks inside its cells on frame 0."""
    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(n_frames=3, shape=(size, size))
    rng = np.random.default_rng(0)
    cells = [c for c in np.unique(truth[0]) if c]
    clicks = []
    for i in range(n):
        cell = cells[(i // 3) % len(cells)]
        rows, cols = np.nonzero(truth[0] == cell)
        j = rng.integers(len(rows))
        clicks.append((1 + i // 3, (int(rows[j]), int(cols[j]))))
    return image, clicks


def immediate_memory() -> None:
    """Make prompts encode their frame's memory at once (the behaviour before deferring it)."""
    from napari_sam2.core import _hf_compat as hf
    from napari_sam2.core.tracker import TransformersTracker

    if not hasattr(TransformersTracker, "_defer"):
        return  # code from before the deferral: already immediate

    def encode_now(self, frame, entries):
        hf.encode_memories(self.model, self._session, frame, entries)

    TransformersTracker._defer = encode_now


def stats(times) -> dict:
    ms = sorted(1000 * t for t in times[1:])
    return {"median_ms": statistics.median(ms), "p90_ms": ms[int(round(0.9 * (len(ms) - 1)))],
            "n": len(ms)}


def api_clicks(model: str, image, clicks) -> dict:
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session

    session = Session.from_array(image, model=load_model(model))
    session.prefetch(0)
    times = []
    for obj, point in clicks:
        start = time.perf_counter()
        session.add_points(obj, 0, [point])
        times.append(time.perf_counter() - start)
    return stats(times)


def widget_clicks(model: str, image, clicks) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_sam2._qt.widget import Sam2Widget

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    layer = viewer.add_image(image, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    controller = widget.controller
    ready = []
    controller.session_ready.connect(lambda: ready.append(1))
    controller.start(layer, model=model)
    wait_until(app, lambda: bool(ready))
    wait_until(app, lambda: controller.worker is None)
    controller.prefetch(0)
    wait_until(app, lambda: controller.worker is None)
    points = controller.points_layer
    times = []
    for obj, point in clicks:
        controller.select_object(obj)
        points.selected_data = set()
        start = time.perf_counter()
        points.add(np.array([0, *point], float))
        wait_until(app, lambda: controller.worker is None and not controller._dirty)
        app.processEvents()
        times.append(time.perf_counter() - start)
    controller.close()
    viewer.close()
    return stats(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="random:sam2.1-tiny")
    parser.add_argument("--size", type=int, default=1024, help="frame size in pixels")
    parser.add_argument("--clicks", type=int, default=16)
    parser.add_argument("--immediate-memory", action="store_true")
    parser.add_argument("--skip-widget", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_widget:
        _ensure_display()
    if args.immediate_memory:
        immediate_memory()
    import warnings

    warnings.filterwarnings("ignore", message=".*random weights.*")
    image, clicks = click_points(args.size, args.clicks)
    figures = {"machine": machine(), "model": args.model, "frame_px": args.size,
               "memory": "immediate" if args.immediate_memory else "deferred",
               "load_avg_before": os.getloadavg()[0]}
    figures["api"] = api_clicks(args.model, image, clicks)
    if not args.skip_widget:
        figures["widget"] = widget_clicks(args.model, image, clicks)
    figures["load_avg_after"] = os.getloadavg()[0]
    print(f"machine: {figures['machine']}; model {args.model}, frames {args.size} px, "
          f"memory encoding {figures['memory']}; load average {figures['load_avg_before']:.2f}"
          f" -> {figures['load_avg_after']:.2f}")
    for where in ("api", "widget"):
        if where in figures:
            f = figures[where]
            print(f"{where:7} click -> mask: median {f['median_ms']:6.0f} ms, p90 {f['p90_ms']:6.0f} ms"
                  f"  ({f['n']} clicks; goal < 100 ms)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
