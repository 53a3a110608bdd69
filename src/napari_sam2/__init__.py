"""napari-sam2: SAM2 for microscopy stacks in napari, Python and the command line.

``import napari_sam2`` stays light (no torch, transformers or Qt); the
headless API lives in :mod:`napari_sam2.core`.
"""

__version__ = "0.1.0"

from .core import FrameSource, LabelSink, Session, load_model, open_label_sink, open_labels  # noqa: E402

__all__ = ["FrameSource", "LabelSink", "Session", "load_model", "open_label_sink", "open_labels",
           "__version__"]
