"""Cost of tracking many cells: seconds per frame with 10 / 50 / 100 objects, fast preset.

The architecture is SAM2.1-tiny with random weights (``random:sam2.1-tiny``)
at the fast preset (512 px input, 4 memory frames): its speed is the real
model's, its masks are meaningless. Each object is prompted with a disk mask
on frame 0 of a 512 x 512 synthetic stack, then ``Session.propagate`` runs
``--frames`` frames (what a track-all run computes per frame); separately,
the track-all checks of one frame (:class:`~napari_sam2.core.track_checks.FrameChecks`)
are timed on a label image with the same number of cells. Prints the time
per frame, the per-object slope and the extrapolation to 100 frames.
``--paths full,window`` times whole-map tracking and windowed tracking
(:mod:`napari_sam2.core.windowed_tracking`, default :class:`WindowParams`) in one run.
The random model's masks are meaningless (often huge or empty, which sends
windowed tracking to the whole map), so ``window`` places each object's window
at its seed's box on every frame, as a trained model's cell-sized masks would
(``window-own``: windows from the random model's own masks).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_track_cost.py --paths full,window
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def disks(shape, n, radius=12):
    """``n`` disk masks on a grid over the frame."""
    side = int(np.ceil(np.sqrt(n)))
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    centres = [((i + 0.5) * shape[0] / side, (j + 0.5) * shape[1] / side) for i in range(side)
               for j in range(side)][:n]
    return [(rr - r) ** 2 + (cc - c) ** 2 <= radius ** 2 for r, c in centres]


def module_timers(model):
    """Seconds spent in the model's main modules (forward hooks), filled while propagating."""
    spent, started, handles = {}, {}, []
    for name in ("vision_encoder", "memory_attention", "mask_decoder", "memory_encoder"):
        module = getattr(model, name)
        spent[name] = 0.0

        def before(mod, args, name=name):
            started[name] = time.perf_counter()

        def after(mod, args, out, name=name):
            spent[name] += time.perf_counter() - started.pop(name)

        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    return spent, handles


def at_seed_box(windowed) -> None:
    """Place every object's window around its prompt's mask (not the random model's last mask)."""
    own = windowed.window_for

    def window_for(outputs, frame, reverse):
        return own({"cond_frame_outputs": outputs["cond_frame_outputs"], "non_cond_frame_outputs": {}},
                   frame, reverse)

    windowed.window_for = window_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", default="10,50,100")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--model", default="random:sam2.1-tiny")
    parser.add_argument("--paths", default="full", help="full, window or both (full,window)")
    args = parser.parse_args()

    import torch

    from napari_sam2.core.lineage import Lineage
    from napari_sam2.core.models import load_model
    from napari_sam2.core.records import FrameResult
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.core.track_checks import FrameChecks, TrackParams
    from napari_sam2.core.window_geometry import WindowParams

    shape = (512, 512)
    image, _ = synthetic_timelapse(args.frames + 1, shape, n_cells=20, seed=0)
    loaded = load_model(args.model, "cpu", preset="fast")
    print(f"track cost: {loaded.name} ({loaded.preset}, {loaded.image_size} px), {shape[0]} x {shape[1]} "
          f"frames, {args.frames} propagated frames per run, torch threads {torch.get_num_threads()} "
          f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
    print("machine: 2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU")
    print(f"{'path':>6} {'objects':>7} {'prompt s':>8} {'s/frame':>8} {'s/frame/obj':>11} {'checks s':>8} "
          f"{'100 frames min':>14}  s/frame in: modules")
    rows = {}
    runs = [(p, int(x)) for x in args.objects.split(",") for p in args.paths.split(",")]
    for path, n in runs:
        window = WindowParams() if path.startswith("window") else None
        session = Session.from_array(image, model=loaded, window=window)
        if path == "window":
            at_seed_box(session.tracker.windowed)
        masks = disks(shape, n)
        t0 = time.perf_counter()
        for i, mask in enumerate(masks, 1):
            session.add_mask(i, 0, mask)
        prompt = time.perf_counter() - t0
        spent, handles = module_timers(loaded.model)
        t0 = time.perf_counter()
        results = list(session.propagate("forward"))
        per_frame = (time.perf_counter() - t0) / len(results)
        for handle in handles:
            handle.remove()
        labels = np.zeros(shape, np.uint16)
        for i, mask in enumerate(masks, 1):
            labels[mask] = i
        lineage = Lineage()
        for i in range(1, n + 1):
            lineage.add(i, 0)
        checks = FrameChecks(lineage, TrackParams(), shape)
        checks.start_pass(labels, False)
        moved = np.roll(labels, 2, axis=1)
        result = FrameResult(1, tuple(range(1, n + 1)), np.zeros((0,)), np.full(n, 0.99, np.float32), moved)
        t0 = time.perf_counter()
        checks.frame(result, False)
        check_s = time.perf_counter() - t0
        total = (per_frame + check_s) * 99 / 60 + prompt / 60
        rows.setdefault(path, []).append((n, per_frame))
        windowed = session.tracker.windowed
        used = f", windows {windowed.windows_used} / whole map {windowed.full_used}" if windowed else ""
        print(f"{path:>6} {n:7d} {prompt:8.2f} {per_frame:8.2f} {per_frame / n:11.3f} {check_s:8.3f} "
              f"{total:14.1f}  "
              + ", ".join(f"{k} {v / len(results):.2f}" for k, v in spent.items()) + used, flush=True)
    for path, done in rows.items():
        if len(done) > 1:
            (n0, t0_), (n1, t1) = done[0], done[-1]
            slope = (t1 - t0_) / (n1 - n0)
            print(f"{path}: per extra object {slope:.3f} s/frame; fixed part (image encoder, I/O): "
                  f"{t0_ - slope * n0:.2f} s/frame")
    if {"full", "window"} <= rows.keys():
        for (n, full), (_, win) in zip(rows["full"], rows["window"], strict=True):
            print(f"{n} objects: windowed x{full / win:.1f} faster per frame")


if __name__ == "__main__":
    main()
