"""Tiny stacks with prompts, and a manifest listing them, for the batch tests."""

from __future__ import annotations

import json

import numpy as np

from napari_sam2.core.label_store import open_labels

MODEL_ARGS = dict(model="demo", device="cpu", precision="fp32")


def write_stacks(folder, n=3, frames=6, size=(64, 72), seed=0):
    """``n`` TIFF stacks (a bright square drifting right) with a prompts file each; their names."""
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        stack = (rng.random((frames, *size)) * 1000).astype(np.uint16)
        for t in range(frames):
            col = 12 + 3 * i + t
            stack[t, 20:40, col:col + 20] += 3000
        tifffile_write(folder / f"stack{i}.tif", stack)
        prompts = {"objects": [{"id": 1 + i, "name": f"cell {i}",
                                "prompts": [{"frame": 0, "points": [[30, 22 + 3 * i]]}]}]}
        (folder / f"stack{i}.json").write_text(json.dumps(prompts))
        names.append(f"stack{i}")
    return names


def tifffile_write(path, stack):
    import tifffile

    tifffile.imwrite(path, stack, metadata={"axes": "TYX"})


def write_manifest(folder, names, extra_rows=(), name="manifest.csv"):
    """A manifest of the stacks ``names`` (paths relative to it), plus raw ``extra_rows``."""
    rows = ["image,prompts,axes"] + [f"{n}.tif,{n}.json,TYX" for n in names] + list(extra_rows)
    path = folder / name
    path.write_text("\n".join(rows) + "\n")
    return path


def read_labels(path):

    return open_labels(path)[:]
