"""_napari/layers.py on real napari layer objects, without a viewer or Qt."""

import re

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Labels, Points, Shapes

from napari_sam2._napari.layers import (
    NEGATIVE_BORDER,
    PALETTE,
    POSITIVE_BORDER,
    LayerSink,
    StackAxes,
    add_session_layers,
    changed_prompts,
    color_points,
    guess_axes,
    label_colormap,
    label_masks,
    prompts_from_layers,
    remove_object_prompts,
)
from napari_sam2.core.errors import InputError
from napari_sam2.core.prompts import FramePrompt

FRAME_SHAPE = (40, 50)  # rows, cols: not square, so a row/col swap shows
SCALE = np.array([2.0, 0.5, 0.25])
TRANSLATE = np.array([10.0, -3.0, 7.0])
AXES = StackAxes(0, (1, 2))


# ---------------------------------------------------------------- guess_axes
@pytest.mark.parametrize("labels, expected", [
    (("t", "y", "x"), StackAxes(0, (1, 2))),
    (("a", "b", "c"), StackAxes(0, (1, 2))),  # unnamed: the first axis is the stack
])
def test_3d_stack_axis_is_the_first(labels, expected):
    assert guess_axes(Image(np.zeros((5, 8, 9)), axis_labels=labels)) == expected


@pytest.mark.parametrize("labels, expected", [
    (("t", "c", "y", "x"), StackAxes(0, (2, 3), channel_axis=1)),
    (("Channel", "z", "y", "x"), StackAxes(1, (2, 3), channel_axis=0)),
    (("z", "y", "x", "ch"), StackAxes(0, (1, 2), channel_axis=3)),
])
def test_4d_channel_axis_from_its_label(labels, expected):
    assert guess_axes(Image(np.zeros((3, 4, 8, 9)), axis_labels=labels)) == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({"axis_labels": ("y", "t", "x")}, StackAxes(1, (0, 2))),
    ({"axis_labels": ("row", "col", "z")}, StackAxes(2, (0, 1))),
    ({"metadata": {"axes": "YTX"}}, StackAxes(1, (0, 2))),  # the file's letters, unnamed layer
    ({"metadata": {"axes": "YTX"}, "axis_labels": ("t", "y", "x")}, StackAxes(0, (1, 2))),  # labels win
])
def test_the_stack_axis_is_found_by_name_wherever_it_is(kwargs, expected):
    layer = Image(np.zeros((8, 5, 9)), **kwargs)
    assert guess_axes(layer) == expected


def test_prompts_on_a_y_t_x_layer_land_on_their_time_point():
    image = Image(np.zeros((8, 5, 9)), axis_labels=("y", "t", "x"))
    points = Points(np.array([[3.0, 2.0, 6.0]]), features={"object_id": [4], "positive": [True]})
    prompts = prompts_from_layers(points, None, image, guess_axes(image), (8, 9))
    assert list(prompts) == [(4, 2)]
    np.testing.assert_allclose(prompts[(4, 2)].points, [[3, 6]])


def test_4d_without_a_channel_label_needs_one_and_takes_a_given_one():
    layer = Image(np.zeros((3, 4, 8, 9)), name="four", axis_labels=("t", "z", "y", "x"))
    with pytest.raises(InputError, match="'four' is 4D: choose its channel axis"):
        guess_axes(layer)
    assert guess_axes(layer, channel_axis=1) == StackAxes(0, (2, 3), channel_axis=1)
    assert guess_axes(layer, axis=1, channel_axis=0) == StackAxes(1, (2, 3), channel_axis=0)


def test_rgb_stack_keeps_its_colour_axis_last():
    layer = Image(np.zeros((5, 8, 9, 3), np.uint8), rgb=True)
    assert layer.ndim == 3
    assert guess_axes(layer) == StackAxes(0, (1, 2), channel_axis=3, rgb=True)


@pytest.mark.parametrize("shape", [(2, 3, 4, 8, 9)])
def test_wrong_number_of_dimensions(shape):
    layer = Image(np.zeros(shape), name="bad")
    with pytest.raises(InputError, match=f"layer 'bad' has {len(shape)} dimensions; SAM2 needs a 2D"):
        guess_axes(layer)


