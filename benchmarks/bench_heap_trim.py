"""Peak memory and time per frame against how often freed heap goes back to the system.

One process per run: the SAM2.1 Hiera-tiny architecture (random weights, fp32,
``--threads``), ``--frames`` random uint16 frames of 1024^2 in memory, one
click on frame 0, forward propagation; the tracker calls ``malloc_trim``
every ``--trim-every`` frames (``core.tracker.TRIM_EVERY``). Prints seconds
per frame (wall and CPU) and the process's resident and peak resident memory
(``VmRSS`` / ``VmHWM``). Run with ``MALLOC_MMAP_THRESHOLD_=N`` in the
environment to see glibc's mmap threshold at work.

Usage (the figures in docs/benchmarks.md)::

    for t in 8 1 8 1; do python benchmarks/bench_heap_trim.py --size 512 --frames 31 --trim-every $t; done
    python benchmarks/bench_heap_trim.py --size 1024 --frames 9 --trim-every 1
    MALLOC_MMAP_THRESHOLD_=1048576 python benchmarks/bench_heap_trim.py --size 1024 --frames 9
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _cpu_seconds, _rss_now_mb, _vm_hwm_mb  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, choices=(512, 1024), help="model input (preset)")
    parser.add_argument("--frames", type=int, default=31)
    parser.add_argument("--trim-every", type=int, default=None, help="default: the tracker's TRIM_EVERY")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from napari_sam2.core import tracker
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session

    torch.set_num_threads(args.threads)
    if args.trim_every:
        tracker.TRIM_EVERY = args.trim_every
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model("random:sam2.1-tiny", "cpu", preset={512: "fast", 1024: "accurate"}[args.size],
                            precision="fp32")
    stack = (np.random.default_rng(0).random((args.frames, 1024, 1024)) * 1000).astype(np.uint16)
    session = Session(FrameSource(stack), tracker.TransformersTracker(loaded))
    session.add_points(1, 0, [[500, 500]], [1])
    wall, cpu = time.perf_counter(), _cpu_seconds()
    for _ in session.propagate("forward"):
        pass
    n = args.frames - 1
    print(f"{args.size} px, trim every {tracker.TRIM_EVERY}: {(time.perf_counter() - wall) / n:.3f} s/frame, "
          f"{(_cpu_seconds() - cpu) / n:.3f} CPU s/frame, RSS {_rss_now_mb():.0f} MB, "
          f"peak RSS {_vm_hwm_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
