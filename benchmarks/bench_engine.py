"""Engine benchmark: time per frame, time to first mask, peak memory, our own overhead.

What it does, for each stack length T in ``--frames`` (default 20 and 200):

1. A fresh Python subprocess writes a synthetic uint16 stack ``(T, size, size)``
   to a zarr array in a temporary folder, one frame per chunk (16-bit camera
   offset + static random texture + drifting bright cells + noise), one frame
   at a time so that building the data does not raise the peak memory.
2. It loads the model (``--model``, default ``random:sam2.1-tiny``: the SAM2.1
   Hiera-T architecture at 1024 px input with random weights, offline), opens
   the stack lazily (:class:`~napari_sam2.core.frames.FrameSource`) and a zarr
   label sink on disk (:func:`~napari_sam2.core.sink.open_label_sink`).
3. It clicks one positive point on frame 0 for each of ``--objects`` objects
   (the first ``add_points`` call is the *time to first mask*; model loading is
   not included), then runs ``Session.propagate("forward")`` through all
   frames, writing every frame's labels to the sink.

Figures per run:

* **s/frame**: wall time of the propagation loop / frames propagated (T - 1).
* **CPU s/frame**, **CPU use**: process CPU time (user + system, all threads)
  per propagated frame, and CPU time / (wall time x torch threads). CPU use
  well under 100 % means other work on the machine took cores from the run,
  so its wall-clock figures are inflated; the script warns below 80 %.
* **first mask**: wall time of the first ``add_points`` call (reads the
  normalisation sample and frame 0, runs the image encoder and the decoder).
* **peak RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the run's own
  process, in MB (``VmHWM`` from ``/proc/self/status`` is recorded too as a
  cross-check). The table also gives the ratio peak RSS(max T) / peak RSS(min T);
  the goal is <= 1.2, i.e. memory does not grow with the stack length.
* **time split** of the propagation loop, measured by wrapping library methods
  with timers from this script (monkeypatching the classes in the subprocess;
  no library code is changed):

  (a) *read*: reading and preprocessing frames: ``FrameSource.raw``,
      ``FrameSource.frame`` (normalisation) and ``FrameGeometry.image_to_model``
      (resize + mean/std), as seen by the main thread: ``ModelFrames.__getitem__``
      including any wait for the read-ahead worker. These run inside the model
      call (the model pulls frames through ``ModelFrames``), so they are
      subtracted from (b). Work done by the read-ahead thread overlaps the model
      and is reported separately (``background_s`` in the JSON).
  (b) *model*: ``TransformersTracker.step`` minus (a) and minus our feature
      cache inside it (``TransformersFeatureCache``: frame hashing, LRU store),
      when the engine has one.
  (c) *write + bookkeeping*: everything else in the loop: ``Session._store``
      (``FrameGeometry.logits_to_frame`` upsampling, presence/overlap rules,
      ``LabelSink.read``/``write`` to zarr), the feature-cache bookkeeping and
      the session's own loop code.

  "own share" = (a) + (c) as a share of the loop's wall time; goal < 5 %.

Output: a table on stdout, then one JSON line per run (everything measured,
plus versions, thread count, load average and the size of the tracker's
state at the end, to spot a structure growing with T).

Command used for ``docs/benchmarks.md``::

    python benchmarks/bench_engine.py --frames 20 200

Quick plumbing check with the 1.3M-parameter toy model::

    python benchmarks/bench_engine.py --model random:tiny --frames 5 10 --size 128
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

JSON_TAG = "BENCH_ENGINE_JSON "


# --------------------------------------------------------------------- data
def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean filter of width 2*radius+1 along both axes (numpy only, edges clamped)."""
    out = image
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
        n = 2 * radius + 1
        hi = np.take(c, np.arange(n, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - n), axis=axis)
        out = ((hi - lo) / n).astype(np.float32)
    return out


