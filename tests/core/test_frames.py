import re

import dask.array as da
import numpy as np
import pytest
import zarr

from napari_sam2.core.frames import FrameSource, InputError, Normalization


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint32, np.float32, np.float64])
def test_every_dtype_normalises_to_unit_range(dtype):
    rng = np.random.default_rng(0)
    data = (rng.random((4, 20, 30)) * 200 + 10).astype(dtype)
    frame = FrameSource(data).frame(2)
    assert frame.shape == (20, 30, 3) and frame.dtype == np.float32
    assert frame.min() == 0.0 and frame.max() == 1.0
    assert np.array_equal(frame[..., 0], frame[..., 2])  # grey replicated


def test_percentiles_ignore_a_16bit_offset():
    data = np.full((3, 10, 10), 32768, np.uint16)
    data[:, :5] += 1000
    frame = FrameSource(data).frame(0)
    assert frame[0, 0, 0] == 1.0 and frame[9, 9, 0] == 0.0


def test_per_stack_limits_keep_brightness_changes_per_frame_removes_them():
    data = np.stack([np.linspace(0, 100, 400).reshape(20, 20) * s for s in (1, 2)]).astype(np.float32)
    stack = FrameSource(data, normalization=Normalization(0, 100, per="stack"))
    frame = FrameSource(data, normalization=Normalization(0, 100, per="frame"))
    assert stack.frame(0).max() == pytest.approx(0.5, abs=0.01)
    assert frame.frame(0).max() == pytest.approx(1.0)


def test_axis_and_channels_pick_the_right_planes():
    data = np.zeros((20, 2, 4, 30), np.uint16)  # (row, channel, z, col)
    for z in range(4):
        for c in range(2):
            data[:, c, z, :] = 100 * z + 10 * c
    data[0, :, :, 0] = 1000  # a bright corner so every frame has contrast
    src = FrameSource(data, axis=2, channel_axis=1, channels=[1, 0])
    assert src.n_frames == 4 and src.frame_shape == (20, 30)
    raw = src.raw(3)
    assert raw.shape == (20, 30, 2)
    assert raw[5, 5].tolist() == [310, 300]
    rgb = src.frame(3)
    assert rgb.shape == (20, 30, 3) and np.all(rgb[..., 2] == 0)


def test_reads_lazily_from_dask_and_zarr(tmp_path):
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(50, 16, 16), chunks=(1, 16, 16),
                        dtype=np.uint16)
    z[:] = np.arange(50, dtype=np.uint16)[:, None, None] * np.ones((16, 16), np.uint16)
    z[:, 0, 0] = 5000
    for data in (z, da.from_zarr(z)):
        src = FrameSource(data, normalization=Normalization(sample_frames=4))
        src.frame(10)
        assert src.reads == 5  # 4 sample frames + the frame itself


@pytest.mark.parametrize(
    "kwargs, shape, message",
    [
        ({}, (5,), "1 dimensions"),
        ({"axis": None}, (2, 5, 5), "or one 2D image"),
        ({}, (2, 5, 5, 5), "pass channel_axis"),
        ({"axis": 3}, (2, 5, 5), "out of range"),
        ({"channel_axis": 0}, (2, 5, 5, 5), "must differ"),
        ({"channel_axis": 1, "channels": [2]}, (4, 2, 5, 5), "channel 2 does not exist"),
        ({"channel_axis": 1, "channels": [0, 1, 0, 1]}, (4, 2, 5, 5), "one to three"),
    ],
)
def test_bad_shapes_and_axes_say_what_to_do(kwargs, shape, message):
    with pytest.raises(InputError, match=message):
        FrameSource(np.zeros(shape, np.uint8), **kwargs)


def test_frame_out_of_range():
    with pytest.raises(InputError, match=r"frame 7 does not exist: the stack has frames 0..4"):
        FrameSource(np.zeros((5, 4, 4))).frame(7)


def test_nan_and_constant_frames_warn_and_give_valid_images():
    data = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    data[1, :4] = np.nan
    src = FrameSource(data)
    with pytest.warns(UserWarning, match=r"frame 1 contains 32 non-finite values \(NaN\)"):
        frame = src.frame(1)
    assert np.isfinite(frame).all()
    constant = FrameSource(np.full((3, 8, 8), 7, np.uint16))
    with pytest.warns(UserWarning, match="constant intensity"):
        assert not constant.frame(0).any()
    all_nan = FrameSource(np.full((2, 8, 8), np.nan, np.float32))
    with pytest.warns(UserWarning, match=r"frame 0 contains only non-finite values \(NaN\)"):
        assert np.isfinite(all_nan.frame(0)).all()


