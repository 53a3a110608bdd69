"""Gap closing on a finished lineage and label stack (no model): joins, refusals, flags, zarr."""

import numpy as np
import pytest

from napari_sam2.core.gap_closing import close_gaps, find_gaps
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.sink import LabelSink
from napari_sam2.core.track_exports import ctc_lineage

SHAPE = (64, 64)


def disk(centre, radius=6):
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def stack(n, cells):
    """``cells``: {id: {frame: centre}} -> a (n, 64, 64) uint16 label stack."""
    labels = np.zeros((n, *SHAPE), np.uint16)
    for cell_id, where in cells.items():
        for t, centre in where.items():
            labels[t][disk(centre)] = cell_id
    return labels


def lineage_of(labels, parents=None):
    lineage = Lineage()
    parents = parents or {}
    frames = {}
    for t in range(len(labels)):
        for i in np.unique(labels[t])[1:]:
            frames.setdefault(int(i), []).append(t)
    for i in sorted(frames, key=lambda i: frames[i][0]):
        lineage.add(i, frames[i][0], frames[i][-1], parents.get(i, 0))
    return lineage


def broken_cell():
    """Cell 1 on frames 0-3, lost on 4-5, found again as track 5 on 6-9 (it moves 1 px a frame);
    track 5 divides into 6 and 7 on frame 10; cell 2 is followed all along nearby."""
    moving = {t: (30, 20 + t) for t in range(12)}
    cells = {1: {t: moving[t] for t in range(4)}, 5: {t: moving[t] for t in range(6, 10)},
             6: {t: (24, 30) for t in (10, 11)}, 7: {t: (38, 30) for t in (10, 11)},
             2: {t: (30, 48) for t in range(12)}}
    labels = stack(12, cells)
    lineage = lineage_of(labels, {6: 5, 7: 5})
    lineage.flag(1, 3, "ends_inside", 0.4, "ends on frame 3 inside the field of view")
    lineage.flag(5, 8, "area_jump", 0.5, "area went from 100 to 200 pixels between frames 7 and 8")
    return labels, lineage


def test_a_cell_lost_for_two_frames_keeps_one_id_and_its_daughters():
    labels, lineage = broken_cell()
    joins = close_gaps(labels, lineage, max_gap=2)
    assert [(j.earlier, j.later, j.end, j.start, j.missing) for j in joins] == [(1, 5, 3, 6, 2)]
    assert 5 not in lineage.tracks and not (labels == 5).any()
    assert (lineage.tracks[1].start, lineage.tracks[1].end) == (0, 9)
    assert all((labels[t] == 1).sum() == disk((30, 20 + t)).sum() for t in (0, 3, 6, 9))
    assert not (labels[4:6] == 1).any()  # the gap stays a gap
    assert lineage.daughters(1) == [6, 7] and lineage.tracks[2].end == 11
    kinds = {(f.track_id, f.kind, f.frame) for f in lineage.flags}
    assert (1, "gap", 4) in kinds and (1, "area_jump", 8) in kinds  # the later track's flags move
    assert not any(f.kind == "ends_inside" for f in lineage.flags)  # moot after the join
    gap = next(f for f in lineage.flags if f.kind == "gap")
    assert "frames 4-5" in gap.message and "frame 6" in gap.message


def test_max_gap_bounds_the_join_and_zero_changes_nothing():
    labels, lineage = broken_cell()
    before, text = labels.copy(), lineage.to_ctc_text()
    assert close_gaps(labels, lineage, max_gap=0) == []
    assert close_gaps(labels, lineage, max_gap=1) == []  # two frames are missing
    assert np.array_equal(labels, before) and lineage.to_ctc_text() == text


def test_the_ctc_lineage_of_a_closed_gap_is_two_runs_linked_by_parent():
    labels, lineage = broken_cell()
    close_gaps(labels, lineage, max_gap=2)
    written, relabel = ctc_lineage(labels, lineage)
    (key, new), = relabel.items()
    assert key == (1, 6, 9)
    assert (written.tracks[1].start, written.tracks[1].end) == (0, 3)
    assert written.tracks[new].parent == 1 and written.tracks[6].parent == new


def test_a_track_ending_at_the_border_or_a_mother_is_not_continued():
    labels = stack(8, {1: {t: (30, 8 - t) for t in range(3)}, 3: {t: (30, 6) for t in range(4, 8)}})
    lineage = lineage_of(labels)  # cell 1 leaves on the left edge on frame 2
    assert find_gaps(labels, lineage, max_gap=3) == []
    labels, lineage = broken_cell()
    daughters = find_gaps(labels, lineage, max_gap=8)
    assert all(j.earlier != 5 and j.later not in (6, 7) for j in daughters)  # mother 5, daughters 6, 7


