"""Held-out scores (training/heldout.py) with the demo model: whole-map and windowed propagation."""

import numpy as np
import pytest

from napari_sam2.core.models import load_model
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.core.window_geometry import WindowParams
from napari_sam2.training.heldout import propagation_scores


@pytest.fixture(scope="module")
def demo():
    return load_model("demo", device="cpu")


@pytest.fixture(scope="module")
def stack():
    return synthetic_timelapse(5, (96, 96), n_cells=3, seed=3, divisions=False)


def test_whole_map_propagation_reports_scores_and_cpu_time_but_no_window_counts(demo, stack):
    image, labels = stack
    run = propagation_scores(demo, image, labels)
    assert 0.5 < run["jf"] <= 1.0 and run["jf"] == pytest.approx((run["j"] + run["f"]) / 2)
    assert run["cpu_seconds"] > 0
    assert "windowed_steps" not in run


def test_windowed_propagation_counts_its_steps_and_stays_close_to_the_whole_map(demo, stack):
    image, labels = stack
    cells = len(np.unique(labels[0])) - 1
    whole = propagation_scores(demo, image, labels)
    small = propagation_scores(demo, image, labels, window=WindowParams(margin=2, min_size=6))
    assert small["windowed_steps"] > 0
    assert small["windowed_steps"] + small["full_map_steps"] == cells * (len(image) - 1)
    assert abs(small["jf"] - whole["jf"]) < 0.1
    as_map = propagation_scores(demo, image, labels, window=WindowParams(max_share=0.0))
    assert as_map["windowed_steps"] == 0 and as_map["jf"] == pytest.approx(whole["jf"])
