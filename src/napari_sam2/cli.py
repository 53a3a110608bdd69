"""Command line: ``napari-sam2 segment | models | demo``.

Every command prints a one-line reason and exits non-zero on bad input;
``--help`` shows an example for each.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .core.frames import InputError
from .core.models import PRECISIONS

SEGMENT_EXAMPLE = """\
example:
  napari-sam2 segment stack.tif --prompts prompts.json --out labels.zarr --axis t

prompts.json (points [row, col], labels 1 positive / 0 negative,
box [row_min, col_min, row_max, col_max], mask = a 2D TIFF/.npy file):
  {"objects": [{"id": 1, "name": "cell A", "prompts": [
      {"frame": 0, "points": [[120, 88], [130, 95]], "labels": [1, 0]},
      {"frame": 12, "box": [100, 70, 150, 120]}]}]}
or a CSV saved from a napari Points layer with features object_id, positive.
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-sam2`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return args.run(args)
    except InputError as err:
        print(f"napari-sam2: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-sam2: cancelled; frames written so far are kept", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if "napari_sam2" in str(filename) or issubclass(category, UserWarning):
        print(f"napari-sam2: warning: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-sam2",
        description="SAM2 segmentation and tracking of microscopy stacks.",
        epilog="run `napari-sam2 COMMAND --help` for each command's options and an example",
    )
    sub = parser.add_subparsers(title="commands")

    seg = sub.add_parser(
        "segment", help="propagate prompts through a stack and write labels",
        description="Segment objects through a time-lapse or z-stack from a few prompts.",
        epilog=SEGMENT_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("image", help=".tif/.tiff (OME-TIFF too), .zarr (array or OME-Zarr) or .npy")
    seg.add_argument("--prompts", required=True, help="prompts .json or napari Points .csv")
    seg.add_argument("--out", required=True, help="output labels, .zarr or .tif")
    _add_model_options(seg)
    seg.set_defaults(run=_segment)

    models = sub.add_parser("models", help="list the named models and which are downloaded",
                            description="List the model registry and the local cache.",
                            epilog="example:\n  napari-sam2 models",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    models.set_defaults(run=_models)

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
    demo.set_defaults(run=_demo)

    from .evaluate_cli import add_evaluate_parser

    add_evaluate_parser(sub)

    from .cli_finetune import add_finetune_parser

    add_finetune_parser(sub)
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--axis", help="propagation axis: number or letter (t, z); "
                        "default: T, else Z, from the file's axis names, else 0")
    parser.add_argument("--channel-axis", help="channel axis of 4D data: number or letter (c)")
    parser.add_argument("--channels", help="channel(s) to use: I, or I,J[,K] as RGB (default 0)")
    parser.add_argument("--model", default="auto",
                        help="model name (see `napari-sam2 models`) or a save_pretrained folder; "
                        "auto (default): EdgeTAM for --preset fast when it can run here (timm "
                        "installed, weights cached or downloadable), else sam2.1-tiny")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--preset", default="accurate", choices=("fast", "balanced", "accurate"),
                        help="fast: 512 px, 4 memory frames (and EdgeTAM with --model auto); "
                        "balanced: 768 px, 6; accurate: 1024 px, 7 "
                        "(SAM2 as trained, default)")
    parser.add_argument("--compile", action="store_true",
                        help="compile the image encoder with torch.compile: later frames faster "
                        "(about 0.8x on a CPU), the first one much slower; for long stacks")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 autocast where the hardware computes bf16 (CUDA; x86 CPUs "
                        "with AVX512-BF16 or AMX, 0.73-0.85x the time of fp32 there), else fp32")
    parser.add_argument("--direction", default="both", choices=("both", "forward", "backward"))
    parser.add_argument("--feature-cache", metavar="STORE",
                        help="keep image features in this zarr store (e.g. features.zarr): later runs "
                        "on the same frames (e.g. after editing the prompts) skip the image encoder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")


def _segment(args) -> int:
    from .core.io import default_axes, open_image, parse_axis

    data, axes = open_image(args.image)
    axis, channel_axis = default_axes(axes, data.ndim)
    axis = parse_axis(args.axis, axes, "--axis") if args.axis is not None else axis
    if args.channel_axis is not None:
        channel_axis = parse_axis(args.channel_axis, axes, "--channel-axis")
    channels = _parse_channels(args.channels)
    summary = segment_file(data, args.prompts, args.out, axis=axis, channel_axis=channel_axis,
                           channels=channels, model=args.model, device=args.device,
                           direction=args.direction, overwrite=args.overwrite, preset=args.preset,
                           feature_cache=args.feature_cache, compile=args.compile,
                           precision=args.precision)
    print(summary)
    return 0


def segment_file(data, prompts_path, out, axis=0, channel_axis=None, channels=None,
                 model="auto", device="auto", direction="both", overwrite=False,
                 progress=True, preset="accurate", feature_cache=None, compile=False,
                 precision="auto") -> str:
    """Segment ``data`` with the prompts in a file, writing labels to ``out``.

    Everything is checked before the model is loaded, and ``out`` is never
    replaced unless ``overwrite``. Returns a one-line summary.
    """
    from tqdm import tqdm

    from .core.feature_cache import FeatureCache
    from .core.frames import FrameSource, check_frame
    from .core.models import load_model
    from .core.prompt_files import read_prompts
    from .core.prompts import check_prompt
    from .core.session import Session
    from .core.sink import open_label_sink
    from .core.tracker import TransformersTracker

    source = FrameSource(data, axis, channel_axis, channels)
    spatial = tuple(d for d in range(data.ndim) if d not in (source.axis, source.channel_axis))
    objects = read_prompts(prompts_path, source.axis, spatial)
    for obj in objects:
        for frame, prompt in obj.prompts.items():
            check_frame(frame, source.n_frames)
            check_prompt(prompt, source.frame_shape, f"object {obj.obj_id}, frame {frame}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"output {out} already exists; choose another name or pass --overwrite")
    cache = FeatureCache(folder=feature_cache) if feature_cache else None
    loaded = load_model(model, device, preset=preset, compile=compile, precision=precision)
    sink = open_label_sink(out, source.n_frames, source.frame_shape, overwrite=overwrite)
    session = Session(source, TransformersTracker(loaded, feature_cache=cache), sink)
    for obj in objects:
        session.add_object(obj.obj_id, obj.name)
        for frame, prompt in sorted(obj.prompts.items()):
            session.set_prompt(obj.obj_id, frame, prompt)
    total = session.pending_frames(direction)
    with tqdm(total=total, desc="propagating", unit="frame", file=sys.stderr,
              disable=not progress) as bar:
        for _ in session.propagate(direction):
            bar.update()
    return (
        f"wrote {out}: {source.n_frames} frames of {source.frame_shape[0]} x "
        f"{source.frame_shape[1]}, {len(objects)} object(s), model {loaded.name} ({loaded.preset}, "
        f"{loaded.image_size} px) on {loaded.device}"
    )


def _parse_channels(text: str | None):
    if text is None:
        return None
    try:
        return tuple(int(c) for c in text.split(","))
    except ValueError:
        message = f"--channels must be comma-separated integers like 0 or 0,1,2, not {text!r}"
        raise InputError(message) from None


def _models(args) -> int:
    from .core.models import REGISTRY, cached_models

    cached = cached_models()
    print(f"{'name':<18}{'hub id':<34}{'cached':<8}description")
    for name, spec in REGISTRY.items():
        print(f"{name:<18}{spec.repo_id:<34}{'yes' if cached[name] else 'no':<8}{spec.description}")
    print("\nA model is downloaded on first use. --model also takes a folder written by "
          "save_pretrained, and random:tiny / random:sam2.1-tiny (random weights, for tests).")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    print(run_demo(Path(args.folder), n_frames=args.frames, model=args.model,
                   device=args.device, overwrite=args.overwrite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
