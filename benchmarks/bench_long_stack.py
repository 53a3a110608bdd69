"""A long, large stack through the command line: peak memory of ``napari-sam2 segment``.

Writes a synthetic uint16 stack of ``--frames`` x ``--size`` x ``--size`` to a
zarr array on disk (one frame per chunk; ``bench_engine.write_stack``), a
prompts file with one click on each of ``--objects`` cells on frame 0, then
runs ``napari-sam2 segment STACK --prompts P --out labels.zarr --direction
forward`` in a child process and reports its wall time, s/frame and peak RSS
(``ru_maxrss`` of the child), and checks the labels on disk (frames with
labels, the last frame included).

Usage (the figures in docs/benchmarks.md)::

    python benchmarks/bench_long_stack.py --frames 1000 --size 2048 --model demo
    python benchmarks/bench_long_stack.py --frames 1000 --size 2048 --model random:sam2.1-tiny --preset fast

The stack takes about 2 bytes x frames x size^2 before compression (8 GB for
the first command); ``--tmpdir`` chooses where it goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _cell_centres, _cpu_name, write_stack  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--preset", default="accurate")
    parser.add_argument("--tmpdir")
    args = parser.parse_args(argv)

    from napari_sam2.core.label_store import open_labels

    with tempfile.TemporaryDirectory(prefix="bench_long_", dir=args.tmpdir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        _, cells = write_stack(tmp / "stack.zarr", args.frames, args.size, n_cells=args.objects)
        data_s = time.perf_counter() - t0
        centres = _cell_centres(cells, 0)
        prompts = {"objects": [{"id": i + 1, "prompts": [{"frame": 0, "points": [[float(r), float(c)]],
                                                          "labels": [1]}]}
                               for i, (r, c) in enumerate(centres[:args.objects])]}
        (tmp / "prompts.json").write_text(json.dumps(prompts))
        cmd = [sys.executable, "-m", "napari_sam2.cli", "segment", str(tmp / "stack.zarr"),
               "--prompts", str(tmp / "prompts.json"), "--out", str(tmp / "labels.zarr"),
               "--model", args.model, "--preset", args.preset, "--direction", "forward",
               "--device", "cpu"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.stderr.write(proc.stderr[-3000:])
            return proc.returncode
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        labels = open_labels(tmp / "labels.zarr")
        labelled = sum(bool(np.asarray(labels[t]).any()) for t in range(args.frames))
        on_disk = sum(f.stat().st_size for f in (tmp / "stack.zarr").rglob("*") if f.is_file())

    print(f"napari-sam2 segment, model {args.model} (preset {args.preset}), {_cpu_name()}")
    print(f"stack: {args.frames} x {args.size} x {args.size} uint16 zarr ({on_disk / 2**30:.1f} GiB on "
          f"disk, written in {data_s / 60:.1f} min), {args.objects} objects clicked on frame 0\n")
    print("| frames | wall (min) | s / frame | peak RSS (MB) | frames with labels |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {args.frames} | {wall / 60:.1f} | {wall / args.frames:.2f} | {peak:.0f} | "
          f"{labelled} / {args.frames} |")
    print(proc.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
