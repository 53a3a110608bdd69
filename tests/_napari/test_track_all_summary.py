"""The Qt-free parts of "Track all": the one-line summary of a lineage."""

from __future__ import annotations

from napari_sam2._napari.track_all import summary
from napari_sam2.core.lineage import Lineage


def test_summary_counts_in_singular_and_plural():
    lineage = Lineage()
    assert summary(lineage) == "0 tracks, 0 divisions, 0 flags to review"
    lineage.add(1, 0, 2)
    lineage.add(2, 3, 5, parent=1)
    lineage.flag(2, 3, "division", 0.4, "new cell inside track 1's area")
    assert summary(lineage) == "2 tracks, 1 division, 1 flag to review"
    lineage.add(3, 3, 5, parent=1)
    lineage.add(4, 0, 5)
    lineage.add(5, 4, 5, parent=4)
    lineage.flag(4, 4, "short", 0.3, "track lasts 2 frames")
    assert summary(lineage) == "5 tracks, 2 divisions, 2 flags to review"
    solo = Lineage()
    solo.add(7, 0, 0)
    assert summary(solo) == "1 track, 0 divisions, 0 flags to review"