@pytest.mark.parametrize("data, kwargs, expected", [
    (np.zeros((8, 9)), {}, StackAxes(None, (0, 1))),                                   # grey
    (np.zeros((8, 9, 3), np.uint8), {"rgb": True}, StackAxes(None, (0, 1), 2, True)),  # RGB photo
    (np.zeros((2, 8, 9)), {"axis_labels": ("c", "y", "x")}, StackAxes(None, (1, 2), 0)),
    (np.zeros((8, 9, 2)), {"axis_labels": ("y", "x", "ch")}, StackAxes(None, (0, 1), 2)),
])
def test_a_single_2d_image_has_no_stack_axis(data, kwargs, expected):
    assert guess_axes(Image(data, **kwargs)) == expected


def test_a_channel_labelled_3d_layer_is_a_stack_when_it_has_a_time_axis_or_one_is_asked_for():
    assert guess_axes(Image(np.zeros((2, 8, 9)), axis_labels=("t", "y", "x"))) == StackAxes(0, (1, 2))
    assert guess_axes(Image(np.zeros((2, 8, 9)), axis_labels=("c", "y", "x")), axis=0) == StackAxes(0, (1, 2))


def test_prompts_and_labels_of_a_2d_image_are_on_frame_0():
    image = Image(np.zeros((20, 30)), scale=(0.5, 2.0), translate=(3, -1))
    axes = guess_axes(image)
    points = Points(np.array([[5.0, 7.0]]), features={"object_id": [2], "positive": [True]},
                    scale=(0.5, 2.0), translate=(3, -1))
    shapes = Shapes([np.array([[1, 1], [1, 9], [6, 9], [6, 1.0]])], shape_type="rectangle",
                    features={"object_id": [2]}, scale=(0.5, 2.0), translate=(3, -1))
    prompts = prompts_from_layers(points, shapes, image, axes, (20, 30))
    assert list(prompts) == [(2, 0)] and prompts[(2, 0)].box == (1, 1, 6, 9)
    np.testing.assert_allclose(prompts[(2, 0)].points, [[5, 7]])
    layer = Labels(np.zeros((20, 30), np.uint16))
    sink = LayerSink(layer, axes, 1, (20, 30))
    frame = np.zeros((20, 30), np.uint16)
    frame[2:4, 5:9] = 2
    sink.write(0, frame)
    sink.apply(0, frame)
    assert sink.index(0) == (slice(None), slice(None)) and (layer.data == frame).all()


def test_a_spatial_axis_cannot_be_the_stack_axis():
    with pytest.raises(InputError, match="axis 1 of layer 'img' cannot be the stack axis"):
        guess_axes(Image(np.zeros((5, 8, 9)), name="img"), axis=1)
    with pytest.raises(InputError, match="axis 1 of layer"):  # the channel axis neither
        guess_axes(Image(np.zeros((3, 4, 8, 9)), name="img"), axis=1, channel_axis=1)


# ------------------------------------------------------ prompts_from_layers
def image_layer():
    return Image(np.zeros((6, *FRAME_SHAPE)), name="cells", scale=SCALE, translate=TRANSLATE)


def world(frame, row, col):
    """The world coordinates of an image pixel (frame, row, col)."""
    return TRANSLATE + SCALE * np.array([frame, row, col], float)


def points_layer(pixels, object_ids=None, positive=None, scale=(1, 1, 1), translate=(0, 0, 0)):
    """A Points layer with its own scale and translate, holding the given image pixels."""
    scale, translate = np.asarray(scale, float), np.asarray(translate, float)
    data = np.array([(world(*p) - translate) / scale for p in pixels])
    features = {}
    if object_ids is not None:
        features["object_id"] = np.asarray(object_ids, int)
    if positive is not None:
        features["positive"] = np.asarray(positive, bool)
    return Points(data, ndim=3, features=features, scale=scale, translate=translate)


def rectangle(frame, r0, c0, r1, c1, scale, translate):
    corners = [(frame, r0, c0), (frame, r0, c1), (frame, r1, c1), (frame, r1, c0)]
    return np.array([(world(*p) - translate) / scale for p in corners])


