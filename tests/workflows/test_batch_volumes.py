"""A 3D+t stack in a batch: its z-sweeps run as tasks on the batch's own cluster."""

import json

import numpy as np
import pytest

from batch_stacks import MODEL_ARGS, read_labels
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.workflows.batch import run_batch
from napari_sam2.workflows.segment import segment_file


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def write_volume_stack(folder):
    """A TZYX TIFF of nuclei with one box prompt per nucleus; its image and prompts paths."""
    import tifffile

    image, truth = synthetic_volumes(n_times=4, n_planes=5, shape=(64, 64), n_nuclei=2, leaving=0,
                                     seed=3)
    tifffile.imwrite(folder / "nuclei.tif", image, imagej=True, metadata={"axes": "TZYX"})
    objects = []
    for i in sorted(set(np.unique(truth[0])) - {0}):
        mask = truth[0] == i
        z = int(mask.sum(axis=(1, 2)).argmax())
        rows, cols = np.nonzero(mask[z])
        objects.append({"id": int(i), "prompts": [{"frame": 0, "plane": z, "box": [
            int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())]}]})
    (folder / "nuclei.json").write_text(json.dumps({"objects": objects}))
    return folder / "nuclei.tif", folder / "nuclei.json"


def test_a_volume_stack_sweeps_on_the_cluster_and_equals_a_run_on_one_process(tmp_path, client):
    import tifffile
    from distributed import get_task_stream

    image, prompts = write_volume_stack(tmp_path)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("image,prompts,axes\nnuclei.tif,nuclei.json,TZYX\n")
    with get_task_stream(client) as stream:
        events = list(run_batch(manifest, tmp_path / "out", client=client, **MODEL_ARGS))
    assert events[-1].ok, [e.message for e in events if e.kind == "failed"]
    names = [task["key"] if isinstance(task["key"], str) else task["key"][0] for task in stream.data]
    sweeps = [n for n in names if n.startswith("_sweep")]
    assert len(sweeps) >= 4, names  # one z-sweep task per time point at least, not run in the stack's task
    alone = tmp_path / "alone.zarr"
    segment_file(tifffile.imread(image), prompts, alone, axes="TZYX", progress=False,
                 image_path=image, **MODEL_ARGS)
    labels = read_labels(tmp_path / "out" / "nuclei.zarr")
    assert labels.shape == (4, 5, 64, 64) and set(np.unique(labels)) >= {1, 2}
    np.testing.assert_array_equal(labels, read_labels(alone))
