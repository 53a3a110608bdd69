"""``napari-sam2 segment``: propagate prompts through a stack and write labels."""

from __future__ import annotations

import argparse

from ..core.checkpoint import CHECKPOINT_EVERY
from .options import (
    add_axes_options,
    add_direction_option,
    add_memory_option,
    add_model_options,
    add_stack_options,
    open_stack_args,
)

EXAMPLE = """\
example:
  napari-sam2 segment stack.tif --prompts prompts.json --out labels.zarr
  napari-sam2 segment cells.tif --axes TZYX --prompts p.json --out labels.zarr
  napari-sam2 segment cells.tif --axes TZYX --frames 3 --prompts p.json --out t3.zarr

axes: every run prints how it read the image, e.g.
  read as T=20 Z=5 Y=443 X=512 (from ImageJ metadata; --axes to change);
  volumes over time: T (20) and Z (5)
--axes names them (letters T Z C Y X S, one per dimension) when the file does
not, or wrongly. T and Z both present: volumes tracked over time; T or Z:
a time-lapse or z-stack; C (or S, RGB): channels (--channels). --frames /
--planes N or START:STOP (stop excluded) try a part; prompts keep the image's
frame numbers and the output records the part it holds.

A single 2D image (grey, multichannel or RGB) is a stack of one frame: prompts
on frame 0; the labels are a stack of one frame, shape (1, rows, cols) (a TIFF
of one page: Fiji and napari show it as one 2D label image).

prompts.json (points [row, col], labels 1 positive / 0 negative,
box [row_min, col_min, row_max, col_max], mask = a 2D TIFF/.npy file):
  {"objects": [{"id": 1, "name": "cell A", "prompts": [
      {"frame": 0, "points": [[120, 88], [130, 95]], "labels": [1, 0]},
      {"frame": 12, "box": [100, 70, 150, 120]}]}]}
or a CSV saved from a napari Points layer with features object_id, positive.

safety and interruptions:
  OUT is never the image, inside it or around it, and an existing OUT is
  replaced only with --overwrite, and only when the new labels are complete
  (they are written beside it, in OUT.sam2-run/, and swapped in at the end).
  One job at a time writes OUT (a lock in OUT.sam2-run/ names the job).
  A cancelled (Ctrl+C) or killed run keeps the frames it finished: a new OUT
  has them in place; a replaced OUT is unchanged. --resume continues from
  the last checkpoint (every --checkpoint-every frames) with the same
  parameters, giving the labels an uninterrupted run gives.
  napari-sam2 segment --status OUT   tells how far a run on OUT got.
"""


def add_parser(sub) -> None:
    """Register ``segment`` on an ``argparse`` subparsers object."""
    seg = sub.add_parser(
        "segment", help="propagate prompts through a stack and write labels",
        description="Segment objects through a time-lapse or z-stack from a few prompts.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("image", nargs="?",
                     help=".tif/.tiff (OME-TIFF too), .zarr (array or OME-Zarr) or .npy")
    seg.add_argument("--prompts", help="prompts .json or napari Points .csv (required)")
    seg.add_argument("--out", help="output labels, .zarr or .tif (required); it records the axes, "
                     "the image, the model and parameters, and the objects' names")
    add_axes_options(seg)
    add_stack_options(seg)
    add_model_options(seg)
    seg.add_argument("--compile", action="store_true",
                     help="compile the image encoder with torch.compile: later frames faster "
                     "(about 0.8x on a CPU), the first one much slower; for long stacks")
    add_direction_option(seg)
    add_memory_option(seg)
    seg.add_argument("--feature-cache", metavar="STORE",
                     help="keep image features in this zarr store (e.g. features.zarr): later runs "
                     "on the same frames (e.g. after editing the prompts) skip the image encoder")
    seg.add_argument("--overwrite", action="store_true",
                     help="replace an existing OUT, once the new labels are complete")
    seg.add_argument("--resume", action="store_true",
                     help="continue the interrupted run on OUT (same parameters) from its last "
                     "checkpoint; with --overwrite, an interrupted replacement of OUT; a new "
                     "OUT is simply written, a complete one refused")
    seg.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY, metavar="N",
                     help=f"frames between checkpoints for --resume (default {CHECKPOINT_EVERY})")
    seg.add_argument("--status", metavar="OUT",
                     help="only tell how far a run on OUT got (reads, writes nothing)")
    seg.set_defaults(run=run)


def run(args) -> int:
    """Run ``segment``."""
    from ..core.errors import InputError
    from ..core.io import image_scale
    from ..workflows.labels_run import run_status
    from ..workflows.segment import segment_file

    if args.status:
        print(run_status(args.status))
        return 0
    missing = [what for what, value in (("IMAGE", args.image), ("--prompts", args.prompts),
                                        ("--out", args.out)) if value is None]
    if missing:
        raise InputError(f"segment needs {', '.join(missing)}; see napari-sam2 segment --help")
    if args.checkpoint_every < 1:
        raise InputError(f"--checkpoint-every must be at least 1 (got {args.checkpoint_every})")
    data, axes, channels = open_stack_args(args)
    scale = image_scale(args.image, len(axes.stored_shape or axes.shape))
    summary = segment_file(data, args.prompts, args.out, axes=axes, channels=channels,
                           model=args.model,
                           device=args.device, direction=args.direction, overwrite=args.overwrite,
                           preset=args.preset, feature_cache=args.feature_cache,
                           compile=args.compile, precision=args.precision, resume=args.resume,
                           image_path=args.image, scale=scale,
                           checkpoint_every=args.checkpoint_every, memory=args.memory)
    print(summary)
    return 0
