"""Automatic seeds: detection on the synthetic time-lapse's frames, over the filter thresholds.

Prints, per setting, true positives / predictions / truths at mask IoU >= 0.5
(precision, recall, F1) with the demo model on the first frame of several
synthetic stacks: how the defaults of ``SeedParams`` were chosen.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_seeds.py
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np


def match(seeds, truth) -> int:
    """Seeds matching a distinct truth cell at IoU >= 0.5."""
    hits = 0
    for i in np.unique(truth)[1:]:
        cell = truth == i
        if any((m & cell).sum() / (m | cell).sum() >= 0.5 for m in seeds):
            hits += 1
    return hits


def main() -> None:
    from napari_sam2.core.seeds import SeedParams, filter_candidates, grid_points, stability_score
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_timelapse

    settings = {"pred_iou": (0.3, 0.4, 0.5, 0.7), "stability": (0.5, 0.6, 0.7, 0.85), "per_side": (16, 24)}
    base = SeedParams()
    stacks = [synthetic_timelapse(1, (256, 256), n_cells=10, seed=s) for s in range(4)]
    rows = {}
    t0 = time.perf_counter()
    for image, truth in stacks:
        session = Session.from_array(image, model="demo", device="cpu")
        geometry = session.geometry
        for side in settings["per_side"]:
            points = grid_points(geometry.frame_shape, side)
            low, ious, presence = session.tracker.decode_points(0, geometry.points_to_model(points))
            k = ious.shape[1]
            low, ious = low.reshape(-1, *low.shape[-2:]), ious.reshape(-1)
            present = np.repeat(presence > 0, k)
            stab = stability_score(low, base.stability_offset)
            for p in settings["pred_iou"]:
                for s in settings["stability"]:
                    params = dataclasses.replace(base, pred_iou=p, stability=s, points_per_side=side)
                    keep = np.flatnonzero(present & (ious >= p) & (stab >= s))
                    keep = keep[np.argsort(-ious[keep], kind="stable")]
                    masks = [geometry.logits_to_frame(low[i:i + 1])[0] > 0 for i in keep]
                    seeds = filter_candidates(masks, params)
                    tp, n, t = rows.get((side, p, s), (0, 0, 0))
                    rows[side, p, s] = (tp + match(seeds, truth[0]), n + len(seeds),
                                        t + len(np.unique(truth[0])) - 1)
    print("automatic seeds, demo model, 4 synthetic frames 256x256 (10 cells each), grid 16x16 and 24x24")
    print("machine: 2-core AMD EPYC VM, AVX2, fp32, no GPU")
    print(f"{'grid':>4} {'pred_iou':>8} {'stability':>9} {'tp':>4} {'pred':>4} {'truth':>5} {'precision':>9} "
          f"{'recall':>6} {'F1':>5}")
    for (side, p, s), (tp, n, t) in rows.items():
        prec, rec = tp / max(n, 1), tp / max(t, 1)
        f1 = 2 * prec * rec / max(prec + rec, 1e-9)
        print(f"{side:4d} {p:8.2f} {s:9.2f} {tp:4d} {n:4d} {t:5d} {prec:9.2f} {rec:6.2f} {f1:5.2f}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
