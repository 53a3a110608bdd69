"""``napari-sam2 segment``: propagate prompts through a stack and write labels."""

from __future__ import annotations

import argparse

from .options import (
    add_direction_option,
    add_memory_option,
    add_model_options,
    add_stack_options,
    parse_channels,
    stack_axes,
)

EXAMPLE = """\
example:
  napari-sam2 segment stack.tif --prompts prompts.json --out labels.zarr --axis t

prompts.json (points [row, col], labels 1 positive / 0 negative,
box [row_min, col_min, row_max, col_max], mask = a 2D TIFF/.npy file):
  {"objects": [{"id": 1, "name": "cell A", "prompts": [
      {"frame": 0, "points": [[120, 88], [130, 95]], "labels": [1, 0]},
      {"frame": 12, "box": [100, 70, 150, 120]}]}]}
or a CSV saved from a napari Points layer with features object_id, positive.
"""


def add_parser(sub) -> None:
    """Register ``segment`` on an ``argparse`` subparsers object."""
    seg = sub.add_parser(
        "segment", help="propagate prompts through a stack and write labels",
        description="Segment objects through a time-lapse or z-stack from a few prompts.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("image", help=".tif/.tiff (OME-TIFF too), .zarr (array or OME-Zarr) or .npy")
    seg.add_argument("--prompts", required=True, help="prompts .json or napari Points .csv")
    seg.add_argument("--out", required=True, help="output labels, .zarr or .tif")
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
    seg.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    seg.set_defaults(run=run)


def run(args) -> int:
    """Run ``segment``."""
    from ..core.io import open_image
    from ..workflows.segment import segment_file

    data, axes = open_image(args.image)
    axis, channel_axis = stack_axes(args, axes, data.ndim)
    summary = segment_file(data, args.prompts, args.out, axis=axis, channel_axis=channel_axis,
                           channels=parse_channels(args.channels), model=args.model,
                           device=args.device, direction=args.direction, overwrite=args.overwrite,
                           preset=args.preset, feature_cache=args.feature_cache,
                           compile=args.compile, precision=args.precision, memory=args.memory)
    print(summary)
    return 0
