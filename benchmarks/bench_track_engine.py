"""Track-all with the demo model on synthetic time-lapses with divisions: what it finds and follows.

For each synthetic stack (``--stacks`` seeds, 20 frames of 192 x 192, 6 cells,
divisions on) and each kind of seeds (automatic; the true labels of frame 0),
prints:

* **detected**: share of the true (cell, frame) pairs matched by one of our
  labels at mask IoU >= 0.5;
* **followed**: among the true cells matched on >= 2 frames, the share whose
  matches all carry one id (a division gives new ids: daughters are other cells);
* **divisions**: true divisions, divisions in our lineage, and ours whose
  parent matches a true mother (IoU >= 0.5 on the frame before);
* **flags**, tracks, and seconds per frame.

The CTC DET/SEG/TRA scores and the baselines are in ``benchmarks/bench_track.py``.

    OMP_NUM_THREADS=2 PYTHONPATH=src python benchmarks/bench_track_engine.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best_match(labels, truth, cell):
    """Our id best matching ``cell`` and its IoU."""
    under = labels[truth == cell]
    under = under[under > 0]
    if not len(under):
        return 0, 0.0
    ours = int(np.bincount(under).argmax())
    a, b = labels == ours, truth == cell
    return ours, np.count_nonzero(a & b) / np.count_nonzero(a | b)


def true_divisions(truth):
    """``{mother: first frame of its daughters}`` from the generator's ids (a mother ends, ids appear)."""
    found = {}
    for t in range(1, len(truth)):
        before, now = set(np.unique(truth[t - 1])[1:]), set(np.unique(truth[t])[1:])
        born = now - before
        for mother in before - now:
            if len(born) >= 2:
                found[int(mother)] = t
    return found


def score(labels, truth, lineage):
    pairs = hits = 0
    ids: dict[int, list[int]] = {}
    for t in range(len(truth)):
        for cell in np.unique(truth[t])[1:]:
            pairs += 1
            ours, iou = best_match(labels[t], truth[t], cell)
            if iou >= 0.5:
                hits += 1
                ids.setdefault(int(cell), []).append(ours)
    followed = [len(set(v)) == 1 for v in ids.values() if len(v) >= 2]
    divisions = true_divisions(truth)
    ours = {t.parent: t.start for t in lineage.tracks.values() if t.parent}
    right = 0
    for parent, frame in ours.items():
        for mother, t in divisions.items():
            if abs(t - frame) <= 2 and best_match(labels[t - 1], truth[t - 1], mother)[0] == parent:
                right += 1
                break
    kept = np.mean(followed) if followed else float("nan")
    return hits / max(pairs, 1), kept, len(divisions), len(ours), right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=2)
    args = parser.parse_args()

    from napari_sam2.core.models import load_model
    from napari_sam2.core.seeds import seeds_from_labels
    from napari_sam2.core.session import Session
    from napari_sam2.core.synthetic import synthetic_timelapse
    from napari_sam2.core.track_all import TrackAll

    loaded = load_model("demo", "cpu")
    print("track-all, demo model, synthetic 20 x 192 x 192, 6 cells, divisions; "
          "2-core AMD EPYC VM, AVX2, fp32, no GPU")
    print(f"{'stack':>5} {'seeds':>9} {'detected':>8} {'followed':>8} {'div true':>8} {'div ours':>8} "
          f"{'div right':>9} {'tracks':>6} {'flags':>5} {'s/frame':>7}")
    for seed in range(args.stacks):
        image, truth = synthetic_timelapse(20, (192, 192), n_cells=6, seed=seed)
        for kind in ("automatic", "labels"):
            session = Session.from_array(image, model=loaded)
            engine = TrackAll(session)
            seeds = seeds_from_labels(truth[0], truth.shape[1:]) if kind == "labels" else None
            t0 = time.perf_counter()
            list(engine.run(seeds, frame=0))
            per_frame = (time.perf_counter() - t0) / len(truth)
            det, fol, n_true, n_ours, right = score(np.asarray(session.labels), truth, engine.lineage)
            print(f"{seed:5d} {kind:>9} {det:8.2f} {fol:8.2f} {n_true:8d} {n_ours:8d} {right:9d} "
                  f"{len(engine.lineage.tracks):6d} {len(engine.lineage.flags):5d} {per_frame:7.2f}")


if __name__ == "__main__":
    main()
