"""A 3D+t stack in a batch: its z-sweeps run as tasks on the batch's own cluster."""

import json
import threading

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


TIMEOUT = 600  # seconds: a hang fails the test instead of stalling the suite


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack's image and prompts, and its labels from one process without a cluster."""
    import tifffile

    folder = tmp_path_factory.mktemp("volume-stack")
    image, prompts = write_volume_stack(folder)
    segment_file(tifffile.imread(image), prompts, folder / "alone.zarr", axes="TZYX", progress=False,
                 image_path=image, **MODEL_ARGS)
    labels = read_labels(folder / "alone.zarr")
    assert labels.shape == (4, 5, 64, 64) and set(np.unique(labels)) >= {1, 2}
    return image, prompts, labels


def sweep_tasks(stream) -> list[str]:
    names = [task["key"] if isinstance(task["key"], str) else task["key"][0] for task in stream.data]
    return [n for n in names if n.startswith("_sweep")]


def test_a_volume_stack_sweeps_on_the_cluster_and_equals_a_run_on_one_process(tmp_path, client, stack):
    from distributed import get_task_stream

    image, prompts, alone = stack
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"image,prompts,axes\n{image},{prompts},TZYX\n")
    cancel = threading.Event()
    timer = threading.Timer(TIMEOUT, cancel.set)  # a hung batch is cancelled: the test fails
    timer.start()
    try:
        with get_task_stream(client) as stream:
            events = list(run_batch(manifest, tmp_path / "out", client=client, cancel=cancel,
                                    **MODEL_ARGS))
    finally:
        timer.cancel()
    assert events[-1].ok, [e.message for e in events if e.kind == "failed"]
    assert len(sweep_tasks(stream)) >= 4  # one z-sweep task per time point, not run in the stack's task
    np.testing.assert_array_equal(read_labels(tmp_path / "out" / "nuclei.zarr"), alone)


def test_a_lazily_read_stack_sweeps_on_a_client_from_the_main_process(tmp_path, client, stack):
    """The series is an open file here (it cannot travel): each task gets its volume."""
    from distributed import get_task_stream

    from napari_sam2.core.stack_view import open_stack

    image, prompts, alone = stack
    data, axes = open_stack(image, "TZYX")
    result = {}

    def run():
        try:
            result["summary"] = segment_file(data, prompts, tmp_path / "c.zarr", axes=axes,
                                             progress=False, image_path=image, client=client,
                                             **MODEL_ARGS)
        except BaseException as err:  # reported in the test's thread
            result["error"] = err

    with get_task_stream(client) as stream:
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(TIMEOUT)
    assert not worker.is_alive(), f"segment_file with a client still running after {TIMEOUT} s"
    assert "error" not in result, result.get("error")
    assert len(sweep_tasks(stream)) == 4
    np.testing.assert_array_equal(read_labels(tmp_path / "c.zarr"), alone)
