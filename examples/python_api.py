"""Segment and track cells headless with the Python API.

Run:  python examples/python_api.py [--model sam2.1-tiny]

Uses a synthetic time-lapse (ground truth known), clicks each cell once on the
middle frame, propagates both ways into a zarr on disk, corrects one frame and
propagates again. With ``--model random:tiny`` it runs offline but the masks
are meaningless.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from napari_sam2.core import Session, open_label_sink
from napari_sam2.core.synthetic import synthetic_timelapse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sam2.1-tiny")
    args = parser.parse_args()

    stack, truth = synthetic_timelapse(n_frames=12)
    out = Path(tempfile.mkdtemp()) / "labels.zarr"
    sink = open_label_sink(out, *stack.shape[:1], stack.shape[1:])
    session = Session.from_array(stack, axis=0, model=args.model, sink=sink)

    middle = len(stack) // 2
    for cell in np.unique(truth[middle])[1:]:
        rows, cols = np.nonzero(truth[middle] == cell)
        result = session.add_points(int(cell), middle, [[rows.mean(), cols.mean()]], [1])
        print(f"cell {cell}: {result.masks[0].sum()} pixels on frame {middle}")

    for result in session.propagate():
        print(f"frame {result.frame}: presence {np.round(result.scores, 2).tolist()}")

    session.add_points(1, len(stack) - 3, [[5, 5]], labels=[0])  # a negative click
    redone = [r.frame for r in session.propagate()]
    print(f"after the correction, recomputed frames {redone}; labels in {out}")


if __name__ == "__main__":
    main()
