import numpy as np

from napari_sam2.core.geometry import FrameGeometry
from napari_sam2.core.prompts import FramePrompt


def test_points_flip_to_xy_and_scale_per_axis():
    geo = FrameGeometry((100, 200), 64)
    xy = geo.points_to_model([[10, 20], [99, 199]])
    assert np.allclose(xy[0], [(20 + 0.5) * 64 / 200, (10 + 0.5) * 64 / 100])
    assert np.allclose(xy[1], [(199.5) * 0.32, 99.5 * 0.64])


def test_box_corners_cover_the_pixels():
    geo = FrameGeometry((100, 200), 100)
    assert np.allclose(geo.box_to_model((10, 20, 29, 59)), [10, 10, 30, 30])


def test_logits_and_masks_round_trip():
    geo = FrameGeometry((60, 90), 64)
    mask = np.zeros((60, 90), bool)
    mask[10:30, 40:80] = True
    model_mask = geo.mask_to_model(mask)
    assert model_mask.shape == (64, 64)
    back = geo.logits_to_frame((model_mask[None] - 0.5) * 20) > 0
    assert np.mean(back == mask) > 0.98


def test_model_input_is_normalised_square():
    geo = FrameGeometry((60, 90), 32)
    image = np.ones((60, 90, 3), np.float32)
    tensor = geo.image_to_model(image, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert tuple(tensor.shape) == (3, 32, 32)
    assert np.allclose(tensor.numpy(), 2.0)


def test_mask_prompt_replaces_points():
    geo = FrameGeometry((10, 10), 16)
    prompt = geo.prompt_to_model(FramePrompt(mask=np.ones((10, 10), bool)))
    assert prompt.mask.shape == (16, 16) and len(prompt.points_xy) == 0


def test_a_box_is_two_corner_points_placed_first():
    from napari_sam2.core.geometry import points_with_box

    coords, labels = points_with_box([[5, 6]], [0], [1, 2, 30, 40])
    assert coords.tolist() == [[1, 2], [30, 40], [5, 6]] and labels.tolist() == [2, 3, 0]
    coords, labels = points_with_box([[5, 6]], [1])
    assert coords.tolist() == [[5, 6]] and labels.tolist() == [1]
