"""Where the time of one tracked frame goes: FLOPs and measured time per model part.

A :class:`Session` with the SAM2.1 Hiera-tiny architecture (or ``--model
random:edgetam``, EdgeTAM's; random weights,
``--preset`` input size and its mask memories) propagates a synthetic uint16
stack (``bench_engine.write_stack``) from one click on frame 0. Once the
memory bank is full (after ``--warm`` frames), one frame is run under
``torch.utils.flop_counter.FlopCounterMode`` (FLOPs of matrix products,
convolutions and attention; element-wise work is not counted; torch's counter
has no formula for the CPU's fused attention kernel, so one is registered
here: 4 x queries x keys x head size per head), and the next
``--timed`` frames are timed with forward hooks on the model's parts: image
encoder, memory attention, memory encoder, mask decoder (with the prompt
encoder), the rest (object pointers, our own code, reading).

The machine's matrix-multiply rate at the chosen precision is measured in
the same process (``torch.mm`` of 2048 x 2048, same thread count), so each
part's achieved GFLOP/s can be read as a share of what the CPU does at best.

Usage::

    python benchmarks/bench_flops.py --preset accurate --threads 1
    python benchmarks/bench_flops.py --preset fast --threads 1 --precision bf16
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import _cell_centres, _cells, _cpu_name, write_stack  # noqa: E402

PARTS = {"vision_encoder": "image encoder", "memory_attention": "memory attention",
         "memory_encoder": "memory encoder", "mask_decoder": "mask decoder",
         "prompt_encoder": "mask decoder", "spatial_perceiver": "memory perceiver (EdgeTAM)"}


def matmul_gflops(n: int = 2048, repeats: int = 10, dtype=None) -> float:
    """Measured GFLOP/s of ``torch.mm`` on ``n x n`` matrices (fp32 unless ``dtype``)."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    t0 = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


class PartTimer:
    """Wall time spent inside each top-level part of the model (outermost calls only)."""

    def __init__(self, model):
        self.seconds: dict[str, float] = defaultdict(float)
        self._start: dict[str, float] = {}
        self._hooks = []
        for name, part in PARTS.items():
            module = getattr(model, name, None)
            if module is None:
                continue
            self._hooks.append(module.register_forward_pre_hook(self._enter(part)))
            self._hooks.append(module.register_forward_hook(self._leave(part)))

    def _enter(self, part):
        def hook(*_):
            self._start.setdefault(part, time.perf_counter())
        return hook

    def _leave(self, part):
        def hook(*_):
            self.seconds[part] += time.perf_counter() - self._start.pop(part)
        return hook

    def remove(self):
        for hook in self._hooks:
            hook.remove()


def _attention_flops(query_shape, key_shape, value_shape, *_, **__) -> int:
    """FLOPs of softmax(Q K^T) V: two products of queries x keys x head size."""
    *batch, queries, head = query_shape
    return 2 * math.prod(batch) * queries * key_shape[-2] * (head + value_shape[-1])


def flops_per_part(counter, model) -> dict[str, float]:
    """FLOPs by model part from a FlopCounterMode's per-module counts.

    The tracker calls the parts directly, so each part is a root of the
    counter's module tree, named by its class.
    """
    roots = {type(getattr(model, name)).__name__: part for name, part in PARTS.items()
             if hasattr(model, name)}
    out: dict[str, float] = defaultdict(float)
    for module, ops in counter.get_flop_counts().items():
        if module in roots:
            out[roots[module]] += sum(ops.values())
    out["total"] = sum(counter.get_flop_counts().get("Global", {}).values())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="accurate")
    parser.add_argument("--model", default="random:sam2.1-tiny",
                        help="random:sam2.1-tiny (default) or random:edgetam (needs timm)")
    parser.add_argument("--size", type=int, default=1024, help="stack frame size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warm", type=int, default=8, help="frames before measuring (memory fills)")
    parser.add_argument("--timed", type=int, default=3)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                        help="bf16: autocast, against the bf16 matmul rate")
    args = parser.parse_args(argv)

    import warnings

    import torch
    import zarr
    from torch.utils.flop_counter import FlopCounterMode

    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models import load_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker

    torch.set_num_threads(args.threads)
    peak = matmul_gflops(dtype=torch.bfloat16 if args.precision == "bf16" else torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model(args.model, "cpu", preset=args.preset, precision=args.precision)
    loaded.model.requires_grad_(False)  # the FLOP counter's module tracker hooks parameters that need grad
    n_frames = args.warm + args.timed + 2
    with tempfile.TemporaryDirectory() as tmp:
        write_stack(Path(tmp) / "stack.zarr", n_frames, args.size, n_cells=4)
        source = FrameSource(zarr.open_array(str(Path(tmp) / "stack.zarr"), mode="r"))
        session = Session(source, TransformersTracker(loaded))
        session.add_points(1, 0, [_cell_centres(_cells(4, args.size, 0), 0)[0]], [1])
        frames = session.propagate("forward")
        for _ in range(args.warm):
            next(frames)
        cpu_attention = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        with FlopCounterMode(display=False, custom_mapping={cpu_attention: _attention_flops}) as counter:
            next(frames)
        flops = flops_per_part(counter, loaded.model)
        flops["rest"] = flops["total"] - sum(v for k, v in flops.items() if k not in ("total", "rest"))
        timer = PartTimer(loaded.model)
        t0 = time.perf_counter()
        for _ in range(args.timed):
            next(frames)
        wall = (time.perf_counter() - t0) / args.timed
        timer.remove()
        frames.close()

    seconds = {part: s / args.timed for part, s in timer.seconds.items()}
    seconds["rest"] = wall - sum(seconds.values())
    print(f"{args.model} (random weights), preset {args.preset}: {loaded.image_size} px input, "
          f"{loaded.model.num_maskmem} mask memories; {args.threads} torch threads on {_cpu_name()}, "
          f"{args.precision}; torch.mm 2048^2: {peak:.1f} GFLOP/s\n")
    print("| part | GFLOP / frame | s / frame | share of time | GFLOP/s | of matmul rate |")
    print("|---|---:|---:|---:|---:|---:|")
    parts = [p for p in dict.fromkeys(PARTS.values()) if p in seconds or p in flops]
    for part in [*parts, "rest"]:
        gflop, sec = flops.get(part, 0.0) / 1e9, seconds.get(part, 0.0)
        rate = gflop / sec if sec > 0 and gflop else 0.0
        print(f"| {part} | {gflop:.1f} | {sec:.3f} | {100 * sec / wall:.0f} % | "
              f"{rate:.1f} | {100 * rate / peak:.0f} % |")
    total = flops["total"] / 1e9
    print(f"| **frame** | {total:.1f} | {wall:.3f} | 100 % | {total / wall:.1f} | "
          f"{100 * total / wall / peak:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
