"""Memory policies compared: 30-frame J&F, absent-empty, per-frame J and time per frame, one run.

Two held-out synthetic sets, every object clicked once on frame 0 (its
interior point) and propagated forward through the inference path users run
(:class:`Session`, :class:`FrameSource`), scored like
``benchmarks/bench_demo_model.py`` (DAVIS J&F over frames 1..28):

* **standard**: the 20 stacks of ``bench_demo_model.py``
  (``synthetic_timelapse(30, (256, 256), 6, 800000 + i, divisions=False)``).
* **touching**: 10 cells of radius 0.08-0.12 moving at 0.015 per frame
  (``seed 820000 + i``): cells touch and cross paths on most frames.

* **hela** (real, fluorescence): 256 x 256 tiles of the Cell Tracking
  Challenge's Fluo-N2DL-HeLa 02 (``../shared/data/ctc_hela``, 20 frames),
  truth: its error-prone segmentation ERR_SEG, whose ids change over time,
  linked frame to frame by the largest overlap with the nucleus' last mask
  (>= 30 % of it; up to 3 frames without a match, then it has ended). A frame
  where ERR_SEG misses a nucleus counts as absent: absent-empty means nothing
  on this set, J&F is what to read. Nuclei touching the tile's edge
  on frame 0 are not clicked. Tile ``i`` is the ``i``-th of a row-major grid.

The policies of one stack run one after the other (interleaved), so the
load of a shared machine falls on all of them alike. Time per frame is the
propagation's wall time over the frames it computed.

Usage::

    python benchmarks/bench_memory_policies.py --json mem.json --plot docs/images/memory_policies_j.png
    python benchmarks/bench_memory_policies.py --stacks 3 --touching 2 --policies sam2,cells
    python benchmarks/bench_memory_policies.py --sets hela --hela 2 --frames 20 --policies sam2,dam
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SETS = {
    "standard": (800_000, {"n_cells": 6}),
    "touching": (820_000, {"n_cells": 10, "radius": (0.08, 0.12), "speed": 0.015}),
}
#: HeLa tiles scored (grid of 2 x 4 tiles of 256 px on 700 x 1100): the inner ones, chosen before any run
HELA_TILES = (1, 2, 5, 6)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def hela_tile(i: int, frames: int, size: int = 256):
    """Tile ``i`` of HeLa 02 and its ERR_SEG truth linked over time (see the module docstring)."""
    import tifffile

    image = tifffile.imread(SHARED / "ctc_hela" / "Fluo_Hela_02_img.tif")[:frames]
    seg = tifffile.imread(SHARED / "ctc_hela" / "Fluo_Hela_02_ERR_SEG.tif")[:frames]
    per_row = image.shape[2] // size
    r, c = (i // per_row) * size, (i % per_row) * size
    image, seg = image[:, r:r + size, c:c + size], seg[:, r:r + size, c:c + size]
    linked = np.zeros_like(seg)
    edge = set(np.unique(np.r_[seg[0, 0], seg[0, -1], seg[0, :, 0], seg[0, :, -1]]))
    last = {int(i): (seg[0] == i, 0) for i in np.unique(seg[0]) if i and i not in edge}  # id: mask, t
    for t in range(len(seg)):
        taken = set()
        for tid, (mask, seen) in list(last.items()):
            if t - seen > 3:
                continue  # ended
            ids, counts = np.unique(seg[t][mask], return_counts=True)
            best = [(n / mask.sum(), int(j)) for j, n in zip(ids, counts, strict=True)
                    if j and j not in taken]
            if best and max(best)[0] >= 0.3:
                taken.add(max(best)[1])
                last[tid] = (seg[t] == max(best)[1], t)
                linked[t][last[tid][0]] = tid
    return image, linked


def run_stack(loaded, image, labels, memory) -> dict:
    """One stack, one policy: J&F, absent-empty counts, per-frame J, seconds per frame."""
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker
    from napari_sam2.evaluation.clicks import interior_point
    from napari_sam2.evaluation.metrics import absent_empty, evaluate_labels, jaccard

    ids = [int(i) for i in np.unique(labels[0]) if i]
    session = Session(FrameSource(image), TransformersTracker(loaded, memory=memory))
    for obj in ids:
        session.add_points(obj, 0, [interior_point(labels[0] == obj)], [1])
    t0, c0 = time.perf_counter(), time.process_time()
    frames = sum(1 for _ in session.propagate("forward"))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    pred = np.asarray(session.labels)
    jf = evaluate_labels(labels, pred, object_ids=ids).j_and_f
    curve = []
    for t in range(len(labels)):
        present = [o for o in ids if (labels[t] == o).any()]
        curve.append(float(np.mean([jaccard(labels[t] == o, pred[t] == o) for o in present]))
                     if present else float("nan"))
    absent, empty = absent_empty(labels, pred, ids)
    return {"jf": jf, "absent": absent, "empty": empty, "curve": curve, "s_per_frame": seconds / frames,
            "cpu_per_frame": cpu / frames}


def summarise(runs: list[dict]) -> dict:
    absent = sum(r["absent"] for r in runs)
    return {"jf": float(np.mean([r["jf"] for r in runs])),
            "absent_empty": sum(r["empty"] for r in runs) / absent if absent else float("nan"),
            "absent_frames": absent,
            "s_per_frame": float(np.median([r["s_per_frame"] for r in runs])),
            "cpu_per_frame": float(np.median([r["cpu_per_frame"] for r in runs])),
            "curve": np.nanmean([r["curve"] for r in runs], axis=0).tolist()}


COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75)]


def plot(result: dict, path: str) -> None:
    """Per-frame J curves, one panel per set (PIL: no plotting library needed)."""
    from PIL import Image, ImageDraw

    sets = list(result["sets"])
    pw, ph, left, top, bottom = 520, 360, 50, 30, 40
    image = Image.new("RGB", (pw * len(sets), ph), "white")
    draw = ImageDraw.Draw(image)
    for n, name in enumerate(sets):
        x0, x1, y0, y1 = n * pw + left, (n + 1) * pw - 15, top, ph - bottom
        draw.rectangle([x0, y0, x1, y1], outline="black")
        draw.text((x0, 8), f"{name}: {result['stacks'][name]} stacks, mean J of present objects",
                  fill="black")
        for j in range(0, 11, 2):
            y = y1 - (y1 - y0) * j / 10
            draw.line([x0, y, x1, y], fill=(225, 225, 225))
            draw.text((x0 - 28, y - 6), f"{j / 10:.1f}", fill="black")
        summaries = result["sets"][name]
        frames = len(next(iter(summaries.values()))["curve"])
        for t in range(0, frames, 5):
            x = x0 + (x1 - x0) * t / (frames - 1)
            draw.text((x - 4, y1 + 4), str(t), fill="black")
        draw.text(((x0 + x1) // 2 - 20, y1 + 20), "frame", fill="black")
        for k, (policy, summary) in enumerate(summaries.items()):
            colour = COLOURS[k % len(COLOURS)]
            points = [(x0 + (x1 - x0) * t / (frames - 1), y1 - (y1 - y0) * v)
                      for t, v in enumerate(summary["curve"]) if v == v]
            draw.line(points, fill=colour, width=2)
            draw.text((x0 + 10, y1 - 18 - 14 * k), f"{policy}: J&F {summary['jf']:.3f}", fill=colour)
    image.save(path)


def merge(paths: list[str]) -> dict:
    """One result from several JSON files of this script (sets run side by side, or a set in parts).

    Parts of one set are weighted by their stack counts (J&F, curves, time per
    frame: the time is then a weighted mean of the parts' medians).
    """
    merged = {"sets": {}, "stacks": {}}
    for path in paths:
        part = json.loads(Path(path).read_text())
        for name, summaries in part["sets"].items():
            n = part["stacks"][name]
            total = merged["stacks"].get(name, 0)
            into = merged["sets"].setdefault(name, {})
            for policy, s in summaries.items():
                if policy not in into:
                    into[policy] = dict(s)
                    continue
                m = into[policy]
                empty = m["absent_empty"] * m["absent_frames"] + s["absent_empty"] * s["absent_frames"]
                m["absent_frames"] += s["absent_frames"]
                m["absent_empty"] = empty / m["absent_frames"] if m["absent_frames"] else float("nan")
                for key in ("jf", "s_per_frame", "cpu_per_frame"):
                    m[key] = (m[key] * total + s[key] * n) / (total + n)
                m["curve"] = [(a * total + b * n) / (total + n)
                              for a, b in zip(m["curve"], s["curve"], strict=True)]
            merged["stacks"][name] = total + n
    return merged


def table(result: dict) -> str:
    """The markdown table of a (merged) result."""
    lines = ["| set | policy | J&F | absent-empty (frames) | s / frame | CPU s / frame | CPU x sam2 |",
             "|---|---|---|---|---|---|---|"]
    for name, summaries in result["sets"].items():
        base = summaries["sam2"]["cpu_per_frame"] if "sam2" in summaries else float("nan")
        for policy, s in summaries.items():
            lines.append(f"| {name} | {policy} | {s['jf']:.3f} | {s['absent_empty']:.3f} "
                         f"({s['absent_frames']}) | {s['s_per_frame']:.3f} | {s['cpu_per_frame']:.3f} "
                         f"| {s['cpu_per_frame'] / base:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--policies", default="sam2,exclusive,cells,cells-claims,motion,motion-cells,dam")
    parser.add_argument("--stacks", type=int, default=20, help="standard stacks")
    parser.add_argument("--touching", type=int, default=6, help="touching stacks")
    parser.add_argument("--hela", type=int, default=2, help="HeLa tiles (real data)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--sets", default="standard,touching")
    parser.add_argument("--first", type=int, default=0, help="first stack index (to split a run)")
    parser.add_argument("--json")
    parser.add_argument("--plot", help="per-frame J curves (.png)")
    parser.add_argument("--plot-from", nargs="+", metavar="JSON",
                        help="only merge earlier --json files: print their table, draw --plot")
    args = parser.parse_args(argv)
    if args.plot_from:
        merged = merge(args.plot_from)
        print(table(merged))
        if args.plot:
            plot(merged, args.plot)
        return 0

    import torch

    from napari_sam2.core.models import load_model
    from napari_sam2.core.synthetic import synthetic_timelapse

    policies = args.policies.split(",")
    loaded = load_model(args.model, device="cpu")
    counts = {"standard": args.stacks, "touching": args.touching, "hela": args.hela}
    result = {"model": args.model, "threads": torch.get_num_threads(), "stacks": counts, "sets": {},
              "first": args.first, "runs": {}}
    t0 = time.time()
    for name in args.sets.split(","):
        runs = {p: [] for p in policies}
        for i in range(args.first, args.first + counts[name]):
            if name == "hela":
                image, labels = hela_tile(HELA_TILES[i], args.frames)
            else:
                base, options = SETS[name]
                image, labels = synthetic_timelapse(args.frames, (256, 256), seed=base + i,
                                                    divisions=False, **options)
            for policy in policies:
                runs[policy].append(run_stack(loaded, image, labels, policy))
            print(f"  {name} {i}: " + " ".join(f"{p} {runs[p][-1]['jf']:.3f}" for p in policies),
                  file=sys.stderr, flush=True)
        result["sets"][name] = {p: summarise(r) for p, r in runs.items() if r}
        result["runs"][name] = runs
    result["seconds"] = round(time.time() - t0)
    print(table(result))
    print(f"\n{result['seconds']} s, {result['threads']} threads")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
