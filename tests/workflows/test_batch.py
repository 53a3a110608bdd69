"""Batch over many stacks: the manifest's checks, and a real two-process LocalCluster."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from batch_stacks import MODEL_ARGS, read_labels, write_manifest, write_stacks
from napari_sam2.core.errors import InputError
from napari_sam2.workflows.batch import REPORT_NAME, plan_batch, run_batch
from napari_sam2.workflows.batch_worker import PLUGIN_NAME
from napari_sam2.workflows.manifest import read_manifest
from napari_sam2.workflows.segment import segment_file


# ------------------------------------------------------------------ the manifest, before any work
@pytest.fixture
def stacks(tmp_path):
    write_stacks(tmp_path, n=2, frames=3)
    return tmp_path


@pytest.mark.parametrize("rows, message", [
    (["missing.tif,stack0.json,"], "manifest row 2 (missing.tif): image"),
    (["stack0.tif,nowhere.json,"], "manifest row 2 (stack0.tif): prompts file"),
    (["sub/stack9.tif,stack0.json,"], "manifest row 2 (stack9.tif): image"),
    (["stack0.tif,stack0.json,TZYX"], "axes 'TZYX' has 4 letters but the image has 3 dimensions"),
    (["stack0.tif,stack0.json,TQX"], "manifest row 2 (stack0.tif): axes 'TQX' has 'Q'"),
    (["stack0.tif,stack0.json,TYYX"], "manifest row 2 (stack0.tif): axes 'TYYX' repeats Y"),
    ([",stack0.json,"], "manifest row 2: the image column is empty"),
])
def test_a_bad_row_is_named_before_anything_is_written(stacks, rows, message):
    manifest = write_manifest(stacks, ["stack1"], rows)
    out = stacks / "out"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_batch(manifest, out)
    assert not out.exists()


def test_duplicate_output_names_bad_prompts_and_columns_are_refused(stacks):
    (stacks / "other").mkdir()
    write_stacks(stacks / "other", n=1, frames=3)
    manifest = write_manifest(stacks, ["stack0"], ["other/stack0.tif,other/stack0.json,"])
    with pytest.raises(InputError, match=r"row 2 .*its output stack0.zarr is also row 1's"):
        read_manifest(manifest, stacks / "out")
    (stacks / "far.json").write_text(json.dumps(
        {"objects": [{"id": 1, "prompts": [{"frame": 7, "points": [[3, 3]]}]}]}))
    manifest = write_manifest(stacks, ["stack0"], ["stack1.tif,far.json,"])
    with pytest.raises(InputError, match=r"row 2 \(stack1.tif\): frame 7"):
        read_manifest(manifest, stacks / "out")
    (stacks / "cols.csv").write_text("image,prompt\nstack0.tif,stack0.json\n")
    with pytest.raises(InputError, match="unknown column.*prompt;"):
        read_manifest(stacks / "cols.csv", stacks / "out")
    (stacks / "empty.csv").write_text("image,prompts\n")
    with pytest.raises(InputError, match="lists no stacks"):
        read_manifest(stacks / "empty.csv", stacks / "out")


def test_a_glob_finds_each_stacks_prompts_beside_it(stacks):
    (stacks / "stack1.json").rename(stacks / "stack1.prompts.json")
    jobs = read_manifest(str(stacks / "stack*.tif"), stacks / "out")
    assert [(j.image.name, j.prompts.name, j.out.name) for j in jobs] == [
        ("stack0.tif", "stack0.json", "stack0.zarr"), ("stack1.tif", "stack1.prompts.json",
                                                       "stack1.zarr")]
    with pytest.raises(InputError, match="neither a manifest .csv nor a glob"):
        read_manifest(str(stacks / "*.png"), stacks / "out")


def test_existing_outputs_need_resume_or_overwrite(stacks):
    manifest = write_manifest(stacks, ["stack0"])
    out = stacks / "out"
    out.mkdir()
    (out / "stack0.zarr").mkdir()
    (out / "stack0.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"row 1 \(stack0.tif\): output .* already exists"):
        plan_batch(manifest, out)
    with pytest.raises(InputError, match="not a label store written by napari-sam2"):
        plan_batch(manifest, out, overwrite=True)


# ------------------------------------------------------------------ a real cluster of two processes
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def loads(client):
    return client.run(lambda dask_worker: dask_worker.plugins[PLUGIN_NAME].loads)


def test_three_stacks_give_the_labels_of_three_sequential_runs(tmp_path, client):
    names = write_stacks(tmp_path, n=3, frames=5)
    manifest = write_manifest(tmp_path, names)
    events = list(run_batch(manifest, tmp_path / "out", client=client, **MODEL_ARGS))
    assert [e.kind for e in events[:1] + events[-1:]] == ["started", "done"]
    assert sorted(e.job.out.name for e in events if e.kind == "finished") == [
        f"{n}.zarr" for n in names]
    assert events[-1].ok
    assert all(n <= 1 for n in loads(client).values())  # each worker loaded the model once at most
    assert sum(loads(client).values()) >= 1
    for name in names:
        alone = tmp_path / f"{name}-alone.zarr"
        segment_file(_read(tmp_path / f"{name}.tif"), tmp_path / f"{name}.json", alone,
                     progress=False, image_path=tmp_path / f"{name}.tif", axes="TYX", **MODEL_ARGS)
        np.testing.assert_array_equal(read_labels(tmp_path / "out" / f"{name}.zarr"),
                                      read_labels(alone))
    report = (tmp_path / "out" / REPORT_NAME).read_text().splitlines()
    assert report[0] == "row,image,output,outcome,seconds,worker,message"
    assert [line.split(",")[3] for line in report[1:]] == ["finished"] * 3


def _read(path):
    import tifffile

    return tifffile.imread(path)


def test_a_stack_without_prompts_is_tracked_and_a_blank_one_is_a_failed_row(tmp_path, client):
    import tifffile
    import zarr

    write_stacks(tmp_path, n=1, frames=3)
    (tmp_path / "seedless.tif").write_bytes((tmp_path / "stack0.tif").read_bytes())
    tifffile.imwrite(tmp_path / "blank.tif", np.zeros((3, 64, 72), np.uint16), metadata={"axes": "TYX"})
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,prompts\nstack0.tif,stack0.json\nseedless.tif,\nblank.tif,\n")
    events = list(run_batch(manifest, tmp_path / "out", client=client, **MODEL_ARGS))
    outcome = {e.job.image.name: e for e in events if e.kind in ("finished", "failed")}
    assert outcome["seedless.tif"].kind == "finished"
    tracked = zarr.open_array(str(tmp_path / "out" / "seedless.zarr"), mode="r")
    assert tracked[:].max() > 0 and "lineage" in tracked.attrs["napari_sam2"]
    assert outcome["blank.tif"].kind == "failed" and "no cells found" in outcome["blank.tif"].message
    assert not events[-1].ok
    assert "failed" in (tmp_path / "out" / REPORT_NAME).read_text()


def test_a_worker_killed_mid_stack_still_finishes_every_stack(tmp_path, client):
    names = write_stacks(tmp_path, n=3, frames=24, seed=5)
    manifest = write_manifest(tmp_path, names)
    out = tmp_path / "out"
    pids = set(client.run(os.getpid).values())
    killed = []

    def kill_mid_stack():  # the worker writing stack1 dies after a checkpoint and a few frames
        journal, lock = out / "stack1.zarr.sam2-run" / "journal.json", out / "stack1.zarr.sam2-run" / "lock"
        end = time.monotonic() + 300
        while time.monotonic() < end and not killed:
            try:
                data, holder = json.loads(journal.read_text()), json.loads(lock.read_text())
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            if data["checkpoint"] is not None and (data["done"]["forward"] or [0, 0])[1] >= 12:
                os.kill(holder["pid"], signal.SIGKILL)
                killed.append(holder["pid"])
            time.sleep(0.01)

    killer = threading.Thread(target=kill_mid_stack)
    killer.start()
    events = list(run_batch(manifest, out, client=client, checkpoint_every=4, **MODEL_ARGS))
    killer.join()
    assert killed, "the stack finished before its worker could be killed"
    assert killed[0] in pids  # a worker process of the cluster, not this one
    outcomes = {e.job.out.name: (e.kind, e.message) for e in events if e.job is not None}
    assert {k: v[0] for k, v in outcomes.items()} == {f"{n}.zarr": "finished" for n in names}, outcomes
    for name in names:  # the interrupted stack continued from its checkpoint: the same labels
        alone = tmp_path / f"{name}-alone.zarr"
        segment_file(_read(tmp_path / f"{name}.tif"), tmp_path / f"{name}.json", alone,
                     progress=False, checkpoint_every=4, **MODEL_ARGS)
        np.testing.assert_array_equal(read_labels(out / f"{name}.zarr"), read_labels(alone))
    assert not (out / "stack1.zarr.sam2-run").exists()


def test_cancel_stops_the_batch_closes_its_cluster_and_keeps_finished_outputs(tmp_path, client):
    names = write_stacks(tmp_path, n=3, frames=4)
    manifest = write_manifest(tmp_path, names)
    cancel = threading.Event()  # a cluster of its own: closed on cancel, its workers with it
    events = run_batch(manifest, tmp_path / "out", workers=2, cancel=cancel, **MODEL_ARGS)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for event in events:
            seen.append(event)
            if event.kind == "finished":
                cancel.set()
    finished = [e.job.out for e in seen if e.kind == "finished"]
    assert finished and all(p.exists() for p in finished)
    report = (tmp_path / "out" / REPORT_NAME).read_text()
    assert "finished" in report and "cancelled" in report
    done = list(run_batch(manifest, tmp_path / "out", client=client, resume=True, **MODEL_ARGS))
    assert done[-1].ok
    assert {e.job.out for e in done if e.kind == "skipped"} >= set(finished)


def test_workers_share_the_hosts_cores_for_torch_threads():
    import socket

    import torch

    from napari_sam2.workflows.batch_worker import ModelKeeper, host_cores

    before = torch.get_num_threads()
    try:
        keeper = ModelKeeper({socket.gethostname(): 2})
        keeper.setup()
        assert keeper.threads == max(1, host_cores() // 2)
        assert torch.get_num_threads() == keeper.threads
        keeper = ModelKeeper({"elsewhere": 8}, torch_threads=3)
        keeper.setup()
        assert keeper.threads == 3 and torch.get_num_threads() == 3
        first = keeper.model("demo", "cpu", "fast", "fp32")
        assert keeper.model("demo", "cpu", "fast", "fp32") is first and keeper.loads == 1
        assert keeper.model("demo", "cpu", "accurate", "fp32") is not first and keeper.loads == 2
    finally:
        torch.set_num_threads(before)
