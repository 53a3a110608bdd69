"""napari sample data, generated in code (works offline)."""

from __future__ import annotations


def sample_timelapse():
    """A synthetic fluorescence time-lapse with its ground-truth labels.

    Returns
    -------
    list of napari layer data tuples
    """
    from ..core.synthetic import synthetic_timelapse

    image, labels = synthetic_timelapse(n_frames=20)
    return [
        (image, {"name": "synthetic time-lapse", "axis_labels": ("t", "y", "x")}, "image"),
        (labels, {"name": "ground truth", "axis_labels": ("t", "y", "x"), "visible": False},
         "labels"),
    ]


def sample_zstack():
    """A synthetic fluorescence z-stack of nuclei with its ground-truth labels."""
    from ..core.synthetic import synthetic_zstack

    image, labels = synthetic_zstack()
    return [
        (image, {"name": "synthetic z-stack", "axis_labels": ("z", "y", "x")}, "image"),
        (labels, {"name": "ground truth", "axis_labels": ("z", "y", "x"), "visible": False}, "labels"),
    ]


def sample_volumes():
    """A synthetic time-lapse of volumes (T, Z, Y, X): nuclei moving in 3D, with ground-truth labels."""
    from ..core.synthetic_volumes import synthetic_volumes

    image, labels = synthetic_volumes(n_times=10, n_planes=12, shape=(128, 128), n_nuclei=5)
    axes = ("t", "z", "y", "x")
    return [
        (image, {"name": "synthetic time-lapse of volumes", "axis_labels": axes}, "image"),
        (labels, {"name": "ground truth", "axis_labels": axes, "visible": False}, "labels"),
    ]
