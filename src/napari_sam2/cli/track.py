"""``napari-sam2 track``: track every cell of a time-lapse, with divisions, into labels and a lineage."""

from __future__ import annotations

import argparse

from .options import (
    add_axes_options,
    add_memory_option,
    add_model_options,
    add_stack_options,
    open_stack_args,
)

EXAMPLE = """\
examples:
  napari-sam2 track movie.tif --out tracks.zarr
  napari-sam2 track movie.tif --out tracks.zarr --seeds cellpose_masks.tif --ctc movie_RES
  napari-sam2 track movie.tif --out tracks.zarr --geff tracks.geff --preset fast

Seeds: automatic (a grid of point prompts on the seed frame, filtered like
SAM's automatic mask generator), or --seeds LABELS: a label image of one frame
(or a label stack with the movie's frames: its --seed-frame is used), e.g.
from Cellpose, StarDist or a manual annotation. Every object is propagated
both ways from the seed frame; new cells are searched every few frames;
a cell splitting in two becomes two daughter tracks with a parent link;
a cell lost for up to --max-gap frames and found again keeps its track id.

OUT (.zarr) holds the labels (ids consistent over time) and, in its
attributes (napari_sam2.lineage), the tracks, parents, review flags and each
track's reviewed state. --ctc DIR writes the Cell Tracking Challenge result
folder (mask*.tif + res_track.txt), --geff PATH the graph (GEFF).

safety and interruptions: as `segment` (never over an input, one job per OUT,
an existing OUT replaced only with --overwrite once the new one is complete).
A complete OUT is refused; an unfinished one (cancelled, killed) is restarted
with --resume (track keeps no checkpoint). napari-sam2 segment --status OUT
tells how far a run got.
"""


def add_parser(sub) -> None:
    """Register ``track`` on an ``argparse`` subparsers object."""
    cmd = sub.add_parser(
        "track", help="track every cell (automatic or labelled seeds), with divisions and a lineage",
        description="Track every cell of a time-lapse: seeds, propagation, new cells, divisions, "
                    "review flags.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("image", help=".tif/.tiff (OME-TIFF too), .zarr (array or OME-Zarr) or .npy")
    cmd.add_argument("--out", required=True, help="output label store (.zarr) with the lineage")
    cmd.add_argument("--seeds", metavar="LABELS",
                     help="label image (or stack) whose objects seed the tracks; default automatic")
    cmd.add_argument("--seed-frame", type=int, default=0, metavar="N",
                     help="the frame the seeds are on (default 0); tracking goes both ways from it")
    cmd.add_argument("--ctc", metavar="DIR", help="also write a Cell Tracking Challenge result folder")
    cmd.add_argument("--geff", metavar="PATH", help="also write the tracks as a GEFF graph (.geff/.zarr)")
    add_stack_options(cmd)
    add_axes_options(cmd)
    add_model_options(cmd)
    add_memory_option(cmd)
    cmd.add_argument("--window", metavar="on|off|MARGIN,MIN",
                     help="track each cell on a window of the model's feature map around it (faster "
                          "with many small cells): on, off, or its margin and minimum side in cells of "
                          "16 px (on = 4,12); default off (docs/track.md, Cost)")
    cmd.add_argument("--max-gap", metavar="N",
                     help="gap closing: a cell lost for up to N frames and found again keeps one track "
                          "id (0: off; default 2, docs/track.md)")
    cmd.add_argument("--overwrite", action="store_true",
                     help="replace an existing OUT (and --ctc/--geff), once the new labels are complete")
    cmd.add_argument("--resume", action="store_true",
                     help="restart the unfinished run on OUT (a complete OUT is refused)")
    cmd.set_defaults(run=run)


def run(args) -> int:
    """Run ``track``."""
    from ..core.errors import InputError
    from ..core.io import image_scale
    from ..workflows.track import track_file

    window = None if args.window is None else parse_window(args.window)  # checked before reading
    max_gap = None if args.max_gap is None else parse_max_gap(args.max_gap)
    data, axes, channels = open_stack_args(args)
    if axes.volumes:
        raise InputError("track follows cells in 2D over time; for volumes over time choose a "
                         "plane with --planes N (or segment them with prompts: napari-sam2 segment)")
    summary = track_file(data, args.out, seeds=args.seeds, image_path=args.image, axis=axes.axis,
                         channel_axis=axes.channel_axis, channels=channels, model=args.model,
                         device=args.device, preset=args.preset, precision=args.precision,
                         memory=args.memory, overwrite=args.overwrite, resume=args.resume,
                         ctc=args.ctc, geff=args.geff, axes=axes.letters,
                         scale=image_scale(args.image, len(axes.stored_shape or axes.shape)),
                         seed_frame=args.seed_frame, window=window, max_gap=max_gap)
    print(summary)
    return 0


def parse_window(text: str):
    """``--window`` of the CLI: ``on``, ``off`` or ``MARGIN,MIN_SIZE`` (cells of 16 px) -> ``window=``."""
    from ..core.errors import InputError
    from ..core.window_geometry import WindowParams

    if text in ("on", "off"):
        return text == "on"
    try:
        margin, min_size = (int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--window {text}: give on, off or MARGIN,MIN_SIZE (cells of 16 px), "
                         "e.g. --window 4,12") from None
    if margin < 0 or min_size < 1:
        raise InputError(f"--window {text}: the margin must be >= 0 and the minimum size >= 1")
    return WindowParams(margin=margin, min_size=min_size)


def parse_max_gap(text: str) -> int:
    """``--max-gap`` of the CLI: an integer >= 0 (0: no gap closing)."""
    from ..core.errors import InputError

    try:
        gap = int(text)
    except ValueError:
        gap = -1
    if gap < 0:
        raise InputError(f"--max-gap {text}: give the number of frames a cell may be missing, an "
                         "integer >= 0 (0 turns gap closing off)")
    return gap
