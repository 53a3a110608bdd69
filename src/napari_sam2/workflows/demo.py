"""The main job in one command: segment a synthetic time-lapse end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..evaluation.metrics import jaccard

__all__ = ["run_demo", "DEMO_FILES"]

#: the files the demo writes in its folder: ``overwrite`` removes these and nothing else
DEMO_FILES = ("timelapse.tif", "ground_truth.tif", "prompts.json", "labels.zarr", "overview.png")


def run_demo(folder: Path, n_frames: int = 20, model: str = "demo", device: str = "auto",
             overwrite: bool = False, seed: int = 2026) -> str:
    """Write a synthetic stack and one click per cell, segment it, score it, draw an overview.

    Parameters
    ----------
    folder : Path
        Output folder: ``timelapse.tif``, ``ground_truth.tif``, ``prompts.json``,
        ``labels.zarr``, ``overview.png`` (frames with the labels drawn over them).
    n_frames : int
        Frames in the stack.
    model, device
        As for ``napari-sam2 segment``.
    overwrite : bool
        Replace an earlier demo in ``folder``: only its own files (``DEMO_FILES``)
        are removed; a folder holding anything else is refused.
    seed : int
        Seed of the synthetic stack (the default is not among the demo model's training stacks).

    Returns
    -------
    str
        A summary with the mean IoU against the ground truth.
    """
    import tifffile

    from ..core.models import resolve_model
    from ..core.synthetic import synthetic_timelapse
    from .segment import segment_file

    if n_frames < 1:
        raise InputError(f"n_frames must be at least 1 (got {n_frames})")
    if not str(model).startswith("random:"):
        resolve_model(model)  # an unknown name or a broken folder fails here, before any file is written
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise InputError(f"{folder} is not empty; choose another folder or {{fix}}",
                             fix=("overwrite", True))
        others = sorted(p.name for p in folder.iterdir() if p.name not in DEMO_FILES)
        if others:
            raise InputError(f"{folder} holds files that were not written by napari-sam2 demo "
                             f"({', '.join(others[:5])}); it is never emptied: choose another folder")
        for name in DEMO_FILES:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    image, truth = synthetic_timelapse(n_frames=n_frames, seed=seed, divisions=False)  # one id per cell
    tifffile.imwrite(folder / "timelapse.tif", image, metadata={"axes": "TYX"})
    tifffile.imwrite(folder / "ground_truth.tif", truth, metadata={"axes": "TYX"})
    objects = []
    for obj_id in np.unique(truth[0])[1:]:
        rows, cols = np.nonzero(truth[0] == obj_id)
        pick = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
        point = [int(rows[pick]), int(cols[pick])]
        objects.append({"id": int(obj_id), "name": f"cell {obj_id}",
                        "prompts": [{"frame": 0, "points": [point], "labels": [1]}]})
    (folder / "prompts.json").write_text(json.dumps({"objects": objects}, indent=1))
    summary = segment_file(image, folder / "prompts.json", folder / "labels.zarr", model=model,
                           device=device)
    import zarr

    labels = zarr.open_array(str(folder / "labels.zarr"), mode="r")[:]
    ious = [jaccard(truth == obj["id"], labels == obj["id"]) for obj in objects]
    write_overview(folder / "overview.png", image, labels)
    return (f"{summary}\nmean IoU against the ground truth: {np.mean(ious):.3f} "
            f"(files in {folder}; overview.png shows frames with the labels)")


def write_overview(path: Path, image: np.ndarray, labels: np.ndarray, n_panels: int = 4) -> None:
    """A PNG of ``n_panels`` frames spread over the stack, each label tinted in its own colour.

    Parameters
    ----------
    path : Path
        The PNG file to write.
    image : array (T, Y, X)
        Grey frames (any dtype; scaled by the stack's 0.5-99.5 percentiles).
    labels : array of int (T, Y, X)
        The labels to draw.
    n_panels : int
        How many frames to show, side by side.
    """
    from PIL import Image, ImageDraw

    frames = np.unique(np.linspace(0, len(image) - 1, n_panels).round().astype(int))
    low, high = np.percentile(image[frames], (0.5, 99.5))
    palette = np.random.default_rng(1).integers(60, 256, (int(labels.max()) + 1, 3))
    panels = []
    for t in frames:
        grey = np.clip((image[t].astype(np.float32) - low) / max(high - low, 1e-6), 0, 1)
        rgb = np.repeat(grey[..., None] * 255, 3, axis=2)
        inside = labels[t] > 0
        rgb[inside] = 0.55 * rgb[inside] + 0.45 * palette[labels[t][inside]]
        panel = Image.fromarray(rgb.astype(np.uint8))
        ImageDraw.Draw(panel).text((4, 2), f"frame {t}", fill=(255, 255, 0))
        panels.append(panel)
    width, height = panels[0].size
    sheet = Image.new("RGB", (width * len(panels) + 4 * (len(panels) - 1), height), (0, 0, 0))
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * (width + 4), 0))
    sheet.save(path)
