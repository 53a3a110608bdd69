"""Side by side: napari-sam2 against Meta's SAM2 video predictor fed a JPEG folder.

The peer is the path other napari SAM2 plugins take: the stack is written to
a folder of JPEG frames, ``sam2.build_sam.build_sam2_video_predictor`` (the
``sam2`` package, 1.1.0) loads them all with ``init_state`` and
``propagate_in_video`` keeps every frame's outputs. Both sides run the SAM2.1
Hiera-tiny architecture with **random weights** (no download here), at the
same model input size and with 7 mask memories, on the CPU, the same
number of torch threads, the same stack, the same click, forward propagation,
and the labels written frame by frame to a zarr array on disk.

For each stack length T (``--frames``), the parent writes a uint16 stack of
T x ``--size`` x ``--size`` to a zarr array (one frame per chunk; the
generator of ``bench_engine.py``), then runs each side in a fresh process:

* **ours**: :class:`FrameSource` over the zarr (read lazily),
  ``Session.add_points`` on frame 0, ``Session.propagate("forward")``, zarr sink;
  our default precision (``auto``: bf16 autocast on CPUs that compute bf16 in
  hardware, fp32 elsewhere). ``ours-fp32`` forces fp32, ``ours-compile``
  adds ``torch.compile`` of the image encoder.
* The reference runs fp32 (as other plugins run it on a CPU).
* **reference**: the stack scaled to 8 bits (min / max of 8 sampled frames)
  and written as ``00000.jpg ...`` (PIL, quality 95) -- the *export* time;
  ``init_state(folder)`` -- the *load* time; ``add_new_points_or_box`` on
  frame 0; ``propagate_in_video``; each yielded mask thresholded at 0 and
  written to a zarr sink.

Figures: s/frame (propagation wall time / (T - 1)); time to first mask
(ours: the click, which reads and encodes frame 0; reference: export + load +
click, what a user waits for after choosing the stack); peak RSS
(``ru_maxrss`` of the side's process). Ratios ours / reference per T, and
our peak RSS at the largest T / at the smallest T.

Usage (the figures in docs/benchmarks.md)::

    SAM2_BUILD_CUDA=0 pip install --no-deps --no-build-isolation sam2==1.1.0
    pip install hydra-core iopath
    python benchmarks/bench_vs_reference.py --frames 20 100 500 --image-size 512 --threads 1
    python benchmarks/bench_vs_reference.py --frames 20 --image-size 1024 --threads 1 \
        --sides ours ours-fp32 ours-compile reference

Quick check: ``--frames 3 --size 256 --image-size 512 --sides ours ours-fp32 reference``.
``--sides ours reference-load`` bounds the memory ratio without the
reference's long propagation: its peak RSS after loading the frames and
answering the click is a lower bound of its peak over the run.
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
from bench_engine import _cell_centres, _cells, _cpu_name, write_stack  # noqa: E402

JSON_TAG = "BENCH_VS_REFERENCE_JSON "
MEMORY_FRAMES = 7  # SAM2.1's; both sides use it
PRESET_FOR_SIZE = {512: "fast", 768: "balanced", 1024: "accurate"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _click(size: int) -> tuple[float, float]:
    """(row, col) of the first cell's centre on frame 0: the click both sides get."""
    row, col = _cell_centres(_cells(4, size, 0), 0)[0]
    return float(row), float(col)


def _label_sink(path: Path, n_frames: int, size: int):
    import zarr

    return zarr.open_array(str(path), mode="w", shape=(n_frames, size, size),
                           chunks=(1, size, size), dtype=np.uint16)


