"""``napari-sam2 evaluate davis | clicks | ctc | iou``: the command line of :mod:`napari_sam2.evaluation`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .options import add_model_options, add_stack_options, parse_channels, stack_axes

__all__ = ["add_parser"]

EXAMPLES = {
    "davis": """\
examples:
  napari-sam2 evaluate davis DAVIS --out results --sequences blackswan,dog --model sam2.1-tiny
  napari-sam2 evaluate davis DAVIS --out scores --predictions osvos_results

DAVIS holds JPEGImages/480p/<sequence>/*.jpg and Annotations/480p/<sequence>/*.png.
Writes results/<sequence>/00000.png ... and results/davis_scores.csv / .json.""",
    "clicks": """\
example:
  napari-sam2 evaluate clicks stack.tif --truth labels.tif --frames 0,10 --clicks 3 --target 0.9""",
    "iou": """\
examples:
  napari-sam2 evaluate iou labels.zarr --truth ground_truth.tif
  napari-sam2 evaluate iou labels.zarr --truth ground_truth.tif --match id --frame 0

Each predicted object is paired with one true object: by overlap (the one-to-one pairing with the
largest total IoU on each object's first frame where both have objects, or on --frame), or by id.
IoU is pooled over all frames; J active is the mean IoU over the frames where either is present.""",
    "ctc": """\
example:
  napari-sam2 evaluate ctc labels.zarr --out 01_RES --gt 01_GT
  napari-sam2 evaluate ctc labels.tif --out 01_RES --parents lineage.txt""",
}


def add_parser(sub) -> None:
    """Add the ``evaluate`` command and its four protocols to the subparsers ``sub``."""
    evaluate = sub.add_parser("evaluate",
                              help="score segmentations: DAVIS, simulated clicks, CTC, per-object IoU",
                              description="Benchmark protocols and metrics (see docs/evaluation.md).")
    protocols = evaluate.add_subparsers(title="protocols")

    davis = _sub(protocols, "davis", "DAVIS semi-supervised: prompt frame 0 with its mask, "
                 "propagate, score J and F")
    davis.add_argument("root", help="DAVIS folder (JPEGImages/480p, Annotations/480p)")
    davis.add_argument("--out", required=True, help="results folder: predicted PNGs and score tables")
    davis.add_argument("--sequences", help="comma-separated sequence names (default: all)")
    davis.add_argument("--predictions", help="score the predictions in this folder; no model is run")
    davis.add_argument("--max-frames", type=int, help="use only the first N frames of each sequence")
    davis.add_argument("--overwrite", action="store_true", help="replace earlier predictions in --out")
    add_model_options(davis, precision=False)
    davis.set_defaults(run=_davis)

    clicks = _sub(protocols, "clicks", "simulated interactive clicks: J&F against the number of clicks")
    clicks.add_argument("image", help=".tif/.tiff, .zarr or .npy stack")
    clicks.add_argument("--truth", required=True, help="ground-truth labels, the image's shape")
    clicks.add_argument("--frames", default="0", help="frames that get clicks, e.g. 0,10 (default 0)")
    clicks.add_argument("--clicks", type=int, default=3, help="rounds of corrective clicks (default 3)")
    clicks.add_argument("--target", type=float, default=0.9, help="J&F to reach (default 0.9)")
    add_stack_options(clicks)
    clicks.add_argument("--out", help="also write the full report (every click) as JSON")
    clicks.add_argument("--allow-untracked", action="store_true",
                        help="score a truth whose ids are not tracked over time (refused by default)")
    add_model_options(clicks, precision=False)
    clicks.set_defaults(run=_clicks)

    ctc = _sub(protocols, "ctc", "export labels to Cell Tracking Challenge format and score SEG/TRA/DET")
    ctc.add_argument("labels", help="label time-lapse, time first: .tif, .zarr or .npy")
    ctc.add_argument("--out", required=True, help="CTC result folder to write, e.g. 01_RES")
    ctc.add_argument("--gt", help="CTC ground-truth folder (01_GT with TRA/ and SEG/) to score against")
    ctc.add_argument("--parents", help="track file (L B E P lines, like man_track.txt) giving each id's "
                     "parent id, for divisions")
    ctc.set_defaults(run=_ctc)

    iou = _sub(protocols, "iou", "per-object IoU of a label stack against a ground truth, "
               "objects matched by overlap or id")
    iou.add_argument("labels", help="predicted labels: .tif, .zarr or .npy stack")
    iou.add_argument("--truth", required=True, help="ground-truth labels, the same shape")
    iou.add_argument("--match", choices=("overlap", "id"), default="overlap",
                     help="pair objects by overlap (default) or by equal ids")
    iou.add_argument("--frame", type=int, help="match on this frame (e.g. the prompted one); default: "
                     "each object's first frame where both have objects")
    iou.add_argument("--axis", help="frame axis: number or letter (t, z); default: T, else Z, else 0")
    iou.add_argument("--out", help="also write the table as JSON")
    iou.set_defaults(run=_iou)
    evaluate.set_defaults(run=lambda args: _missing_protocol(evaluate))


def _sub(protocols, name: str, description: str) -> argparse.ArgumentParser:
    return protocols.add_parser(name, help=description, description=description, epilog=EXAMPLES[name],
                                formatter_class=argparse.RawDescriptionHelpFormatter)


def _missing_protocol(parser) -> int:
    parser.print_help()
    return 2


def _names(text: str | None, what: str):
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise InputError(f"{what} is empty")
    return names


def _davis(args) -> int:
    from ..evaluation.davis import run_davis, score_davis

    sequences = _names(args.sequences, "--sequences")
    if args.predictions is not None:
        if not Path(args.predictions).is_dir():
            raise InputError(f"predictions folder {args.predictions} does not exist")
        report = score_davis(args.root, args.predictions, sequences, args.max_frames)
        report.write(args.out)
    else:
        report = run_davis(args.root, args.out, sequences, args.model, args.device, args.max_frames,
                           args.overwrite, preset=args.preset)
    print(report.table())
    if "note" in report.info:
        print(f"note: {report.info['note']}")
    print(f"tables: {Path(args.out) / 'davis_scores.csv'} and .json")
    return 0


def _clicks(args) -> int:
    from ..core.io import open_image
    from ..evaluation.clicks import run_clicks
    from ..evaluation.objects import rows_text

    image, axes = open_image(args.image)
    truth, _ = open_image(args.truth)
    axis, channel_axis = stack_axes(args, axes, image.ndim)
    try:
        frames = [int(f) for f in _names(args.frames, "--frames")]
    except ValueError:
        message = f"--frames must be comma-separated integers like 0,10, not {args.frames!r}"
        raise InputError(message) from None
    if args.clicks < 0 or not 0 < args.target <= 1:
        raise InputError("--clicks must be >= 0 and --target in (0, 1]")
    report = run_clicks(image, truth, frames, args.clicks, args.model, args.device, args.target, axis,
                        channel_axis, parse_channels(args.channels), preset=args.preset,
                        allow_untracked=args.allow_untracked)
    print(f"{'clicks':>7}{'per object':>12}{'J&F':>8}{'J':>8}{'F':>8}")
    for r in report["rounds"]:
        print(f"{r['clicks']:>7}{r['clicks_per_object']:>12.2f}{r['J&F']:>8.3f}{r['J']:>8.3f}{r['F']:>8.3f}")
    needed = report["clicks_to_target"]["total"]
    print(f"J&F >= {args.target}: " + (f"reached with {needed} clicks" if needed is not None else
                                       f"not reached with {report['rounds'][-1]['clicks']} clicks"))
    print("\nper object after the last round (objects matched by id: the clicks use the truth's ids; "
          "IoU pooled over frames, J over the frames where either is present):")
    print(rows_text(report["object_table"]["objects"]))
    if report["untracked_truth"]:
        print(f"WARNING: {report['untracked_truth']}")
    if report["model"].startswith("random:"):
        print("note: random weights: the scores are meaningless for quality")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


def _iou(args) -> int:
    from ..core.io import default_axes, open_image, parse_axis
    from ..evaluation.objects import object_iou

    labels, axes = open_image(args.labels)
    truth, _ = open_image(args.truth)
    if labels.ndim != 3 or tuple(labels.shape) != tuple(truth.shape):
        raise InputError(f"the labels ({tuple(labels.shape)}) and the truth ({tuple(truth.shape)}) must be "
                         "3D label stacks of the same shape")
    for name, data in ((args.labels, labels), (args.truth, truth)):
        if not np.issubdtype(np.dtype(data.dtype), np.integer):
            raise InputError(f"{name} must hold integer labels, not {data.dtype}")
    axis = default_axes(axes, 3)[0] if args.axis is None else parse_axis(args.axis, axes, "--axis")
    if not 0 <= axis < 3:
        raise InputError(f"--axis {args.axis} does not exist: the stacks have 3 axes (0, 1, 2)")
    if args.frame is not None and not 0 <= args.frame < labels.shape[axis]:
        raise InputError(f"--frame {args.frame} does not exist: the stack has {labels.shape[axis]} frames")
    table = object_iou(labels, truth, args.match, axis, args.frame)
    print(table.text())
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(table.as_dict(), indent=1))
    return 0


def _ctc(args) -> int:
    from ..evaluation.stack import export_and_score_ctc

    result = export_and_score_ctc(args.labels, args.out, args.gt, args.parents)
    print(f"wrote {result['out']}: {result['frames']} frames, {result['tracks']} tracks")
    for name, value in result.get("scores", {}).items():
        print(f"{name}: {value:.4f}")
    return 0
