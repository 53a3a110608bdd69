"""Bad prompt files end in one line and exit 2 before the model loads, never in a traceback."""

import json

import numpy as np
import pytest
import tifffile

from conftest import without_read_as
from napari_sam2.cli import main

STACK = np.random.default_rng(0).integers(0, 4000, (6, 48, 64)).astype(np.uint16)
ONE = {"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[4, 5]]}]}]}


def one_object(**prompt):
    return {"objects": [{"id": 1, "prompts": [{"frame": 0, **prompt}]}]}


BAD_FILES = {
    "bool id": ("p.json", {"objects": [{"id": True, "prompts": [{"frame": 0, "points": [[4, 5]]}]}]},
                "object #1 id must be an integer, got True"),
    "id 65536": ("p.json", {"objects": [{"id": 65536, "prompts": [{"frame": 0, "points": [[4, 5]]}]}]},
                 "object ids must be integers from 1 to 65535, got 65536"),
    "text point": ("p.json", one_object(points=[["a", 5]]), "points must be a list of [row, col] pairs"),
    "ragged points": ("p.json", one_object(points=[[1, 2], [3]]), "points must be a list of [row, col]"),
    "text box": ("p.json", one_object(box=[0, "b", 3, 3]), "box must be [row_min, col_min, row_max"),
    "non-TIFF mask": ("p.json", one_object(mask="text.tif"), "is not a readable TIFF file"),
    "pickled mask": ("p.json", one_object(mask="pickled.npy"), "is not a readable .npy file"),
    "4D CSV": ("p.csv", "index,axis-0,axis-1,axis-2,axis-3,object_id\n0,0,1,20,30,1\n",
               "has 4 coordinate columns (axis-0, axis-1, axis-2, axis-3: a 4D Points layer)"),
    "fractional frame": ("p.csv", "index,axis-0,axis-1,axis-2,object_id\n0,1.5,20,30,1\n",
                         "frame 1.5 (column axis-0) is not a whole frame number"),
    "text coordinate": ("p.csv", "index,axis-0,axis-1,axis-2,object_id\n0,1,x,30,1\n",
                        "axis-1 must be a number, got 'x'"),
}


@pytest.fixture
def folder(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", STACK, metadata={"axes": "TYX"})
    (tmp_path / "text.tif").write_text("not a tiff")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return tmp_path


def segment(folder, prompts, *extra):
    """Run the command in this process (an exception other than InputError would fail the test)."""
    return main(["segment", str(folder / "stack.tif"), "--prompts", str(prompts), "--out",
                 str(folder / "o.zarr"), *map(str, extra)])


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_prompts_file_is_one_line_and_exit_2(folder, case, capsys):
    name, content, message = BAD_FILES[case]
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    code = segment(folder, path, "--model", "no-such-model")  # prompts are read before the model
    err = capsys.readouterr().err
    assert code == 2 and without_read_as(err).startswith("napari-sam2: error: ")
    assert without_read_as(err).count("\n") == 1
    assert message in err and not (folder / "o.zarr").exists()


def test_csv_without_object_id_says_so_on_the_command_line(folder, tiny_model_dir, capsys):
    (folder / "p.csv").write_text("index,axis-0,axis-1,axis-2\n0,1,20,30\n1,3,10,10\n")
    assert segment(folder, folder / "p.csv", "--model", tiny_model_dir, "--device", "cpu") == 0
    err = capsys.readouterr().err
    assert "napari-sam2: warning: " in err and "its 2 points are all taken as object 1" in err
