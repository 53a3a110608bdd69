"""``napari-sam2 finetune``: train a SAM2 video model on annotated stacks (or synthetic data)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError

EXAMPLE = """\
examples:
  napari-sam2 finetune --images a.tif b.tif --labels a_labels.tif b_labels.tif \\
      --base sam2.1-tiny --out my-model --steps 2000
  napari-sam2 finetune --synthetic 300 --base random:tiny --image-size 192 --out demo --steps 3000
  napari-sam2 finetune ... --out my-model --steps 4000 --resume     # continue a run

Labels are instance labels with ids consistent over time (0 = background).
A `napari-sam2 track` output (.zarr with its lineage) trains on its reviewed
tracks only, when any track is marked reviewed (all tracks otherwise).
With two or more stacks the last one is held out for evaluation; with one,
its last 20 % of frames. The result loads like any model: --model my-model.
"""


def add_parser(sub) -> None:
    """Register the ``finetune`` subcommand on an ``argparse`` subparsers object."""
    p = sub.add_parser(
        "finetune", help="train a SAM2 video model on annotated stacks",
        description="Fine-tune (or train from scratch) a SAM2-family video model on image stacks "
        "with instance labels consistent over time, unrolled over clips with its memory.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--images", nargs="+", default=[], metavar="IMG",
                   help="image stacks (T, Y, X): .tif/.tiff, .zarr, .npy; 2D images count as one frame")
    p.add_argument("--labels", nargs="+", default=[], metavar="LBL",
                   help="label stacks, one per image; a `track` output keeps its reviewed tracks only")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="add N generated synthetic time-lapses to the training data")
    p.add_argument("--base", default="random:tiny",
                   help="starting model: registry name, save_pretrained folder, random:tiny, "
                   "random:sam2.1-tiny or random:CONFIG.json (default random:tiny)")
    p.add_argument("--image-size", type=int, help="input size of a random: base (multiple of 32)")
    p.add_argument("--out", required=True, help="output folder (the trained model, logs, checkpoint)")
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps in total (default 1000)")
    p.add_argument("--clip-length", type=int, default=8, help="frames per training clip (default 8)")
    p.add_argument("--clips", type=int, default=4, help="clips per step (default 4)")
    p.add_argument("--objects", type=int, default=2, help="objects per clip (default 2)")
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    p.add_argument("--warmup", type=int, default=100, help="learning-rate warm-up steps (default 100)")
    p.add_argument("--image-steps", type=int, default=0, metavar="N",
                   help="first N steps on single frames (clips x clip-length frames each), as SAM2's "
                   "image pre-training; useful from scratch (default 0)")
    p.add_argument("--image-every", type=int, default=0, metavar="K",
                   help="after those, every K-th step on single frames too (default 0: never)")
    p.add_argument("--feature-norm", type=float, metavar="W",
                   help="weight of the penalty keeping image-embedding tokens at mean 0, std 1 "
                   "(default 1 for a random: base, else 0; see docs/finetune.md)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data and sampling (default 0)")
    p.add_argument("--checkpoint-every", type=int, default=200, metavar="N")
    p.add_argument("--eval-every", type=int, default=500, metavar="N",
                   help="held-out evaluation every N steps, and at the end (0: only at the end)")
    p.add_argument("--fp16", action="store_true", help="save the final weights in float16")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--axis", help="time/z axis of the stacks (number or letter; default from the file)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.set_defaults(run=run_finetune)


def _feature_norm(args) -> float:
    if args.feature_norm is not None:
        return args.feature_norm
    return 1.0 if args.base.startswith("random:") else 0.0


def run_finetune(args) -> int:
    """Run the ``finetune`` command."""
    from pathlib import Path

    from ..training.data import prepare_stack, synthetic_stacks
    from ..training.finetune import CHECKPOINT, FinetuneConfig, train
    from ..training.model import input_size

    if len(args.images) != len(args.labels):
        raise InputError(f"{len(args.images)} image file(s) but {len(args.labels)} label file(s); "
                         "give one label stack per image stack, in the same order")
    if not args.images and args.synthetic <= 0:
        raise InputError("no training data: give --images and --labels, or --synthetic N")
    for name in ("steps", "clip_length", "clips", "objects", "checkpoint_every"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.feature_norm is not None and args.feature_norm < 0:
        raise InputError(f"--feature-norm must be 0 or more (got {args.feature_norm}); 0 turns it off")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out)
    size = input_size(args.base, args.image_size, out / CHECKPOINT if args.resume else None)
    pairs = [_read_pair(img, lbl, args.axis) for img, lbl in zip(args.images, args.labels, strict=True)]
    train_pairs, heldout = _split(pairs)
    stacks = [prepare_stack(img, lbl, size, name) for img, lbl, name in train_pairs]
    if args.synthetic:
        stacks += synthetic_stacks(args.synthetic, args.seed, size, progress=True)
        if not pairs:
            heldout = synthetic_heldout(args.seed)
    config = FinetuneConfig(steps=args.steps, clip_length=args.clip_length, clips=args.clips,
                            objects=args.objects, lr=args.lr, warmup=args.warmup, seed=args.seed,
                            checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
                            fp16=args.fp16, image_steps=args.image_steps,
                            image_every=args.image_every, feature_norm=_feature_norm(args))
    result = train(stacks, out, args.base, config, eval_stacks=heldout, image_size=args.image_size,
                   resume=args.resume, log=lambda line: print(line, file=sys.stderr))
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k not in ("steps", "seconds"))
    print(f"wrote {out}: {result['steps']} steps in {result['seconds']:.0f} s"
          + (f"; held-out {scores}" if scores else "") + f" (use it with --model {out})")
    return 0


def synthetic_heldout(seed: int, n: int = 3):
    """Held-out synthetic stacks: the demo's generator (30 frames), seeds no training stack uses."""
    from ..core.synthetic import synthetic_timelapse

    return [synthetic_timelapse(30, (256, 256), 6, seed=900_000 + 1000 * seed + i, divisions=False)
            for i in range(n)]


def _read_pair(image_path: str, labels_path: str, axis):
    import numpy as np

    from ..core.io import default_axes, open_image, parse_axis
    from ..core.track_exports import read_lineage
    from ..training.data import reviewed_only

    arrays = []
    for path in (image_path, labels_path):
        data, axes = open_image(path)
        if data.ndim == 2:
            arrays.append(np.asarray(data)[None])
            continue
        if data.ndim != 3:
            raise InputError(f"{path}: expected a (T, Y, X) stack of grey frames, got shape {data.shape}")
        frame_axis = parse_axis(axis, axes, "--axis") if axis is not None else default_axes(axes, 3)[0]
        arrays.append(np.moveaxis(np.asarray(data), frame_axis, 0))
    labels, note = reviewed_only(arrays[1], read_lineage(labels_path))
    if note:
        print(f"{labels_path}: {note}", file=sys.stderr)
    return arrays[0], labels, image_path


def _split(pairs):
    """Hold out the last stack (two or more), or the last 20 % of frames of a single stack."""
    if len(pairs) >= 2:
        return pairs[:-1], [pairs[-1][:2]]
    if len(pairs) == 1 and len(pairs[0][0]) >= 10:
        image, labels, name = pairs[0]
        cut = len(image) - max(3, len(image) // 5)
        if labels[cut:][0].any():
            return [(image[:cut], labels[:cut], name)], [(image[cut:], labels[cut:])]
    return pairs, None
