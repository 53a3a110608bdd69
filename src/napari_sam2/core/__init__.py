"""The engine: frames, prompts, geometry, the model adapter (tracker), session, label sinks, models.

Importing this package does not import torch or transformers; they load when
a model is loaded or a frame is prepared for it.
"""

from .errors import InputError
from .frames import FrameSource, Normalization
from .imagefiles import ImageFolder, MaskFolder
from .label_store import open_labels, read_label_metadata
from .models import REGISTRY, ModelNotAvailable, load_model, resolve_model
from .prompts import FramePrompt
from .session import FrameResult, Session
from .sink import LabelSink, open_label_sink

__all__ = [
    "FramePrompt",
    "FrameResult",
    "FrameSource",
    "ImageFolder",
    "InputError",
    "LabelSink",
    "MaskFolder",
    "ModelNotAvailable",
    "Normalization",
    "REGISTRY",
    "Session",
    "load_model",
    "open_label_sink",
    "open_labels",
    "read_label_metadata",
    "resolve_model",
]
