"""The named models and the speed presets: what a user can ask for by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["ModelSpec", "REGISTRY", "Preset", "PRESETS", "AUTO", "DEFAULT_MODEL", "DEFAULT_PRESET",
           "EXTRA_PACKAGES", "VIDEO_CLASSES", "preset"]

#: transformers model_type -> the video model class that runs it
VIDEO_CLASSES = {
    "sam2": "Sam2VideoModel",
    "sam2_video": "Sam2VideoModel",
    "edgetam": "EdgeTamVideoModel",
    "edgetam_video": "EdgeTamVideoModel",
    "sam3": "Sam3TrackerVideoModel",  # the hub's SAM3 checkpoint: its tracker part is loaded
    "sam3_tracker_video": "Sam3TrackerVideoModel",
}

#: where the bundled models live, inside the package
WEIGHTS_FOLDER = Path(__file__).resolve().parents[2] / "_weights"


@dataclass(frozen=True)
class ModelSpec:
    """A model users can ask for by name.

    ``folder`` names a model shipped inside the package (under ``_weights/``):
    such a model never touches the hub.
    """

    name: str
    repo_id: str
    description: str
    folder: str | None = None

    @property
    def bundled_path(self) -> Path | None:
        """The folder of a model shipped with the package, else None."""
        return None if self.folder is None else WEIGHTS_FOLDER / self.folder


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("sam2.1-tiny", "facebook/sam2.1-hiera-tiny", "SAM2.1 Hiera-T, 39M params"),
        ModelSpec("sam2.1-small", "facebook/sam2.1-hiera-small", "SAM2.1 Hiera-S, 46M params"),
        ModelSpec("sam2.1-base-plus", "facebook/sam2.1-hiera-base-plus", "SAM2.1 Hiera-B+, 81M"),
        ModelSpec("sam2.1-large", "facebook/sam2.1-hiera-large", "SAM2.1 Hiera-L, 224M params"),
        ModelSpec("edgetam", "yonigozlan/EdgeTAM-hf", "EdgeTAM (RepViT + 2D perceiver), fast"),
        ModelSpec("sam3", "facebook/sam3", "SAM3's tracker (ViT, 1008 px input; the presets keep "
                  "its size); gated on the hub: request access, then `hf auth login`"),
        ModelSpec("demo", "(bundled)", "trained on synthetic data — for demos, tests and offline "
                  "trials; use SAM2.1 for real work", folder="demo"),
    )
}
#: what ``"auto"`` falls back to where the preset's model cannot run
DEFAULT_MODEL = "sam2.1-tiny"
#: the model name that lets the preset choose; the default of every entry point
AUTO = "auto"
#: packages a registry model needs beyond the core dependencies
EXTRA_PACKAGES = {"edgetam": "timm"}


@dataclass(frozen=True)
class Preset:
    """A speed/accuracy trade-off: model input size, number of mask memories, preferred model.

    ``model`` is what the model name ``"auto"`` loads when it can run here
    (see :func:`~.loading.choose_model`); otherwise ``"auto"`` loads ``DEFAULT_MODEL``.
    """

    name: str
    image_size: int
    memory_frames: int
    description: str
    model: str = DEFAULT_MODEL


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("fast", 512, 4, "512 px input, 4 memory frames, EdgeTAM where it can run (else "
               "SAM2.1-tiny): several times faster on a CPU", model="edgetam"),
        Preset("balanced", 768, 6, "768 px input, 6 memory frames"),
        Preset("accurate", 1024, 7, "1024 px input, 7 memory frames: SAM2 as trained (default)"),
    )
}
DEFAULT_PRESET = "accurate"


def preset(name: str) -> Preset:
    """The preset called ``name``, or a clear error."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    return PRESETS[name]
