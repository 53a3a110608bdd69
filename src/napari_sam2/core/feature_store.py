"""Image features on disk: one zarr group, one subgroup per frame key.

Each entry holds the encoder's feature levels as arrays ``level0``, ``level1``
... (one chunk each). fp32 features are stored as float16 (half the disk);
bf16 ones keep their bits, stored as 16-bit integers (zarr has no bfloat16)
with the dtype in the entry's attributes. An entry counts only once its
``complete`` attribute is written, after its arrays, so an interrupted write
is never read back as features.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ZarrFeatureStore"]


class ZarrFeatureStore:
    """Feature lists by key in a zarr group on disk (created when missing).

    Parameters
    ----------
    path : str or Path
        The zarr store (a folder; ``features.zarr`` by convention).
    """

    def __init__(self, path: str | Path):
        import zarr

        from .errors import InputError

        self.path = Path(path)
        try:
            self.root = zarr.open_group(str(self.path), mode="a")
        except (OSError, ValueError, TypeError) as err:  # e.g. a plain file or another zarr node
            raise InputError(f"cannot use {self.path} as a feature cache ({err}); "
                             "give a new or existing feature-cache folder") from None

    def __contains__(self, key: str) -> bool:
        return self._entry(key) is not None

    def _entry(self, key: str):
        try:
            entry = self.root[key]
        except KeyError:
            return None
        return entry if entry.attrs.get("complete") else None

    def get(self, key: str) -> list | None:
        """The stored feature tensors of ``key`` (fp32 or bf16, as put), or None."""
        import torch

        entry = self._entry(key)
        if entry is None:
            return None
        bf16 = entry.attrs.get("dtype") == "bfloat16"
        features = []
        for i in range(int(entry.attrs["levels"])):
            data = torch.from_numpy(entry[f"level{i}"][...])
            features.append(data.view(torch.bfloat16) if bf16 else data.float())
        return features

    def put(self, key: str, features) -> None:
        """Store a frame's feature tensors under ``key`` (once; later puts are ignored)."""
        import torch

        if key in self:
            return
        bf16 = features[0].dtype == torch.bfloat16
        entry = self.root.require_group(key)
        for i, feature in enumerate(features):
            feature = feature.detach().cpu().contiguous()
            data = (feature.view(torch.int16) if bf16 else feature.half()).numpy()
            array = entry.create_array(f"level{i}", shape=data.shape, dtype=data.dtype,
                                       chunks=data.shape, overwrite=True)
            array[...] = data
        entry.attrs.update({"levels": len(features), "dtype": "bfloat16" if bf16 else "float16",
                            "complete": True})
