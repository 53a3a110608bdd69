"""Track every cell: CTC DET / SEG / TRA and division recall / precision of ``track`` against baselines.

Methods, each run the same way on the same stacks:

* ``track``: ``napari-sam2 track IMAGE --model demo --ctc DIR`` (automatic
  seeds, propagation of all cells, divisions), read back from its CTC folder;
* ``seeds+overlap``: the same automatic seeds (``core.seeds.grid_seeds``,
  demo model) on every frame on its own, linked by overlap
  (``evaluation.linking.link_by_overlap``);
* ``otsu+overlap``: a classical per-frame segmentation (smoothing, Otsu
  threshold, distance-transform watershed) linked by overlap;
* ``truth+overlap``: the true masks with new ids on every frame, linked by
  overlap: the linking alone (an upper bound for the overlap baselines);
* ``...+trackastra``: the per-frame masks linked by trackastra instead, when it
  is installed (``pip install trackastra``; its pretrained weights download on
  first use).

Data: synthetic time-lapses with divisions, entering and leaving cells and
their lineage (``core.synthetic.synthetic_tracking``, several seeds); the
real data of ``../shared/data`` that has masks: HeLa (Fluo-N2DL-HeLa, the
CTC's per-frame reference segmentation, ids not tracked: DET and SEG only)
and C2C12 (hand-drawn per-frame masks: DET and SEG only). Reported without a gate.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_track.py               # everything
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_track.py --only-baseline
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_track.py --no-synthetic --only-track \
        --real-frames 10                                  # the real data's `track` rows
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_track.py --no-real --only-track \
        --track-args="--window 2,6"
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MACHINE = "2-core AMD EPYC VM, AVX2, no AVX512-BF16, fp32, no GPU"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------- per-frame segmentations
def segment_otsu(frame: np.ndarray, sigma: float = 2.0, min_area: int = 30) -> np.ndarray:
    """Smooth, Otsu threshold, split touching cells by a distance-transform watershed."""
    from scipy import ndimage
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.segmentation import watershed

    smooth = gaussian(frame.astype(np.float32), sigma, preserve_range=True)
    mask = smooth > threshold_otsu(smooth)
    parts, _ = ndimage.label(mask)
    mask &= (np.bincount(parts.ravel()) >= min_area)[parts] & (parts > 0)
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=5, labels=ndimage.label(mask)[0], exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=mask).astype(np.uint32)


def segment_seeds(image: np.ndarray):
    """Automatic seeds of the demo model on every frame, each frame on its own (needs ``core.seeds``)."""
    from napari_sam2.core.seeds import SeedParams, grid_seeds
    from napari_sam2.core.session import Session

    session = Session.from_array(image, model="demo", device="cpu")
    frames = np.zeros(image.shape, np.uint32)
    for t in range(len(image)):
        for n, mask in enumerate(grid_seeds(session.tracker, session.geometry, t, SeedParams()), 1):
            frames[t][mask & (frames[t] == 0)] = n
    return frames


def new_ids_every_frame(truth: np.ndarray) -> np.ndarray:
    """The true masks with ids that mean nothing from one frame to the next."""
    out = np.zeros(truth.shape, np.uint32)
    offset = 0
    for t in range(len(truth)):
        ids, inverse = np.unique(truth[t], return_inverse=True)
        lut = np.where(ids == 0, 0, offset + np.arange(len(ids)))
        out[t] = lut[inverse].reshape(truth[t].shape)
        offset += len(ids)
    return out


# ---------------------------------------------------------------- linkers and the track command
def link_overlap(image, frames):
    from napari_sam2.evaluation.linking import link_by_overlap

    return link_by_overlap(frames)


def link_trackastra(image, frames):
    from trackastra.model import Trackastra
    from trackastra.tracking import graph_to_ctc

    from napari_sam2.core.track_exports import read_ctc_folder

    model = Trackastra.from_pretrained("general_2d", device="cpu")
    graph, _ = model.track(image, frames.astype(np.int32), mode="greedy")
    with tempfile.TemporaryDirectory() as scratch:
        graph_to_ctc(graph, frames.astype(np.int32), outdir=scratch)
        return read_ctc_folder(scratch)


def run_track(image_path: Path, workdir: Path, extra: list[str]):
    """``napari-sam2 track`` in a subprocess; its CTC export read back."""
    from napari_sam2.core.track_exports import read_ctc_folder

    ctc = workdir / "track_RES"
    command = [sys.executable, "-m", "napari_sam2.cli", "track", str(image_path), "--model", "demo",
               "--out", str(workdir / "track.zarr"), "--ctc", str(ctc), *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(f"track exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return read_ctc_folder(ctc)


# ---------------------------------------------------------------- data
def synthetic_cases(seeds, n_frames: int, size: int, n_cells: int):
    from napari_sam2.core.synthetic import synthetic_tracking

    for seed in seeds:
        image, labels, lineage = synthetic_tracking(n_frames, (size, size), n_cells, seed=seed,
                                                    entering=0.15, speed=0.015)
        yield f"synthetic seed {seed}", image, labels, lineage, ("DET", "SEG", "TRA")


def real_cases(data: Path, frames: int, hela_crop: int | None = None):
    """HeLa and C2C12 (DET, SEG); with ``hela_crop``, also HeLa's crop rows ``0:N``, columns ``N:2N``."""
    import tifffile

    hela = data / "ctc_hela"
    if (hela / "Fluo_Hela_02_img.tif").exists():
        image = tifffile.imread(hela / "Fluo_Hela_02_img.tif")[:frames]
        masks = tifffile.imread(hela / "Fluo_Hela_02_ERR_SEG.tif")[:frames]
        yield "HeLa (CTC ref. seg.)", image, new_ids_every_frame(masks), None, ("DET", "SEG")
        if hela_crop:
            crop = (slice(None), slice(0, hela_crop), slice(hela_crop, 2 * hela_crop))
            yield (f"HeLa crop {hela_crop}", np.ascontiguousarray(image[crop]),
                   new_ids_every_frame(masks[crop]), None, ("DET", "SEG"))
    c2c12 = data / "c2c12" / "data_small.npz"
    if c2c12.exists():
        arrays = np.load(c2c12)
        truth = new_ids_every_frame(arrays["labels"][:frames])
        yield "C2C12 (hand-drawn)", arrays["images"][:frames], truth, None, ("DET", "SEG")


