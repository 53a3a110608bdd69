"""The model to train: a registry model, a folder, or random weights started for training from scratch."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import InputError

__all__ = ["build_model", "input_size"]


def build_model(base: str, image_size: int | None = None, seed: int = 0):
    """The model to train: from a registry name, a folder, or ``random:NAME`` (random weights).

    Parameters
    ----------
    base : str
        ``random:tiny`` (about 1.3M parameters), ``random:sam2.1-tiny``,
        ``random:PATH`` (a ``config.json`` of a ``Sam2VideoConfig``), a
        registry name or a ``save_pretrained`` folder.
    image_size : int, optional
        Input size of a ``random:`` model (a multiple of 32); default its config's.
    seed : int
        Torch seed for random weights.

    Returns
    -------
    LoadedModel
        On the CPU, in eval mode, every parameter trainable.
    """
    from transformers import Sam2VideoModel

    from ..core.geometry import IMAGENET_MEAN, IMAGENET_STD
    from ..core.models import LoadedModel, load_model
    from ..core.models.random import build_random_model, random_config

    if base.startswith("random:"):
        config = random_config(base, image_size)
        if config.model_type not in ("sam2", "sam2_video"):
            raise InputError(f"{base} is not a SAM2 architecture; fine-tuning supports Sam2VideoModel only")
        model = build_random_model(config, seed, initialise=_from_scratch_init)
        loaded = LoadedModel(model, base, "cpu", int(config.image_size), IMAGENET_MEAN, IMAGENET_STD)
    else:
        if image_size:
            raise InputError("an input size only applies to random: bases; a trained model keeps its "
                             "size", fix=("image_size", None))
        loaded = load_model(base, device="cpu")
        if not isinstance(loaded.model, Sam2VideoModel):
            raise InputError(f"{base} is a {type(loaded.model).__name__}; fine-tuning supports "
                             "Sam2VideoModel checkpoints (SAM2 / SAM2.1) only")
    loaded.model.requires_grad_(True)
    return loaded


def _from_scratch_init(model) -> None:
    """Initialise a freshly built model so that training from scratch gets going quickly.

    * One positional encoding for prompts and image. SAM2 has a single random
      Fourier encoding for both; transformers builds two buffers that
      checkpoints fill with the same values, but a new model draws them
      independently, and a click's encoding then has nothing in common with
      that of the pixels it falls on.
    * PyTorch's default initialisation of linear, convolution and embedding
      layers (as SAM's reference code) instead of transformers' N(0, 0.02),
      which starts attention almost uniform in a model this small.
    * In the mask decoder, each attention starts with equal query and key
      projections, so that a click attends to the image positions near it
      from the first step (the positional encodings of the two match).

    Without these, the model first learns a mask of every object whatever the
    click, and needs many more steps to learn to follow the prompt.
    """
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d,
                                   torch.nn.Embedding)):
                module.reset_parameters()
        for module in model.mask_decoder.modules():
            q, k = getattr(module, "q_proj", None), getattr(module, "k_proj", None)
            if q is not None and k is not None and q.weight.shape == k.weight.shape:
                k.weight.copy_(q.weight)
        model.prompt_encoder.shared_embedding.positional_embedding.copy_(
            model.shared_image_embedding.positional_embedding
        )
        for layer in model.memory_attention.layers:
            _look_at_same_place(layer.cross_attn_image, model.memory_attention.rotary_emb.inv_freq)


def _look_at_same_place(attention, inv_freq, sharpness: float = 4.0) -> None:
    """Start a rotary cross-attention attending to memory at the query's own position.

    Query and key projections get the same bias on the dimensions whose
    rotary frequency tells neighbouring grid cells apart (0.15 to 1.6 radians
    per cell), and zero elsewhere: after the rotations their dot product is
    a sum of ``cos(frequency * offset)``, largest at offset 0. The bias size
    makes the logit at offset 0 exceed that at a neighbour by ``sharpness``.
    The memory attention then starts by copying the memory (the previous
    masks) at each position, which tracking slow objects needs; a random
    start attends almost uniformly and a small model does not leave that
    within a short run.
    """
    import torch

    head_dim = attention.head_dim
    freq = inv_freq.repeat(2).repeat_interleave(2)[:head_dim]  # layout of the rotary cos / sin
    useful = (freq >= 0.15) & (freq <= 1.6)
    spread = float((1 - torch.cos(inv_freq[(inv_freq >= 0.15) & (inv_freq <= 1.6)])).sum())
    size = (sharpness / (2 * spread * attention.scaling)) ** 0.5 if spread else 0.0
    bias = (useful.float() * size).repeat(attention.num_attention_heads)
    attention.q_proj.bias.copy_(bias)
    attention.k_proj.bias.copy_(bias)
    attention.q_proj.weight.mul_(0.25)
    attention.k_proj.weight.mul_(0.25)


def input_size(base: str, image_size: int | None = None, resume_from: str | Path | None = None) -> int:
    """The input size of the model that :func:`train` will build or resume (checks ``base`` early).

    Parameters
    ----------
    base : str
        As for :func:`build_model`.
    image_size : int, optional
        Input size asked for a ``random:`` base.
    resume_from : path, optional
        A checkpoint folder; its size wins.

    Returns
    -------
    int
    """
    from ..core.models import check_folder, resolve_model

    if resume_from is not None:
        config = Path(resume_from) / "config.json"
        if not config.is_file():
            raise InputError(f"nothing to resume: {resume_from} holds no checkpoint")
        return int(json.loads(config.read_text())["image_size"])
    if base.startswith("random:"):
        if image_size:
            if int(image_size) % 32 or int(image_size) < 64:
                raise InputError(f"the input size must be a multiple of 32, at least 64; got {image_size}")
            build_model(base, 64, 0)  # checks the name cheaply
            return int(image_size)
        return build_model(base, None, 0).image_size
    folder = resolve_model(base)
    check_folder(folder)
    if image_size:
        raise InputError("an input size only applies to random: bases; a trained model keeps its size",
                         fix=("image_size", None))
    return int(json.loads((folder / "config.json").read_text())["image_size"])