def test_points_of_several_objects_and_frames_land_on_image_pixels():
    points = points_layer([(2, 10, 20), (2, 30, 40), (4, 5.5, 6), (2, 12, 22), (5, 0, 49)],
                          object_ids=[1, 1, 2, 3, 1], positive=[True, False, True, True, True],
                          scale=(0.5, 3.0, 1.0), translate=(-1.0, 4.0, 0.5))
    prompts = prompts_from_layers(points, None, image_layer(), AXES, FRAME_SHAPE)
    assert sorted(prompts) == [(1, 2), (1, 5), (2, 4), (3, 2)]
    np.testing.assert_allclose(prompts[1, 2].points, [[10, 20], [30, 40]], atol=1e-4)
    assert prompts[1, 2].labels.tolist() == [1, 0] and prompts[1, 2].box is None
    np.testing.assert_allclose(prompts[2, 4].points, [[5.5, 6]], atol=1e-4)  # sub-pixel kept
    np.testing.assert_allclose(prompts[3, 2].points, [[12, 22]], atol=1e-4)
    np.testing.assert_allclose(prompts[1, 5].points, [[0, 49]], atol=1e-4)
    assert prompts[1, 5].labels.dtype == np.int32 and prompts[1, 5].points.dtype == np.float32


def test_points_without_features_are_positive_clicks_of_object_1():
    prompts = prompts_from_layers(points_layer([(3, 7, 8), (3, 9, 1)]), None, image_layer(), AXES,
                                  FRAME_SHAPE)
    assert list(prompts) == [(1, 3)]
    assert prompts[1, 3].labels.tolist() == [1, 1]


def test_a_point_between_frames_goes_to_the_nearest_frame():
    prompts = prompts_from_layers(points_layer([(2.4, 7, 8), (2.6, 7, 8)]), None, image_layer(), AXES,
                                  FRAME_SHAPE)
    assert sorted(prompts) == [(1, 2), (1, 3)]


def test_a_box_past_the_frame_edge_is_clipped_and_merged_with_the_points_of_its_frame():
    scale, translate = np.array([1.0, 2.0, 4.0]), np.array([0.0, 5.0, -5.0])
    shapes = Shapes(
        [rectangle(2, -5, 40, 15, 60, scale, translate),  # object 1, frame 2: past the top and right
         rectangle(4, 10, 10, 20, 30, scale, translate),  # object 2, frame 4: inside
         np.array([(world(3, 1, 1) - translate) / scale, (world(3, 9, 9) - translate) / scale])],
        shape_type=["rectangle", "rectangle", "line"],  # a line is no box
        features={"object_id": [1, 2, 5]}, scale=scale, translate=translate)
    points = points_layer([(2, 10, 45), (3, 8, 8)], object_ids=[1, 1], positive=[True, False])
    prompts = prompts_from_layers(points, shapes, image_layer(), AXES, FRAME_SHAPE)
    assert sorted(prompts) == [(1, 2), (1, 3), (2, 4)]
    assert prompts[1, 2].box == pytest.approx((0, 40, 15, 49))
    np.testing.assert_allclose(prompts[1, 2].points, [[10, 45]], atol=1e-4)  # the click is kept
    assert prompts[1, 2].labels.tolist() == [1]
    assert prompts[2, 4].box == pytest.approx((10, 10, 20, 30)) and len(prompts[2, 4].points) == 0
    assert prompts[1, 3].box is None and prompts[1, 3].labels.tolist() == [0]


def test_a_rectangle_drawn_from_any_corner_gives_min_max_and_the_last_box_wins():
    scale, translate = np.ones(3), np.zeros(3)
    dragged = rectangle(0, 20, 30, 5, 10, scale, translate)  # dragged up and to the left
    first = rectangle(1, 20, 30, 25, 35, scale, translate)
    second = rectangle(1, 2, 3, 4, 5, scale, translate)
    shapes = Shapes([dragged, first, second], shape_type="rectangle")  # no object_id: object 1
    prompts = prompts_from_layers(None, shapes, image_layer(), AXES, FRAME_SHAPE)
    assert sorted(prompts) == [(1, 0), (1, 1)]
    assert prompts[1, 0].box == pytest.approx((5, 10, 20, 30))
    assert prompts[1, 1].box == pytest.approx((2, 3, 4, 5))
    assert prompts_from_layers(None, None, image_layer(), AXES, FRAME_SHAPE) == {}


def test_a_prompt_layer_of_other_dimensions_is_refused():
    flat = Points(np.array([[1.0, 2.0]]), name="flat")
    with pytest.raises(InputError, match="'flat' has 2 dimensions but image 'cells' has 3"):
        prompts_from_layers(flat, None, image_layer(), AXES, FRAME_SHAPE)


