"""Does batching objects through SAM2's memory attention pay on CPU? (one call for N objects vs N calls).

Random-weight SAM2.1-tiny at the fast preset (512 px: a 32 x 32 feature map,
4 memory frames of 1024 tokens + 16 object pointers x 4 tokens), random
inputs: the memory attention module alone, ``--objects`` objects either one
call each (what tracking does now) or stacked on the batch axis in one call.
Also times one object on a ``--window`` x ``--window`` crop of the feature map
with memories cropped likewise (the cost a windowed tracker would pay; RoPE
positions are the module's own here, only the cost is measured).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_memory_attention_batch.py
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--window", type=int, default=8)
    args = parser.parse_args()

    import torch

    from napari_sam2.core.models import load_model

    loaded = load_model("random:sam2.1-tiny", "cpu", preset="fast")
    attention = loaded.model.memory_attention
    side, n = loaded.image_size // 16, args.objects
    dim = loaded.model.config.memory_attention_hidden_size
    mem_dim = loaded.model.config.memory_encoder_output_channels
    memories, pointers = 4 * side * side, 16 * 4

    def inputs(batch, tokens):
        return dict(current_vision_features=torch.randn(tokens, batch, dim),
                    current_vision_position_embeddings=torch.randn(tokens, batch, dim),
                    memory=torch.randn(memories * tokens // (side * side) + pointers, batch, mem_dim),
                    memory_posision_embeddings=torch.randn(
                        memories * tokens // (side * side) + pointers, batch, mem_dim),
                    num_object_pointer_tokens=pointers)

    print(f"memory attention, {side} x {side} map, {memories} memory tokens + {pointers} pointers, "
          f"torch threads {torch.get_num_threads()}; 2-core AMD EPYC VM, AVX2, fp32, no GPU")
    with torch.inference_mode():
        one = inputs(1, side * side)
        attention(**one)  # warm up
        t0 = time.perf_counter()
        for _ in range(n):
            attention(**one)
        loop = time.perf_counter() - t0
        many = inputs(n, side * side)
        t0 = time.perf_counter()
        attention(**many)
        batched = time.perf_counter() - t0
        print(f"{n} objects: loop {loop:.2f} s ({loop / n:.3f} s/object), one batched call {batched:.2f} s "
              f"({batched / n:.3f} s/object): batching x{loop / batched:.2f}")
        if args.window < side:
            full = attention.position_ids
            rows = (full[:, 1] >= 5) & (full[:, 1] < 5 + args.window)
            cols = (full[:, 0] >= 7) & (full[:, 0] < 7 + args.window)
            attention.position_ids = full[rows & cols]  # the window's RoPE positions in the full map
            small = inputs(1, args.window ** 2)
            attention(**small)
            t0 = time.perf_counter()
            for _ in range(n):
                attention(**small)
            win = time.perf_counter() - t0
            attention.position_ids = full
            print(f"{args.window} x {args.window} window (memories cropped likewise): {win / n:.3f} s/object "
                  f"(x{loop / win:.1f} faster than the full map)")


if __name__ == "__main__":
    main()
