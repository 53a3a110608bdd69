"""Batch throughput on dask.distributed: stacks per hour, scheduler overhead, worker RSS.

What it does: ``--stacks`` synthetic time-lapses (``--frames`` x ``--size`` x
``--size``, 6 moving cells, a point prompt inside each cell on frame 0) as
TIFF files and a manifest, then segments them all three ways, the same
stacks each time (outputs deleted in between):

1. ``run_batch`` on a LocalCluster of **1 worker** (1 dask thread, 1 torch thread);
2. ``run_batch`` on a LocalCluster of **2 workers** (1 + 1 threads);
3. **one process, 2 torch threads**: ``segment_file`` on each stack in turn (a
   subprocess, so that its peak RSS is its own).

Figures: stacks per hour (wall time from the call to the last stack, the
cluster's start included, and without it), the scheduler's round trip per
task (200 empty tasks on the 2-worker cluster), peak RSS per worker (its
``VmHWM``). Run with ``OMP_NUM_THREADS=1``; the model is ``demo`` unless
``--model``.

Command used for ``docs/batch.md``::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_batch.py --stacks 8 --frames 50 --size 512
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_stacks(folder: Path, stacks: int, frames: int, size: int) -> Path:
    import tifffile

    from napari_sam2.core.synthetic import synthetic_timelapse

    rows = ["image,prompts,axes"]
    for i in range(stacks):
        image, truth = synthetic_timelapse(n_frames=frames, shape=(size, size), seed=i,
                                           divisions=False)
        tifffile.imwrite(folder / f"s{i}.tif", image, metadata={"axes": "TYX"})
        objects = []
        for cell in np.unique(truth[0])[1:]:
            rows_, cols = np.nonzero(truth[0] == cell)
            k = int(np.argmin((rows_ - rows_.mean()) ** 2 + (cols - cols.mean()) ** 2))
            objects.append({"id": int(cell), "prompts": [
                {"frame": 0, "points": [[int(rows_[k]), int(cols[k])]]}]})
        (folder / f"s{i}.json").write_text(json.dumps({"objects": objects}))
        rows.append(f"s{i}.tif,s{i}.json,TYX")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def peak_rss_mb() -> float:
    """Peak RSS in MB: ``VmHWM`` (reset by ``exec``, unlike ``ru_maxrss``), else ``ru_maxrss``."""
    from bench_engine import _peak_rss_mb, _vm_hwm_mb

    hwm = _vm_hwm_mb()
    return _peak_rss_mb() if hwm is None else hwm


def on_cluster(manifest: Path, out: Path, workers: int, model: str) -> dict:
    from distributed import Client, LocalCluster

    from napari_sam2.workflows.batch import run_batch

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=50)
    client = Client(cluster)
    ready = time.perf_counter()
    events = list(run_batch(manifest, out, client=client, torch_threads=1, model=model,
                            device="cpu", precision="fp32"))
    end = time.perf_counter()
    assert events[-1].ok, [e.message for e in events if e.kind == "failed"]
    overhead = None
    if workers == 2:
        tasks = 200
        begin = time.perf_counter()
        client.gather([client.submit(int, i, pure=False) for i in range(tasks)])
        overhead = (time.perf_counter() - begin) / tasks * 1000
    rss = sorted(client.run(peak_rss_mb).values())
    client.close()
    cluster.close()
    return {"wall": end - start, "batch": end - ready, "rss": rss, "overhead_ms": overhead,
            "task_seconds": [e.seconds for e in events if e.kind == "finished"]}


def single_process(manifest: Path, out: Path, model: str) -> dict:
    """Sequential ``segment_file`` with 2 torch threads (runs in a subprocess: ``--single``)."""
    import torch

    from napari_sam2.workflows.batch import plan_batch
    from napari_sam2.workflows.manifest import open_stack
    from napari_sam2.workflows.segment import segment_file

    torch.set_num_threads(2)
    start = time.perf_counter()
    for job in plan_batch(manifest, out):
        data, axes, channels = open_stack(job)
        segment_file(data, job.prompts, job.out, axes=axes, channels=channels, model=model,
                     device="cpu", precision="fp32", progress=False, image_path=job.image)
    return {"wall": time.perf_counter() - start, "rss": [peak_rss_mb()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=8)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--single", nargs=2, metavar=("MANIFEST", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(single_process(Path(args.single[0]), Path(args.single[1]), args.model)))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        manifest = write_stacks(folder, args.stacks, args.frames, args.size)
        results = {}
        for workers in (1, 2):
            results[f"{workers} worker(s) x 1 thread"] = on_cluster(
                manifest, folder / f"out{workers}", workers, args.model)
        done = subprocess.run([sys.executable, __file__, "--model", args.model, "--single",
                               str(manifest), str(folder / "single")], capture_output=True,
                              text=True)
        if done.returncode:
            sys.exit(f"the single-process run failed:\n{done.stderr[-3000:]}")
        results["1 process x 2 threads"] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.stacks} stacks of {args.frames} x {args.size} x {args.size}, model {args.model}, "
          "CPU, fp32")
    print(f"{'configuration':26} {'stacks/h':>9} {'(no start)':>10} {'wall s':>7}  peak RSS MB")
    for name, r in results.items():
        batch = r.get("batch", r["wall"])
        print(f"{name:26} {args.stacks / r['wall'] * 3600:9.0f} {args.stacks / batch * 3600:10.0f} "
              f"{r['wall']:7.1f}  {', '.join(f'{m:.0f}' for m in r['rss'])}")
    two = results["2 worker(s) x 1 thread"]
    print(f"scheduler round trip per empty task (2 workers): {two['overhead_ms']:.2f} ms")
    print(f"seconds per stack inside a task (2 workers): median "
          f"{np.median(two['task_seconds']):.1f}")


if __name__ == "__main__":
    main()
