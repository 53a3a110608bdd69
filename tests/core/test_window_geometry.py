"""Windows of the feature map: placement, clamping at the borders, crop and paste, the window= option."""

import numpy as np
import pytest
import torch

from napari_sam2.core.errors import InputError
from napari_sam2.core.window_geometry import (
    WindowParams,
    box_of_logits,
    choose_window,
    crop_map,
    crop_tokens,
    full_window,
    intersect,
    paste_map,
    resolve_window,
    token_index,
)

MAP = (32, 32)


def test_window_is_the_box_plus_margin_at_least_min_size():
    params = WindowParams(margin=2, min_size=4)
    assert choose_window((10, 12, 13, 14), MAP, params) == (8, 10, 15, 16)
    # a one-cell box grows to the minimum size, centred
    assert choose_window((10, 10, 11, 11), MAP, WindowParams(margin=0, min_size=6)) == (7, 7, 13, 13)


@pytest.mark.parametrize("box, expected", [
    ((0, 0, 2, 2), (0, 0, 12, 12)),          # top-left corner: shifted inside, full size kept
    ((30, 31, 32, 32), (20, 20, 32, 32)),    # bottom-right corner
    ((0, 15, 1, 17), (0, 10, 12, 22)),       # top edge
])
def test_windows_at_the_border_stay_inside_the_map_with_their_size(box, expected):
    window = choose_window(box, MAP, WindowParams(margin=4, min_size=12))
    assert window == expected
    assert window[2] - window[0] == 12 and window[3] - window[1] == 12


def test_lost_or_big_objects_get_the_whole_map():
    params = WindowParams(margin=4, min_size=12, max_share=0.5)
    assert choose_window(None, MAP, params) == full_window(MAP)
    assert choose_window((4, 4, 20, 20), MAP, params) == full_window(MAP)  # 24 x 24 > half the map
    assert choose_window((4, 4, 10, 10), MAP, params) != full_window(MAP)
    # a map smaller than the minimum window: the whole map
    whole = WindowParams(margin=1, min_size=12, max_share=1.0)
    assert choose_window((1, 1, 2, 2), (8, 8), whole) == (0, 0, 8, 8)


def test_box_of_logits_in_cells():
    logits = np.full((128, 128), -5.0)
    logits[9:20, 40:45] = 3.0  # rows 9..19 -> cells 2..4, cols 40..44 -> cells 10..11
    assert box_of_logits(logits, 4) == (2, 10, 5, 12)
    assert box_of_logits(np.full((128, 128), -1.0), 4) is None


def test_crop_tokens_and_maps_agree_and_paste_restores_the_window():
    feature_map = torch.arange(32 * 32, dtype=torch.float32).reshape(1, 1, 32, 32)
    tokens = feature_map.flatten(2).permute(2, 0, 1)  # (H*W, 1, C) as SAM2 keeps them
    for window in [(0, 0, 12, 12), (20, 20, 32, 32), (5, 7, 17, 19), full_window(MAP)]:
        cropped = crop_map(feature_map, window)
        assert torch.equal(crop_tokens(tokens, window, MAP)[:, 0, 0], cropped.flatten())
        fine = torch.randn(1, 1, 128, 128)
        part = crop_map(fine, window, 4)
        pasted = paste_map(part, window, (128, 128), fill=-1024.0)
        inside = torch.zeros(128, 128, dtype=torch.bool)
        inside[window[0] * 4:window[2] * 4, window[1] * 4:window[3] * 4] = True
        assert torch.equal(pasted[0, 0][inside], fine[0, 0][inside])
        assert bool((pasted[0, 0][~inside] == -1024.0).all())


def test_token_index_and_intersection():
    a, b = (2, 2, 8, 8), (6, 5, 12, 12)
    assert intersect(a, b) == (6, 5, 8, 8)
    assert intersect(a, (8, 8, 10, 10)) is None
    grid = np.arange(6 * 6).reshape(6, 6)  # the tokens of window a, row-major
    assert list(token_index((6, 5, 8, 8), a)) == list(grid[4:6, 3:6].ravel())


def test_window_option():
    assert resolve_window(True) == WindowParams()
    assert resolve_window(False) is None
    assert resolve_window(WindowParams(margin=1)) == WindowParams(margin=1)
    with pytest.raises(InputError, match="window="):
        resolve_window("yes")
