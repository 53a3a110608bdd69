"""What a session keeps per object and returns per frame, and the rules that settle a frame's labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import InputError
from .prompts import FramePrompt, ModelPrompt
from .sink import LABEL_DTYPE

__all__ = ["Direction", "DIRECTIONS", "check_direction", "check_object_id", "FrameResult", "TrackedObject",
           "highest_positive", "ObjectStep", "TrackOutput"]

Direction = Literal["forward", "backward", "both"]
#: the directions :meth:`Session.propagate` takes
DIRECTIONS = ("both", "forward", "backward")


def check_direction(direction: str) -> str:
    """Return ``direction`` if :meth:`Session.propagate` takes it, else raise a clear error."""
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    return direction


def check_object_id(obj_id) -> int:
    """Return ``obj_id`` as an int if it can be a label (1 to 65535), else raise a clear error."""
    if not 1 <= int(obj_id) <= np.iinfo(LABEL_DTYPE).max:
        raise InputError(f"object ids must be integers from 1 to 65535, got {obj_id}")
    return int(obj_id)


@dataclass(frozen=True, eq=False)
class FrameResult:
    """What one frame produced.

    Attributes
    ----------
    frame : int
        Frame index along the propagation axis.
    object_ids : tuple of int
        The objects computed on this frame.
    masks : bool array (n_objects, rows, cols)
        Their masks after presence and overlap rules.
    scores : float array (n_objects,)
        Object presence probability (0..1) from the model.
    labels : uint16 array (rows, cols)
        The frame's full label image, all objects included.
    ious : float array (n_objects,)
        The model's predicted IoU of each kept mask (NaN where it gives none:
        mask prompts, test doubles).
    """

    frame: int
    object_ids: tuple[int, ...]
    masks: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    ious: np.ndarray | None = None

    def __post_init__(self):
        if self.ious is None:
            object.__setattr__(self, "ious", np.full(len(self.object_ids), np.nan, np.float32))


@dataclass
class TrackedObject:
    """An object's prompts and how far its propagation is valid."""

    obj_id: int
    name: str = ""
    prompts: dict[int, FramePrompt] = field(default_factory=dict)
    anchor: int | None = None
    forward_done: int | None = None
    backward_done: int | None = None
    presence: dict[int, float] = field(default_factory=dict)


def highest_positive(logits: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per pixel, the index of the present object with the highest positive logit, else -1.

    Works object by object inside each mask's bounding box, so many small
    objects on a large frame cost little (no ``(objects, rows, cols)`` temporaries).
    """
    best = np.zeros(logits.shape[1:], logits.dtype)
    winner = np.full(logits.shape[1:], -1, np.intp)
    for i in np.flatnonzero(present):
        positive = logits[i] > 0
        rows = np.flatnonzero(positive.any(axis=1))
        if not len(rows):
            continue
        cols = np.flatnonzero(positive.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        inside = logits[i][box]
        better = inside > best[box]  # ties: the first object keeps the pixel
        best[box][better] = inside[better]
        winner[box][better] = i
    return winner


@dataclass(frozen=True)
class ObjectStep:
    """What to do for one object on the frame being processed.

    ``prompt`` is None while propagating; ``use_memory`` is False for an
    object's first prompt (plain image SAM) and True for corrections.
    """

    obj_id: int
    prompt: ModelPrompt | None = None
    use_memory: bool = True


@dataclass(frozen=True)
class TrackOutput:
    """Per-object low-resolution mask logits ``(n, h, w)``, presence logits ``(n,)`` and the
    predicted IoU of each kept mask ``(n,)`` (NaN where the model gives none, e.g. mask prompts)."""

    logits: np.ndarray
    presence: np.ndarray
    ious: np.ndarray | None = None

    def __post_init__(self):
        if self.ious is None:
            object.__setattr__(self, "ious", np.full(len(self.presence), np.nan, np.float32))
