"""Named SAM2-family models, weight download and loading.

Weights come from the Hugging Face hub through ``huggingface_hub`` (its cache,
progress bars and ``HF_HUB_OFFLINE``), or from a local folder written by
transformers' ``save_pretrained``. Only safetensors files are loaded, strictly
(every weight of the model, nothing else: see :mod:`.weights`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ModelNotAvailable
from .configs import apply_memory_frames, resize_config
from .registry import (
    AUTO,
    DEFAULT_MODEL,
    DEFAULT_PRESET,
    EXTRA_PACKAGES,
    REGISTRY,
    VIDEO_CLASSES,
    ModelSpec,
    Preset,
)
from .registry import preset as _preset
from .weights import (
    check_loading_info,
    check_weight_files,
    config_fingerprint,
    folder_fingerprint,
    quiet_transformers,
)

__all__ = [
    "LoadedModel", "PRECISIONS", "check_folder", "resolve_model", "choose_model", "load_model",
    "pick_device", "native_bf16", "compile_encoder", "cached_models",
]

WEIGHT_PATTERNS = ["config.json", "*.safetensors", "*preprocessor_config.json"]


def check_folder(folder: Path) -> str:
    """Return the model_type of a checkpoint folder, or raise a clear error."""
    config = folder / "config.json"
    if not config.is_file():
        raise InputError(
            f"{folder} is not a SAM2-family checkpoint: it has no config.json "
            "(expected a folder written by transformers' save_pretrained)"
        )
    try:
        model_type = json.loads(config.read_text()).get("model_type", "")
    except json.JSONDecodeError as err:
        raise InputError(f"{config} is not valid JSON: {err}") from None
    if model_type not in VIDEO_CLASSES:
        raise InputError(
            f"{folder} is not a SAM2-family checkpoint: its model_type is {model_type!r}; "
            f"supported: {', '.join(sorted(VIDEO_CLASSES))}"
        )
    if not any(folder.glob("*.safetensors")):
        raise InputError(
            f"{folder} has no .safetensors weights (pickled .bin/.pt files are not loaded); "
            "re-save the model with save_pretrained(..., safe_serialization=True)"
        )
    return model_type


def resolve_model(name_or_folder: str | Path, offline: bool | None = None) -> Path:
    """Find a model's folder on disk, downloading it on first use.

    Parameters
    ----------
    name_or_folder : str or Path
        A registry name (``napari-sam2 models`` lists them) or a local folder.
    offline : bool, optional
        Never touch the network. Default: ``HF_HUB_OFFLINE`` decides.

    Returns
    -------
    Path
        A folder with ``config.json`` and safetensors weights.
    """
    path = Path(name_or_folder).expanduser()
    if path.is_dir():
        check_folder(path)
        return path
    spec = REGISTRY.get(str(name_or_folder))
    if spec is None:
        raise InputError(
            f"unknown model {str(name_or_folder)!r}: use one of {', '.join(REGISTRY)} "
            "or the path of a folder written by save_pretrained"
        )
    if spec.bundled_path is not None:
        check_folder(spec.bundled_path)
        return spec.bundled_path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(
            snapshot_download(
                spec.repo_id, allow_patterns=WEIGHT_PATTERNS, local_files_only=bool(offline)
            )
        )
    except (LocalEntryNotFoundError, OSError) as err:
        raise _missing_weights(spec, err) from None
    check_folder(folder)
    return folder


def _missing_weights(spec: ModelSpec, err: Exception) -> ModelNotAvailable:
    from huggingface_hub.constants import HF_HUB_CACHE

    return ModelNotAvailable(
        f"model {spec.name!r} ({spec.repo_id}) is not in the Hugging Face cache ({HF_HUB_CACHE}) "
        f"and could not be downloaded ({type(err).__name__}). On a machine with internet run "
        f"`hf download {spec.repo_id} config.json model.safetensors --local-dir {spec.name}`, "
        f"copy the folder here and use it as the model", fix=("model", f"./{spec.name}"))


def pick_device(device: str = "auto") -> str:
    """``"auto"`` picks cuda, then mps, then cpu; other names are checked and returned."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available",
                         fix=("device", "cpu"))
    if kind not in ("cpu", "cuda", "mps"):
        raise InputError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


