"""The synthetic time-lapse of volumes."""

import numpy as np

from napari_sam2.core.synthetic_volumes import synthetic_volumes


def test_nuclei_move_in_z_change_size_and_leave_with_one_id_each():
    image, labels = synthetic_volumes(n_times=12, n_planes=10, shape=(64, 64), n_nuclei=4, leaving=2,
                                      z_speed=0.5, seed=1)
    assert image.shape == labels.shape == (12, 10, 64, 64)
    assert image.dtype == labels.dtype == np.uint16
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4}
    present = np.array([[(labels[t] == i).any() for t in range(12)] for i in range(1, 5)])
    assert present[:, 0].all()
    left = [i + 1 for i in range(4) if not present[i, -1]]
    assert len(left) >= 1
    for i in left:  # once gone, gone for good: its id never comes back
        last = np.flatnonzero(present[i - 1]).max()
        assert not present[i - 1, last + 1:].any()
    z_centre = [np.nonzero(labels[t] == 1)[0].mean() for t in range(12) if present[0, t]]
    sizes = [(labels[t] == 1).sum() for t in range(12) if present[0, t]]
    assert np.ptp(z_centre) > 0.5 and np.ptp(sizes) > 0.05 * np.mean(sizes)
    inside = image[labels > 0].mean()
    assert inside > image[labels == 0].mean() + 50  # nuclei are brighter than the background
    again, _ = synthetic_volumes(n_times=12, n_planes=10, shape=(64, 64), n_nuclei=4, leaving=2,
                                 z_speed=0.5, seed=1)
    np.testing.assert_array_equal(again, image)
