"""napari Tracks layer data from labels and lineage (no viewer)."""

from __future__ import annotations

import numpy as np

from napari_sam2._napari.tracks import tracks_layer, tracks_layer_data
from tracking_cases import dividing_cells


def test_tracks_data_and_graph_build_a_tracks_layer():
    labels, lineage = dividing_cells()
    lineage.tracks[4].reviewed = True
    data, graph, properties = tracks_layer_data(labels, lineage)
    assert data.shape == (19, 4) and graph == {2: [1], 3: [1]}
    np.testing.assert_allclose(data[0], [1, 0, 20, 20])
    assert properties["reviewed"].sum() == 6 and len(properties["area"]) == 19
    layer = tracks_layer(labels, lineage, scale=(1, 0.5, 0.5))
    assert layer.graph == graph and sorted(np.unique(layer.data[:, 0])) == [1, 2, 3, 4, 5]
    assert np.array_equal(layer.properties["reviewed"], properties["reviewed"])


def test_3d_tracks_and_no_lineage():
    labels, _ = dividing_cells(depth=5)
    data, graph, _ = tracks_layer_data(labels)
    assert data.shape[1] == 5 and graph == {}
    np.testing.assert_allclose(data[:, 2], 2)
    layer = tracks_layer(labels)
    assert layer.ndim == 4
