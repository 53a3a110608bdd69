"""Widget benchmark: the same work in the napari widget and through the Python API.

What it does, in one process (a real napari viewer; under Xvfb when there is
no display: the script re-runs itself with ``xvfb-run -a``):

1. Builds a synthetic time-lapse (``--frames`` frames of 256 x 256 px) and
   finds a point inside a cell on frame 0 (from its ground truth).
2. **API**, each of ``--repeats`` times: ``load_model(model)`` alone (timed),
   then a :class:`~napari_sam2.core.session.Session` on the stack, one
   ``add_points`` on frame 0, and ``Session.propagate("forward")`` through
   all frames (timed). A first, untimed ``load_model`` call warms up imports.
3. **Widget**, each of ``--repeats`` times: the dock widget's controller
   ``start(image, model=...)`` (Start: timed until ``session_ready``), the same
   point added to the points layer (as a click does; waits until the mask is
   in the labels layer), then ``propagate("forward")`` (timed until the
   worker has finished and the last frame is in the layer). A ``QTimer``
   ticking every 10 ms runs on the GUI thread throughout the propagation;
   the largest interval between two ticks is the GUI's longest freeze.

Figures (medians over the repeats): load s and propagation s in both, their
ratios widget / API, and the largest event-loop gap in ms, against the goals
(load <= 1.2x, propagation <= 1.1x, gap < 100 ms). A JSON line follows.

Command used for ``docs/benchmarks.md``::

    python benchmarks/bench_widget.py --model demo --frames 20 --repeats 3
    python benchmarks/bench_widget.py --model random:sam2.1-tiny --frames 6 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

GOALS = {"load": 1.2, "propagation": 1.1, "gap_ms": 100.0}


def _ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") or os.environ.get("BENCH_XVFB"):
        return
    if shutil.which("xvfb-run") is None:
        sys.exit("no display and no xvfb-run: run this under a display or install xvfb")
    env = dict(os.environ, BENCH_XVFB="1")
    sys.exit(subprocess.call(["xvfb-run", "-a", sys.executable, *sys.argv], env=env))


def machine() -> str:
    """CPU model name, whether it has avx512_bf16, the torch thread count."""
    import torch

    name, flags = platform.processor(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", "x86_64"):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line
    except OSError:
        pass
    bf16 = "avx512_bf16" if "avx512_bf16" in flags else "no avx512_bf16"
    return f"{name}, {os.cpu_count()} cores, {bf16}, torch threads {torch.get_num_threads()}"


def stack_and_point(n_frames: int):
    """A synthetic time-lapse and a point (row, col) inside a cell on frame 0."""
    import numpy as np

    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(n_frames=n_frames)
    obj = np.bincount(truth[0].ravel())[1:].argmax() + 1  # the largest cell on frame 0
    rows, cols = np.nonzero(truth[0] == obj)
    inside = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
    return image, (int(rows[inside]), int(cols[inside]))


def api_run(model: str, image, point) -> dict:
    """Time load_model alone and a forward propagation through the Session API."""
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session

    start = time.perf_counter()
    loaded = load_model(model)
    load_s = time.perf_counter() - start
    session = Session.from_array(image, model=loaded)
    session.add_points(1, 0, [point])
    start = time.perf_counter()
    n = sum(1 for _ in session.propagate("forward"))
    return {"load_s": load_s, "propagate_s": time.perf_counter() - start, "frames": n}


def wait_until(app, condition, timeout: float = 600.0) -> None:
    """Spin the Qt event loop until ``condition()`` (the GUI stays live meanwhile)."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: condition() and loop.quit())
    timer.start(5)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(int(timeout * 1000))
    if not condition():
        loop.exec_() if hasattr(loop, "exec_") else loop.exec()
    timer.stop()
    deadline.stop()
    if not condition():
        raise TimeoutError("the widget did not finish in time")


