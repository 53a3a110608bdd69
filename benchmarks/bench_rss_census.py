"""Resident memory against live tensors during a long propagation (is memory flat in T?).

The SAM2.1 Hiera-tiny architecture (random weights, fp32, ``--preset``),
``--frames`` random uint16 frames of 1024^2 held in memory, labels written to
a zarr sink in a temporary folder, one click on frame 0, forward
propagation. Every ``--every`` frames it prints the process's resident
memory (``VmRSS``), the number and bytes of live tensor storages
(``gc``), the number of Python objects and the model state's entries.

Usage (the figures in docs/benchmarks.md)::

    python benchmarks/bench_rss_census.py --frames 241 --every 40
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _rss_now_mb  # noqa: E402


def _live_tensors() -> tuple[int, int]:
    import torch

    storages = {}
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return len(storages), sum(storages.values()) >> 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=241)
    parser.add_argument("--every", type=int, default=40)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.sink import open_label_sink
    from napari_sam2.core.tracker import TransformersTracker

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model("random:sam2.1-tiny", "cpu", preset=args.preset, precision="fp32")
    stack = (np.random.default_rng(0).random((args.frames, 1024, 1024)) * 1000).astype(np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        sink = open_label_sink(Path(tmp) / "labels.zarr", args.frames, (1024, 1024))
        session = Session(FrameSource(stack), TransformersTracker(loaded), sink)
        session.add_points(1, 0, [[500, 500]], [1])
        outputs = session.tracker._session.output_dict_per_obj[0]
        print(f"{args.preset}, {loaded.image_size} px, stack of {stack.nbytes >> 20} MB in memory")
        print("| frame | RSS (MB) | live tensors | their MB | Python objects | model state entries |")
        print("|---:|---:|---:|---:|---:|---:|")
        for i, result in enumerate(session.propagate("forward")):
            if (i + 1) % args.every == 0:
                count, mb = _live_tensors()
                entries = sum(len(v) for v in outputs.values())
                print(f"| {result.frame} | {_rss_now_mb():.0f} | {count} | {mb} | {len(gc.get_objects())} | "
                      f"{entries} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
