"""The grid the ``motion`` policies' parameters were chosen on: seeds outside the benchmark.

Standard generator seeds 900001-900003 and touching generator seeds
920000-920001 (``bench_memory_policies.py`` scores 800000-800019 and
820000-820005), 30 frames, demo model; J&F and absent-empty per set.
Figures and the choice: docs/benchmarks.md (``motion`` rewritten).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/tune_motion_memory.py sam2,cells,gate_motion_03,cells_no_gate
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_memory_policies import SETS, run_stack  # noqa: E402


def variants() -> dict:
    from napari_sam2.core.motion_memory import MotionMemory

    return {
        "sam2": lambda: "sam2",
        "cells": lambda: "cells",
        "samurai_gates": lambda: MotionMemory(min_iou=0.5, min_motion=0.0),
        "samurai_gates_weight_05": lambda: MotionMemory(min_iou=0.5, min_motion=0.0, weight=0.5),
        "samurai_gates_no_absent": lambda: MotionMemory(min_iou=0.5, min_motion=0.0, store_absent=False),
        "gate_iou_02": lambda: MotionMemory(min_iou=0.2, min_motion=0.0),
        "no_gate": lambda: MotionMemory(min_iou=0.0, min_motion=0.0),
        "gate_motion_03": lambda: MotionMemory(min_iou=0.0, min_motion=0.3),
        "gate_motion_05": lambda: MotionMemory(min_iou=0.0, min_motion=0.5),
        "gate_motion_03_reach_6": lambda: MotionMemory(min_iou=0.0, min_motion=0.3, reach=6),
        "cells_no_gate": lambda: MotionMemory(cells=True, min_iou=0.0, min_motion=0.0),
        "cells_gate_motion_03": lambda: MotionMemory(cells=True, min_iou=0.0, min_motion=0.3),
    }


def main(names: list[str]) -> None:
    from napari_sam2.core.models import load_model
    from napari_sam2.core.synthetic import synthetic_timelapse

    table = variants()
    loaded = load_model("demo", device="cpu")
    stacks = [("standard", 900001 + i) for i in range(3)] + [("touching", 920000 + i) for i in range(2)]
    results = {n: [] for n in names}
    for set_name, seed in stacks:
        image, labels = synthetic_timelapse(30, (256, 256), seed=seed, divisions=False, **SETS[set_name][1])
        for name in names:
            r = run_stack(loaded, image, labels, table[name]())
            results[name].append((set_name, r["jf"], r["absent"], r["empty"]))
        print(set_name, seed, " ".join(f"{n} {results[n][-1][1]:.3f}" for n in names), flush=True)
    for name in names:
        for set_name in ("standard", "touching"):
            runs = [r for r in results[name] if r[0] == set_name]
            absent = sum(r[2] for r in runs)
            empty = sum(r[3] for r in runs) / absent if absent else float("nan")
            jf = np.mean([r[1] for r in runs])
            print(f"{name:26s} {set_name:9s} J&F {jf:.3f} absent-empty {empty:.3f}")


if __name__ == "__main__":
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else list(variants()))
