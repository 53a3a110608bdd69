"""Hand-made label stacks with known tracks and divisions, for export and scoring tests."""

from __future__ import annotations

import numpy as np

from napari_sam2.core.lineage import Lineage


def disc(shape, centre, radius):
    """Boolean disc (or ball, for a 3-tuple shape) of ``radius`` at ``centre``."""
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    return sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) <= radius ** 2


def dividing_cells(n_frames: int = 6, size: int = 64, depth: int = 0):
    """Cell 1 divides into 2 and 3 on frame 3; cell 4 stays; cell 5 enters on frame 2.

    ``depth`` > 0 makes (T, Z, Y, X) labels with balls.
    """
    shape = (depth, size, size) if depth else (size, size)
    z = (depth // 2,) if depth else ()
    labels = np.zeros((n_frames, *shape), np.uint16)
    for t in range(n_frames):
        if t < 3:
            labels[t][disc(shape, z + (20, 20), 8)] = 1
        else:
            labels[t][disc(shape, z + (20, 14), 5)] = 2
            labels[t][disc(shape, z + (20, 26), 5)] = 3
        labels[t][disc(shape, z + (45, 45), 6)] = 4
        if t >= 2:
            labels[t][disc(shape, z + (50, 12), 5)] = 5
    lineage = Lineage()
    lineage.add(1, 0, 2)
    lineage.divide(1, 3, (2, 3))
    for d in (2, 3):
        lineage.extend(d, n_frames - 1)
    lineage.add(4, 0, n_frames - 1)
    lineage.add(5, 2, n_frames - 1)
    return labels, lineage