def test_prompts_on_a_4d_image_skip_the_channel_axis():
    image = Image(np.zeros((2, 5, 30, 40)), axis_labels=("c", "t", "y", "x"), scale=(1, 3, 1, 2))
    axes = guess_axes(image)
    points = Points(np.array([[1, 12, 7, 20.0]]), ndim=4)  # world: channel 1, frame 4, row 7, col 10
    prompts = prompts_from_layers(points, None, image, axes, (30, 40))
    assert list(prompts) == [(1, 4)]
    np.testing.assert_allclose(prompts[1, 4].points, [[7, 10]])


# ---------------------------------------------------------- changed_prompts
def prompt(points=((1, 2),), labels=(1,), box=None):
    return FramePrompt(np.array(points, np.float32), np.array(labels, np.int32), box)


def test_changed_prompts_lists_added_changed_and_removed_keys_only():
    synced = {(1, 2): prompt(), (1, 5): prompt(), (2, 0): prompt(), (3, 3): prompt(box=(0, 0, 4, 4))}
    wanted = {
        (1, 2): prompt(),  # an equal copy: unchanged
        (1, 5): prompt(labels=(0,)),  # the label flipped
        (3, 3): prompt(box=(0, 0, 4, 5)),  # the box moved
        (4, 1): prompt(points=((7, 7),)),  # new
    }  # (2, 0) is gone
    changes = changed_prompts(wanted, synced)
    assert [key for key, _ in changes] == [(1, 5), (2, 0), (3, 3), (4, 1)]
    assert dict(changes)[(2, 0)] is None
    assert dict(changes)[(1, 5)] is wanted[(1, 5)] and dict(changes)[(4, 1)] is wanted[(4, 1)]
    assert changed_prompts(synced, synced) == []
    moved = {(1, 2): prompt(points=((1, 3),))}
    assert changed_prompts(moved, {(1, 2): prompt()}) == [((1, 2), moved[(1, 2)])]


# ---------------------------------------------------------------- LayerSink
def test_layer_sink_read_sees_pending_writes_and_apply_writes_the_layer():
    layer = Labels(np.zeros((5, 1, 6, 7), np.uint16))  # (t, c, y, x): the channel axis has size 1
    sink = LayerSink(layer, StackAxes(0, (2, 3), channel_axis=1), 5, (6, 7))
    assert sink.shape == (5, 6, 7) and sink.index(3) == (3, 0, slice(None), slice(None))
    labels = np.zeros((6, 7), np.uint16)
    labels[1:3, 2:5] = 4
    sink.write(3, labels)
    assert np.array_equal(sink.read(3), labels)  # pending
    assert not layer.data.any()  # written on the GUI thread only
    sink.apply(3, labels)
    assert np.array_equal(layer.data[3, 0], labels) and layer.data.sum() == labels.sum()
    assert sink._pending == {}
    assert np.array_equal(sink.read(3), labels)  # now from the layer
    layer.undo()  # apply went through the layer's history
    assert not layer.data.any()


def test_a_newer_pending_frame_survives_applying_an_older_one():
    layer = Labels(np.zeros((4, 6, 7), np.uint16))
    sink = LayerSink(layer, AXES, 4, (6, 7))
    older, newer = np.full((6, 7), 1, np.uint16), np.full((6, 7), 2, np.uint16)
    sink.write(2, older)
    sink.write(2, newer)  # the worker computed frame 2 again before the GUI applied it
    sink.apply(2, older)
    assert (layer.data[2] == 1).all()
    assert sink.read(2) is newer
    sink.apply(2, newer)
    assert (layer.data[2] == 2).all() and sink._pending == {}


def test_layer_sink_on_a_stack_with_the_frame_axis_in_the_middle():
    layer = Labels(np.zeros((3, 4, 6, 7), np.uint16))  # (c, t, y, x) labels of a 4D image
    sink = LayerSink(layer, StackAxes(1, (2, 3), channel_axis=0), 4, (6, 7))
    labels = np.zeros((6, 7), np.uint16)
    labels[5, 6] = 9
    sink.apply(2, labels)
    assert layer.data[0, 2, 5, 6] == 9 and layer.data.sum() == 9


