"""Open the "SAM2 review" panel on a synthetic track result and save docs/images/review_panel.png.

Run (a display or Xvfb is needed):

    xvfb-run -a python docs/make_review_screenshot.py

The labels are the synthetic generator's own truth (seed 2027, with
divisions), written to a temporary zarr with a lineage built from them (parent
= the ended track a daughter overlaps) and review flags made by hand: what
``napari-sam2 track`` writes, without running it. The panel shows the flags
sorted by severity with a division selected: the viewer is on its frame
with its cell selected and centred.
"""

import tempfile
from pathlib import Path

import napari
import numpy as np
import zarr
from qtpy.QtWidgets import QApplication

from napari_sam2._qt.review_widget import ReviewWidget
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.core.track_exports import write_lineage

OUT = Path(__file__).parent / "images"


def lineage_of(truth: np.ndarray) -> Lineage:
    """Tracks from the label ids; a track starting after frame 0 inside an ended one is its daughter."""
    lineage = Lineage()
    spans = {}
    for t, frame in enumerate(truth):
        for label in np.unique(frame[frame > 0]).tolist():
            start, _ = spans.get(label, (t, t))
            spans[label] = (start, t)
    for label, (start, end) in sorted(spans.items(), key=lambda item: item[1][0]):
        parent = 0
        if start > 0:
            before = truth[start - 1][truth[start] == label]
            ended = [m for m in np.unique(before[before > 0]).tolist() if spans[m][1] == start - 1]
            parent = ended[0] if ended else 0
        lineage.add(label, start, end, parent=parent)
    return lineage


def flagged(lineage: Lineage, n_frames: int) -> Lineage:
    for mother in {t.parent for t in lineage.tracks.values() if t.parent}:
        first = lineage.daughters(mother)[0]
        start = lineage.tracks[first].start
        lineage.flag(first, start, "division", 0.5, f"track {mother} split in two on frame {start}")
    for track in lineage.tracks.values():
        if track.end < n_frames - 1 and not lineage.daughters(track.track_id):
            lineage.flag(track.track_id, track.end, "ends_inside", 0.45,
                         f"track ends on frame {track.end} inside the field")
    lineage.flag(2, 9, "jump", 0.9, "mask moved onto a touching cell on frame 9")
    lineage.flag(4, 13, "area_jump", 0.7, "area grew 1.9x from frame 12 to 13")
    lineage.flag(1, 6, "iou_drop", 0.35, "model's confidence fell to 0.41 on frame 6")
    return lineage


def settle():
    app = QApplication.instance()
    for _ in range(30):
        app.processEvents()


def main():
    stack, truth = synthetic_timelapse(n_frames=20, seed=2027, divisions=True)
    lineage = flagged(lineage_of(truth), len(truth))
    folder = Path(tempfile.mkdtemp()) / "cells_tracks.zarr"
    array = zarr.open_array(str(folder), mode="w", shape=truth.shape, chunks=(1,) + truth.shape[1:],
                            dtype=truth.dtype)
    array[:] = truth
    write_lineage(array, lineage)

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    viewer.add_image(stack, name="cells", axis_labels=("t", "y", "x"))
    widget = ReviewWidget(viewer)
    widget.setFixedWidth(540)  # leave the canvas most of the window
    viewer.window.add_dock_widget(widget, name="SAM2 review")
    widget.open_result(str(folder))
    widget.table.selectRow(2)  # a division: mother and daughters filled in
    settle()
    OUT.mkdir(exist_ok=True)
    viewer.screenshot(str(OUT / "review_panel.png"), canvas_only=False)
    print("wrote", OUT / "review_panel.png")
    viewer.close()


if __name__ == "__main__":
    main()
