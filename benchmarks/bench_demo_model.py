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
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

GOALS = {"click_iou": 0.85, "box_iou": 0.9, "jf": 0.8, "absent_empty": 0.9}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic(loaded, n_stacks: int, frames: int, memory=None) -> dict:
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.training.heldout import prompt_ious, propagation_scores

    clicks, boxes, jfs, absent, empty = [], [], [], 0, 0
    for i in range(n_stacks):
        image, labels = synthetic_timelapse(frames, (256, 256), 6, seed=800_000 + i, divisions=False)
        source = FrameSource(image)
        clicks += prompt_ious(loaded, image, labels, 0, "click", source=source).values()
        boxes += prompt_ious(loaded, image, labels, 0, "box", source=source).values()
        run = propagation_scores(loaded, image, labels, memory=memory)
        jfs.append(run["jf"])
        absent, empty = absent + run["absent_frames"], empty + run["absent_empty"]
        print(f"  stack {i}: click {np.median(clicks[-6:]):.3f} J&F {run['jf']:.3f} "
              f"absent {run['absent_empty']}/{run['absent_frames']}", file=sys.stderr)
    return {"click_iou": float(np.median(clicks)), "click_iou_mean": float(np.mean(clicks)),
            "box_iou": float(np.median(boxes)), "box_iou_mean": float(np.mean(boxes)),
            "jf": float(np.mean(jfs)), "absent_empty": empty / absent if absent else float("nan"),
            "objects": len(clicks), "absent_frames": absent}


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
    args = parser.parse_args(argv)

    import torch

    from napari_sam2.core.models import load_model

    loaded = load_model(args.model, device="cpu", precision=args.precision)
    params = sum(p.numel() for p in loaded.model.parameters())
    t0 = time.time()
    result = {"model": args.model, "image_size": loaded.image_size, "parameters": params,
              "precision": loaded.precision,
              "threads": torch.get_num_threads(), "memory": args.memory,
              "synthetic": synthetic(loaded, args.stacks, args.frames, args.memory)}
    if not args.no_real:
        result["real"] = real(loaded, args.real_objects)
    result["seconds"] = round(time.time() - t0, 1)

    syn = result["synthetic"]
    print(f"model {args.model}: {params / 1e6:.2f}M parameters, {loaded.image_size} px input, "
          f"{result['precision']}\n")
    print(f"held-out synthetic: {args.stacks} stacks x {args.frames} frames, {syn['objects']} objects, "
          f"{syn['absent_frames']} absent object-frames\n")
    print("| metric | value | goal | met |\n|---|---|---|---|")
    for key, goal in GOALS.items():
        print(f"| {key} | {syn[key]:.3f} | >= {goal} | {'yes' if syn[key] >= goal else 'NO'} |")
    print(f"\nclick IoU mean {syn['click_iou_mean']:.3f}, box IoU mean {syn['box_iou_mean']:.3f}")
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
