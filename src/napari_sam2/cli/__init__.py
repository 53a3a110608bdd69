"""Command line: ``napari-sam2 segment | models | demo | evaluate | finetune`` (see :mod:`.main`)."""

from .main import main

__all__ = ["main"]