def _expected(data, picks, index, low=0.5, high=99.5):
    lo, hi = np.percentile(data[picks], [low, high])
    return np.clip((data[index] - lo) / (hi - lo), 0, 1).astype(np.float32)


def test_an_all_inf_sampled_frame_is_left_out_of_the_limits_and_named():
    """A 20 x 256 x 256 stack, frame 0 (always sampled) all +Inf: the others normalise as without it."""
    rng = np.random.default_rng(2)
    data = (rng.gamma(2.0, 300.0, (20, 256, 256)) + 100).astype(np.float32)
    bad = data.copy()
    bad[0] = np.inf
    picks = np.unique(np.linspace(0, 19, 8).round().astype(int))
    src = FrameSource(bad)
    with pytest.warns(UserWarning, match=r"sampled frame\(s\) 0 have no finite values"):
        for j in (5, 19):
            np.testing.assert_allclose(src.frame(j)[..., 0], _expected(data, picks[1:], j), atol=1e-5)
    assert 0.1 < src.frame(7).mean() < 0.5  # not saturated (was all 1: NaN limits)
    with pytest.warns(UserWarning, match=r"frame 0 contains only non-finite values \(\+Inf\)"):
        assert not src.frame(0).any()


@pytest.mark.parametrize("value, shown", [(np.inf, "+Inf"), (-np.inf, "-Inf"), (np.nan, "NaN")])
def test_non_finite_pixels_are_excluded_and_reported_per_frame(value, shown):
    data = np.random.default_rng(3).random((6, 32, 32)).astype(np.float32)
    bad = data.copy()
    bad[2, :4, :4] = value
    clean = np.where(np.isfinite(bad), bad, np.nan)
    lo, hi = np.nanpercentile(clean[np.unique(np.linspace(0, 5, 6).round().astype(int))], [0.5, 99.5])
    src = FrameSource(bad)
    with pytest.warns(UserWarning, match=rf"frame 2 contains 16 non-finite values \({re.escape(shown)}\)"):
        frame = src.frame(2)[..., 0]
    assert np.isfinite(frame).all()
    np.testing.assert_allclose(frame[4:], np.clip((bad[2, 4:] - lo) / (hi - lo), 0, 1), atol=1e-5)
    assert (frame[:4, :4] == (1.0 if value == np.inf else 0.0)).all()  # +Inf bright, -Inf/NaN dark


@pytest.mark.parametrize("value, shown", [(-np.inf, "-Inf"), (np.inf, "+Inf"), (np.nan, "NaN")])
def test_an_all_non_finite_stack_says_which_values(value, shown):
    src = FrameSource(np.full((2, 8, 8), value, np.float32))
    with pytest.warns(UserWarning, match=rf"no finite values \({re.escape(shown)}\) in the sampled"):
        assert np.array_equal(src.limits()[0], [0])
    per_frame = FrameSource(np.full((2, 8, 8), value, np.float32),
                            normalization=Normalization(per="frame"))
    with pytest.warns(UserWarning, match=rf"frame 1 contains only non-finite values \({re.escape(shown)}\)"):
        assert not per_frame.frame(1).any()


@pytest.mark.parametrize("shape, kwargs", [
    ((20, 30), {}),                            # a grey image
    ((20, 30), {"axis": None}),
    ((20, 30, 3), {"channel_axis": 2, "channels": (0, 1, 2)}),  # an RGB photo
    ((2, 20, 30), {"channel_axis": 0, "channels": (1,)}),       # two channels first
])
def test_a_single_2d_image_is_a_stack_of_one_frame(shape, kwargs):
    rng = np.random.default_rng(4)
    data = rng.integers(0, 255, shape).astype(np.uint8)
    source = FrameSource(zarr.array(data) if len(shape) == 2 else data, **kwargs)
    assert source.axis is None and source.n_frames == 1 and source.frame_shape == (20, 30)
    frame = source.frame(0)
    assert frame.shape == (20, 30, 3)
    channel = kwargs.get("channel_axis")
    first = data if channel is None else np.moveaxis(data, channel, -1)[..., kwargs["channels"][0]]
    assert np.corrcoef(frame[..., 0].ravel(), first.ravel())[0, 1] > 0.99  # the right plane, not rotated
    with pytest.raises(InputError, match="frame 1 does not exist: the stack has frames 0..0"):
        source.frame(1)
