"""Prompt files: every ambiguous or malformed input is a one-line InputError or a documented merge."""

import json
import re

import numpy as np
import pytest
import tifffile

from napari_sam2.core.errors import InputError
from napari_sam2.core.prompt_files import read_prompts


def write_json(tmp_path, prompts, obj_id=1):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"objects": [{"id": obj_id, "prompts": prompts}]}))
    return path


def test_points_then_a_box_on_one_frame_are_combined(tmp_path):
    path = write_json(tmp_path, [{"frame": 2, "points": [[5, 6]], "labels": [0]},
                                 {"frame": 2, "box": [1, 2, 10, 12]},
                                 {"frame": 2, "points": [[7, 8]]}])
    [obj] = read_prompts(path)
    prompt = obj.prompts[2]
    assert prompt.points.tolist() == [[5, 6], [7, 8]] and prompt.labels.tolist() == [0, 1]
    assert prompt.box == (1, 2, 10, 12)


@pytest.mark.parametrize("prompts, message", [
    ([{"frame": 0, "box": [0, 0, 3, 3]}, {"frame": 0, "box": [1, 1, 4, 4]}], "two boxes on one frame"),
    ([{"frame": 0, "points": [[1, 2]]}, {"frame": 0, "mask": "m.tif"}], "a mask and other prompts"),
    ([{"frame": 0, "mask": "m.tif", "points": [[1, 2]]}], "a mask and other prompts"),
])
def test_prompts_that_cannot_be_combined_are_refused(tmp_path, prompts, message):
    tifffile.imwrite(tmp_path / "m.tif", np.ones((8, 8), np.uint8))
    with pytest.raises(InputError, match=message):
        read_prompts(write_json(tmp_path, prompts))


BAD_JSON = [
    (dict(obj_id=True), "object #1 id must be an integer, got True"),
    (dict(obj_id=0), "object ids must be integers from 1 to 65535, got 0"),
    (dict(obj_id=65536), "object ids must be integers from 1 to 65535, got 65536"),
    (dict(obj_id=2 ** 31 + 5), "from 1 to 65535, got 2147483653"),
    (dict(prompts=[{"frame": True, "points": [[1, 2]]}]), "frame must be an integer, got True"),
    (dict(prompts=[{"frame": 1.5, "points": [[1, 2]]}]), "frame must be an integer, got 1.5"),
    (dict(prompts=[{"frame": 0, "points": [["a", 2]]}]), "points must be a list of [row, col] pairs"),
    (dict(prompts=[{"frame": 0, "points": [[1, 2], [3]]}]), "points must be a list of [row, col] pairs"),
    (dict(prompts=[{"frame": 0, "points": "1,2"}]), "points must be a list of [row, col] pairs"),
    (dict(prompts=[{"frame": 0, "points": [[1, 2]], "labels": [0.5]}]), "labels must be 1 or 0"),
    (dict(prompts=[{"frame": 0, "points": [[1, 2]], "labels": ["x"]}]), "labels must be 1 or 0"),
    (dict(prompts=[{"frame": 0, "box": ["a", 0, 3, 3]}]), "box must be [row_min, col_min, row_max"),
    (dict(prompts=[{"frame": 0, "box": [0, 0, 3, float("nan")]}]), "box must be [row_min, col_min"),
    (dict(prompts={"frame": 0}), "prompts must be a list"),
]


@pytest.mark.parametrize("change, message", BAD_JSON)
def test_malformed_json_is_a_clear_error(tmp_path, change, message):
    prompts = change.get("prompts", [{"frame": 0, "points": [[1, 2]]}])
    with pytest.raises(InputError, match=re.escape(message)):
        read_prompts(write_json(tmp_path, prompts, change.get("obj_id", 1)))


def test_mask_files_that_are_not_images_are_refused_without_unpickling(tmp_path):
    (tmp_path / "text.tif").write_text("not a tiff")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "words.npy", np.array([["a", "b"], ["c", "d"]]))
    tifffile.imwrite(tmp_path / "ok.tiff", np.ones((8, 8), np.uint8))
    (tmp_path / "m.png").write_bytes(b"\x89PNG")
    for name, message in [("text.tif", "is not a readable TIFF"), ("pickled.npy", "is not a readable .npy"),
                          ("words.npy", "must hold numbers"), ("m.png", "must be a 2D TIFF or .npy")]:
        with pytest.raises(InputError, match=re.escape(message)):
            read_prompts(write_json(tmp_path, [{"frame": 0, "mask": name}]))
    [obj] = read_prompts(write_json(tmp_path, [{"frame": 0, "mask": "ok.tiff"}]))
    assert obj.prompts[0].mask.all()


def test_a_binary_file_is_not_a_traceback(tmp_path):
    for name in ("p.json", "p.csv"):
        (tmp_path / name).write_bytes(b"\xff\xfe\x00\x81garbage")
        with pytest.raises(InputError, match="is not a readable"):
            read_prompts(tmp_path / name)


