"""Random-weight models: the real transformers classes, for tests, benchmarks and training from scratch.

Their speed and memory are those of the real architecture; their masks are
meaningless. Building one never changes torch's global random state.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .configs import edgetam_config, resize_config, sam2_tiny_config, tiny_config

__all__ = ["RANDOM_MODELS", "random_config", "build_random_model", "save_random_model"]

#: ``random:NAME`` -> the function building its config (``edgetam`` needs timm)
RANDOM_MODELS = {"tiny": tiny_config, "sam2.1-tiny": sam2_tiny_config, "edgetam": edgetam_config}


def random_config(name: str, image_size: int | None = None):
    """The config of ``random:NAME``, resized to ``image_size`` if given.

    Parameters
    ----------
    name : str
        ``tiny``, ``sam2.1-tiny``, ``edgetam`` (with or without the ``random:``
        prefix), or the path of a ``Sam2VideoConfig`` ``config.json``.
    image_size : int, optional
        Model input size, a multiple of 32.
    """
    key = name.split(":", 1)[1] if name.startswith("random:") else name
    if key in RANDOM_MODELS:
        config = RANDOM_MODELS[key]()
    elif Path(key).is_file():
        from transformers import Sam2VideoConfig

        try:
            config = Sam2VideoConfig.from_json_file(key)
        except (OSError, ValueError) as err:
            raise InputError(f"could not read the model config {key}: {err}") from None
    else:
        raise InputError(f"unknown random model {name!r}: use "
                         f"{', '.join('random:' + k for k in RANDOM_MODELS)} or random:CONFIG.json")
    if image_size:
        resize_config(config, int(image_size))
    return config


def build_random_model(config, seed: int = 0, initialise=None):
    """Build the video model of ``config`` with weights drawn from ``seed``.

    The draw happens on a forked copy of torch's random state: the caller's
    global generator is left exactly as it was (the weights equal those of
    ``torch.manual_seed(seed)`` followed by the constructor).

    Parameters
    ----------
    config : Sam2VideoConfig or EdgeTamVideoConfig
    seed : int
    initialise : callable, optional
        Called with the new model to re-draw some of its weights, from the
        same random stream (training from scratch does this).

    Returns
    -------
    torch.nn.Module
        In eval mode, on the CPU.
    """
    import torch
    import transformers

    from .registry import VIDEO_CLASSES

    model_class = getattr(transformers, VIDEO_CLASSES[config.model_type])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config).eval()
        if initialise is not None:
            initialise(model)
    return model


def save_random_model(folder: str | Path, config=None, seed: int = 0) -> Path:
    """Write a random-weight video model with ``save_pretrained`` (safetensors).

    Parameters
    ----------
    folder : str or Path
        Output folder (created).
    config : Sam2VideoConfig, optional
        Default :func:`~.configs.tiny_config`.
    seed : int
        Seed of the random weights.

    Returns
    -------
    Path
        The folder, loadable as a model (``load_model(folder)``).
    """
    model = build_random_model(config if config is not None else tiny_config(), seed)
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
