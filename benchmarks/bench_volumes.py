"""3D+t (series of volumes): time per volume, peak RSS, track vs z-sweep time, parallel sweeps, quality.

What it does (model ``demo``, 192 px, fp32 on the CPU):

1. **Speed and memory.** For each ``--planes`` value, a synthetic series of
   ``--times`` volumes of ``planes x --size x --size`` px (3 nuclei, written to
   a zarr store first) is segmented by ``segment_volumes_file`` in a fresh
   process reading the zarr lazily, one box per nucleus at t=0: wall time,
   the share of it in the time track (prompts included) and in the z-sweeps,
   time per volume, and the process's peak RSS (``VmHWM`` of ``/proc/self/status``: the
   child's own; ``ru_maxrss`` survives ``exec`` and so started from the parent's RSS at the
   fork, which held the synthetic series' truth: that inflated the first T = 50 figures).
2. **Parallel z-sweeps.** The smallest configuration again with the z-sweeps
   on 2 dask threads, each run in its own process: ``workers=1`` with torch on
   2 threads (the default on this machine), ``workers=1`` and ``workers=2`` with
   torch on 1 thread. The fair comparison on 2 cores is the first against the
   last. These runs follow a fixed plane (``follow="fixed"``) to keep them
   short: the sweeps are the same work either way. ``--parallel-only`` runs
   this part alone.
3. **Quality and the plane choice.** The default synthetic series with
   nuclei drifting in z (``z_speed`` 0.8 planes per time point; 8 volumes of
   10 x 96 x 96, 4 nuclei, one leaving) with ``follow="largest"`` and
   ``follow="fixed"``: mean per-object 3D IoU over time, CTC SEG / TRA, and the
   box-cylinder baseline (each prompt box through every plane and time point).

Command used for ``docs/volumes.md``::

    python benchmarks/bench_volumes.py --times 4 --planes 5 30 --size 512   # quality, first speed run
    python benchmarks/bench_volumes.py --times 10 --planes 5 30 --size 512 --skip-quality
    python benchmarks/bench_volumes.py --times 10 --planes 5 --size 512 --skip-quality --parallel-only
    OMP_NUM_THREADS=2 python benchmarks/bench_volumes.py --times 50 --planes 5 30 --size 512 \
        --skip-quality --skip-parallel
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MACHINE = "2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU"


def box_prompts(truth, path: Path):
    """One box per nucleus on its largest plane at t=0; the box-cylinder baseline."""
    objects, baseline = [], np.zeros_like(truth)
    for i in sorted(set(np.unique(truth[0])) - {0}):
        mask = truth[0] == i
        z = int(mask.sum(axis=(1, 2)).argmax())
        rows, cols = np.nonzero(mask[z])
        box = [int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())]
        baseline[:, :, box[0]:box[2] + 1, box[1]:box[3] + 1] = i
        objects.append({"id": int(i), "prompts": [{"frame": 0, "plane": z, "box": box}]})
    path.write_text(json.dumps({"objects": objects}))
    return baseline


def child(args) -> None:
    """One run in this process: prints a JSON line of figures."""
    import torch
    import zarr

    from napari_sam2.core.volumes import VolumeResult, VolumeSession

    torch.set_num_threads(args.torch_threads)
    data = zarr.open_array(args.data, mode="r")
    marks = {"start": time.perf_counter()}
    original = VolumeSession.propagate

    def timed(self, *a, **k):
        marks["begin"] = time.perf_counter()  # the model is loaded, the prompts are set
        for event in original(self, *a, **k):
            if isinstance(event, VolumeResult) and "track" not in marks:
                marks["track"] = time.perf_counter()
            yield event

    VolumeSession.propagate = timed
    from napari_sam2.workflows.volumes import segment_volumes_file

    segment_volumes_file(data, args.prompts, args.out, axes="TZYX", model="demo", progress=False,
                         workers=args.workers, follow=args.follow)
    end = time.perf_counter()
    track, sweeps = marks["track"] - marks["begin"], end - marks["track"]
    print(json.dumps({"total_s": end - marks["start"], "setup_s": marks["begin"] - marks["start"],
                      "track_s": track, "sweeps_s": sweeps,
                      "per_volume_s": sweeps / data.shape[0],
                      "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: ``VmHWM`` where Linux has it (reset by ``exec``), else ``ru_maxrss``."""
    from bench_engine import _peak_rss_mb, _vm_hwm_mb

    hwm = _vm_hwm_mb()
    return _peak_rss_mb() if hwm is None else hwm