# ---------------------------------------------------------------- ours
def run_ours(stack_path: Path, out: Path, image_size: int, compile: bool = False,
             precision: str = "auto") -> dict:
    import warnings

    import zarr

    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.sink import open_label_sink
    from napari_sam2.core.tracker import TransformersTracker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model("random:sam2.1-tiny", "cpu", preset=PRESET_FOR_SIZE[image_size],
                            compile=compile, precision=precision)
    loaded.model.num_maskmem = MEMORY_FRAMES
    stack = zarr.open_array(str(stack_path), mode="r")
    n_frames, size = stack.shape[0], stack.shape[1]
    sink = open_label_sink(out / "labels_ours.zarr", n_frames, (size, size))
    session = Session(FrameSource(stack), TransformersTracker(loaded), sink)
    t0 = time.perf_counter()
    session.add_points(1, 0, [_click(size)], [1])
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = sum(1 for _ in session.propagate("forward"))
    loop = time.perf_counter() - t0
    return {"first_mask_s": first, "propagation_s": loop, "frames_propagated": done,
            "s_per_frame": loop / max(done, 1), "image_size": loaded.image_size,
            "precision": loaded.precision,
            "labelled_px_last": int(np.count_nonzero(np.asarray(sink.array[n_frames - 1])))}


# ----------------------------------------------------------- reference
def export_jpegs(stack, folder: Path) -> None:
    """8-bit JPEG frames as SAM2's video loader wants them (scaled by sampled min / max)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sample = np.stack([np.asarray(stack[t]) for t in np.linspace(0, stack.shape[0] - 1, 8).astype(int)])
    low, high = float(sample.min()), float(sample.max())
    for t in range(stack.shape[0]):
        frame = (np.asarray(stack[t], np.float32) - low) / max(high - low, 1e-6)
        grey = (np.clip(frame, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(grey).convert("RGB").save(folder / f"{t:05d}.jpg", quality=95)


def run_reference(stack_path: Path, out: Path, image_size: int, propagate: bool = True) -> dict:
    import warnings

    import torch
    import zarr
    from sam2.build_sam import build_sam2_video_predictor

    stack = zarr.open_array(str(stack_path), mode="r")
    n_frames, size = stack.shape[0], stack.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = build_sam2_video_predictor(
            "configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu",
            hydra_overrides_extra=[f"++model.image_size={image_size}",
                                   f"++model.num_maskmem={MEMORY_FRAMES}"])
    sink = _label_sink(out / "labels_reference.zarr", n_frames, size)
    row, col = _click(size)
    t0 = time.perf_counter()
    export_jpegs(stack, out / "jpegs")
    export = time.perf_counter() - t0
    with torch.inference_mode():
        t1 = time.perf_counter()
        state = predictor.init_state(str(out / "jpegs"))
        load = time.perf_counter() - t1
        rss_loaded = _peak_rss_mb()
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1,
                                        points=np.array([[col, row]], np.float32),
                                        labels=np.array([1], np.int32))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = 0
        for frame, _ids, masks in predictor.propagate_in_video(state) if propagate else ():
            sink[frame] = (masks[0, 0] > 0).numpy().astype(np.uint16)
            done += frame > 0
        loop = time.perf_counter() - t0
    return {"first_mask_s": first, "export_s": export, "load_s": load, "propagation_s": loop,
            "frames_propagated": done, "s_per_frame": loop / max(done, 1),
            "peak_rss_after_load_MB": rss_loaded, "image_size": int(predictor.image_size),
            "labelled_px_last": int(np.count_nonzero(sink[n_frames - 1]))}


def child(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(tempfile.mkdtemp(prefix=f"bench_{args._side}_", dir=args.tmpdir))
    if args._side.startswith("reference"):
        result = run_reference(Path(args._stack), out, args.image_size,
                               propagate=args._side == "reference")
    else:
        result = run_ours(Path(args._stack), out, args.image_size, compile=args._side == "ours-compile",
                          precision="fp32" if args._side == "ours-fp32" else "auto")
    result.update(side=args._side, frames=args.frames[0], size=args.size, threads=torch.get_num_threads(),
                  peak_rss_MB=_peak_rss_mb(), cpu_s=sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return result


# -------------------------------------------------------------- driver
def _run_side(args, side: str, stack: Path, n_frames: int) -> dict:
    cmd = [sys.executable, __file__, "--_side", side, "--_stack", str(stack), "--frames", str(n_frames),
           "--size", str(args.size), "--image-size", str(args.image_size),
           "--threads", str(args.threads)]
    if args.tmpdir:
        cmd += ["--tmpdir", args.tmpdir]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(JSON_TAG)]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{side} run with T={n_frames} failed")
    return json.loads(lines[-1][len(JSON_TAG):])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--size", type=int, default=1024, help="stack frame size (pixels)")
    parser.add_argument("--image-size", type=int, default=512, choices=sorted(PRESET_FOR_SIZE),
                        help="model input size of both sides")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sides", nargs="+", default=["ours", "reference"],
                        choices=["ours", "ours-fp32", "ours-compile", "reference", "reference-load"],
                        help="ours: default precision (auto); ours-fp32: fp32 forced; ours-compile: "
                        "load_model(compile=True), torch.compile of the encoder; reference-load: the "
                        "reference up to its first mask only (its peak RSS then is a lower bound of "
                        "its peak over the whole run)")
    parser.add_argument("--tmpdir")
    parser.add_argument("--_side", help=argparse.SUPPRESS)
    parser.add_argument("--_stack", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._side:
        print(JSON_TAG + json.dumps(child(args)), flush=True)
        return 0

    rows = []
    for n_frames in args.frames:
        with tempfile.TemporaryDirectory(prefix="bench_stack_", dir=args.tmpdir) as tmp:
            stack = Path(tmp) / "stack.zarr"
            write_stack(stack, n_frames, args.size, n_cells=4)
            for side in args.sides:
                rows.append(_run_side(args, side, stack, n_frames))
                r = rows[-1]
                print(f"T={n_frames} {side}: {r['s_per_frame']:.2f} s/frame, first mask "
                      f"{r['first_mask_s']:.1f} s, peak RSS {r['peak_rss_MB']:.0f} MB",
                      file=sys.stderr, flush=True)
    print(_report(rows, args))
    for r in rows:
        print(json.dumps(r))
    return 0


def _report(rows: list[dict], args) -> str:
    import torch

    lines = [f"SAM2.1 Hiera-tiny, random weights, {args.image_size} px model input, {MEMORY_FRAMES} mask "
             f"memories, {args.threads} torch thread(s), {_cpu_name()}, torch {torch.__version__}; "
             f"stack T x {args.size} x {args.size} uint16 zarr; one click, forward propagation", "",
             "| T | side | precision | s / frame | first mask (s) | peak RSS (MB) | JPEG export (s) "
             "| load (s) |",
             "|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['frames']} | {r['side']} | {r.get('precision', 'fp32')} | "
                     f"{r['s_per_frame']:.3f} | {r['first_mask_s']:.1f} | "
                     f"{r['peak_rss_MB']:.0f} | {r.get('export_s', 0):.1f} | {r.get('load_s', 0):.1f} |")
    by = {(r["frames"], r["side"]): r for r in rows}
    ratios = ["", "| T | time / frame ours / ref | first mask ours / ref | peak RSS ours / ref |",
              "|---:|---:|---:|---:|"]
    for n_frames, side in [(n, side) for n in args.frames for side in ("ours", "ours-fp32", "ours-compile")]:
        ours, ref = by.get((n_frames, side)), by.get((n_frames, "reference"))
        if ours and ref:
            ratios.append(f"| {n_frames} {side} | {ours['s_per_frame'] / ref['s_per_frame']:.2f} | "
                          f"{ours['first_mask_s'] / ref['first_mask_s']:.2f} | "
                          f"{ours['peak_rss_MB'] / ref['peak_rss_MB']:.2f} |")
    for n_frames, side in [(n, side) for n in args.frames for side in ("ours", "ours-fp32")]:
        ours, ref = by.get((n_frames, side)), by.get((n_frames, "reference-load"))
        if ours and ref and (n_frames, "reference") not in by:
            ratios.append(f"| {n_frames} {side} | | | <= {ours['peak_rss_MB'] / ref['peak_rss_MB']:.2f} "
                          "(reference up to its first mask) |")
    if len(ratios) > 3:
        lines += ratios
    ours = [r for r in rows if r["side"] == "ours"]
    if len(ours) > 1:
        lo, hi = min(ours, key=lambda r: r["frames"]), max(ours, key=lambda r: r["frames"])
        lines += ["", f"our peak RSS T={hi['frames']} / T={lo['frames']}: "
                      f"{hi['peak_rss_MB'] / lo['peak_rss_MB']:.2f}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