def test_two_neighbours_are_not_swapped_or_merged():
    """Cells 1 and 2 both lost after frame 2; found again as 3 (near 1) and 4 (near 2)."""
    labels = stack(8, {1: {t: (20, 20) for t in range(3)}, 2: {t: (20, 34) for t in range(3)},
                       3: {t: (20, 22) for t in range(4, 8)}, 4: {t: (20, 32) for t in range(4, 8)}})
    lineage = lineage_of(labels)
    joins = close_gaps(labels, lineage, max_gap=2)
    assert sorted((j.earlier, j.later) for j in joins) == [(1, 3), (2, 4)]
    assert set(np.unique(labels[6])[1:]) == {1, 2}
    assert labels[6][20, 22] == 1 and labels[6][20, 32] == 2


def test_a_piece_of_a_living_neighbour_is_not_the_lost_cell():
    """Cell 1 ends on frame 2 beside cell 2; track 3 starts on frame 4 where cell 2 was on frame 2."""
    cells = {1: {t: (30, 20) for t in range(3)}, 2: {t: (30, 31 if t < 3 else 40) for t in range(6)}}
    labels = stack(6, cells)
    labels[4:][np.broadcast_to(disk((30, 28), 5), labels[4:].shape) & (labels[4:] == 0)] = 3
    assert find_gaps(labels, lineage_of(labels), max_gap=2, growth=3.0) == []
    labels[2][labels[2] == 2] = 0  # without the neighbour there, the same track is the lost cell
    assert [j.later for j in find_gaps(labels, lineage_of(labels), max_gap=2, growth=3.0)] == [3]
    far = stack(6, {1: {t: (30, 24) for t in range(3)}, 3: {t: (30, 50) for t in range(4, 6)}})
    assert find_gaps(far, lineage_of(far), max_gap=2) == []  # too far for a 1-frame gap


def test_one_to_one_and_chains_end_on_the_first_id():
    """Two later tracks near one lost cell: the nearer is joined; a second gap joins to the same id."""
    labels = stack(12, {1: {t: (30, 30) for t in range(3)}, 2: {t: (30, 31) for t in range(4, 7)},
                        3: {t: (30, 36) for t in range(4, 7)}, 4: {t: (30, 31) for t in range(8, 12)}})
    labels[4:7][labels[4:7] == 3] = 0  # 2 and 3 overlap: keep 3 where 2 is not
    labels[4:7][np.broadcast_to(disk((30, 36)), labels[4:7].shape) & (labels[4:7] == 0)] = 3
    lineage = lineage_of(labels)
    joins = close_gaps(labels, lineage, max_gap=2)
    assert [(j.earlier, j.later) for j in joins] == [(1, 2), (1, 4)]
    assert 3 in lineage.tracks and (lineage.tracks[1].start, lineage.tracks[1].end) == (0, 11)
    assert [f.frame for f in lineage.flags if f.kind == "gap"] == [3, 7]


@pytest.mark.parametrize("kind", ["sink", "zarr"])
def test_labels_are_read_and_written_one_frame_at_a_time(tmp_path, kind):
    import zarr

    labels, lineage = broken_cell()
    if kind == "zarr":
        target = zarr.create_array(tmp_path / "l.zarr", shape=labels.shape, chunks=(1, *SHAPE),
                                   dtype="uint16")
        target[:] = labels
    else:
        target = LabelSink(labels.copy())
    assert len(close_gaps(target, lineage, max_gap=2)) == 1
    result = np.asarray(target.array if kind == "sink" else target[:])
    assert not (result == 5).any() and (result[6:10] == 1).any()


def test_a_closed_gap_exports_a_ctc_folder_py_ctcmetrics_accepts(tmp_path):
    from napari_sam2.core.track_exports import write_ctc_folder, write_ctc_ground_truth
    from napari_sam2.evaluation.ctc import score_ctc

    labels, lineage = broken_cell()
    truth = labels.copy()
    truth[truth == 5] = 1
    for t in (4, 5):  # the truth sees the cell on the frames the tracker lost it
        truth[t][disk((30, 20 + t))] = 1
    true_lineage = lineage_of(truth, {6: 1, 7: 1})
    write_ctc_ground_truth(truth, true_lineage, tmp_path / "01_GT")
    close_gaps(labels, lineage, max_gap=2)
    scores = score_ctc(tmp_path / "01_GT", write_ctc_folder(labels, lineage, tmp_path / "01_RES"))
    assert scores["DET"] < 1.0 and scores["TRA"] > 0.8  # valid (else ValueError); the gap is missed


def test_a_closed_gap_is_one_geff_edge_across_the_missing_frames(tmp_path):
    from napari_sam2.core.track_geff import geff_graph, read_geff, write_geff

    labels, lineage = broken_cell()
    close_gaps(labels, lineage, max_gap=2)
    nodes, edges = geff_graph(labels, lineage)
    t, ids = nodes["t"], nodes["track_id"]
    across = [(t[a], t[b]) for a, b in edges if ids[a] == ids[b] == 1 and t[b] - t[a] > 1]
    assert across == [(3, 6)]
    write_geff(labels, lineage, tmp_path / "g.geff")
    read, _ = read_geff(tmp_path / "g.geff")
    assert sorted(read.tracks) == sorted(lineage.tracks)
