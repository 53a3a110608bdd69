"""Gap closing (``max_gap``) on track-all results: CTC DET / SEG / TRA, CT, IDF1, divisions, tracks, flags.

Each synthetic stack (``core.synthetic.synthetic_tracking``, as in
``benchmarks/bench_track.py``: divisions, entering and leaving cells) is
tracked once with the demo model and gap closing off (``max_gap=0``, default
parameters otherwise); then :func:`napari_sam2.core.gap_closing.close_gaps`
runs on a copy of that result for each ``--max-gap`` value (what
``TrackAll`` does after its last frame), and every version is scored the same
way (``evaluation.tracking.score_tracking``: the CTC folders are written by
``core.track_exports`` and must pass py-ctcmetrics' validity check).

``--blink P`` makes cells blink out: on each frame but the first and last
two, each cell is hidden with probability P (its pixels get background values
drawn from that frame; the truth keeps the cell), the "dim frame, mask that
blinks out" case gap closing is for.

*CT* (complete tracks) and *IDF1* (identity) count a cell followed under one
id; TRA (AOGM) counts the edge a closed gap adds across the missing frames as
a redundant edge (weight 1), so it cannot rise from gap closing alone.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_gap_closing.py
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_gap_closing.py --blink 0.05
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import numpy as np

MACHINE = "2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU, shared"
METRICS = ("DET", "SEG", "TRA", "CT", "IDF1")


def blink(image: np.ndarray, truth: np.ndarray, p: float, seed: int) -> tuple[np.ndarray, int]:
    """Hide each cell on each inner frame with probability ``p`` (background values); how many."""
    rng = np.random.default_rng(seed)
    image, hidden = image.copy(), 0
    for t in range(2, len(image) - 2):
        background = image[t][truth[t] == 0]
        for cell in np.unique(truth[t])[1:]:
            if rng.random() < p:
                where = truth[t] == cell
                image[t][where] = rng.choice(background, int(where.sum()))
                hidden += 1
    return image, hidden


def right_joins(base: np.ndarray, truth: np.ndarray, joins) -> int:
    """Joins whose two ends lie mostly on the same true cell."""
    def cell(t, track_id):
        under = truth[t][base[t] == track_id]
        under = under[under > 0]
        return int(np.bincount(under).argmax()) if len(under) else -1

    return sum(cell(j.end, j.earlier) == cell(j.start, j.later) != -1 for j in joins)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13], help="synthetic seeds")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--max-gap", type=int, nargs="+", default=[0, 1, 2, 3, 5])
    parser.add_argument("--growth", type=float, nargs="+", default=[0.5],
                        help="reach growth per missing frame, in cell radii (close_gaps' growth)")
    parser.add_argument("--blink", type=float, default=0.0, help="chance a cell is hidden on a frame")
    args = parser.parse_args(argv)

    from napari_sam2.core.gap_closing import close_gaps
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_tracking
    from napari_sam2.core.track_all import TrackAll, TrackParams
    from napari_sam2.evaluation.tracking import score_tracking

    print(f"machine: {MACHINE}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"synthetic: {args.frames} frames {args.size}x{args.size}, {args.cells} cells, divisions, "
          f"entering (p=0.15/frame) and leaving cells, blinking p={args.blink}; demo model, default "
          "TrackParams")
    print(f"{'seed':>4} {'max_gap':>7} {'growth':>6} " + " ".join(f"{m:>5}" for m in METRICS)
          + f" {'divR':>5} {'divP':>5} {'tracks':>6} {'flags':>5} {'joins':>5} {'right':>5} {'s':>5}")
    loaded = load_model("demo", "cpu")
    variants = [(g, r) for g in args.max_gap for r in (args.growth if g else args.growth[:1])]
    table: dict[tuple, list[dict]] = {v: [] for v in variants}
    for seed in args.seeds:
        image, truth, true_lineage = synthetic_tracking(args.frames, (args.size, args.size), args.cells,
                                                        seed=seed, entering=0.15, speed=0.015)
        if args.blink:
            image, hidden = blink(image, truth, args.blink, seed)
            print(f"seed {seed}: {hidden} cell-frames hidden", flush=True)
        session = Session.from_array(image, model=loaded)
        engine = TrackAll(session, TrackParams(max_gap=0))
        start = time.perf_counter()
        list(engine.run(frame=0))
        tracked = time.perf_counter() - start
        base = np.array(session.labels)
        for gap, growth in variants:
            labels, lineage = base.copy(), copy.deepcopy(engine.lineage)
            start = time.perf_counter()
            joins = close_gaps(labels, lineage, gap, growth=growth) if gap else []
            seconds = time.perf_counter() - start + (tracked if not gap else 0.0)
            row = score_tracking(labels, lineage, truth, true_lineage, metrics=METRICS)
            row |= {"tracks": len(lineage.tracks), "flags": len(lineage.flags), "joins": len(joins),
                    "right": right_joins(base, truth, joins)}
            table[gap, growth].append(row)
            print(f"{seed:4d} {gap:7d} {growth:6.2f} " + " ".join(f"{row[m]:5.3f}" for m in METRICS)
                  + f" {row['division_recall']:5.3f} {row['division_precision']:5.3f} {row['tracks']:6d} "
                  f"{row['flags']:5d} {row['joins']:5d} {row['right']:5d} {seconds:5.1f}", flush=True)
    print("mean over the stacks (tracks, flags, joins, right: per stack):")
    for (gap, growth), rows in table.items():
        keys = (*METRICS, "division_recall", "division_precision", "tracks", "flags", "joins", "right")
        means = [float(np.nanmean([r[k] for r in rows])) for k in keys]
        print(f"{'':4} {gap:7d} {growth:6.2f} " + " ".join(f"{v:5.3f}" for v in means[:7])
              + " ".join(f" {v:5.1f}" for v in means[7:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