class GapMeter:
    """A 10 ms QTimer on the GUI thread; ``max_gap_ms`` is the longest interval between ticks."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.gaps: list[float] = []

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.gaps.append(now - self.last)
        self.last = now

    def start(self):
        self.last, self.gaps = time.perf_counter(), []
        self.timer.start(10)

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return 1000 * max(self.gaps)


def widget_run(viewer, widget, app, model: str, image_layer, point) -> dict:
    """Start, click and propagate forward in the real widget; times and the largest GUI gap."""
    import numpy as np

    controller = widget.controller
    ready = []

    def on_ready():
        ready.append(1)

    controller.session_ready.connect(on_ready)
    start = time.perf_counter()
    controller.start(image_layer, model=model)
    wait_until(app, lambda: bool(ready))
    load_s = time.perf_counter() - start
    controller.session_ready.disconnect(on_ready)

    layer = controller.points_layer
    layer.feature_defaults = {"object_id": 1, "positive": True}
    layer.add(np.array([0, *point], float))
    wait_until(app, lambda: controller.worker is None and not controller._dirty
               and controller.labels_layer.data[0].any())

    n_frames = image_layer.data.shape[0]
    meter = GapMeter()
    meter.start()
    start = time.perf_counter()
    worker = controller.propagate("forward")
    wait_until(app, lambda: controller.worker is None)
    propagate_s = time.perf_counter() - start
    gap_ms = meter.stop()
    filled = int(np.count_nonzero([controller.labels_layer.data[f].any() for f in range(n_frames)]))
    return {"load_s": load_s, "propagate_s": propagate_s, "gap_ms": gap_ms,
            "frames_with_labels": filled, "worker": worker is not None}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    _ensure_display()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_sam2._qt.widget import Sam2Widget
    from napari_sam2.core.models import load_model

    image, point = stack_and_point(args.frames)
    load_model(args.model)  # warm-up: imports, file cache

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    image_layer = viewer.add_image(image, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    app.processEvents()

    api, gui = [], []
    for _ in range(args.repeats):
        api.append(api_run(args.model, image, point))
        gui.append(widget_run(viewer, widget, app, args.model, image_layer, point))
        print(f"  api {api[-1]}\n  widget {gui[-1]}", flush=True)

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    figures = {
        "machine": machine(), "model": args.model, "frames": args.frames, "repeats": args.repeats,
        "load_api_s": med(api, "load_s"), "load_widget_s": med(gui, "load_s"),
        "propagate_api_s": med(api, "propagate_s"), "propagate_widget_s": med(gui, "propagate_s"),
        "gap_ms": med(gui, "gap_ms"), "gap_max_ms": max(r["gap_ms"] for r in gui),
        "load_avg": os.getloadavg()[0], "napari": napari.__version__,
    }
    figures["load_ratio"] = figures["load_widget_s"] / figures["load_api_s"]
    figures["propagate_ratio"] = figures["propagate_widget_s"] / figures["propagate_api_s"]
    ok = {
        "load": figures["load_ratio"] <= GOALS["load"],
        "propagation": figures["propagate_ratio"] <= GOALS["propagation"],
        "gap": figures["gap_max_ms"] < GOALS["gap_ms"],
    }
    print(f"\nmachine: {figures['machine']}; model {args.model}, {args.frames} frames, "
          f"median of {args.repeats}; load average {figures['load_avg']:.2f}")
    print(f"{'':14}{'API s':>9}{'widget s':>10}{'ratio':>8}{'goal':>8}")
    print(f"{'model load':14}{figures['load_api_s']:9.2f}{figures['load_widget_s']:10.2f}"
          f"{figures['load_ratio']:8.2f}{'<= 1.2':>8}  {'ok' if ok['load'] else 'MISSED'}")
    print(f"{'propagation':14}{figures['propagate_api_s']:9.2f}{figures['propagate_widget_s']:10.2f}"
          f"{figures['propagate_ratio']:8.2f}{'<= 1.1':>8}  {'ok' if ok['propagation'] else 'MISSED'}")
    print(f"largest GUI event-loop gap during propagation: {figures['gap_max_ms']:.0f} ms "
          f"(median over runs {figures['gap_ms']:.0f} ms; goal < 100)  {'ok' if ok['gap'] else 'MISSED'}")
    print(json.dumps(figures))
    viewer.close()


if __name__ == "__main__":
    main()