# ---------------------------------------------------------------- the run
def methods(args):
    """``{name: function(image, image_path, truth, workdir) -> (labels, lineage)}``."""
    linkers = {"overlap": link_overlap}
    if importlib.util.find_spec("trackastra"):
        linkers["trackastra"] = link_trackastra
    segmenters = {"truth": lambda image, truth: new_ids_every_frame(truth),
                  "otsu": lambda image, truth: np.stack([segment_otsu(f) for f in image])}
    if not args.only_baseline:
        segmenters["seeds"] = lambda image, truth: segment_seeds(image)
    table = {}
    if not args.only_baseline:
        table["track"] = lambda image, path, truth, work: run_track(path, work, args.track_args.split())
    if args.only_track:
        return table
    for seg_name, segment in segmenters.items():
        for link_name, link in linkers.items():
            def method(image, path, truth, work, segment=segment, link=link):
                return link(image, segment(image, truth))
            table[f"{seg_name}+{link_name}"] = method
    return table


def score(name, method, image, truth, lineage, metrics, workdir: Path) -> dict:
    import tifffile

    from napari_sam2.core.lineage import Lineage
    from napari_sam2.evaluation.tracking import score_tracking

    image_path = workdir / "image.tif"
    if not image_path.exists():
        tifffile.imwrite(image_path, image)
    start = time.perf_counter()
    try:
        labels, pred = method(image, image_path, truth, workdir)
    except Exception as err:  # noqa: BLE001 - a method that cannot run is reported, not fatal
        return {"error": f"{type(err).__name__}: {err}"[:160]}
    seconds = time.perf_counter() - start
    result = score_tracking(labels, pred, truth, lineage or Lineage(), metrics=metrics)
    if lineage is None:  # the truth has no lineage: no division scores
        result = {k: v for k, v in result.items() if "division" not in k}
    return result | {"seconds": seconds, "tracks": len(pred.tracks)}


