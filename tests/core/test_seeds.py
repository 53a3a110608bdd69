"""Seeds: the grid, the automatic-mask filters, seeds from label images and their errors."""

import numpy as np
import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.geometry import FrameGeometry
from napari_sam2.core.seeds import (
    MAX_SEEDS,
    SeedParams,
    filter_candidates,
    grid_points,
    grid_seeds,
    seeds_from_labels,
    stability_score,
)
from world import WorldTracker, disk, world_with_events


def test_grid_points_cover_the_frame_and_skip_covered_pixels():
    points = grid_points((100, 60), 4)
    assert points.shape == (16, 2)
    assert points[:, 0].min() == 12 and points[:, 0].max() == 87 and points[:, 1].max() == 52
    free = np.ones((100, 60), bool)
    free[:50] = False
    assert (grid_points((100, 60), 4, free)[:, 0] >= 50).all()
    assert len(grid_points((100, 60), 4, free)) == 8


def test_stability_is_the_iou_of_two_thresholds():
    logits = np.full((2, 10, 10), -5.0)
    logits[0, :4] = 5.0  # crisp: the same mask at +1 and -1
    logits[1, :4] = 0.5  # soft: 40 px above -1, none above +1
    logits[1, 4:6] = -0.5
    np.testing.assert_allclose(stability_score(logits, 1.0), [1.0, 0.0])


def test_filter_keeps_one_of_duplicates_drops_parts_and_bounds_areas():
    shape = (64, 64)
    cell = disk(shape, (20, 20), 8)
    again = disk(shape, (21, 20), 8)  # a duplicate (IoU > 0.5)
    part = disk(shape, (20, 20), 4)  # inside the cell
    other = disk(shape, (45, 45), 6)
    tiny = disk(shape, (5, 55), 2)
    huge = np.ones(shape, bool)
    kept = filter_candidates([cell, again, part, other, tiny, huge], SeedParams(min_area=20))
    assert len(kept) == 2
    assert (kept[0] == cell).all() and (kept[1] == other).all()


def test_kept_seeds_are_disjoint():
    shape = (64, 64)
    a, b = disk(shape, (30, 24), 10), disk(shape, (30, 38), 10)  # overlapping, IoU < 0.5
    kept = filter_candidates([a, b], SeedParams(min_area=20, contained=0.9))
    assert len(kept) == 2 and not (kept[0] & kept[1]).any() and kept[1].sum() < b.sum()


def test_grid_seeds_find_each_cell_once():
    world = world_with_events()
    tracker = WorldTracker(world)
    tracker.attach(FrameSource(world, axis=0))
    seeds = grid_seeds(tracker, FrameGeometry((96, 96), 96), 0, SeedParams(points_per_side=16, min_area=20))
    assert len(seeds) == 3
    assert sorted(int(np.bincount(world[0][s]).argmax()) for s in seeds) == [1, 2, 3]
    low = SeedParams(points_per_side=16, min_area=20, pred_iou=0.99)
    assert grid_seeds(tracker, FrameGeometry((96, 96), 96), 0, low) == []  # predicted IoU 0.95


def test_seeds_from_a_label_image_a_stack_and_their_errors():
    labels = np.zeros((3, 32, 40), np.int32)
    labels[1, 2:8, 2:8] = 7
    labels[1, 20:30, 20:30] = 65535
    seeds = seeds_from_labels(labels, (32, 40), frame=1, n_frames=3)
    assert sorted(seeds) == [7, 65535] and seeds[7].sum() == 36
    assert sorted(seeds_from_labels(labels[1], (32, 40))) == [7, 65535]
    with pytest.raises(InputError, match=r"shape \(32, 40\), the frames are \(40, 32\)"):
        seeds_from_labels(labels[1], (40, 32))
    with pytest.raises(InputError, match="needs 5 frames"):
        seeds_from_labels(labels, (32, 40), n_frames=5)
    big = labels[1].copy()
    big[0, 0] = 70000
    with pytest.raises(InputError, match="ids up to 70000, above 65535"):
        seeds_from_labels(big, (32, 40))
    with pytest.raises(InputError, match="negative"):
        seeds_from_labels(-labels[1], (32, 40))
    with pytest.raises(InputError, match="fractional"):
        seeds_from_labels(labels[1] * 0.5, (32, 40))
    for error in ("ids up to", "shape"):
        try:
            seeds_from_labels(big if error == "ids up to" else labels[1], (32, 40) if error != "shape"
                              else (1, 1))
        except InputError as err:
            assert "\n" not in str(err)


def test_too_many_seeds_are_refused_with_the_limit():
    side = int(np.ceil(np.sqrt(MAX_SEEDS + 1)))
    labels = np.arange(1, side * side + 1, dtype=np.int32).reshape(side, side)
    with pytest.raises(InputError, match=f"more than the {MAX_SEEDS} objects"):
        seeds_from_labels(labels, labels.shape)


def test_decode_points_and_seeds_with_the_demo_model():
    """The real decoder: every candidate of each point, and seeds that are cells."""
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(1, (192, 192), n_cells=6, seed=1)
    session = Session.from_array(image, model="demo", device="cpu")
    points = session.geometry.points_to_model(np.array([[10, 10], [100, 100], [50, 150]]))
    logits, ious, presence = session.tracker.decode_points(0, points)
    assert logits.shape[:2] == (3, 3) and ious.shape == (3, 3) and presence.shape == (3,)
    seeds = grid_seeds(session.tracker, session.geometry, 0)
    assert seeds
    good = 0
    for seed in seeds:
        under = truth[0][seed]
        cell = truth[0] == np.bincount(under).argmax()
        good += (seed & cell).sum() / (seed | cell).sum() >= 0.5
    assert good >= 0.6 * len(seeds) and good >= 2


def test_the_kept_masks_predicted_iou_is_reported():
    """FrameResult.ious: the model's score of the kept mask; NaN for mask prompts."""
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_timelapse

    image, truth = synthetic_timelapse(3, (128, 128), n_cells=3, seed=2)
    session = Session.from_array(image, model="demo", device="cpu")
    rows, cols = np.nonzero(truth[0] == 1)
    clicked = session.add_points(1, 0, [[int(rows.mean()), int(cols.mean())]])
    assert 0 < clicked.ious[0] <= 1.5
    masked = session.add_mask(2, 0, truth[0] == 2)
    assert np.isnan(masked.ious[0])
    tracked = list(session.propagate("forward"))
    assert all(np.isfinite(r.ious).all() for r in tracked)