def run_child(data, prompts, out, workers=1, torch_threads=2, follow="largest") -> dict:
    cmd = [sys.executable, __file__, "--child", "--data", str(data), "--prompts", str(prompts),
           "--out", str(out), "--workers", str(workers), "--torch-threads", str(torch_threads),
           "--follow", follow]
    env = dict(os.environ, OMP_NUM_THREADS=str(torch_threads))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(args, folder: Path) -> None:
    import zarr

    from napari_sam2.core.synthetic_volumes import synthetic_volumes

    print(f"# speed and memory ({MACHINE}); demo model; {args.times} volumes, 3 nuclei")
    print("planes  size  total s  load+prompts s  track s  sweeps s  sweeps %  s/volume  peak RSS MB")
    smallest = None
    for planes in args.planes:
        if args.parallel_only and smallest:
            break
        image, truth = synthetic_volumes(n_times=args.times, n_planes=planes, shape=(args.size, args.size),
                                         n_nuclei=3, leaving=0, seed=0, z_radius=(planes / 6, planes / 4))
        data = folder / f"series-{planes}.zarr"
        store = zarr.open_array(str(data), mode="w", shape=image.shape, dtype=image.dtype,
                                chunks=(1, 1, args.size, args.size))
        store[:] = image
        del image
        prompts = folder / f"prompts-{planes}.json"
        box_prompts(truth, prompts)
        del truth  # not held while the children run
        smallest = smallest or (data, prompts, planes)
        if args.parallel_only:
            continue
        r = run_child(data, prompts, folder / f"out-{planes}.zarr")
        work = r["track_s"] + r["sweeps_s"]
        print(f"{planes:6d}  {args.size:4d}  {r['total_s']:7.1f}  {r['setup_s']:14.1f}  {r['track_s']:7.1f}"
              f"  {r['sweeps_s']:8.1f}  {100 * r['sweeps_s'] / work:8.0f}  {r['per_volume_s']:8.2f}"
              f"  {r['peak_rss_mb']:11.0f}")
    if args.skip_parallel:
        return
    data, prompts, planes = smallest
    print(f"\n# parallel z-sweeps, {planes} planes x {args.size} px (sweep phase only; follow='fixed' to "
          "keep the runs short, the sweeps are the same work)")
    print("workers  torch threads  sweeps s (best of 2, interleaved)  speed-up vs 1 worker / 2 threads")
    configs = ((1, 2), (1, 1), (2, 1), (2, 2))
    best = {c: float("inf") for c in configs}
    for repeat in range(2):
        for workers, threads in configs:
            out = folder / f"par-{workers}-{threads}-{repeat}.zarr"
            r = run_child(data, prompts, out, workers, threads, follow="fixed")
            best[workers, threads] = min(best[workers, threads], r["sweeps_s"])
    for (workers, threads), took in best.items():
        print(f"{workers:7d}  {threads:13d}  {took:8.1f}  {best[1, 2] / took:5.2f}x")


def quality(folder: Path) -> None:

    from napari_sam2.core.label_store import open_labels
    from napari_sam2.core.synthetic_volumes import synthetic_volumes
    from napari_sam2.evaluation.volumes import score_volumes_ctc, volume_iou
    from napari_sam2.workflows.volumes import segment_volumes_file

    image, truth = synthetic_volumes(n_times=8, n_planes=10, shape=(96, 96), n_nuclei=4, leaving=1,
                                     z_speed=0.8, seed=0)
    prompts = folder / "quality.json"
    baseline = box_prompts(truth, prompts)
    print("\n# quality: 8 volumes of 10 x 96 x 96, 4 nuclei drifting in z (0.8 planes / time point)")
    print("follow    mean 3D IoU  J active  SEG    TRA    time s")
    for follow in ("largest", "fixed"):
        out = folder / f"quality-{follow}.zarr"
        start = time.perf_counter()
        segment_volumes_file(image, prompts, out, axes="TZYX", model="demo", progress=False, follow=follow)
        took = time.perf_counter() - start
        labels = open_labels(out)[:]
        table = volume_iou(labels, truth, match="id")
        ctc = score_volumes_ctc(labels, truth, folder / f"ctc-{follow}")
        print(f"{follow:8s}  {table.mean_iou:11.3f}  {table.mean_j_active:8.3f}  {ctc['SEG']:.3f}  "
              f"{ctc['TRA']:.3f}  {took:6.1f}")
    table = volume_iou(baseline, truth, match="id")
    ctc = score_volumes_ctc(baseline, truth, folder / "ctc-baseline")
    print(f"{'boxes':8s}  {table.mean_iou:11.3f}  {table.mean_j_active:8.3f}  {ctc['SEG']:.3f}  "
          f"{ctc['TRA']:.3f}       -")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--planes", type=int, nargs="+", default=[5, 30])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--parallel-only", action="store_true", help="only the parallel z-sweeps")
    parser.add_argument("--skip-parallel", action="store_true", help="no parallel z-sweeps (long series)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--data", "--prompts", "--out", "--follow"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--torch-threads", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_quality:
            quality(Path(tmp))
        if not args.skip_speed:
            speed(args, Path(tmp))


if __name__ == "__main__":
    main()
