"""Divisions seen going backward: how many true divisions the merge rule finds, how many merges are wrong.

Each synthetic stack (``bench_track.py``'s: 24 frames of 256 x 256, 8 cells,
divisions, entering and leaving cells) is cut after the seed frame and seeded
there with the *true* labels (ids kept), then tracked backward to frame 0 by
the demo model with each setting of the rule (``TrackParams.merge_cover``,
``merge_solidity``; no new-object search). A division is *due* when both
true daughters are seeded and begin on or before the seed frame; a merge is
*right* when its two daughters are true sisters and they begin within one
frame of the true division, else *wrong* (a pair that is not sisters, or
sisters several frames late).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_reverse_divisions.py
    ... --seeds 11 12 13 14 15 16 --cover 0.5 0.7 0.85 --solidity 0 0.9
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

MACHINE = "2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU"


def due_divisions(lineage, seeded, frame: int) -> dict[tuple[int, int], int]:
    """``{(daughter, daughter): first frame}`` of the true divisions before ``frame`` with both seeded."""
    sisters: dict[int, list[int]] = {}
    for track in lineage.tracks.values():
        if track.parent and track.start <= frame and track.track_id in seeded:
            sisters.setdefault(track.parent, []).append(track.track_id)
    return {tuple(sorted(d)): lineage.tracks[d[0]].start for d in sisters.values() if len(d) == 2}


def found_divisions(lineage) -> dict[tuple[int, int], int]:
    """``{(daughter, daughter): first frame}`` of the run's divisions."""
    out = {}
    for track_id in lineage.tracks:
        daughters = lineage.daughters(track_id)
        if len(daughters) == 2:
            out[tuple(daughters)] = lineage.tracks[daughters[0]].start
    return out


def run(image, truth, frame: int, params, model):
    """Track backward from ``frame`` seeded with the true labels; the run's lineage."""
    from napari_sam2.core.session import Session
    from napari_sam2.core.track_all import TrackAll

    session = Session.from_array(image[:frame + 1], model=model)
    engine = TrackAll(session, params)
    seeds = {int(i): truth[frame] == i for i in np.unique(truth[frame])[1:]}
    list(engine.run(seeds, frame=frame))
    return engine.lineage, set(seeds)


def main(argv=None) -> int:
    from napari_sam2.core.models import load_model
    from napari_sam2.core.synthetic import synthetic_tracking
    from napari_sam2.core.track_all import TrackParams

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14, 15, 16])
    parser.add_argument("--frame", type=int, default=12, help="the seed frame")
    parser.add_argument("--cover", type=float, nargs="+", default=[0.5, 0.7, 0.85])
    parser.add_argument("--solidity", type=float, nargs="+", default=[0.0, 0.9])
    args = parser.parse_args(argv)
    print(f"machine: {MACHINE}; demo model; seeds {args.seeds}, true labels on frame {args.frame}")
    model = load_model("demo", "cpu")
    stacks = [synthetic_tracking(24, (256, 256), 8, seed=s, entering=0.15, speed=0.015) for s in args.seeds]
    print("merge_cover merge_solidity  due right wrong  recall precision   s")
    for cover, solid in itertools.product(args.cover, args.solidity):
        params = TrackParams(seed_every=0, merge_cover=cover, merge_solidity=solid)
        due_n = right = wrong = 0
        began = time.perf_counter()
        for image, truth, true_lineage in stacks:
            lineage, seeded = run(image, truth, args.frame, params, model)
            due = due_divisions(true_lineage, seeded, args.frame)
            for pair, start in found_divisions(lineage).items():
                ok = pair in due and abs(due[pair] - start) <= 1
                right, wrong = right + ok, wrong + (not ok)
            due_n += len(due)
        recall = right / due_n if due_n else float("nan")
        precision = right / (right + wrong) if right + wrong else float("nan")
        print(f"{cover:11.2f} {solid:14.2f} {due_n:4d} {right:5d} {wrong:5d} {recall:7.2f} {precision:9.2f} "
              f"{time.perf_counter() - began:4.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
