"""The ``napari-sam2`` command: one module per subcommand, dispatched from here.

Every command prints a one-line reason and exits 2 on bad input; ``--help``
shows an example for each.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..core.errors import InputError
from . import batch, demo, evaluate, finetune, models, segment, track
from .options import OPTION_WORDS

__all__ = ["main"]

COMMANDS = (segment, track, batch, models, demo, evaluate, finetune)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-sam2`` command."""
    parser = build_parser()
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
        print(f"napari-sam2: error: {err.worded(OPTION_WORDS)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"napari-sam2: {err or 'cancelled; frames written so far are kept'}", file=sys.stderr)
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if "napari_sam2" in str(filename) or issubclass(category, UserWarning):
        print(f"napari-sam2: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="napari-sam2",
        description="SAM2 segmentation and tracking of microscopy stacks.",
        epilog="run `napari-sam2 COMMAND --help` for each command's options and an example",
    )
    sub = parser.add_subparsers(title="commands")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser
