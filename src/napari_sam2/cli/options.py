"""Options several commands share (stack axes, channels, model); the CLI's words for the core's remedies."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError
from ..core.memory_policies import DEFAULT_MEMORY, MEMORY_POLICIES
from ..core.models import AUTO, DEFAULT_PRESET, PRECISIONS, PRESETS
from ..core.session import DIRECTIONS

__all__ = ["OPTION_WORDS", "add_stack_options", "add_axes_options", "add_model_options", "stack_axes",
           "open_stack_args", "parse_channels"]

#: API parameter -> the command-line option that sets it (see ``InputError.worded``)
OPTION_WORDS = {
    "overwrite": "--overwrite",
    "channel_axis": "--channel-axis",
    "channels": "--channels",
    "axis": "--axis",
    "axes": "--axes",
    "frames": "--frames",
    "planes": "--planes",
    "device": "--device",
    "model": "--model",
    "preset": "--preset",
    "precision": "--precision",
    "resume": "--resume",
    "steps": "--steps",
    "image_size": "--image-size",
    "allow_untracked": "--allow-untracked",
    "memory": "--memory",
    "seed_frame": "--seed-frame",
    "workers": "--workers",
}


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """``--axis``, ``--channel-axis``, ``--channels``: which axis to follow and which channels to use."""
    parser.add_argument("--axis", help="propagation axis: number or letter (t, z); "
                        "default: T, else Z, from the file's axis names, else 0")
    parser.add_argument("--channel-axis", help="channel axis of 4D data: number or letter (c)")
    parser.add_argument("--channels", help="channel(s) to use: I, or I,J[,K] as RGB (default 0)")


def add_axes_options(parser: argparse.ArgumentParser) -> None:
    """``--axes``, ``--frames``, ``--planes``: name the image's axes; try a part of it."""
    parser.add_argument("--axes", help="the image's axes as stored, one letter per dimension "
                        "among T Z C Y X S (S: RGB colours), e.g. TZYX, TYX, ZYX, TCZYX, CTYX, "
                        "YXS; overrides the file's axis names (default: the file's, else a guess, "
                        "printed in the 'read as' line)")
    parser.add_argument("--frames", metavar="N|START:STOP",
                        help="only time point N, or START..STOP-1, read lazily (a quick try); "
                        "prompts keep the image's frame numbers")
    parser.add_argument("--planes", metavar="N|START:STOP",
                        help="only plane N, or planes START..STOP-1 (along Z)")


def open_stack_args(args):
    """Open ``args.image`` with the stack and axes options; print how it was read.

    Returns ``(data, axes, channels)``: the (lazily viewed) array, its
    :class:`~napari_sam2.core.axes.Axes` and the channels to use (an RGB(A)
    image's colours unless ``--channels`` says otherwise). The "read as" line
    and any warning about the file's metadata go to stderr.
    """
    from ..core.stack_view import default_channels, open_stack

    data, axes = open_stack(args.image, args.axes, axis=args.axis, channel_axis=args.channel_axis,
                            frames=args.frames, planes=args.planes)
    channels = default_channels(axes, parse_channels(args.channels))
    print(axes.describe(channels), file=sys.stderr)
    for warning in axes.warnings:
        print(f"napari-sam2: warning: {warning}", file=sys.stderr)
    return data, axes, channels


def add_model_options(parser: argparse.ArgumentParser, precision: bool = True) -> None:
    """``--model``, ``--device``, ``--preset`` (and ``--precision``), with one default everywhere."""
    parser.add_argument("--model", default=AUTO,
                        help="model name (see `napari-sam2 models`) or a save_pretrained folder; "
                        "auto (default): EdgeTAM for --preset fast when it can run here (timm "
                        "installed, weights cached or downloadable), else sam2.1-tiny")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=tuple(PRESETS),
                        help="; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()))
    if precision:
        parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                            help="auto: bf16 autocast where the hardware computes bf16 (CUDA; x86 "
                            "CPUs with AVX512-BF16 or AMX, 0.73-0.85x the time of fp32 there), "
                            "else fp32")


def add_direction_option(parser: argparse.ArgumentParser) -> None:
    """``--direction``: forward, backward or both from the prompted frames."""
    parser.add_argument("--direction", default="both", choices=DIRECTIONS)


def add_memory_option(parser: argparse.ArgumentParser) -> None:
    """``--memory``: the tracker's memory policy (see ``docs/engine.md``, Memory policies)."""
    parser.add_argument("--memory", default=DEFAULT_MEMORY, choices=MEMORY_POLICIES,
                        help=f"memory policy while tracking: sam2 (SAM2's own), exclusive (no pixel "
                        "in two objects' memories), cells (candidate masks that keep to their own "
                        "cell), cells-claims (cells + claims settled by history, jumps kept out "
                        "of memory), motion (SAMURAI-like: a Kalman filter on each box scores the "
                        "candidates, masks off the predicted box kept out of memory), motion-cells "
                        "(motion + cells + exclusive), dam (DAM4SAM-like: "
                        f"frames with a distractor kept in memory longer); default {DEFAULT_MEMORY}")


def stack_axes(args, axes: str | None, ndim: int, shape=None) -> tuple[int, int | None]:
    """The propagation and channel axes from ``--axis``/``--channel-axis`` or the file's axis names.

    Without axis names, 3D data whose last axis has 3 or 4 entries (``shape``) is
    taken as one RGB(A) image.
    """
    from ..core.io import default_axes, parse_axis

    axis, channel_axis = default_axes(axes, ndim)
    if not axes and shape is not None and len(shape) == 3 and shape[-1] in (3, 4):
        channel_axis = 2
    if args.axis is not None:
        axis = parse_axis(args.axis, axes, "--axis")
    if args.channel_axis is not None:
        channel_axis = parse_axis(args.channel_axis, axes, "--channel-axis")
    return axis, channel_axis


def parse_channels(text: str | None) -> tuple[int, ...] | None:
    """``"0"`` or ``"0,1,2"`` to a tuple of channel indices (None stays None)."""
    if text is None:
        return None
    try:
        return tuple(int(c) for c in text.split(","))
    except ValueError:
        message = f"--channels must be comma-separated integers like 0 or 0,1,2, not {text!r}"
        raise InputError(message) from None
