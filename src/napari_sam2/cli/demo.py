"""``napari-sam2 demo``: segment a synthetic time-lapse end to end."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``demo`` on an ``argparse`` subparsers object."""
    demo = sub.add_parser(
        "demo", help="segment a synthetic time-lapse end to end",
        description="Write a synthetic fluorescence time-lapse with ground truth, click each "
        "cell once on frame 0, propagate, report the IoU against the ground truth and draw "
        "overview.png. The default model is the small bundled one trained on synthetic data "
        "(offline); --model sam2.1-tiny uses SAM2.1 (downloaded on first use).",
        epilog="example:\n  napari-sam2 demo demo-output\n  napari-sam2 demo demo-sam2 --model sam2.1-tiny",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("folder", help="output folder (created)")
    demo.add_argument("--frames", type=int, default=20, help="number of frames (default 20)")
    demo.add_argument("--model", default="demo",
                      help="model name or folder (default: demo, bundled, trained on synthetic data)")
    demo.add_argument("--device", default="auto")
    demo.add_argument("--overwrite", action="store_true", help="replace earlier demo output")
    demo.set_defaults(run=run)


def run(args) -> int:
    """Run ``demo``."""
    from ..core.errors import InputError
    from ..workflows.demo import run_demo

    if args.frames < 1:
        raise InputError(f"--frames must be at least 1 (got {args.frames})")
    print(run_demo(Path(args.folder), n_frames=args.frames, model=args.model,
                   device=args.device, overwrite=args.overwrite))
    return 0
