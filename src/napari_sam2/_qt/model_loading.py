"""Loading a model in a napari worker with a determinate (one-step) progress bar."""

from __future__ import annotations

__all__ = ["load_in_one_step"]


def load_in_one_step(model, device, **kwargs):
    """``load_model`` as a one-step generator (a determinate progress bar); returns the model."""
    from ..core.models import load_model

    loaded = load_model(model, device, **kwargs)
    yield 1
    return loaded
