"""The stacks open in a viewer as a batch: what "Run on all open stacks" sends to the cluster.

An image layer opened from a file (``layer.source.path``) is one stack; its
prompts are ``<stem>.json`` or ``<stem>.prompts.json`` beside it when there is
one, else the batch tracks automatic seeds. Layers made in memory (no file) are
left out: a worker process cannot read them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.errors import InputError

#: the manifest "Run on all open stacks" writes into the output folder
OPEN_STACKS_MANIFEST = "open-stacks.csv"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def prompts_beside(image: Path) -> Path | None:
    """``<stem>.json`` or ``<stem>.prompts.json`` next to ``image``, when one exists."""
    for name in (f"{_stem(image)}.json", f"{_stem(image)}.prompts.json"):
        candidate = image.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def open_stack_files(layers) -> list[Path]:
    """The files the viewer's image layers were opened from, once each, in layer order.

    Parameters
    ----------
    layers : iterable of napari layers

    Returns
    -------
    list of Path
    """
    from napari.layers import Image

    paths: list[Path] = []
    for layer in layers:
        path = getattr(getattr(layer, "source", None), "path", None)
        if isinstance(layer, Image) and path and Path(path).exists() and Path(path) not in paths:
            paths.append(Path(path))
    return paths


def write_open_stacks_manifest(layers, out_dir: str | Path) -> Path:
    """A manifest (image, prompts) of the viewer's stacks, written to ``out_dir``.

    Raises :class:`InputError` when no image layer was opened from a file.
    """
    paths = open_stack_files(layers)
    if not paths:
        raise InputError("no open image layer comes from a file: open the stacks with File > Open "
                         "(layers made in memory cannot be sent to the workers)")
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise InputError(f"the folder {out_dir.parent} for {out_dir.name} does not exist")
    out_dir.mkdir(exist_ok=True)
    manifest = out_dir / OPEN_STACKS_MANIFEST
    with open(manifest, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "prompts"])
        for path in paths:
            prompts = prompts_beside(path)
            writer.writerow([str(path.resolve()), str(prompts.resolve()) if prompts else ""])
    return manifest
