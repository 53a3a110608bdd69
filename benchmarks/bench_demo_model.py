"""Quality of the bundled ``demo`` model (or any model) on held-out synthetic stacks and real nuclei.

Everything runs through the inference path users get: :class:`Session` on a
:class:`FrameSource` (percentile normalisation, resize to the model's input,
presence and overlap rules); see :mod:`napari_sam2.training.heldout`.

Synthetic (gated): ``--stacks`` time-lapses from the demo's generator,
``synthetic_timelapse(30, (256, 256), 6, seed, divisions=False)`` with seeds
``800000 + i``, which no training stack uses (training seeds are
``seed * 100003 + i`` for i < 100003, i.e. below 800000 for seed 0..7).

* **click IoU**: one positive click at each object's interior point on frame 0,
  a fresh session per object; median over objects (goal >= 0.85).
* **box IoU**: the object's exact bounding box instead (goal >= 0.9).
* **30-frame J&F**: every object clicked once on frame 0, propagated forward,
  DAVIS J&F over frames 1..28, mean over stacks (goal >= 0.8).
* **absent empty**: object-frames where a prompted cell has left the field;
  share with an empty predicted mask (goal >= 0.9).

Real data (reported, no gate), from ``../shared/data`` when present:

* HeLa nuclei (Fluo-N2DL-HeLa 02, 700 x 1100, the CTC's error-prone
  reference segmentation ERR_SEG, ids not consistent over time): click IoU
  on single frames (0 and 10), up to ``--real-objects`` nuclei per frame,
  on the whole frame as a user would open it, and on 256 x 256 tiles
  (nuclei at a scale closer to the training data).
* nuclei2d (DSB2018, 512 x 512, 125 nuclei): the same, one frame.

Usage::

    python benchmarks/bench_demo_model.py                  # demo model, 20 stacks, real data
    python benchmarks/bench_demo_model.py --model FOLDER --stacks 5 --no-real --json out.json
    python benchmarks/bench_demo_model.py --memory cells --no-real   # a memory policy
    OMP_NUM_THREADS=1 python benchmarks/bench_demo_model.py --no-real --jf-only --window off 3,8 2,6
        # J&F of windowed tracking (same clicks) against the whole map
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

MACHINE = "2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU"
GOALS = {"click_iou": 0.85, "box_iou": 0.9, "jf": 0.8, "absent_empty": 0.9}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic(loaded, n_stacks: int, frames: int, memory=None, windows=("off",), jf_only=False) -> dict:
    """Scores on the held-out stacks; the J&F run once per ``windows`` setting (same prompts)."""
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.training.heldout import prompt_ious, propagation_scores

    params = {name: window_params(name) for name in windows}
    clicks, boxes, absent, empty, objects = [], [], 0, 0, 0
    runs = {name: [] for name in windows}
    for i in range(n_stacks):
        image, labels = synthetic_timelapse(frames, (256, 256), 6, seed=800_000 + i, divisions=False)
        source = FrameSource(image)
        objects += len(np.unique(labels[0])) - 1
        if not jf_only:
            clicks += prompt_ious(loaded, image, labels, 0, "click", source=source).values()
            boxes += prompt_ious(loaded, image, labels, 0, "box", source=source).values()
        for name, window in params.items():
            runs[name].append(propagation_scores(loaded, image, labels, memory=memory, window=window))
        first = runs[windows[0]][-1]
        absent, empty = absent + first["absent_frames"], empty + first["absent_empty"]
        print(f"  stack {i}: " + " ".join(f"J&F[{name}] {runs[name][-1]['jf']:.3f}" for name in windows),
              file=sys.stderr)
    result = {"jf": float(np.mean([r["jf"] for r in runs[windows[0]]])),
              "absent_empty": empty / absent if absent else float("nan"), "absent_frames": absent,
              "objects": objects,
              "windows": {name: _window_summary(runs[name], runs[windows[0]]) for name in windows}}
    if not jf_only:
        result |= {"click_iou": float(np.median(clicks)), "click_iou_mean": float(np.mean(clicks)),
                   "box_iou": float(np.median(boxes)), "box_iou_mean": float(np.mean(boxes))}
    return result


def window_params(text: str):
    """``off`` (whole map), ``on`` (the default windows) or ``MARGIN,MIN`` -> ``window=`` of the tracker."""
    from napari_sam2.cli.track import parse_window
    from napari_sam2.core.window_geometry import WindowParams

    window = parse_window(text)
    return WindowParams() if window is True else (window or None)


def _window_summary(runs: list[dict], reference: list[dict]) -> dict:
    """Means over stacks of one window setting, and its per-stack J&F differences to ``reference``."""
    diffs = [r["jf"] - ref["jf"] for r, ref in zip(runs, reference, strict=True)]
    return {"jf": float(np.mean([r["jf"] for r in runs])), "j": float(np.mean([r["j"] for r in runs])),
            "f": float(np.mean([r["f"] for r in runs])), "jf_diff": float(np.mean(diffs)),
            "jf_diff_max": float(np.max(np.abs(diffs))), "per_stack_jf": [r["jf"] for r in runs],
            "cpu_seconds": float(sum(r["cpu_seconds"] for r in runs)),
            "windowed_steps": sum(r.get("windowed_steps", 0) for r in runs),
            "full_map_steps": sum(r.get("full_map_steps", 0) for r in runs)}


def real_clicks(loaded, image, labels, frames, max_objects: int, tile: int | None, rng) -> list[float]:
    """Click IoU per object on single frames; whole frames, or ``tile`` x ``tile`` crops."""
    from napari_sam2.training.heldout import prompt_ious

    ious = []
    for frame in frames:
        img, lab = image[frame][None], labels[frame][None]
        crops = [(img, lab)]
        if tile:
            rows, cols = img.shape[1:]
            crops = [(img[:, r:r + tile, c:c + tile], lab[:, r:r + tile, c:c + tile])
                     for r in range(0, rows - tile + 1, tile) for c in range(0, cols - tile + 1, tile)]
        per_crop = max(1, max_objects // len(crops))
        for crop, truth in crops:
            ids = [int(i) for i in np.unique(truth) if i and _inside(truth[0] == i)]
            if not ids:
                continue
            pick = rng.choice(ids, size=min(per_crop, len(ids)), replace=False)
            ious += prompt_ious(loaded, crop, truth, 0, "click", [int(i) for i in pick]).values()
    return ious


def _inside(mask) -> bool:
    """Objects cut by the crop's edge are skipped (their truth is partial)."""
    return mask.sum() >= 20 and not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def real(loaded, max_objects: int) -> dict:
    import tifffile

    rng = np.random.default_rng(0)
    out = {}
    hela = SHARED / "ctc_hela"
    if (hela / "Fluo_Hela_02_img.tif").is_file():
        image = tifffile.imread(hela / "Fluo_Hela_02_img.tif")
        labels = tifffile.imread(hela / "Fluo_Hela_02_ERR_SEG.tif")
        for tile in (None, 256):
            ious = real_clicks(loaded, image, labels, (0, 10), max_objects, tile, rng)
            out[f"hela_{'tiles' if tile else 'frame'}"] = _summary(ious)
    nuclei = SHARED / "nuclei2d"
    if (nuclei / "img2d.tif").is_file():
        image = tifffile.imread(nuclei / "img2d.tif")[None]
        labels = tifffile.imread(nuclei / "mask2d.tif")[None]
        for tile in (None, 256):
            ious = real_clicks(loaded, image, labels, (0,), max_objects, tile, rng)
            out[f"nuclei2d_{'tiles' if tile else 'frame'}"] = _summary(ious)
    return out


