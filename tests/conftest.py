"""Shared fixtures: a tiny random-weight model folder, data paths, counting arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A save_pretrained folder of a tiny random-weight Sam2VideoModel."""
    from napari_sam2.core.models.random import save_random_model

    return save_random_model(tmp_path_factory.mktemp("models") / "tiny-sam2")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    """The tiny model loaded once for the whole run (CPU)."""
    from napari_sam2.core.models import load_model

    return load_model(tiny_model_dir, device="cpu")


@pytest.fixture
def shared_data():
    """The real data folder next to the project; skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


def without_read_as(err: str) -> str:
    """stderr of a ``segment`` run without its "read as ..." line (how the image's axes were read)."""
    return "".join(line for line in err.splitlines(keepends=True) if not line.startswith("read as "))


def new_ids_every_frame(truth):
    """The same cells with fresh ids on every frame (what per-frame segmentation tools write)."""
    out = np.zeros_like(truth, dtype=np.uint16)
    for t in range(len(truth)):
        ids = np.unique(truth[t])[1:]
        lut = np.zeros(int(truth.max()) + 1, np.uint16)
        lut[ids] = 1 + 10 * t + np.arange(len(ids))
        out[t] = lut[truth[t]]
    return out


class CountingArray:
    """Array-like that counts reads per frame index along axis 0."""

    def __init__(self, array):
        self.array = array
        self.shape = array.shape
        self.ndim = array.ndim
        self.dtype = array.dtype
        self.reads = {}

    def __getitem__(self, key):
        first = key[0] if isinstance(key, tuple) else key
        if isinstance(first, (int, np.integer)):
            self.reads[int(first)] = self.reads.get(int(first), 0) + 1
        elif isinstance(first, slice):
            for i in range(*first.indices(self.shape[0])):
                self.reads[i] = self.reads.get(i, 0) + 1
        return self.array[key]


@pytest.fixture(autouse=True, scope="session")
def _runtime_dir(tmp_path_factory):
    """Qt wants XDG_RUNTIME_DIR; give it a private one when the machine has none."""
    import os

    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = tmp_path_factory.mktemp("xdg")
        path.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(path)
