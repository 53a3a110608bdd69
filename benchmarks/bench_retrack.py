"""Fixing a track from the review panel: how well and how fast one click re-tracks a lost cell.

What it does: a synthetic time-lapse (``--frames`` of 256 x 256, 6 cells, no
divisions, ``--seed``) whose ground truth stands in for a track-all result;
for each cell in ``--cells``, its labels are erased from frame ``--from`` on
(the track was lost there), then :func:`~napari_sam2.workflows.retrack.retrack_object`
re-tracks it from one click at the cell's most interior pixel on that frame,
with the ``demo`` model. Prints, per cell, the frames re-tracked, seconds (and
per frame) and the IoU with the truth on those frames (min and mean), and
whether any other cell's pixel changed.

Command used for ``docs/widget.md``::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_retrack.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def main() -> None:
    from scipy import ndimage

    from napari_sam2.core.models import load_model
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.workflows.retrack import retrack_object

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--cells", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--from", dest="start", type=int, default=5, help="the frame the track was lost")
    args = parser.parse_args()
    image, truth = synthetic_timelapse(n_frames=args.frames, shape=(256, 256), n_cells=6, seed=args.seed,
                                       divisions=False)
    model = load_model("demo")
    print(f"demo model, {args.frames} frames of 256 x 256, seed {args.seed}, lost from frame {args.start}")
    print("cell  frames  seconds  s/frame  IoU min  IoU mean  other cells changed")
    for cell in args.cells:
        lost = truth.copy()
        lost[args.start:][lost[args.start:] == cell] = 0
        depth = ndimage.distance_transform_edt(truth[args.start] == cell)
        click = np.unravel_index(int(depth.argmax()), depth.shape)
        fixed = lost.copy()
        begin = time.perf_counter()
        for step in retrack_object(image, lost, cell, args.start, [click], model=model):
            fixed[step.frame] = step.labels
        took = time.perf_counter() - begin
        frames = range(args.start, args.frames)
        scores = [iou(fixed[t] == cell, truth[t] == cell) for t in frames]
        others = bool(((fixed != lost) & (lost != 0) & (lost != cell)).any())
        print(f"{cell:4d}  {len(frames):6d}  {took:7.2f}  {took / len(frames):7.3f}  {min(scores):7.3f}"
              f"  {np.mean(scores):8.3f}  {'yes' if others else 'no'}")


if __name__ == "__main__":
    main()
