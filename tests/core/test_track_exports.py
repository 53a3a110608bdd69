"""CTC folders and GEFF graphs of a label stack with lineage: layout, validity, laziness, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CountingArray
from napari_sam2.core.errors import InputError
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.track_exports import (
    ctc_digits,
    ctc_lineage,
    frame_objects,
    read_ctc_folder,
    read_geff,
    read_lineage,
    write_ctc_folder,
    write_ctc_ground_truth,
    write_geff,
    write_lineage,
)
from tracking_cases import dividing_cells


def test_frame_objects_centroids_and_areas():
    frame = np.zeros((5, 6), np.uint16)
    frame[1:3, 1:3] = 7
    frame[4, 5] = 2
    ids, areas, centres = frame_objects(frame)
    assert ids.tolist() == [2, 7] and areas.tolist() == [1, 4]
    np.testing.assert_allclose(centres, [[4, 5], [1.5, 1.5]])


def test_ctc_folder_is_valid_for_py_ctcmetrics_and_reads_back(tmp_path):
    from napari_sam2.evaluation.ctc import score_ctc

    labels, lineage = dividing_cells()
    write_ctc_ground_truth(labels, lineage, tmp_path / "01_GT")
    out = write_ctc_folder(labels, lineage, tmp_path / "01_RES")
    assert sorted(p.name for p in out.glob("*.tif")) == [f"mask{t:03d}.tif" for t in range(6)]
    assert (out / "res_track.txt").read_text() == "1 0 2 0\n2 3 5 1\n3 3 5 1\n4 0 5 0\n5 2 5 0\n"
    assert score_ctc(tmp_path / "01_GT", out) == {"SEG": 1.0, "TRA": 1.0, "DET": 1.0}
    back, back_lineage = read_ctc_folder(out)
    assert back.dtype == np.uint16 and np.array_equal(back, labels)
    assert back_lineage.to_ctc_text() == lineage.to_ctc_text()


def test_gaps_become_linked_tracks_and_labels_win(tmp_path):
    labels, lineage = dividing_cells()
    labels[4][labels[4] == 4] = 0  # cell 4 hidden on frame 4
    lineage.add(99, 0, 3)  # a track without pixels is left out
    written, relabel = ctc_lineage(labels, lineage)
    assert relabel == {(4, 5, 5): 100}
    assert (written.tracks[4].start, written.tracks[4].end) == (0, 3)
    assert written.tracks[100].parent == 4 and 99 not in written.tracks
    write_ctc_folder(labels, lineage, tmp_path / "res")
    back, _ = read_ctc_folder(tmp_path / "res")
    assert (back[5] == 100).sum() == (labels[5] == 4).sum() and not (back[5] == 4).any()


def test_ctc_reads_each_frame_twice_and_refuses_bad_input(tmp_path):
    labels, lineage = dividing_cells()
    counted = CountingArray(labels)
    write_ctc_folder(counted, lineage, tmp_path / "res")
    assert counted.reads == {t: 2 for t in range(6)}
    with pytest.raises(InputError, match="already holds"):
        write_ctc_folder(labels, lineage, tmp_path / "res")
    with pytest.raises(InputError, match="no cells"):
        write_ctc_folder(np.zeros((3, 8, 8), np.uint16), None, tmp_path / "empty")
    big = labels.astype(np.uint32)
    big[big == 5] = 70000
    with pytest.raises(InputError, match="uint16"):
        write_ctc_folder(big, None, tmp_path / "big")
    assert not (tmp_path / "empty").exists() and not (tmp_path / "big").exists()
    assert ctc_digits(999) == 3 and ctc_digits(1000) == 3 and ctc_digits(1001) == 4


def test_3d_ctc_from_zarr(tmp_path):
    import zarr

    from napari_sam2.evaluation.ctc import score_ctc

    labels, lineage = dividing_cells(depth=9)
    store = zarr.create_array(tmp_path / "labels.zarr", shape=labels.shape, dtype="uint16",
                              chunks=(1, *labels.shape[1:]))
    store[:] = labels
    write_ctc_ground_truth(store, lineage, tmp_path / "01_GT")
    write_ctc_folder(store, lineage, tmp_path / "01_RES")
    back, _ = read_ctc_folder(tmp_path / "01_RES")
    assert back.shape == labels.shape and np.array_equal(back, labels)
    assert score_ctc(tmp_path / "01_GT", tmp_path / "01_RES")["TRA"] == 1.0


def test_geff_nodes_edges_and_round_trip(tmp_path):
    import geff

    labels, lineage = dividing_cells()
    lineage.tracks[4].reviewed = True
    lineage.flag(5, 2, "short", 0.4, "track starts inside the frame")
    counted = CountingArray(labels)
    path = write_geff(counted, lineage, tmp_path / "tracks.geff", scale=(5.0, 0.3, 0.3))
    assert counted.reads == {t: 1 for t in range(6)}
    graph, metadata = geff.read(str(path))
    # 3 + 3 + 3 + 6 + 4 nodes; edges: 2 + 2 + 2 + 5 + 3 within tracks, 2 at the division
    assert graph.number_of_nodes() == 19 and graph.number_of_edges() == 16
    assert [a.name for a in metadata.axes] == ["t", "y", "x"] and metadata.axes[1].scale == 0.3
    back, nodes = read_geff(path)
    assert back.to_ctc_text() == lineage.to_ctc_text()
    assert back.tracks[4].reviewed and not back.tracks[5].reviewed
    assert back.flags == lineage.flags
    mother_first = (nodes["track_id"] == 1) & (nodes["t"] == 0)
    np.testing.assert_allclose([nodes["y"][mother_first][0], nodes["x"][mother_first][0]], [20, 20])
    assert nodes["area"][mother_first][0] == (labels[0] == 1).sum()


def test_geff_3d_and_bad_input(tmp_path):
    labels, lineage = dividing_cells(depth=9)
    path = write_geff(labels, lineage, tmp_path / "t.geff")
    _, nodes = read_geff(path)
    assert {"t", "z", "y", "x"} <= set(nodes)
    np.testing.assert_allclose(nodes["z"], 4)
    with pytest.raises(InputError, match="already exists"):
        write_geff(labels, lineage, path)
    with pytest.raises(InputError, match="axes"):
        write_geff(labels, lineage, tmp_path / "u.geff", axes="tyx")  # 3 letters for a 4D stack
    with pytest.raises(InputError, match="scale"):
        write_geff(labels, lineage, tmp_path / "v.geff", scale=(1, 1))
    write_geff(labels, Lineage(), path, overwrite=True)
    assert not read_geff(path)[0].edges()


def test_geff_axis_names_from_the_label_store(tmp_path):
    labels, lineage = dividing_cells()
    path = write_geff(labels, lineage, tmp_path / "list.geff", axes=["T", "Y", "X"], scale=[1, 2, 2])
    assert read_geff(path)[0].to_ctc_text() == lineage.to_ctc_text()
    planes = write_geff(labels, lineage, tmp_path / "z.geff", axes="zyx")  # a z-stack's planes tracked
    back, nodes = read_geff(planes)
    assert back.to_ctc_text() == lineage.to_ctc_text() and np.array_equal(nodes["z"], nodes["t"])
    unnamed = write_geff(labels, lineage, tmp_path / "q.geff", axes="QYX")  # tifffile's unnamed axis
    assert {"t", "y", "x"} <= set(read_geff(unnamed)[1])


def test_lineage_written_beside_the_run_metadata_reads_back(tmp_path):
    import zarr

    path = tmp_path / "tracks.zarr"
    array = zarr.open_array(str(path), mode="w", shape=(2, 4, 4), dtype=np.uint16)
    array.attrs["napari_sam2"] = {"n_frames": 2}
    assert read_lineage(path) is None and read_lineage(array) is None
    lineage = Lineage()
    lineage.add(1, 0, 1)
    lineage.flag(1, 1, "short", 0.3, "track lasts 2 frames")
    write_lineage(array, lineage)
    assert array.attrs["napari_sam2"]["n_frames"] == 2  # the run's metadata is kept
    assert read_lineage(path).to_dict() == lineage.to_dict()
    lineage.tracks[1].reviewed = True
    write_lineage(path, lineage)  # by path too: the review state replaces the old lineage
    assert read_lineage(zarr.open_array(str(path), mode="r")).tracks[1].reviewed
