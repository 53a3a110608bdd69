"""``napari-sam2 batch``: one-line errors, exit codes, a killed batch resumed, the SLURM job script."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from batch_stacks import read_labels, write_manifest, write_stacks
from napari_sam2.cli import main
from napari_sam2.workflows.manifest import output_state
from napari_sam2.workflows.segment import segment_file

DOCS = Path(__file__).resolve().parents[2] / "docs" / "batch.md"
MODEL = ["--model", "demo", "--device", "cpu", "--precision", "fp32"]


def test_a_bad_row_is_one_line_and_nothing_is_written(tmp_path, capsys):
    names = write_stacks(tmp_path, n=1, frames=3)
    manifest = write_manifest(tmp_path, names, ["missing.tif,stack0.json,"])
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), *MODEL]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("napari-sam2: error: manifest row 2 (missing.tif): image ")
    assert not (tmp_path / "out").exists()
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main(["batch", str(manifest), "--out", str(tmp_path / "o"), "--workers", "2",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "give one or the other" in capsys.readouterr().err


def test_an_existing_output_names_the_remedy_in_cli_words(tmp_path, capsys):
    names = write_stacks(tmp_path, n=1, frames=3)
    manifest = write_manifest(tmp_path, names)
    (tmp_path / "out" / "stack0.zarr.sam2-run").mkdir(parents=True)
    (tmp_path / "out" / "stack0.zarr.sam2-run" / "journal.json").write_text("{}")
    (tmp_path / "out" / "stack0.zarr").mkdir()
    (tmp_path / "out" / "stack0.zarr" / "zarr.json").write_text("{}")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), *MODEL]) == 2
    err = capsys.readouterr().err
    assert "holds an unfinished run; pass --resume to continue it" in err


def mtimes(folder: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_resume_after_the_whole_batch_is_killed_recomputes_nothing_finished(tmp_path, capsys):
    names = write_stacks(tmp_path, n=3, frames=10, seed=2)
    manifest = write_manifest(tmp_path, names)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "napari_sam2.cli", "batch", str(manifest), "--out", str(out),
               "--workers", "2", "--checkpoint-every", "3", *MODEL]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            start_new_session=True, env=os.environ | {"PYTHONPATH": _path()})
    finished: list[str] = []
    end = time.monotonic() + 300
    while not finished and time.monotonic() < end:
        assert proc.poll() is None, "the batch ended before it could be killed"
        finished = [n for n in names if output_state(out / f"{n}.zarr") == "finished"]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch, its cluster and its workers
    proc.wait()
    assert finished, "timed out"
    # the other worker may have finished its stack between the last look and the kill
    finished = [n for n in names if output_state(out / f"{n}.zarr") == "finished"]
    assert len(finished) < len(names), "every stack finished before the batch could be killed"
    before = {n: mtimes(out / f"{n}.zarr") for n in finished}

    assert main(["batch", str(manifest), "--out", str(out), "--workers", "2", "--resume",
                 "--checkpoint-every", "3", *MODEL]) == 0
    printed = capsys.readouterr().out
    for name in names:
        assert output_state(out / f"{name}.zarr") == "finished"
    for name in finished:  # not one file of a finished stack was written again
        assert mtimes(out / f"{name}.zarr") == before[name]
        assert re.search(rf"skipped +{name}\.zarr", printed)
    report = (out / "batch-report.csv").read_text()
    assert report.count(",skipped,") == len(finished)
    assert report.count(",finished,") == len(names) - len(finished)
    assert f"{len(finished)} skipped" in printed

    for name in set(names) - set(finished):  # resumed or started over: the uninterrupted labels
        alone = tmp_path / f"{name}-alone.zarr"
        segment_file(tifffile.imread(tmp_path / f"{name}.tif"), tmp_path / f"{name}.json", alone,
                     progress=False, checkpoint_every=3, model="demo", device="cpu",
                     precision="fp32")
        assert (read_labels(out / f"{name}.zarr") == read_labels(alone)).all()


def _path() -> str:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])


def test_the_slurm_example_of_the_docs_writes_a_job_script_that_fits_the_batch():
    pytest.importorskip("dask_jobqueue")
    text = DOCS.read_text()
    block = re.search(r"<!-- slurm-example -->\n```python\n(.*?)```", text, re.S).group(1)
    code = "\n".join(line for line in block.splitlines() if ".scale(" not in line
                     and "run_batch" not in line and "for event" not in line
                     and not line.startswith("    print("))
    namespace: dict = {}
    exec(code.replace("print(cluster.job_script())", "script = cluster.job_script()"), namespace)
    cluster, script = namespace["cluster"], namespace["script"]
    try:
        assert script.startswith("#!/usr/bin/env bash")
        assert "#SBATCH --cpus-per-task=8" in script  # the job's cores...
        assert "--nthreads 1" in script  # ...serve one stack at a time: torch gets all 8
        assert "#SBATCH --gres=gpu:1" in script
        assert "#SBATCH -t 04:00:00" in script
        assert re.search(r"distributed\.cli\.dask_worker tcp://\S+", script)
    finally:
        cluster.close()


def test_scheduler_runs_on_an_existing_cluster_and_a_failed_row_exits_1(tmp_path, capsys):
    from distributed import Client, LocalCluster

    names = write_stacks(tmp_path, n=1, frames=3)
    tifffile.imwrite(tmp_path / "blank.tif", np.zeros((3, 64, 72), np.uint16), metadata={"axes": "TYX"})
    manifest = write_manifest(tmp_path, names, ["blank.tif,,"])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        code = main(["batch", str(manifest), "--out", str(tmp_path / "out"), "--scheduler",
                     cluster.scheduler_address, *MODEL])
        captured = capsys.readouterr()
        assert code == 1
        assert "1 worker(s) on the cluster at tcp://" in captured.err
        assert "dashboard: http" in captured.err
        lines = captured.out.splitlines()
        assert lines[1].startswith("failed    blank.zarr") and "no cells found" in lines[1]
        assert lines[2].startswith("finished  stack0.zarr")
        assert "1 failed, 1 finished" in captured.out
        assert len(client.run(os.getpid)) == 1  # the batch left the cluster it was given running