@dataclass
class LoadedModel:
    """A video model ready to run, with what the preprocessing needs to know."""

    model: object
    name: str
    device: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    preset: str = DEFAULT_PRESET
    bf16: bool = False  # run under bf16 autocast (see PRECISIONS)
    #: sha256 naming the weights (their files, or a random model's config and seed); "" when
    #: the model was built in memory (the tracker then hashes its parameters)
    fingerprint: str = ""

    @property
    def precision(self) -> str:
        """``"bf16"`` or ``"fp32"``: what the model runs at."""
        return "bf16" if self.bf16 else "fp32"


#: ``precision`` choices of :func:`load_model`
PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bf16 in hardware: CUDA, or a CPU with AVX512-BF16 or AMX.

    Elsewhere (older x86 CPUs, Apple MPS) bf16 is emulated or unsupported, and
    fp32 is the faster and safer choice.
    """
    import torch

    kind = device.split(":")[0]
    if kind == "cuda":
        return True
    if kind != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def _use_bf16(precision: str, device: str) -> bool:
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return native_bf16(device)
    return precision == "bf16"


def choose_model(name_or_folder: str | Path = AUTO, preset: str = DEFAULT_PRESET,
                 offline: bool | None = None) -> str | Path:
    """The model to load: ``name_or_folder`` itself, or for ``"auto"`` the preset's choice.

    ``"auto"`` stands for the preset's model (``fast``: EdgeTAM) when that can
    run here: the packages it needs import, and its weights are cached or may
    be downloaded. Otherwise, and for the other presets, ``DEFAULT_MODEL``
    (SAM2.1-tiny).

    Parameters
    ----------
    name_or_folder : str or Path
        ``"auto"``, a registry name, a ``save_pretrained`` folder or ``random:...``.
    preset : {"fast", "balanced", "accurate"}
    offline : bool, optional
        Do not count on downloading; default ``HF_HUB_OFFLINE``.

    Returns
    -------
    str or Path
        ``name_or_folder`` unchanged unless it is ``"auto"``.
    """
    if str(name_or_folder) != AUTO:
        return name_or_folder
    preferred = _preset(preset).model
    return preferred if _can_run(preferred, offline) else DEFAULT_MODEL


def _can_run(name: str, offline: bool | None) -> bool:
    """Whether registry model ``name`` has its packages and (cached or downloadable) weights."""
    import importlib

    package = EXTRA_PACKAGES.get(name)
    if package is not None:
        try:
            importlib.import_module(package)
        except Exception:  # missing, or broken (timm needs a torchvision matching torch)
            return False
    if offline is None:
        from huggingface_hub.constants import HF_HUB_OFFLINE

        offline = bool(HF_HUB_OFFLINE)
    return not offline or cached_models().get(name, False)


def load_model(name_or_folder: str | Path | LoadedModel = AUTO, device: str = "auto",
               offline: bool | None = None, preset: str = DEFAULT_PRESET,
               compile: bool = False, precision: str = "auto") -> LoadedModel:
    """Load a SAM2-family video model in evaluation mode.

    Parameters
    ----------
    name_or_folder : str or Path or LoadedModel
        Registry name, a ``save_pretrained`` folder, ``random:...``, or
        ``"auto"``: the preset's model (see :func:`choose_model`). A model
        already loaded is returned as it is (the other arguments are ignored):
        workflows take either, and a batch worker passes the model it keeps.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    offline : bool, optional
        Do not download; only use the cache.
    preset : {"fast", "balanced", "accurate"}
        Model input size and number of memory frames (see ``PRESETS``).
    compile : bool
        Compile the image encoder with ``torch.compile`` (see :func:`compile_encoder`).
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast where the device computes bf16 in hardware
        (:func:`native_bf16`: CUDA, recent x86 CPUs), fp32 elsewhere. Weights
        stay fp32 either way.

    Returns
    -------
    LoadedModel
    """
    if isinstance(name_or_folder, LoadedModel):
        return name_or_folder
    bf16 = _use_bf16(precision, pick_device(device))
    loaded = _load(choose_model(name_or_folder, preset, offline), device, offline, preset)
    loaded.bf16 = bf16
    if compile:
        compile_encoder(loaded.model)
    return loaded


def compile_encoder(model) -> None:
    """Compile a video model's image encoder with ``torch.compile``, in place.

    The encoder is most of the work per frame and always sees the same input
    shape, so it compiles once (the first frame then takes from tens of
    seconds to a few minutes longer). Measured on a CPU (Hiera-tiny, 1024 px):
    8.9 instead of 10.9 s per frame, 37 instead of 6 s for the first mask.
    The memory attention is left alone: its input grows with the number of
    memories, which would recompile.
    """
    import torch

    model.vision_encoder = torch.compile(model.vision_encoder, dynamic=False)


def _missing_package(what: str, err: ImportError) -> InputError:
    return InputError(f"{what} needs a package that is not installed: {err} "
                      "(EdgeTAM needs `pip install timm`)")


def _load(name_or_folder, device, offline, preset) -> LoadedModel:
    chosen = _preset(preset)
    device = pick_device(device)
    import torch
    import transformers

    if str(name_or_folder).startswith("random:"):
        return _random_model(str(name_or_folder), device, chosen)
    folder = resolve_model(name_or_folder, offline=offline)
    model_type = check_folder(folder)

    model_class = getattr(transformers, VIDEO_CLASSES[model_type])
    config = model_class.config_class.from_pretrained(folder)
    if chosen.image_size < config.image_size:  # presets never upscale a small model
        resize_config(config, chosen.image_size)
    check_weight_files(folder)
    try:
        with quiet_transformers():
            model, info = model_class.from_pretrained(
                folder, config=config, use_safetensors=True, dtype=torch.float32,
                output_loading_info=True, ignore_mismatched_sizes=True)
    except ImportError as err:
        raise _missing_package(f"the model in {folder}", err) from None
    except (OSError, ValueError, RuntimeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"could not load the model in {folder}: {reason}") from None
    check_loading_info(info, folder, model_class.__name__)
    model = model.to(device).eval()
    apply_memory_frames(model, chosen.memory_frames)
    mean, std = _normalisation(folder)
    return LoadedModel(model, str(name_or_folder), device, int(model.config.image_size), mean, std,
                       preset, fingerprint=folder_fingerprint(folder))


def _random_model(name: str, device: str, preset: Preset) -> LoadedModel:
    """``random:tiny``, ``random:sam2.1-tiny`` or ``random:edgetam``: real classes, random weights.

    For tests and benchmarks: their speed and memory are those of the real
    architecture, their masks meaningless. ``random:edgetam`` needs timm.
    """
    import warnings

    from ..geometry import IMAGENET_MEAN, IMAGENET_STD
    from .random import build_random_model, random_config

    try:
        config = random_config(name)
        if preset.image_size < config.image_size:
            resize_config(config, preset.image_size)
        model = build_random_model(config, seed=0).to(device)
    except ImportError as err:
        raise _missing_package(name, err) from None
    warnings.warn(f"{name} has random weights: its masks are meaningless", stacklevel=3)
    apply_memory_frames(model, preset.memory_frames)
    return LoadedModel(model, name, device, int(model.config.image_size), IMAGENET_MEAN, IMAGENET_STD,
                       preset.name, fingerprint=config_fingerprint(config, seed=0))


def _normalisation(folder: Path):
    from ..geometry import IMAGENET_MEAN, IMAGENET_STD

    for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
        path = folder / name
        if path.is_file():
            cfg = json.loads(path.read_text())
            if "image_mean" in cfg and "image_std" in cfg:
                return tuple(cfg["image_mean"]), tuple(cfg["image_std"])
    return IMAGENET_MEAN, IMAGENET_STD


def cached_models() -> dict[str, bool]:
    """Which registry models are already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return {
        name: spec.bundled_path is not None
        or isinstance(try_to_load_from_cache(spec.repo_id, "model.safetensors"), str)
        for name, spec in REGISTRY.items()
    }