def write_csv(tmp_path, text, name="points.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_columns_must_match_the_image_dimensions(tmp_path):
    four = write_csv(tmp_path, "index,axis-0,axis-1,axis-2,axis-3,object_id\n0,0,1,20,30,1\n")
    with pytest.raises(InputError, match=re.escape(
            "has 4 coordinate columns (axis-0, axis-1, axis-2, axis-3: a 4D Points layer) "
            "but the image has 3 dimensions")):
        read_prompts(four, 0, (1, 2), ndim=3)
    # a (t, c, y, x) image opened in napari with its channel axis split off: 3D points
    three = write_csv(tmp_path, "index,axis-0,axis-1,axis-2,object_id\n0,4,20,30,2\n", "3d.csv")
    [obj] = read_prompts(three, 0, (2, 3), ndim=4, channel_axis=1)
    assert obj.obj_id == 2 and obj.prompts[4].points.tolist() == [[20, 30]]
    [obj] = read_prompts(four, 0, (2, 3), ndim=4, channel_axis=1)  # 4D points on the 4D image
    assert obj.prompts[0].points.tolist() == [[20, 30]]


@pytest.mark.parametrize("row, message", [
    ("0,1.5,20,30,1,True", "frame 1.5 (column axis-0) is not a whole frame number"),
    ("0,1,abc,30,1,True", "axis-1 must be a number, got 'abc'"),
    ("0,1,20,30,,True", "object_id is empty"),
    ("0,1,20,30,0,True", "object ids must be integers from 1 to 65535, got 0"),
    ("0,1,20,30,70000,True", "object ids must be integers from 1 to 65535, got 70000"),
    ("0,1,20,30,1.5,True", "object_id must be an integer, got '1.5'"),
    ("0,1,20,30,1,maybe", "positive must be True or False (or 1 / 0), got 'maybe'"),
    ("0,1,20", "axis-2 must be a number, got None"),
])
def test_malformed_csv_rows_are_clear_errors(tmp_path, row, message):
    path = write_csv(tmp_path, f"index,axis-0,axis-1,axis-2,object_id,positive\n{row}\n")
    with pytest.raises(InputError, match=re.escape(message)) as info:
        read_prompts(path)
    assert "line 2" in str(info.value)


def test_csv_frames_within_rounding_noise_are_whole(tmp_path):
    path = write_csv(tmp_path, "index,axis-0,axis-1,axis-2,object_id,positive\n"
                     "0,2.9999999999999996,20,30,1,False\n1,3,5,5,1,1\n")
    [obj] = read_prompts(path)
    assert list(obj.prompts) == [3] and obj.prompts[3].labels.tolist() == [0, 1]


def test_csv_without_object_id_warns_that_all_points_are_object_1(tmp_path):
    path = write_csv(tmp_path, "index,axis-0,axis-1,axis-2\n0,0,20,30\n1,4,5,5\n")
    with pytest.warns(UserWarning, match=r"has no object_id column: its 2 points are all taken "
                      r"as object 1"):
        [obj] = read_prompts(path)
    assert obj.obj_id == 1 and sorted(obj.prompts) == [0, 4]


def test_prompts_of_a_series_of_volumes_are_keyed_by_time_and_plane(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"objects": [{"id": 3, "prompts": [
        {"frame": 2, "plane": 4, "points": [[10, 12]]},
        {"frame": 2, "plane": 4, "box": [5, 6, 20, 22]},
        {"frame": 5, "plane": 1, "points": [[8, 9]], "labels": [0]}]}]}))
    (obj,) = read_prompts(path, 0, (2, 3), 4, plane_axis=1)
    assert sorted(obj.prompts) == [(2, 4), (5, 1)]
    assert obj.prompts[2, 4].box == (5, 6, 20, 22) and obj.prompts[5, 1].labels.tolist() == [0]
    with pytest.raises(InputError, match="is for a series of volumes"):
        read_prompts(path)  # a plane on a stack of 2D frames is refused, not ignored


def test_points_csv_of_a_4d_layer_maps_time_and_plane_by_the_axes(tmp_path):
    # stored as ZTYX: axis-0 is z, axis-1 is t
    path = tmp_path / "p.csv"
    path.write_text("index,axis-0,axis-1,axis-2,axis-3,object_id,positive\n"
                    "0,4.0,2.0,10.5,11.5,1,True\n1,4.0,2.0,12,13,1,False\n2,1.0,0.0,7,8,2,True\n")
    objects = read_prompts(path, axis=1, spatial_axes=(2, 3), ndim=4, plane_axis=0)
    assert [sorted(o.prompts) for o in objects] == [[(2, 4)], [(0, 1)]]
    assert objects[0].prompts[2, 4].points.tolist() == [[10.5, 11.5], [12, 13]]
    path.write_text("index,axis-0,axis-1,axis-2,axis-3,object_id\n0,4.5,2.0,10,11,1\n")
    with pytest.raises(InputError, match="plane 4.5 .*not a whole plane"):
        read_prompts(path, axis=1, spatial_axes=(2, 3), ndim=4, plane_axis=0)