def _summary(ious) -> dict:
    return {"click_iou_median": float(np.median(ious)), "click_iou_mean": float(np.mean(ious)),
            "objects": len(ious)}


def print_windows(windows: dict, reference: str) -> None:
    """The J&F table of the window settings (differences to ``reference``)."""
    print(f"\n| window | J&F | J | F | J&F - {reference} (mean) | max per-stack abs diff | "
          "CPU s (propagation) | object-frames on a window |\n|---|---|---|---|---|---|---|---|")
    for name, w in windows.items():
        steps = w["windowed_steps"] + w["full_map_steps"]
        share = f"{w['windowed_steps']}/{steps}" if steps else "- (whole-map code)"
        print(f"| {name} | {w['jf']:.4f} | {w['j']:.4f} | {w['f']:.4f} | {w['jf_diff']:+.4f} | "
              f"{w['jf_diff_max']:.4f} | {w['cpu_seconds']:.1f} | {share} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--stacks", type=int, default=20)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--real-objects", type=int, default=60, help="nuclei per real frame")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--memory", help="memory policy for the J&F run (default: the tracker's default)")
    parser.add_argument("--window", nargs="+", default=["off"], metavar="off|on|MARGIN,MIN",
                        help="J&F run once per setting, same prompts: off (whole map), on (default "
                             "windows) or MARGIN,MIN (feature-map cells); the first is the reference")
    parser.add_argument("--jf-only", action="store_true", help="skip the click and box IoU")
    args = parser.parse_args(argv)

    import torch

    from napari_sam2.core.models import load_model

    for name in args.window:
        window_params(name)  # bad settings fail before the model loads
    loaded = load_model(args.model, device="cpu", precision=args.precision)
    params = sum(p.numel() for p in loaded.model.parameters())
    t0 = time.time()
    result = {"model": args.model, "image_size": loaded.image_size, "parameters": params,
              "precision": loaded.precision,
              "threads": torch.get_num_threads(), "memory": args.memory,
              "machine": MACHINE, "load_average_start": os.getloadavg()[0],
              "synthetic": synthetic(loaded, args.stacks, args.frames, args.memory, args.window,
                                     args.jf_only)}
    if not args.no_real:
        result["real"] = real(loaded, args.real_objects)
    result["seconds"] = round(time.time() - t0, 1)
    result["load_average_end"] = os.getloadavg()[0]

    syn = result["synthetic"]
    print(f"model {args.model}: {params / 1e6:.2f}M parameters, {loaded.image_size} px input, "
          f"{result['precision']}, {result['threads']} thread(s); {MACHINE}; load average "
          f"{result['load_average_start']:.2f} at start, {result['load_average_end']:.2f} at end\n")
    print(f"held-out synthetic: {args.stacks} stacks x {args.frames} frames, {syn['objects']} objects, "
          f"{syn['absent_frames']} absent object-frames\n")
    print("| metric | value | goal | met |\n|---|---|---|---|")
    for key, goal in GOALS.items():
        if key in syn:
            print(f"| {key} | {syn[key]:.3f} | >= {goal} | {'yes' if syn[key] >= goal else 'NO'} |")
    if not args.jf_only:
        print(f"\nclick IoU mean {syn['click_iou_mean']:.3f}, box IoU mean {syn['box_iou_mean']:.3f}")
    if len(args.window) > 1:
        print_windows(syn["windows"], args.window[0])
    if result.get("real"):
        print("\n| real data (single frames) | click IoU median | mean | objects |\n|---|---|---|---|")
        for name, r in result["real"].items():
            print(f"| {name} | {r['click_iou_median']:.3f} | {r['click_iou_mean']:.3f} | {r['objects']} |")
    print(f"\n{result['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