def _fmt(row: dict, key: str) -> str:
    value = row.get(key)
    return "   -" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:5.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only-baseline", action="store_true",
                        help="skip `track` and the model's seeds (overlap baselines on true and Otsu masks)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13], help="synthetic seeds")
    parser.add_argument("--frames", type=int, default=24, help="frames per synthetic stack")
    parser.add_argument("--size", type=int, default=256, help="synthetic frame side")
    parser.add_argument("--cells", type=int, default=8, help="cells on the first synthetic frame")
    parser.add_argument("--real-frames", type=int, default=20, help="frames of each real stack")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--no-real", action="store_true", help="synthetic data only")
    parser.add_argument("--no-synthetic", action="store_true", help="real data only")
    parser.add_argument("--hela-crop", type=int, metavar="N",
                        help="also HeLa cropped to N x N (rows 0:N, columns N:2N; nuclei nearer the "
                             "demo model's scale)")
    parser.add_argument("--only-track", action="store_true", help="the `track` rows only (no baselines)")
    parser.add_argument("--track-args", default="", help="extra arguments of `napari-sam2 track`")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    table = methods(args)
    cases = [] if args.no_synthetic else list(synthetic_cases(args.seeds, args.frames, args.size, args.cells))
    if not args.no_real and args.data.is_dir():
        cases += list(real_cases(args.data, args.real_frames, args.hela_crop))
    print(f"machine: {MACHINE}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    if not args.no_synthetic:
        print(f"synthetic: {args.frames} frames {args.size}x{args.size}, {args.cells} cells, "
              "divisions, entering (p=0.15/frame) and leaving cells")
    if not importlib.util.find_spec("trackastra"):
        print("trackastra: not installed, its rows are skipped")
    header = f"{'data':24} {'method':20} {'DET':>5} {'SEG':>5} {'TRA':>5} {'divR':>5} {'divP':>5} " \
             f"{'div t/p/m':>9} {'tracks':>6} {'s':>6}"
    print(header)
    rows = []
    for data_name, image, truth, lineage, metrics in cases:
        with tempfile.TemporaryDirectory() as scratch:
            for name, method in table.items():
                row = score(name, method, image, truth, lineage, metrics, Path(scratch))
                rows.append({"data": data_name, "method": name} | row)
                if "error" in row:
                    print(f"{data_name:24} {name:20} failed: {row['error']}")
                    continue
                divs = (f"{row['true_divisions']}/{row['predicted_divisions']}/{row['matched_divisions']}"
                        if lineage is not None else "-")
                print(f"{data_name:24} {name:20} {_fmt(row, 'DET')} {_fmt(row, 'SEG')} {_fmt(row, 'TRA')} "
                      f"{_fmt(row, 'division_recall')} {_fmt(row, 'division_precision')} "
                      f"{divs:>9} {row['tracks']:6d} {row['seconds']:6.1f}",
                      flush=True)
    synthetic = [r for r in rows if r["data"].startswith("synthetic") and "error" not in r]
    print("mean over synthetic seeds:")
    for name in table:
        mine = [r for r in synthetic if r["method"] == name]
        if mine:
            keys = ("DET", "SEG", "TRA", "division_recall", "division_precision")
            means = {k: float(np.nanmean(values)) if not np.isnan(values).all() else float("nan")
                     for k in keys for values in [np.array([r[k] for r in mine], float)]}
            print(f"{'':24} {name:20} " + " ".join(_fmt(means, k) for k in means))
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
