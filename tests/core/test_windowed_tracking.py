"""Windowed tracking (core/windowed_tracking.py) with the real model classes: the demo model and a tiny
random-weight SAM2, against whole-map tracking."""

import numpy as np
import pytest
import torch

from napari_sam2.core.models import load_model
from napari_sam2.core.session import Session
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.core.track_all import TrackAll, TrackParams
from napari_sam2.core.window_geometry import WindowParams

SMALL = WindowParams(margin=2, min_size=6)  # the demo's map is 12 x 12 cells: default windows are the map
#: lowest per-cell IoU of windowed against whole-map track-all seen on such stacks: 0.994 (docs/track.md)
MIN_IOU = 0.9


@pytest.fixture(scope="module")
def demo():
    return load_model("demo", device="cpu")


@pytest.fixture(scope="module")
def stack():
    return synthetic_timelapse(6, (96, 96), n_cells=4, seed=3, divisions=False)


def propagate(loaded, image, truth, window):
    session = Session.from_array(image, model=loaded, window=window)
    for cell in range(1, int(truth[0].max()) + 1):
        session.add_mask(cell, 0, truth[0] == cell)
    list(session.propagate("forward"))
    return np.stack([np.asarray(session.sink.read(f)) for f in range(len(image))]), session


def test_windowed_code_on_the_whole_map_is_whole_map_tracking(demo, stack):
    image, truth = stack
    full, _ = propagate(demo, image, truth, None)
    same, session = propagate(demo, image, truth, WindowParams(max_share=0.0))  # every window: the map
    assert session.tracker.windowed.full_used > 0 and session.tracker.windowed.windows_used == 0
    np.testing.assert_array_equal(same, full)


def test_track_all_on_windows_follows_the_same_cells_as_on_the_whole_map(demo, stack):
    image, truth = stack
    seeds = {cell: truth[0] == cell for cell in range(1, int(truth[0].max()) + 1)}
    labels = {}
    for name, window in (("full", None), ("window", SMALL)):
        session = Session.from_array(image, model=demo, window=window)
        engine = TrackAll(session, TrackParams(seed_every=0))
        list(engine.run(dict(seeds), 0))
        labels[name] = np.stack([np.asarray(session.sink.read(f)) for f in range(len(image))])
        assert set(np.unique(labels[name])) - {0} <= set(engine.lineage.tracks)
    assert session.tracker.windowed.windows_used >= len(seeds) * (len(image) - 1) // 2
    full, windowed = labels["full"], labels["window"]
    assert set(np.unique(full)) == set(np.unique(windowed))
    for cell in set(np.unique(full)) - {0}:
        iou = np.sum((full == cell) & (windowed == cell)) / np.sum((full == cell) | (windowed == cell))
        assert iou >= MIN_IOU, (cell, iou)


def test_random_tiny_model_tracks_on_windows_end_to_end():
    loaded = load_model("random:tiny", device="cpu", precision="fp32")  # 128 px: an 8 x 8 map
    image, truth = synthetic_timelapse(4, (128, 128), n_cells=3, seed=5, divisions=False)
    seeds = {cell: truth[0] == cell for cell in range(1, int(truth[0].max()) + 1)}
    session = Session.from_array(image, model=loaded, window=WindowParams(margin=1, min_size=3))
    engine = TrackAll(session, TrackParams(seed_every=0))
    steps = list(engine.run(seeds, 0))
    assert [s.frame for s in steps] == [0, 1, 2, 3]
    windowed = session.tracker.windowed
    assert windowed.windows_used >= 1  # the frame after the seeds: windows at the seed boxes
    tracks = set(engine.lineage.tracks)
    for frame in range(4):
        assert set(np.unique(np.asarray(session.sink.read(frame)))) - {0} <= tracks
    stored = [session.tracker._outputs(i)["non_cond_frame_outputs"] for i in session.objects]
    assert any("window" in out for outputs in stored for out in outputs.values())


def test_keys_with_their_own_positions_equal_the_blockwise_rotation():
    """The lean attention's ``key_position_embeddings``, given the queries' positions, changes nothing."""
    model = load_model("random:tiny", device="cpu", precision="fp32").model
    attention = model.memory_attention
    cross = attention.layers[0].cross_attn_image
    tokens = attention.position_ids.shape[0]
    torch.manual_seed(0)
    query = torch.randn(1, 1, tokens, attention.config.memory_attention_hidden_size)
    key = torch.randn(1, 1, 2 * tokens + 4, 64)
    rope = attention.rotary_emb(query, attention.position_ids)
    with torch.inference_mode():
        plain, _ = cross(query, key, key, rope, num_k_exclude_rope=4)
        cross.key_position_embeddings = attention.rotary_emb(query, attention.position_ids.repeat(2, 1))
        try:
            own, _ = cross(query, key, key, rope, num_k_exclude_rope=4)
        finally:
            del cross.key_position_embeddings
    torch.testing.assert_close(own, plain)
