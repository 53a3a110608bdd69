"""Axis letters of real napari image layers: what the layer says, checks for the widget, writing them."""

import numpy as np
import pytest
from napari.layers import Image

from napari_sam2._napari.layer_axes import apply_letters, layer_letters, named_letters, widget_axes
from napari_sam2.core.errors import InputError


def test_letters_from_the_axis_labels_else_the_file_else_a_guess():
    data = np.zeros((5, 6, 32, 40), np.uint8)
    assert layer_letters(Image(data, axis_labels=("time", "z", "row", "col"))) == (
        "TZYX", "from the layer's axis labels")
    assert layer_letters(Image(data, metadata={"axes": "ztyx"})) == ("ZTYX", "from the file")
    assert layer_letters(Image(data, metadata={"axes": "QQYX"})) == ("TZYX", "guessed")  # not ours
    assert layer_letters(Image(np.zeros((40, 50, 3), np.uint8), rgb=True)) == ("YXS", "guessed")
    assert named_letters(Image(data)) is None  # napari's "-4", "-3"... name nothing


@pytest.mark.parametrize(("text", "message"), [
    ("TZYQ", "has 'Q': use only the letters T Z C Y X S"),
    ("TZY", "has 3 letters but the image has 4 dimensions"),
    ("TZXY", "reads rows before columns (Y before X)"),
    ("TYXZ", "volumes over time with Y and X last"),
])
def test_letters_the_widget_cannot_read_are_refused_saying_what_to_do(text, message):
    layer = Image(np.zeros((4, 6, 32, 40), np.uint8), name="nuclei")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        widget_axes(layer, text)


def test_rgb_colours_last_and_no_channels_in_volumes_or_5d():
    with pytest.raises(InputError, match="as RGB, its last axis holds the colours: end the letters with S"):
        widget_axes(Image(np.zeros((40, 50, 3), np.uint8), rgb=True, name="photo"), "SYX")
    with pytest.raises(InputError, match="at most 4 dimensions.*--axes TZCYX"):
        widget_axes(Image(np.zeros((4, 6, 2, 32, 40), np.uint8)), "TZCYX")
    with pytest.raises(InputError, match="volumes over time without channels.*--axes TZYXS"):
        widget_axes(Image(np.zeros((4, 6, 32, 40, 3), np.uint8), rgb=True), "TZYXS")


def test_roles_as_the_cli_gives_them_and_the_letters_written_to_the_layer():
    layer = Image(np.zeros((3, 8, 32, 40), np.uint8), axis_labels=("t", "c", "y", "x"))
    axes = widget_axes(layer, "ctyx")
    assert (axes.letters, axes.axis, axes.channel_axis, axes.source) == ("CTYX", 1, 0, "typed")
    assert apply_letters(layer, axes.letters) and layer.axis_labels == ("c", "t", "y", "x")
    assert not apply_letters(layer, "CTYX")  # unchanged
    assert widget_axes(layer, "TZYX").volumes
    rgb = Image(np.zeros((5, 40, 50, 3), np.uint8), rgb=True)
    assert apply_letters(rgb, "TYXS") and rgb.axis_labels == ("t", "y", "x")  # colours: no dimension
    grey = Image(np.zeros((40, 50, 3), np.uint8), rgb=False)
    assert apply_letters(grey, "YXS") and grey.axis_labels == ("y", "x", "c")  # S of a grey layer: c