def _cells(n_cells: int, size: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    crowd = min(1.0, (8 / n_cells) ** 0.5)  # smaller cells when there are many
    spread = min(0.4, 0.25 / crowd**0.5)
    centre = rng.uniform(0.5 - spread, 0.5 + spread, (n_cells, 2)) * size
    amplitude = rng.uniform(0.03, 0.08, (n_cells, 2)) * size * crowd
    period = rng.uniform(40, 120, n_cells)
    radius = rng.uniform(0.05, 0.08, n_cells) * size * crowd
    return centre, amplitude, period, radius


def _cell_centres(cells, t: int) -> np.ndarray:
    centre, amplitude, period, _ = cells
    phase = 2 * np.pi * t / period
    return centre + amplitude * np.stack([np.sin(phase), np.cos(phase)], axis=1)


def write_stack(path: Path, n_frames: int, size: int, n_cells: int, seed: int = 0):
    """Write a synthetic uint16 time-lapse to a zarr array, one frame (and chunk) at a time."""
    import zarr

    rng = np.random.default_rng(seed)
    rows = cols = size
    texture = _box_blur(rng.random((rows, cols)).astype(np.float32), max(1, size // 128))
    texture = (texture - texture.min()) / (np.ptp(texture) + 1e-6)
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    background = 0.2 + 0.1 * cc / cols + 0.05 * rr / rows
    cells = _cells(n_cells, size, seed)
    radius = cells[3]
    array = zarr.open_array(str(path), mode="w", shape=(n_frames, rows, cols),
                            chunks=(1, rows, cols), dtype=np.uint16)
    for t in range(n_frames):
        signal = background + 0.3 * texture
        for (r0, c0), rad in zip(_cell_centres(cells, t), radius, strict=True):
            d2 = ((rr - r0) ** 2 + (cc - c0) ** 2) / rad**2
            signal += np.where(d2 <= 1, 1.0 + 0.5 * texture, 0.0)
        frame = 2000 + 6000 * signal + rng.normal(0, 60, (rows, cols))  # 16-bit camera offset
        array[t] = np.clip(frame, 0, 65535).astype(np.uint16)
    return array, cells


# ------------------------------------------------------------------- timers
class Timers:
    """Wall time of wrapped methods, per method and per category, thread-aware.

    A category's time is counted only at its outermost call, so nested calls
    (``FrameSource.frame`` calling ``raw``) are not counted twice. Calls made
    on the main thread go to ``cat``; calls on other threads (the read-ahead
    worker) to ``bg``, since they overlap the main thread's time instead of
    adding to it.
    """

    def __init__(self):
        self.incl: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.cat: dict[str, float] = defaultdict(float)
        self.bg: dict[str, float] = defaultdict(float)
        self._local = threading.local()
        self._main = threading.get_ident()

    def reset(self):
        self.incl.clear()
        self.calls.clear()
        self.cat.clear()
        self.bg.clear()

    def wrap(self, cls, name: str, *categories: str):
        """Time ``cls.name`` under ``categories``; a no-op if the class has no such method."""
        original = cls.__dict__.get(name)
        if original is None:
            return
        key = f"{cls.__name__}.{name}"

        @functools.wraps(original)
        def timed(*args, **kwargs):
            depth = self._local.__dict__.setdefault("depth", defaultdict(int))
            outer = [c for c in categories if depth[c] == 0]
            for c in categories:
                depth[c] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                for c in categories:
                    depth[c] -= 1
                main = threading.get_ident() == self._main
                self.incl[key if main else key + "@bg"] += elapsed
                self.calls[key if main else key + "@bg"] += 1
                for c in outer:
                    (self.cat if main else self.bg)[c] += elapsed

        setattr(cls, name, timed)


# -------------------------------------------------------------- measurement
def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vm_hwm_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _tensor_mb(tree, seen: set) -> float:
    """MB of distinct tensor storages reachable in nested dicts/lists."""
    import torch

    if isinstance(tree, torch.Tensor):
        storage = tree.untyped_storage()
        if storage.data_ptr() in seen:
            return 0.0
        seen.add(storage.data_ptr())
        return storage.nbytes() / 2**20
    if isinstance(tree, dict):
        return sum(_tensor_mb(v, seen) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return sum(_tensor_mb(v, seen) for v in tree)
    return 0.0


def _state_summary(session) -> dict:
    """How much the session and the transformers inference state hold at the end."""
    sess = session.tracker._session
    per_obj = {}
    for obj_id in session.objects:
        idx = sess.obj_id_to_idx(obj_id)
        outputs = sess.output_dict_per_obj[idx]
        per_obj[obj_id] = {
            "cond_frames": sorted(outputs["cond_frame_outputs"]),
            "non_cond_frames": len(outputs["non_cond_frame_outputs"]),
            "non_cond_range": [min(outputs["non_cond_frame_outputs"], default=-1),
                               max(outputs["non_cond_frame_outputs"], default=-1)],
            "frames_tracked": len(sess.frames_tracked_per_obj.get(idx, {})),
            "point_inputs": len(sess.point_inputs_per_obj.get(idx, {})),
            "presence_entries": len(session.objects[obj_id].presence),
            "prompts": len(session.objects[obj_id].prompts),
        }
    seen: set = set()
    summary = {
        "objects": per_obj,
        "outputs_tensor_MB": round(_tensor_mb(sess.output_dict_per_obj, seen), 2),
    }
    cache = sess.cache
    if hasattr(cache, "_vision_features"):  # transformers' own per-session cache
        summary["vision_cache_frames"] = len(cache._vision_features)
        summary["vision_cache_MB"] = round(_tensor_mb(cache._vision_features, seen), 2)
    store = getattr(cache, "store", None)
    if store is not None and hasattr(store, "_memory"):  # napari_sam2's FeatureCache
        summary["vision_cache_frames"] = len(store._memory)
        summary["vision_cache_MB"] = round(_tensor_mb(dict(store._memory), seen), 2)
        summary["vision_cache_budget_MB"] = store.max_bytes / 2**20
        summary["vision_cache_hits_misses"] = [store.hits, store.misses]
        summary["shared_pos_embeds_MB"] = round(_tensor_mb(getattr(cache, "_pos_embeds", None), seen), 2)
    frames = sess.processed_frames
    summary["read_ahead_pending"] = len(getattr(frames, "_ahead", {}))
    return summary


def run_child(args) -> dict:
    """One measured run (in its own process)."""
    n_frames, size = args._child, args.size
    load_start = os.getloadavg()[0]
    tmp = tempfile.TemporaryDirectory(prefix="bench_engine_", dir=args.tmpdir)
    t0 = time.perf_counter()
    stack, cells = write_stack(Path(tmp.name) / "stack.zarr", n_frames, size,
                               n_cells=max(args.objects, 4))
    data_s = time.perf_counter() - t0
    rss_after_data = _rss_now_mb()

    import warnings

    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)

    from napari_sam2.core import tracker as tracker_module
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.geometry import FrameGeometry
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.sink import LabelSink, open_label_sink
    from napari_sam2.core.tracker import TransformersTracker

    timers = Timers()
    # (a) reading + preprocessing: on the main thread this is the time the model waits for a
    # frame (ModelFrames.__getitem__, including waiting for a read-ahead result); the
    # read-ahead worker's own time lands in timers.bg
    for cls, name in ((tracker_module.ModelFrames, "__getitem__"), (FrameSource, "raw"),
                      (FrameSource, "frame"), (FrameGeometry, "image_to_model")):
        timers.wrap(cls, name, "read", "ours_in_model")
    # our feature cache inside the model call (frame hashing, LRU), when the engine has one
    cache_class = getattr(sys.modules.get("napari_sam2.core.feature_cache"), "TransformersFeatureCache",
                          None)
    if cache_class is not None:
        for name in ("get_vision_features", "cache_vision_features"):
            timers.wrap(cache_class, name, "cache", "ours_in_model")
    timers.wrap(TransformersTracker, "step", "step")
    timers.wrap(Session, "_store", "store")
    timers.wrap(FrameGeometry, "logits_to_frame", "store_logits")
    timers.wrap(LabelSink, "write", "store_write")
    timers.wrap(LabelSink, "read", "store_read")

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "random weights" warning
        extra = {"preset": args.preset} if args.preset else {}
        loaded = load_model(args.model, args.device, **extra)
    load_s = time.perf_counter() - t0
    rss_after_load = _rss_now_mb()

    import zarr

    source = FrameSource(zarr.open_array(str(Path(tmp.name) / "stack.zarr"), mode="r"))
    sink = open_label_sink(Path(tmp.name) / "labels.zarr", n_frames, (size, size))
    session = Session(source, TransformersTracker(loaded), sink)

    centres = _cell_centres(cells, 0)
    prompt_s = []
    for obj in range(args.objects):
        t0 = time.perf_counter()
        session.add_points(obj + 1, frame=0, points=[centres[obj]], labels=[1])
        prompt_s.append(time.perf_counter() - t0)
    first_mask_s = prompt_s[0]
    rss_after_prompt = _rss_now_mb()

    timers.reset()
    rss_curve = []
    n_done = 0
    sample_every = max(1, (n_frames - 1) // 20)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    for _result in session.propagate("forward"):
        n_done += 1
        if n_done % sample_every == 0 or n_done == n_frames - 1:
            elapsed = time.perf_counter() - t0
            rss_curve.append([n_done, round(_rss_now_mb(), 1), round(elapsed, 1),
                              round(_cpu_seconds() - cpu0, 1)])
            print(f"  T={n_frames}: {n_done}/{n_frames - 1} frames, {elapsed / n_done:.2f} s/frame, "
                  f"RSS {rss_curve[-1][1]:.0f} MB", file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    cpu_total = _cpu_seconds() - cpu0
    del _result

    read = timers.cat["read"]
    step = timers.cat["step"]
    model = step - timers.cat["ours_in_model"]  # (b): the model call minus our code inside it
    cache = timers.cat["ours_in_model"] - read  # feature-cache bookkeeping, reads excluded
    other = total - step + cache  # (c): everything else in the loop, plus the cache bookkeeping
    store = timers.cat["store"]
    labels_ok = int(np.count_nonzero(np.asarray(sink.array[n_frames - 1])))

    def _both(key):  # main thread + read-ahead worker
        return timers.incl[key] + timers.incl[key + "@bg"]

    frame_incl = _both("FrameSource.frame")
    raw_incl = _both("FrameSource.raw")
    result = {
        "bench": "engine",
        "frames": n_frames,
        "size": size,
        "objects": args.objects,
        "model": args.model,
        "model_image_size": loaded.image_size,
        "preset": getattr(loaded, "preset", None),
        "mask_memory_frames": int(getattr(loaded.model, "num_maskmem", 0)),
        "engine_commit": _git_commit(),
        "device": loaded.device,
        "precision": loaded.precision,
        "threads": torch.get_num_threads(),
        "frames_propagated": n_done,
        "s_per_frame": total / max(n_done, 1),
        "first_mask_s": first_mask_s,
        "prompt_s": prompt_s,
        "propagation_s": total,
        "cpu_s_per_frame": cpu_total / max(n_done, 1),
        "cpu_utilisation": cpu_total / total / torch.get_num_threads(),
        "model_load_s": load_s,
        "data_write_s": data_s,
        "peak_rss_MB": _peak_rss_mb(),
        "vm_hwm_MB": _vm_hwm_mb(),
        "rss_MB": {"after_data": rss_after_data, "after_model_load": rss_after_load,
                   "after_prompts": rss_after_prompt, "end": _rss_now_mb()},
        "rss_curve": {"columns": ["frames_done", "rss_MB", "wall_s", "cpu_s"], "rows": rss_curve},
        "split_s": {"read": read, "model": model, "write_bookkeeping": other,
                    "store": store, "feature_cache": cache, "loop_other": other - store - cache},
        "background_s": dict(timers.bg),
        "split_share": {"read": read / total, "model": model / total,
                        "write_bookkeeping": other / total, "own": (read + other) / total},
        "detail_s": {
            "raw_read": raw_incl,
            "normalise": frame_incl - raw_incl,
            "image_to_model": _both("FrameGeometry.image_to_model"),
            "logits_to_frame": timers.cat["store_logits"],
            "sink_read": timers.cat["store_read"],
            "sink_write": timers.cat["store_write"],
            "store_rules": store - timers.cat["store_logits"] - timers.cat["store_read"]
            - timers.cat["store_write"],
        },
        "calls": dict(timers.calls),
        "frame_reads": source.reads,
        "last_frame_labelled_px": labels_ok,
        "state_at_end": _state_summary(session),
        "loadavg_start_end": [load_start, os.getloadavg()[0]],
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "zarr": zarr.__version__,
                     "numpy": np.__version__},
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
    }
    tmp.cleanup()
    return result


def _git_commit() -> str | None:
    """The commit of the napari_sam2 checkout being measured (+ "-dirty" if src/ has changes)."""
    import napari_sam2

    root = Path(napari_sam2.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ------------------------------------------------------------------ driver
def _child_command(args, n_frames: int) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", str(n_frames),
           "--size", str(args.size), "--objects", str(args.objects), "--model", args.model,
           "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.tmpdir:
        cmd += ["--tmpdir", args.tmpdir]
    if args.preset:
        cmd += ["--preset", args.preset]
    return cmd


def _table(results: list[dict]) -> str:
    head = (f"{'T':>5} {'frame':>9} {'obj':>3} {'thr':>3} {'s/frame':>8} {'CPU s/fr':>8} {'CPU use':>7} "
            f"{'1st mask s':>10} "
            f"{'peak RSS MB':>11} {'read %':>7} {'model %':>8} {'write+bk %':>10} {'own %':>6} "
            f"{'loop s':>8}")
    lines = [head, "-" * len(head)]
    for r in results:
        s = r["split_share"]
        lines.append(
            f"{r['frames']:>5} {str(r['size']) + 'x' + str(r['size']):>9} {r['objects']:>3} "
            f"{r['threads']:>3} {r['s_per_frame']:>8.3f} {r['cpu_s_per_frame']:>8.2f} "
            f"{100 * r['cpu_utilisation']:>6.0f}% {r['first_mask_s']:>10.2f} "
            f"{r['peak_rss_MB']:>11.0f} {100 * s['read']:>7.2f} {100 * s['model']:>8.2f} "
            f"{100 * s['write_bookkeeping']:>10.2f} {100 * s['own']:>6.2f} {r['propagation_s']:>8.1f}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Engine benchmark: seconds per frame, time to first mask, peak RSS per stack "
        "length (each in a fresh process) and the read / model / write time split.",
        epilog="example:\n  python benchmarks/bench_engine.py --frames 20 200\n"
        "  python benchmarks/bench_engine.py --model random:tiny --frames 5 10 --size 128",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[20, 200],
                        help="stack lengths T, one fresh process each (default 20 200)")
    parser.add_argument("--size", type=int, default=512, help="frame size in pixels, square (default 512)")
    parser.add_argument("--objects", type=int, default=1, choices=range(1, 101), metavar="N",
                        help="objects, one positive click each on frame 0 (1-100, default 1)")
    parser.add_argument("--model", default="random:sam2.1-tiny",
                        help="model name or folder (default random:sam2.1-tiny: real architecture, "
                        "1024 px input, random weights, offline; random:tiny is a 128 px toy)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda... (default auto)")
    parser.add_argument("--preset", default=None,
                        help="speed preset passed to load_model (fast, balanced, accurate; default: "
                        "the library's default, accurate = 1024 px input, 7 memory frames)")
    parser.add_argument("--tmpdir", default=None, help="where the temporary zarr stacks go")
    parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if any(t < 2 for t in args.frames):
        parser.error("--frames values must be at least 2")
    if args.size < 16:
        parser.error("--size must be at least 16")

    if args._child is not None:
        print(JSON_TAG + json.dumps(run_child(args)), flush=True)
        return 0

    results = []
    start = time.perf_counter()
    for n_frames in args.frames:
        print(f"running T={n_frames} in a fresh process ...", file=sys.stderr, flush=True)
        proc = subprocess.run(_child_command(args, n_frames), stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(proc.stdout, end="")
            print(f"run T={n_frames} failed (exit code {proc.returncode})", file=sys.stderr)
            return 1
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(JSON_TAG)]
        results.append(json.loads(lines[-1][len(JSON_TAG):]))
        r = results[-1]
        print(f"T={n_frames} done: {r['s_per_frame']:.3f} s/frame, peak RSS {r['peak_rss_MB']:.0f} MB, "
              f"own share {100 * r['split_share']['own']:.2f} %", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start

    r0 = results[0]
    print(f"napari-sam2 engine benchmark (engine {r0['engine_commit']}): model {r0['model']} "
          f"({r0['model_image_size']} px input, {r0['mask_memory_frames']} mask memories) on "
          f"{r0['device']}, {r0['cpu_count']} CPUs ({r0['cpu']}), {r0.get('precision', 'fp32')}, "
          f"{r0['threads']} torch threads")
    print("stack: uint16 zarr on disk, one frame per chunk; labels to a zarr sink on disk; "
          "propagate('forward') from clicks on frame 0\n")
    print(_table(results))
    print()
    if len(results) > 1:
        lo = min(results, key=lambda r: r["frames"])
        hi = max(results, key=lambda r: r["frames"])
        ratio = hi["peak_rss_MB"] / lo["peak_rss_MB"]
        print(f"peak RSS ratio T={hi['frames']} / T={lo['frames']}: {ratio:.3f} "
              f"(goal <= 1.2: {'met' if ratio <= 1.2 else 'NOT met'})")
    worst_own = max(r["split_share"]["own"] for r in results)
    print(f"own share (read + write/bookkeeping), worst run: {100 * worst_own:.2f} % "
          f"(goal < 5 %: {'met' if worst_own < 0.05 else 'NOT met'})")
    busy = [r for r in results if r["cpu_utilisation"] < 0.8]
    if busy:
        print("warning: runs T=" + ", ".join(str(r["frames"]) for r in busy) + " used under 80 % of "
              f"their {r0['threads']} threads' CPU time: the machine was busy with other work, so "
              "their wall-clock times are inflated (CPU s/frame is less affected)")
    print(f"total benchmark wall time: {wall / 60:.1f} min\n")
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
