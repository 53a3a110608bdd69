"""The synthetic generator's ground-truth lineage: same stacks as before, lineage consistent with them."""

from __future__ import annotations

import numpy as np

from napari_sam2.core.synthetic import synthetic_timelapse, synthetic_tracking
from napari_sam2.core.track_nodes import presence


def test_same_stacks_as_synthetic_timelapse():
    for kwargs in ({}, {"entering": 0.3, "speed": 0.02}):
        old = synthetic_timelapse(12, (64, 80), 4, seed=5, **kwargs)
        image, labels, _ = synthetic_tracking(12, (64, 80), 4, seed=5, **kwargs)
        assert np.array_equal(old[0], image) and np.array_equal(old[1], labels)


def test_lineage_matches_the_labels_with_divisions_and_entering_cells():
    _, labels, lineage = synthetic_tracking(30, (128, 128), 6, seed=1, entering=0.2)
    frames = presence(labels)
    assert set(lineage.tracks) == set(frames)
    for track_id, track in lineage.tracks.items():
        assert (track.start, track.end) == (frames[track_id][0], frames[track_id][-1])
    mothers = {t.parent for t in lineage.tracks.values() if t.parent}
    assert mothers and all(len(lineage.daughters(m)) == 2 for m in mothers)
    for mother in mothers:
        first = min(lineage.tracks[d].start for d in lineage.daughters(mother))
        assert lineage.tracks[mother].end < first
    entered = [t for t in lineage.tracks.values() if t.start > 0 and not t.parent]
    assert entered  # cells entering through an edge start new tracks without parent


def test_no_divisions_no_parents():
    _, _, lineage = synthetic_tracking(20, (96, 96), 5, seed=2, divisions=False)
    assert not lineage.edges()