# ---------------------------------------------------------- label_masks
def test_label_masks_gives_each_id_of_the_plane():
    image, labels_layer = image_layer(), Labels(np.zeros((6, *FRAME_SHAPE), np.uint16))
    other = np.zeros((6, *FRAME_SHAPE), np.uint16)
    other[2, 1:4, 1:4] = 5
    other[2, 10:12, 20:30] = 7
    other[3, 0:2, 0:2] = 9
    masks = label_masks(Labels(other), labels_layer, image, (2, slice(None), slice(None)))
    assert [obj for obj, _ in masks] == [5, 7]
    assert np.array_equal(masks[0][1], other[2] == 5) and np.array_equal(masks[1][1], other[2] == 7)
    assert [obj for obj, _ in label_masks(Labels(other), labels_layer, image, (3,))] == [9]
    assert label_masks(Labels(other), labels_layer, image, (0,)) == []


def test_label_masks_of_the_image_shape_on_a_channel_stack():
    image = Image(np.zeros((4, 3, 10, 12)), axis_labels=("t", "c", "y", "x"))
    labels_layer = Labels(np.zeros((4, 1, 10, 12), np.uint16))
    other = np.zeros((4, 3, 10, 12), np.uint16)  # e.g. Cellpose run on the image itself
    other[1, 0, 2:4, 2:4] = 3
    other[1, 2, 5:7, 5:7] = 8  # another channel: not read
    masks = label_masks(Labels(other), labels_layer, image, (1, 0, slice(None), slice(None)))
    assert [obj for obj, _ in masks] == [3] and masks[0][1].sum() == 4


@pytest.mark.parametrize("shape", [(6, 40, 51), (40, 50), (6, 1, 40, 50)])
def test_label_masks_of_another_shape_are_refused(shape):
    message = re.escape(f"labels layer 'cp' has shape {shape}, which does not match the image 'cells'")
    with pytest.raises(InputError, match=message):
        label_masks(Labels(np.zeros(shape, np.uint16), name="cp"),
                    Labels(np.zeros((6, *FRAME_SHAPE), np.uint16)), image_layer(), (0,))


# ---------------------------------------------------- remove_object_prompts
def test_remove_object_prompts_deletes_only_that_object_without_data_events():
    points = Points(np.array([[0, 1, 1], [1, 2, 2], [2, 3, 3], [3, 4, 4.0]]),
                    features={"object_id": [1, 2, 1, 3], "positive": [True, True, False, True]})
    shapes = Shapes([rectangle(0, 0, 0, 2, 2, np.ones(3), np.zeros(3)),
                     rectangle(1, 0, 0, 3, 3, np.ones(3), np.zeros(3))],
                    shape_type="rectangle", features={"object_id": [2, 1]})
    events = []
    for layer in (points, shapes):
        layer.events.data.connect(lambda event: events.append(event))
    remove_object_prompts((points, shapes), 1)
    assert events == []  # the controller resyncs itself; no prompt change reaches the session twice
    np.testing.assert_array_equal(points.data, [[1, 2, 2], [3, 4, 4]])
    assert points.features["object_id"].tolist() == [2, 3]
    assert points.features["positive"].tolist() == [True, True]
    assert len(shapes.data) == 1 and shapes.features["object_id"].tolist() == [2]
    remove_object_prompts((points, shapes), 42)  # no such object: nothing changes
    assert len(points.data) == 2 and len(shapes.data) == 1


# ------------------------------------------ color_points, add_session_layers
def test_color_points_in_the_object_colour_with_the_sign_in_border_and_symbol():
    labels = Labels(np.zeros((3, 8, 8), np.uint16), colormap=label_colormap())
    points = Points(np.array([[0, 1, 1], [0, 2, 2.0]]),
                    features={"object_id": [4, 7], "positive": [True, False]})
    color_points(points, labels)
    np.testing.assert_allclose(points.face_color, [labels.get_color(4), labels.get_color(7)])
    np.testing.assert_allclose(points.face_color[:, :3], PALETTE[[3, 6]])  # a point = its mask's colour
    np.testing.assert_allclose(points.border_color, [POSITIVE_BORDER, NEGATIVE_BORDER])
    assert [str(symbol.value) for symbol in points.symbol] == ["disc", "x"]
    color_points(None, labels)  # nothing to colour: no error
    empty = Points(ndim=3)
    color_points(empty, labels)
    assert len(empty.face_color) == 0


