"""Axes: the user's letters over the file's over a guess; metadata that lies; lazy selections."""

import numpy as np
import pytest
import tifffile
import zarr

from conftest import CountingArray
from napari_sam2.core.axes import check_letters, guess_letters, resolve_axes
from napari_sam2.core.errors import InputError
from napari_sam2.core.io import open_image, read_image
from napari_sam2.core.prompt_files import ObjectPrompts
from napari_sam2.core.stack_view import AxisView, open_stack, parse_range, select_axes, view_prompts

TZYX = np.arange(20 * 5 * 6 * 7, dtype=np.uint16).reshape(20, 5, 6, 7)


def test_the_issue_line():
    axes = resolve_axes((20, 5, 443, 512), file_axes="TZYX", file_source="from ImageJ metadata")
    assert axes.describe().startswith(
        "read as T=20 Z=5 Y=443 X=512 (from ImageJ metadata; --axes to change)")
    assert axes.volumes and axes.axis is None and axes.channel_axis is None
    assert (axes.t, axes.z, axes.c, axes.y, axes.x) == (0, 1, None, 2, 3)
    assert axes.describe(option="axes=").endswith("volumes over time: T (20) and Z (5)")


@pytest.mark.parametrize("letters, shape, axis, channel, volumes", [
    ("tzyx", (20, 5, 8, 9), None, None, True),
    ("ZYX", (5, 8, 9), 0, None, False),
    ("TYX", (20, 8, 9), 0, None, False),
    ("TCZYX", (20, 2, 5, 8, 9), None, 1, True),
    ("CTYX", (2, 20, 8, 9), 1, 0, False),
    ("YXS", (8, 9, 3), None, 2, False),
    ("TYXS", (4, 8, 9, 3), 0, 3, False),
    ("ZTYX", (5, 1, 8, 9), 0, None, False),  # T of one: a z-stack
    ("YTX", (8, 20, 9), 1, None, False),
])
def test_user_letters_give_the_roles(letters, shape, axis, channel, volumes):
    axes = resolve_axes(shape, letters, file_axes="QQQQQ"[:len(shape)])
    assert axes.letters == letters.upper() and axes.source == "from --axes"
    assert (axes.axis, axes.channel_axis, axes.volumes) == (axis, channel, volumes)


def test_user_letters_win_over_the_file_and_old_options_still_work():
    axes = resolve_axes((20, 5, 8, 9), "TZYX", file_axes="ZCYX", file_source="from ImageJ metadata")
    assert axes.letters == "TZYX" and axes.volumes and not axes.warnings
    old = resolve_axes((20, 5, 8, 9), "TZYX", axis="t", channel_axis="z")  # z as channels, as before
    assert (old.axis, old.channel_axis, old.volumes) == (0, 1, False)
    assert resolve_axes((20, 5, 8, 9), "TZYX", axis="1").axis == 1


@pytest.mark.parametrize("text, message", [
    ("TQYX", "axes 'TQYX' has 'Q': use only the letters T Z C Y X S"),
    ("TTYX", "axes 'TTYX' repeats T"),
    ("TYX", "axes 'TYX' has 3 letters but the image has 4 dimensions: give one letter per "
            "dimension of (20, 5, 8, 9), e.g. TZYX"),
    ("TZCY", "axes 'TZCY' has no X"),
    ("CYXS", "axes 'CYXS' has both C and S"),
])
def test_bad_letters_say_what_to_do(text, message):
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_letters(text, (20, 5, 8, 9))
    with pytest.raises(InputError) as err:
        resolve_axes((20, 5, 8, 9), text)
    assert "\n" not in str(err.value)


def test_a_wrong_old_option_speaks_the_users_letters():
    axes = resolve_axes((20, 5, 8, 9), file_axes="QQYX")  # tifffile's codes: not names
    assert axes.source == "guessed" and axes.letters == "TZYX"
    assert resolve_axes((20, 5, 8, 9), file_axes="QQYX", axis="t").axis == 0  # `--axis t` works
    with pytest.raises(InputError) as err:
        resolve_axes((20, 5, 8, 9), file_axes="QQYX", axis="q")
    assert "one of the image's axes TZYX (guessed)" in str(err.value) and "Q" not in err.value.message[5:]


@pytest.mark.parametrize("shape, letters", [
    ((8, 9), "YX"), ((8, 9, 3), "YXS"), ((6, 8, 9), "TYX"), ((4, 8, 9, 3), "TYXS"),
    ((20, 5, 8, 9), "TZYX"), ((20, 2, 8, 9), "TCYX"), ((3, 20, 8, 9), "CTYX"),
    ((20, 5, 2, 8, 9), "TZCYX"),
])
def test_guesses(shape, letters):
    assert guess_letters(shape) == letters


