"""What resuming costs: the journal and checkpoints during a run, and the time to resume.

With the SAM2.1 Hiera-tiny architecture (random weights, ``--preset``, the
default precision) on a synthetic uint16 stack (``bench_engine.write_stack``),
one click per cell on frame 0, propagation forward into a zarr label store:

1. **baseline**: a plain :class:`Session` writing an ``open_label_sink`` store
   (what ``segment`` did before it could resume);
2. **journaled**: the same frames through a :class:`JournaledSink` (undo log
   and ``fsync`` of every frame, the journal updated after each frame), with
   a checkpoint of the tracker every frame, timed separately.

It prints the time per frame, the journal's cost per frame, one checkpoint's
cost and size, the overhead at ``checkpoint_every`` = 1, 5, 10, 20 (journal +
checkpoint / frame time), and the time to resume (load the checkpoint,
restore the session and tracker, undo the frames written after it).

Usage::

    python benchmarks/bench_resume.py --frames 16 --size 512 --cells 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _cell_centres, _cells, _cpu_name, write_stack  # noqa: E402


def _session(loaded, data, sink):
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker

    return Session(FrameSource(data, 0), TransformersTracker(loaded), sink)


def _prompt(session, centres):
    for obj_id, (row, col) in enumerate(centres, start=1):
        session.add_points(obj_id, 0, [[row, col]])


def _time_calls(obj, name, spent, key):
    """Add the time of every call of ``obj.name`` to ``spent[key]``."""
    method = getattr(obj, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t0

    setattr(obj, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cells", type=int, default=3)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch
    import zarr

    from napari_sam2.core.checkpoint import JournaledSink, RunJournal, restore_session
    from napari_sam2.core.label_store import open_labels
    from napari_sam2.core.models import load_model
    from napari_sam2.core.sink import new_label_array, open_label_sink

    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    write_stack(folder / "stack.zarr", args.frames, args.size, args.cells)
    data = zarr.open_array(str(folder / "stack.zarr"), mode="r")
    centres = _cell_centres(_cells(args.cells, args.size, 0), 0)
    loaded = load_model("random:sam2.1-tiny", "cpu", preset=args.preset)

    # 1. baseline
    session = _session(loaded, data, open_label_sink(folder / "plain.zarr", args.frames, (args.size,) * 2))
    _prompt(session, centres)
    t0 = time.perf_counter()
    for _ in session.propagate("forward"):
        pass
    baseline = time.perf_counter() - t0
    per_frame = baseline / (args.frames - 1)

    # 2. journaled, a checkpoint after every frame (timed apart)
    run = folder / "run"
    run.mkdir()
    journal = RunJournal.start(run, {}, "OUT", args.frames)
    shape = (args.frames, args.size, args.size)
    out = folder / "journaled.zarr"
    sink = JournaledSink(new_label_array(out, shape), journal, out)
    session = _session(loaded, data, sink)
    _prompt(session, centres)
    journal.save_checkpoint(session, "prompts", None)
    checkpoints, spent = [], {"undo": 0.0, "sync": 0.0, "journal": 0.0}
    _time_calls(journal, "keep_before_write", spent, "undo")
    _time_calls(sink, "_sync", spent, "sync")
    t0 = time.perf_counter()
    for result in session.propagate("forward"):
        j0 = time.perf_counter()
        journal.frame_done(result.frame, "forward")
        spent["journal"] += time.perf_counter() - j0
        c0 = time.perf_counter()
        journal.save_checkpoint(session, "forward", result.frame)
        checkpoints.append(time.perf_counter() - c0)
    total = time.perf_counter() - t0
    journaled = (total - sum(checkpoints)) / (args.frames - 1)
    journal_cost = sum(spent.values()) / (args.frames - 1)  # timed directly: contention-proof
    parts = {k: round(v / (args.frames - 1), 4) for k, v in spent.items()}
    checkpoint = statistics.median(checkpoints)
    size_mb = (run / journal.checkpoint["file"]).stat().st_size / 1e6

    # 3. time to resume from the last checkpoint, with the last 10 frames to undo
    for frame in range(max(1, args.frames - 10), args.frames):
        journal.keep_before_write(frame, sink.read(frame))
    t0 = time.perf_counter()
    fresh = _session(loaded, data, JournaledSink(open_labels(folder / "journaled.zarr", mode="r+"),
                                                 journal, folder / "journaled.zarr"))
    tensors, layout, state = journal.load_checkpoint()

    class _Prompts:
        def __init__(self, obj_id):
            self.obj_id, self.name, self.prompts = obj_id, "", {}

    restore_session(fresh, [_Prompts(i) for i in range(1, args.cells + 1)], state, tensors, layout)
    undone = journal.undo(fresh.sink)
    resume = time.perf_counter() - t0

    same = np.array_equal(open_labels(folder / "plain.zarr")[:], open_labels(folder / "journaled.zarr")[:])
    figures = {
        "cpu": _cpu_name(), "threads": args.threads, "preset": args.preset,
        "image_size": loaded.image_size, "precision": loaded.precision, "frames": args.frames,
        "size": args.size, "objects": args.cells,
        "s_per_frame": round(per_frame, 3), "s_per_frame_journaled_run": round(journaled, 3),
        "journal_s_per_frame": round(journal_cost, 4),
        "journal_parts_s_per_frame": parts,
        "checkpoint_s": round(checkpoint, 4), "checkpoint_MB": round(size_mb, 2),
        "overhead_pct": {n: round(100 * (journal_cost + checkpoint / n) / per_frame, 2)
                         for n in (1, 5, 10, 20)},
        "resume_s": round(resume, 3), "frames_undone": len(undone),
        "labels_equal_to_baseline": bool(same),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