def test_session_layers_share_the_image_transform_and_take_new_prompts_for_the_object(tmp_path):
    viewer = ViewerModel()
    image = viewer.add_image(np.zeros((4, 3, 10, 12)), name="cells", axis_labels=("t", "c", "y", "x"),
                             scale=(2, 1, 0.5, 0.5), translate=(1, 0, 3, 4))
    axes = guess_axes(image)
    labels, points, shapes = add_session_layers(viewer, image, axes, (10, 12), obj_id=3,
                                                output=tmp_path / "out.zarr")
    assert labels.data.shape == (4, 1, 10, 12) and labels.data.dtype == np.uint16
    assert (tmp_path / "out.zarr").is_dir()
    for layer in (labels, points, shapes):
        assert layer.scale.tolist() == [2, 1, 0.5, 0.5] and layer.translate.tolist() == [1, 0, 3, 4]
        assert layer.axis_labels == ("t", "c", "y", "x")
    assert [layer.name for layer in viewer.layers] == ["cells", "SAM2 labels", "SAM2 boxes", "SAM2 points"]
    assert points.canvas_size_limits[0] >= 8 and points.current_size >= 4  # visible when zoomed out
    points.add(np.array([1, 0, 5, 5.0]))
    assert points.features["object_id"].tolist() == [3] and points.features["positive"].tolist() == [True]
    with pytest.raises(InputError, match="must be a .zarr folder"):
        add_session_layers(viewer, image, axes, (10, 12), output=tmp_path / "out.tif")


def test_a_second_session_names_its_layers_after_a_short_image_name():
    viewer = ViewerModel()
    first = viewer.add_image(np.zeros((4, 10, 12)), name="cells")
    other = viewer.add_image(np.zeros((4, 10, 12)), name="a_very_long_image_name.ome.tif")
    add_session_layers(viewer, first, guess_axes(first), (10, 12))
    labels, points, shapes = add_session_layers(viewer, other, guess_axes(other), (10, 12))
    assert [labels.name, points.name, shapes.name] == [
        "SAM2 labels (a_very_long…)", "SAM2 points (a_very_long…)", "SAM2 boxes (a_very_long…)"]


def test_the_label_colormap_gives_neighbouring_ids_distinct_colours_unlike_napari_s_default():
    labels = Labels(np.zeros((4, 4), np.uint16), colormap=label_colormap())
    ids = range(1, 3 * len(PALETTE))
    colors = np.array([labels.get_color(i)[:3] for i in ids])
    neighbours = np.linalg.norm(np.diff(colors, axis=0), axis=1)
    assert neighbours.min() > 0.5  # RGB distance of consecutive ids
    among_12 = [np.linalg.norm(colors[i] - colors[j]) for i in range(12) for j in range(i)]
    assert min(among_12) > 0.25
    assert labels.get_color(0) is None or labels.get_color(0)[3] == 0
    default = Labels(np.zeros((4, 4), np.uint16))  # why: napari's 3, 4, 5 are three purples
    purples = np.array([default.get_color(i)[:3] for i in (3, 4, 5)])
    assert np.linalg.norm(np.diff(purples, axis=0), axis=1).min() < neighbours.min()


def test_a_box_drawn_wholly_outside_the_frame_is_named_as_such():
    image = Image(np.zeros((4, 40, 50), np.uint16))
    shapes = Shapes([np.array([[1, 45, 10], [1, 45, 20], [1, 60, 20], [1, 60, 10]])],
                    shape_type="rectangle", features={"object_id": [2]})
    axes = guess_axes(image)
    with pytest.raises(InputError, match="the box of object 2 on frame 1 lies outside the 40 x 50 frame"):
        prompts_from_layers(None, shapes, image, axes, (40, 50))


def test_flush_applies_what_a_stopped_worker_left_pending_as_one_undo_step():
    layer = Labels(np.zeros((4, 6, 7), np.uint16))
    sink = LayerSink(layer, AXES, 4, (6, 7))
    sink.apply(0, np.full((6, 7), 3, np.uint16))  # handed over before the stop
    relabelled = {1: np.full((6, 7), 5, np.uint16), 3: np.full((6, 7), 5, np.uint16)}
    for frame, labels in relabelled.items():
        sink.write(frame, labels)  # written by the worker, never handed over (cancelled)
    redrawn = []
    with layer.block_history():
        assert sink.flush(lambda frame: redrawn.append(frame) or frame == 1) == [1, 3]
    assert redrawn == [1, 3] and sink._pending == {}
    assert (layer.data[[1, 3]] == 5).all() and (layer.data[0] == 3).all() and not layer.data[2].any()
    assert sink.flush() == []
    layer.undo()  # the flushed frames went into the one open undo step
    assert not layer.data[[1, 3]].any() and (layer.data[0] == 3).all()
