"""The bundled ``demo`` model gives real masks offline, through the command line.

The stack (seed 4242) is held out: training used other seeds (docs/finetune.md).
Thresholds sit below what this stack gives (see the figures in
docs/finetune.md) so they are robust but meaningful: a random-weight model
scores near 0 on all of them.
"""

import json

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.core.label_store import open_labels
from napari_sam2.core.models import REGISTRY, resolve_model
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.evaluation.clicks import interior_point
from napari_sam2.evaluation.metrics import jaccard

# measured with the bundled model: 0.824, 0.794, 0.473, 0.820 (a random-weight model: about 0);
# tracking on this stack: 1 of 6 cells followed well, 3 lost (0.479 in fp32, 0.473 in bf16)
CLICK_IOU = 0.75    # median over cells, one positive click each on frame 0
BOX_IOU = 0.7       # median over cells, exact boxes on frame 0
TRACKED_IOU = 0.4   # mean over cells and later frames where the cell is present
DEMO_IOU = 0.72     # `napari-sam2 demo --frames 12`: mean IoU over cells and frames


@pytest.fixture(scope="module")
def held_out():
    image, truth = synthetic_timelapse(24, (256, 256), 6, seed=4242, divisions=False)
    return image, truth, [int(i) for i in np.unique(truth[0]) if i]


def _segment(folder, image, objects):
    tifffile.imwrite(folder / "stack.tif", image, metadata={"axes": "TYX"})
    (folder / "prompts.json").write_text(json.dumps({"objects": objects}))
    code = main(["segment", str(folder / "stack.tif"), "--prompts", str(folder / "prompts.json"),
                 "--out", str(folder / "labels.zarr"), "--model", "demo", "--device", "cpu"])
    assert code == 0
    return open_labels(folder / "labels.zarr")[:]


def test_demo_is_bundled_and_needs_no_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = resolve_model("demo")
    weights = folder / "model.safetensors"
    assert (folder / "config.json").is_file() and weights.stat().st_size < 25e6
    assert "synthetic" in REGISTRY["demo"].description


@pytest.fixture(scope="module")
def clicked(held_out, tmp_path_factory):
    image, truth, ids = held_out
    objects = [{"id": i, "prompts": [{"frame": 0, "points": [list(interior_point(truth[0] == i))],
                                      "labels": [1]}]} for i in ids]
    return _segment(tmp_path_factory.mktemp("clicks"), image, objects)


def test_one_click_per_cell_segments_it(held_out, clicked):
    _, truth, ids = held_out
    ious = [jaccard(clicked[0] == i, truth[0] == i) for i in ids]
    assert np.median(ious) >= CLICK_IOU, ious


def test_one_box_per_cell_segments_it(held_out, tmp_path):
    image, truth, ids = held_out
    objects = []
    for i in ids:
        rows, cols = np.nonzero(truth[0] == i)
        box = [int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())]
        objects.append({"id": i, "prompts": [{"frame": 0, "box": box}]})
    labels = _segment(tmp_path, image[:1], objects)
    ious = [jaccard(labels[0] == i, truth[0] == i) for i in ids]
    assert np.median(ious) >= BOX_IOU, ious


def test_cells_are_tracked(held_out, clicked):
    _, truth, ids = held_out
    tracked = [jaccard(clicked[t] == i, truth[t] == i)
               for i in ids for t in range(1, len(truth)) if (truth[t] == i).any()]
    assert np.mean(tracked) >= TRACKED_IOU, np.mean(tracked)


def test_the_demo_command_uses_the_bundled_model_and_scores_well(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "demo"), "--frames", "12", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "model demo" in out
    iou = float(out.split("mean IoU against the ground truth: ")[1].split()[0])
    assert iou >= DEMO_IOU, out
    assert (tmp_path / "demo" / "overview.png").stat().st_size > 10_000
