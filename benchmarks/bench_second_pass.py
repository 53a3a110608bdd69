"""Second passes over frames already seen: the feature cache at work.

With the SAM2.1 Hiera-tiny architecture (random weights) at ``--preset``, a
:class:`Session` with a :class:`FeatureCache` (in memory, or ``--folder`` on
disk) propagates a synthetic uint16 stack (``bench_engine.write_stack``):

1. **first pass**: one click on frame 0, ``propagate("forward")``;
2. **after a correction**: a second click on frame 0 makes every later frame
   pending; ``propagate("forward")`` again;
3. **other direction**: a new object clicked on the last frame,
   ``propagate("backward")`` through the whole stack.

Passes 2 and 3 find every frame's image features in the cache (hits and
misses are printed), so they run only the memory attention, the decoder and
the memory encoder. Goal: each later pass <= 0.5x the first.

Usage::

    python benchmarks/bench_second_pass.py --preset fast --frames 20 --threads 2
    python benchmarks/bench_second_pass.py --preset accurate --frames 20 --folder /tmp/features.zarr
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _cell_centres, _cells, _cpu_name, write_stack  # noqa: E402


def _timed_pass(session, direction: str) -> float:
    t0 = time.perf_counter()
    for _ in session.propagate(direction):
        pass
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024, help="stack frame size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folder", help="on-disk feature cache: a zarr store (default: memory only)")
    args = parser.parse_args(argv)

    import warnings

    import torch
    import zarr

    from napari_sam2.core.feature_cache import FeatureCache
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker

    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model("random:sam2.1-tiny", "cpu", preset=args.preset)
    cells = _cells(4, args.size, 0)
    with tempfile.TemporaryDirectory() as tmp:
        write_stack(Path(tmp) / "stack.zarr", args.frames, args.size, n_cells=4)
        source = FrameSource(zarr.open_array(str(Path(tmp) / "stack.zarr"), mode="r"))
        cache = FeatureCache(folder=args.folder)
        session = Session(source, TransformersTracker(loaded, feature_cache=cache))
        first_click = _cell_centres(cells, 0)[0]
        session.add_points(1, 0, [first_click], [1])
        rows = [("first pass (forward)", _timed_pass(session, "forward"), cache.hits, cache.misses)]
        hits, misses = cache.hits, cache.misses
        session.add_points(1, 0, [first_click, first_click + 8], [1, 1])
        rows.append(("after a correction on frame 0 (forward)", _timed_pass(session, "forward"),
                     cache.hits - hits, cache.misses - misses))
        hits, misses = cache.hits, cache.misses
        session.add_points(2, args.frames - 1, [_cell_centres(cells, args.frames - 1)[1]], [1])
        rows.append(("new object on the last frame (backward)", _timed_pass(session, "backward"),
                     cache.hits - hits, cache.misses - misses))

    first = rows[0][1]
    where = f"on disk in {args.folder}" if args.folder else f"in memory ({cache.max_bytes >> 20} MiB)"
    print(f"SAM2.1 Hiera-tiny (random weights), preset {args.preset} ({loaded.image_size} px, "
          f"{loaded.model.num_maskmem} memories); {args.frames} frames of {args.size}^2 uint16; "
          f"feature cache {where}; {args.threads} torch threads on {_cpu_name()}\n")
    print("| pass | s | s / frame | x first pass | cache hits / misses |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, hit, miss in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / (args.frames - 1):.2f} | {seconds / first:.2f} | "
              f"{hit} / {miss} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