# ------------------------------------------------------------ real files


def test_imagej_and_ome_name_their_axes(tmp_path):
    tifffile.imwrite(tmp_path / "ij.tif", TZYX, imagej=True, metadata={"axes": "TZYX"})
    tifffile.imwrite(tmp_path / "ome.tif", TZYX, ome=True, metadata={"axes": "TZYX"})
    tifffile.imwrite(tmp_path / "plain.tif", TZYX)  # tifffile names it QQYX
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((8, 9, 3), np.uint8), photometric="rgb")
    for name, letters, source in (("ij", "TZYX", "from ImageJ metadata"),
                                  ("ome", "TZYX", "from OME metadata"), ("plain", None, None),
                                  ("rgb", "YXS", "from the TIFF description")):
        image = read_image(tmp_path / f"{name}.tif")
        assert image.axes == letters and (letters is None or image.source == source)
        assert not image.warnings
    data, axes = open_stack(tmp_path / "plain.tif")
    assert axes.describe().startswith("read as T=20 Z=5 Y=6 X=7 (guessed; --axes to change)")
    np.testing.assert_array_equal(data[3, 2], TZYX[3, 2])


def test_imagej_metadata_that_lies_is_shown_or_refused(tmp_path):
    # the issue's example: truth T=20 Z=5 saved as channels=5 slices=20 (sizes multiply out)
    tifffile.imwrite(tmp_path / "lie.tif", TZYX, imagej=True, metadata={"axes": "ZCYX"})
    data, axes = open_stack(tmp_path / "lie.tif")
    line = axes.describe()
    assert line.startswith("read as Z=20 C=5 Y=6 X=7 (from ImageJ metadata")
    assert "propagating along Z (20); channel(s) 0 of C (5)" in line
    assert any("C has 5 entries" in w for w in axes.warnings)
    data, axes = open_stack(tmp_path / "lie.tif", "TZYX")  # the user's letters fix it
    assert axes.volumes and not axes.warnings
    np.testing.assert_array_equal(data[:], TZYX)

    pages = TZYX.reshape(100, 6, 7)
    tifffile.imwrite(tmp_path / "short.tif", pages, metadata=None, description=(
        "ImageJ=1.11a\nimages=100\nslices=20\nframes=4\nhyperstack=true\n"))
    image = read_image(tmp_path / "short.tif")  # 80 of 100 pages described: read, with a warning
    assert image.array.shape == (4, 20, 6, 7)
    assert image.warnings == ("short.tif: ImageJ metadata says slices=20, frames=4 (80 images) but "
                              "the file holds 100 pages; read as described, 20 page(s) are left "
                              "out; fix the sizes (Fiji: Image > Properties) and save again, or name "
                              "the axes with 3 letters (e.g. ZYX or TYX) to read the pages as one "
                              "stack",)
    tifffile.imwrite(tmp_path / "more.tif", pages, metadata=None, description=(
        "ImageJ=1.11a\nimages=105\nchannels=3\nslices=7\nframes=5\nhyperstack=true\n"))
    with pytest.raises(InputError, match="channels=3, slices=7, frames=5 .105 images. but the file "
                       "holds 100 pages: it cannot be read as described") as err:
        open_image(tmp_path / "more.tif")
    assert err.value.fix == ("axes", None)
    for name in ("short", "more"):  # the pages as one stack, when asked for with their letters
        data, axes = open_stack(tmp_path / f"{name}.tif", "TYX")
        assert data.shape == (100, 6, 7) and "read as the plain pages" in axes.warnings[0]
        np.testing.assert_array_equal(data[37], pages[37])


def test_ome_sizes_that_do_not_multiply_out_are_refused(tmp_path):
    tifffile.imwrite(tmp_path / "ome.tif", TZYX[:12], ome=True, metadata={"axes": "TZYX"})
    xml = tifffile.tiffcomment(tmp_path / "ome.tif")
    tifffile.tiffcomment(tmp_path / "ome.tif", xml.replace('SizeT="12"', 'SizeT="20"'))
    with pytest.raises(InputError, match="OME metadata says SizeT=20 SizeZ=5 SizeC=1 .100 images. but "
                       "the file holds 60 pages: it cannot be read as described"):
        read_image(tmp_path / "ome.tif")
    data, axes = open_stack(tmp_path / "ome.tif", "ZYX")
    assert data.shape == (60, 6, 7)


