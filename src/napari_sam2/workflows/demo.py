"""The main job in one command: segment a synthetic time-lapse end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..evaluation.matching import match_objects
from ..evaluation.objects import object_table, rows_text

#: distinct colours on a dark background, by object id (cycled)
PALETTE = np.array([(255, 99, 71), (65, 170, 255), (80, 220, 100), (255, 205, 40), (200, 110, 255),
                    (0, 225, 225), (255, 135, 205), (255, 150, 50), (170, 255, 90), (150, 150, 255)])

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
        ``labels.zarr``, ``overview.png`` (frames with the labels filled and the ground
        truth outlined, and a legend of each object's IoU).
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
        A summary with the per-object IoU against the ground truth (lost objects
        flagged) and their mean.
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
    from ..core.label_store import open_labels

    labels = open_labels(folder / "labels.zarr")[:]
    return f"{summary}\n{score_demo(folder, image, truth, labels)}"


def score_demo(folder: Path, image: np.ndarray, truth: np.ndarray, labels: np.ndarray) -> str:
    """Per-object IoU of the demo's labels (ids = the truth's: each cell was clicked with its id).

    Writes ``overview.png`` and returns the table, the mean and the lost objects as text.
    """
    table = object_table(truth, labels, match_objects(truth, labels, by="id"))
    clicked = set(np.unique(truth[0]).tolist()) - {0}
    rows = [r for r in table.rows if r["pred"] in clicked]
    rows += [{"pred": k, "truth": k, "IoU": 0.0, "J_active": 0.0, "active": 0, "pred_frames": 0,
              "truth_frames": int(sum((truth == k).any(axis=(1, 2)))), "lost_frames": 0,
              "last_IoU": 0.0, "lost": True} for k in sorted(clicked - {r["pred"] for r in rows})]
    write_overview(folder / "overview.png", image, labels, truth, rows)
    lost = [r for r in rows if r["lost"]]
    verdict = ("no cell lost" if not lost else f"{len(lost)} of {len(rows)} cell(s) LOST: " + ", ".join(
        f"cell {r['pred']} (last-frame IoU {r['last_IoU']:.2f}"
        + (f", empty on {r['lost_frames']} frame(s) where it is)" if r["lost_frames"] else ")")
        for r in lost))
    return (f"per-object IoU against the ground truth (IoU pooled over frames; LOST: empty where the cell "
            f"is, or IoU < 0.5 on its last frame):\n{rows_text(rows, mean=False)}\n"
            f"mean IoU against the ground truth: {np.mean([r['IoU'] for r in rows]):.3f}\n{verdict}\n"
            f"(files in {folder}; overview.png: labels filled, ground truth outlined, one colour per cell)")


def write_overview(path: Path, image: np.ndarray, labels: np.ndarray, truth: np.ndarray | None = None,
                   rows=None, n_panels: int = 4) -> None:
    """A PNG of ``n_panels`` frames spread over the stack, with a legend.

    Parameters
    ----------
    path : Path
        The PNG file to write.
    image : array (T, Y, X)
        Grey frames (any dtype; scaled by the stack's 0.5-99.5 percentiles).
    labels : array of int (T, Y, X)
        The labels, filled in each object's colour.
    truth : array of int (T, Y, X), optional
        Ground truth with the same ids, outlined in the same colours (an outline
        without a fill is a lost object) and numbered.
    rows : list of dict, optional
        Per-object scores (``pred``, ``IoU``, ``last_IoU``, ``lost``) for the legend.
    n_panels : int
        How many frames to show, side by side.
    """
    from PIL import Image, ImageDraw
    from scipy import ndimage

    font, small = _font(15), _font(12)
    frames = np.unique(np.linspace(0, len(image) - 1, n_panels).round().astype(int))
    low, high = np.percentile(image[frames], (0.5, 99.5))
    panels = []
    for t in frames:
        grey = np.clip((image[t].astype(np.float32) - low) / max(high - low, 1e-6), 0, 1)
        rgb = np.repeat(grey[..., None] * 255, 3, axis=2)
        inside = labels[t] > 0
        rgb[inside] = 0.45 * rgb[inside] + 0.55 * _colour(labels[t][inside])
        if truth is not None:
            edge = (truth[t] > 0) & ~ndimage.grey_erosion(truth[t], size=3).astype(bool)
            edge |= (truth[t] != ndimage.grey_dilation(truth[t], size=3)) & (truth[t] > 0)
            rgb[edge] = _colour(truth[t][edge])
        panel = Image.fromarray(rgb.astype(np.uint8))
        draw = ImageDraw.Draw(panel)
        if truth is not None:
            for k in np.unique(truth[t])[1:]:
                row, col = ndimage.center_of_mass(truth[t] == k)
                draw.text((col, row), str(k), fill=(255, 255, 255), font=small, anchor="mm",
                          stroke_width=2, stroke_fill=(0, 0, 0))
        draw.text((4, 2), f"frame {t}", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
        panels.append(panel)
    width, height = panels[0].size
    sheet_width = width * len(panels) + 4 * (len(panels) - 1)
    legend = _legend(rows or [], sheet_width, truth is not None, font)
    sheet = Image.new("RGB", (sheet_width, height + legend.size[1]), (0, 0, 0))
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * (width + 4), 0))
    sheet.paste(legend, (0, height))
    sheet.save(path)


def _colour(ids) -> np.ndarray:
    return PALETTE[(np.asarray(ids, np.int64) - 1) % len(PALETTE)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 or no FreeType: the small bitmap font
        return ImageFont.load_default()


def _legend(rows, width: int, outlined: bool, font):
    """Legend strip: what fill and outline mean, then per object its colour, id, IoU and LOST."""
    from PIL import Image, ImageDraw

    item_width, line = 250, 22
    per_line = max(width // item_width, 1)
    height = 10 + line * (1 + -(-len(rows) // per_line))
    strip = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    key = "filled: SAM2 labels" + ("   outline: ground truth (an outline without fill = a lost cell)"
                                   if outlined else "")
    if rows:
        key += "   IoU over all frames (last frame)"
    draw.text((6, 5), key, fill=(230, 230, 230), font=font)
    for n, r in enumerate(rows):
        x, y = 6 + (n % per_line) * item_width, 5 + line * (1 + n // per_line)
        colour = tuple(int(c) for c in _colour(r["pred"]))
        draw.rectangle((x, y + 2, x + 14, y + 16), fill=colour)
        last = "" if r.get("last_IoU") is None else f" ({r['last_IoU']:.2f})"
        text = f"cell {r['pred']}  IoU {r['IoU']:.2f}{last}"
        draw.text((x + 20, y), text, fill=(230, 230, 230), font=font)
        if r.get("lost"):
            draw.text((x + 26 + draw.textlength(text, font=font), y), "LOST", fill=(255, 70, 70), font=font)
    return strip
