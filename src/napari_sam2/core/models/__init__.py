"""Models: the registry of named models and presets, loading, and random-weight models.

- :mod:`.registry`: names users ask for (``REGISTRY``, ``PRESETS``, ``AUTO``).
- :mod:`.loading`: finding weights (cache, download, folders) and loading them.
- :mod:`.configs`: architectures built offline, resizing a config.
- :mod:`.random`: random-weight models of those architectures.
"""

from ..errors import ModelNotAvailable
from .configs import resize_config
from .loading import (
    PRECISIONS,
    LoadedModel,
    cached_models,
    check_folder,
    choose_model,
    compile_encoder,
    load_model,
    native_bf16,
    pick_device,
    resolve_model,
)
from .registry import AUTO, DEFAULT_MODEL, DEFAULT_PRESET, PRESETS, REGISTRY, ModelSpec, Preset

__all__ = [
    "AUTO", "DEFAULT_MODEL", "DEFAULT_PRESET", "PRECISIONS", "PRESETS", "REGISTRY", "LoadedModel",
    "ModelNotAvailable", "ModelSpec", "Preset", "cached_models", "check_folder", "choose_model",
    "compile_encoder", "load_model", "native_bf16", "pick_device", "resize_config", "resolve_model",
]