def test_zarr_attributes_name_axes(tmp_path):
    array = zarr.create_array(str(tmp_path / "a.zarr"), shape=(4, 6, 7), dtype="u2",
                              dimension_names=None, attributes={"_ARRAY_DIMENSIONS": ["z", "y", "x"]})
    array[:] = TZYX[0, :4]
    image = read_image(tmp_path / "a.zarr")
    assert (image.axes, image.source) == ("ZYX", "from the zarr attributes")


# ------------------------------------------------------------ selections


@pytest.mark.parametrize("text, size, expected", [
    ("3", 20, (3, 4)), ("10:20", 20, (10, 20)), (":5", 20, (0, 5)), ("15:", 20, (15, 20))])
def test_ranges(text, size, expected):
    assert parse_range(text, size, "frames") == expected


@pytest.mark.parametrize("text", ["20", "5:5", "a", "3:30", "-1"])
def test_bad_ranges(text):
    with pytest.raises(InputError, match="frames"):
        parse_range(text, 20, "frames")


def test_selections_are_lazy_views_in_the_stored_numbers():
    counting = CountingArray(TZYX)
    axes = resolve_axes(TZYX.shape, "TZYX")
    view, sub = select_axes(counting, axes, frames="10:14")
    assert counting.reads == {} and view.shape == (4, 5, 6, 7)
    assert sub.volumes and sub.start == (10, 0, 0, 0) and sub.selection() == {"t": [10, 14]}
    np.testing.assert_array_equal(view[2, 3], TZYX[12, 3])
    assert counting.reads == {12: 1}
    view, sub = select_axes(TZYX, axes, frames="3")  # one time point: a z-stack
    assert sub.letters == "ZYX" and sub.axis == 0 and sub.selection() == {"t": [3, 4]}
    assert "selected T 3; propagating along Z (5)" in sub.describe()
    np.testing.assert_array_equal(np.asarray(view), TZYX[3])
    view, sub = select_axes(TZYX, axes, frames="2:6", planes="1")
    assert sub.letters == "TYX" and sub.offset(sub.axis) == 2 and sub.kept == (0, 2, 3)
    np.testing.assert_array_equal(np.asarray(view), TZYX[2:6, 1])


def test_axis_view_indexing_matches_numpy():
    view = AxisView(TZYX, (1, slice(1, 4), slice(None), slice(None, None, -1)))
    expected = TZYX[1, 1:4, :, ::-1]
    for key in ((...,), (2,), (slice(0, 2), 3), (Ellipsis, slice(None, None, 2)), (-1, -2, 1),
                (slice(3, 0, -1),), (slice(5, 9),)):
        np.testing.assert_array_equal(view[key], expected[key])


def test_prompts_keep_the_stored_numbers():
    axes = resolve_axes((20, 6, 7), "TYX")
    view, sub = select_axes(TZYX[:, 0], axes, frames="10:14")
    obj = ObjectPrompts(1, prompts={11: "a", 2: "b"})
    with pytest.warns(UserWarning, match=r"prompts on frame\(s\) 2 are outside the selection \(t 10:14\)"):
        (shifted,) = view_prompts([obj], sub, sub.axis, 4)
    assert shifted.prompts == {1: "a"}
    with pytest.raises(InputError, match="object 2 has no prompt inside the selection"):
        view_prompts([ObjectPrompts(2, prompts={0: "c"})], sub, sub.axis, 4)


def test_a_session_from_an_array_with_axes(tiny_model):
    from napari_sam2.core.session import Session

    session = Session.from_array(TZYX[:, 0].transpose(1, 0, 2), model=tiny_model, axes="ytx")
    assert (session.source.axis, session.source.n_frames, session.source.frame_shape) == (1, 20, (6, 7))
    session = Session.from_array(TZYX[:, :3], model=tiny_model, axes="TCYX", channels=(0, 1, 2))
    assert (session.source.axis, session.source.channel_axis) == (0, 1)
    with pytest.raises(InputError, match="read as T=20 Z=5 Y=6 X=7 .from axes=; axes= to change.; "
                       "volumes over time"):
        Session.from_array(TZYX, model=tiny_model, axes="TZYX")


def test_letters_alone_before_the_image_is_opened():
    assert check_letters(" tzyx ", None) == "TZYX"  # no shape: any count of valid letters
    with pytest.raises(InputError, match=r"^row 3: axes 'TQX' has 'Q': .*e\.g\. TYX\)$"):
        check_letters("TQX", None, what="row 3: axes")
