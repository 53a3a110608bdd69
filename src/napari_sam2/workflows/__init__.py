"""Headless jobs over the core: ``segment`` a stack from a prompts file, the ``demo``.

Each job checks all of its input before it loads a model or writes a file,
and runs the same way from a script, the command line or a batch.
"""

from .segment import segment_file

__all__ = ["segment_file"]
