"""The main job in one command: segment a synthetic time-lapse end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .core.frames import InputError

__all__ = ["run_demo"]


def run_demo(folder: Path, n_frames: int = 20, model: str = "sam2.1-tiny", device: str = "auto",
             overwrite: bool = False) -> str:
    """Write a synthetic stack and one click per cell, segment it, score it.

    Parameters
    ----------
    folder : Path
        Output folder: ``timelapse.tif``, ``ground_truth.tif``, ``prompts.json``,
        ``labels.zarr``.
    n_frames : int
        Frames in the stack.
    model, device
        As for ``napari-sam2 segment``.
    overwrite : bool
        Replace an earlier demo in ``folder``.

    Returns
    -------
    str
        A summary with the mean IoU against the ground truth.
    """
    import tifffile

    from .cli import segment_file
    from .core.synthetic import synthetic_timelapse

    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise InputError(f"{folder} is not empty; choose another folder or pass --overwrite")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image, truth = synthetic_timelapse(n_frames=n_frames, divisions=False)  # one id per cell
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
    ious = []
    for obj in objects:
        pred, true = labels == obj["id"], truth == obj["id"]
        union = np.logical_or(pred, true).sum()
        ious.append(np.logical_and(pred, true).sum() / union if union else 1.0)
    return f"{summary}\nmean IoU against the ground truth: {np.mean(ious):.3f} (files in {folder})"
