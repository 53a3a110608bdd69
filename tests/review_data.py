"""A small track-all result on disk for the review tests: a label zarr with a lineage in its attributes."""

import numpy as np

from napari_sam2.core.lineage import Lineage

N_FRAMES, SHAPE = 6, (40, 50)


def synthetic_track_result(path):
    """Write labels (t, y, x) and a hand-made lineage with flags to ``path``; returns (labels, lineage).

    Track 1 drifts right over all frames; track 2 is followed into one daughter
    on frame 3 while the other daughter (3) starts a track of its own; track 4
    is a short track on frames 4-5.
    """
    import zarr

    from napari_sam2.core.track_exports import write_lineage

    labels = np.zeros((N_FRAMES,) + SHAPE, np.uint16)
    for t in range(N_FRAMES):
        labels[t, 5:12, 3 + 2 * t:10 + 2 * t] = 1
        if t < 3:
            labels[t, 22:32, 20:30] = 2
        else:
            labels[t, 20:27, 20:27] = 2
            labels[t, 29:36, 24:31] = 3
    labels[4:, 30:36, 40:46] = 4
    lineage = Lineage()
    lineage.add(1, 0, N_FRAMES - 1)
    lineage.add(2, 0, N_FRAMES - 1)
    lineage.add(3, 3, N_FRAMES - 1)
    lineage.add(4, 4, N_FRAMES - 1)
    lineage.flag(2, 3, "area_jump", 0.6, "area fell by half from frame 2 to 3")
    lineage.flag(3, 3, "division", 0.4, "new cell inside track 2's area: a division?")
    lineage.flag(4, 4, "short", 0.3, "track lasts 2 frames")
    lineage.flag(1, 5, "jump", 0.9, "mask moved onto another cell on frame 5")
    array = zarr.open_array(str(path), mode="w", shape=labels.shape, chunks=(1,) + SHAPE,
                            dtype=labels.dtype)
    array[:] = labels
    write_lineage(array, lineage)
    return labels, lineage


def jumped_track(n_frames, fix_frame, obj, shape, n_cells, half, free_from=0):
    """A synthetic time-lapse whose track ``obj`` jumps to an empty spot from ``fix_frame`` on.

    The spot is a ``2 * half`` square in the middle of the pixels that are
    background on every frame from ``free_from`` on. Returns (image, truth, labels).
    """
    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(n_frames=n_frames, shape=shape, n_cells=n_cells, seed=3,
                                       divisions=False)
    labels = truth.copy()
    labels[fix_frame:][labels[fix_frame:] == obj] = 0
    free = np.argwhere((labels[free_from:] == 0).all(0))
    r, c = free[len(free) // 2]
    patch = labels[fix_frame:, r - half:r + half, c - half:c + half]
    patch[patch == 0] = obj
    return image, truth, labels


def inside(mask):
    """The pixel of ``mask`` farthest from its edge, (row, col): where a user clicks."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(mask)
    return np.unravel_index(depth.argmax(), depth.shape)


def review_on_disk(path):
    """A Review of :func:`synthetic_track_result` written at ``path`` (a Labels layer over the zarr)."""
    from napari.layers import Labels

    from napari_sam2._napari.review import LINEAGE_METADATA, SOURCE_METADATA, Review, read_track_result

    synthetic_track_result(path)
    data, lineage = read_track_result(path)
    return Review(Labels(data, metadata={LINEAGE_METADATA: lineage, SOURCE_METADATA: str(path)}))
