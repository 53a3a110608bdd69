"""Image-encoder features per frame, kept so a second pass does not re-encode.

The image encoder is most of SAM2's cost. Propagating again after a
correction, or backward after forward, meets frames that were already encoded:
a :class:`FeatureCache` keeps their features, bounded in memory (least recently
used first out) and optionally in a zarr store on disk
(:class:`~napari_sam2.core.feature_store.ZarrFeatureStore`).

A frame's key is a hash of the model's weights (their sha256, never the model's
name or folder) and input size and of the frame's preprocessed input itself, so
it is computed from that one frame (never from the whole array), survives
restarts, and can never serve features of other weights, of a different image
or normalisation. The positional encodings the encoder returns
are the same for every frame: the one level the model reads is kept once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from .feature_store import ZarrFeatureStore

__all__ = ["FeatureCache", "frame_key"]


def frame_key(model_id: str, model_input) -> str:
    """A hex key for one frame's preprocessed model input (a torch tensor)."""
    digest = hashlib.sha1(model_id.encode())
    digest.update(str(tuple(model_input.shape)).encode())
    digest.update(model_input.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class FeatureCache:
    """Least-recently-used feature store in memory, optionally backed by a folder.

    Parameters
    ----------
    max_bytes : int
        Memory budget for features (default 128 MiB: 15 frames at 1024 px and
        61 at 512 px in bf16, half as many in fp32). It is a fixed bound, so
        memory stays flat on long stacks; give ``folder`` to keep every frame.
    folder : str or Path, optional
        Also keep features on disk in this zarr store (fp16, or bf16 when the
        model runs in bf16), one entry per frame. Reused across sessions and
        runs of the same model and data.
    """

    def __init__(self, max_bytes: int = 128 << 20, folder: str | Path | None = None):
        self.max_bytes = int(max_bytes)
        self.disk = ZarrFeatureStore(folder) if folder is not None else None
        self._memory: OrderedDict[str, list] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0
        self._lock = threading.RLock()  # shared by the parallel z-sweeps of a volume series

    def __getstate__(self) -> dict:  # a copy for another process (a dask worker): empty, same folder
        return {"max_bytes": self.max_bytes, "folder": None if self.disk is None else self.disk.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"], state["folder"])

    def get(self, key: str):
        """The list of feature tensors for ``key``, or None."""
        with self._lock:
            return self._get(key)

    def _get(self, key: str):
        if key in self._memory:
            self._memory.move_to_end(key)
            self.hits += 1
            return list(self._memory[key])  # callers hold the tensors: see _reusable
        features = self.disk.get(key) if self.disk is not None else None
        if features is not None:
            self._remember(key, features)
            self.hits += 1
            return features
        self.misses += 1
        return None

    def put(self, key: str, features) -> None:
        """Keep a frame's feature tensors (moved to the CPU)."""
        features = [f.detach().to("cpu") for f in features]
        with self._lock:
            self._remember(key, features)
        if self.disk is not None:
            self.disk.put(key, features)

    def _remember(self, key: str, features) -> None:
        size = _nbytes(features)
        if size > self.max_bytes:
            return
        if key in self._memory:
            self._memory.move_to_end(key)
            return
        spare = None
        while self._bytes + size > self.max_bytes:
            _, dropped = self._memory.popitem(last=False)
            self._bytes -= _nbytes(dropped)
            if spare is None and _reusable(dropped, features):
                spare = dropped
        if spare is not None:  # a full cache copies into what it evicts: no new allocation
            for kept, new in zip(spare, features, strict=True):
                kept.copy_(new)
            features = spare
        else:  # own storage, not a view that keeps a larger model buffer alive
            features = [f.clone() for f in features]
        self._memory[key] = features
        self._bytes += size



def _nbytes(features) -> int:
    return sum(f.numel() * f.element_size() for f in features)


def _reusable(dropped, features) -> bool:
    """Whether an evicted entry's tensors can take ``features`` (same layout, used by nobody else).

    Allocating new tensors for every frame while freeing old ones of the same
    size fragments the C heap, and the process's memory then creeps up on long
    stacks although the cache stays within its budget; writing into the
    evicted tensors keeps it flat.
    """
    import sys

    if len(dropped) != len(features):
        return False
    for i, new in enumerate(features):
        old = dropped[i]
        if old.shape != new.shape or old.dtype != new.dtype or not old.is_contiguous():
            return False
        if sys.getrefcount(old) > 3:  # held elsewhere (the list, `old`, the call's argument)
            return False
    return True


class TransformersFeatureCache:
    """Stands in for transformers' per-session vision-feature cache (same two methods).

    Parameters
    ----------
    store : FeatureCache
    frames : mapping
        Frame index -> preprocessed model input (the tracker's lazy frames).
    model_id : str
        Names the model and its input size in the keys.
    device : str
        Where the model wants its features.
    """

    def __init__(self, store: FeatureCache, frames, model_id: str, device: str):
        self.store, self.frames, self.model_id, self.device = store, frames, model_id, device
        self._pos_embeds = None
        self._last_key: tuple[int, object, str] | None = None  # the model asks 2-3 times per frame
        self._pinned: dict[int, dict] = {}

    def pin(self, frame_idx: int) -> None:
        """Hold a cached frame's features until :meth:`unpin`, found without reading the frame again.

        For work deferred on a frame (its memory encoding after a prompt): the
        lookup key is a hash of the frame, and reading a frame of a lazy stack
        again costs I/O.
        """
        features = self.get_vision_features(frame_idx)
        if features is not None:
            self._pinned[frame_idx] = features

    def unpin(self, frame_idx: int) -> None:
        """Release what :meth:`pin` held."""
        self._pinned.pop(frame_idx, None)

    def _key(self, frame_idx: int) -> str:
        tensor = self.frames[frame_idx]
        last = self._last_key
        if last is not None and last[0] == frame_idx and last[1] is tensor:
            return last[2]
        key = frame_key(self.model_id, tensor)
        self._last_key = (frame_idx, tensor, key)
        return key

    def get_vision_features(self, frame_idx: int) -> dict | None:
        """Features of a frame (on the model's device), or None when not cached."""
        if frame_idx in self._pinned:
            pinned = self._pinned[frame_idx]
            return {"vision_feats": list(pinned["vision_feats"]),
                    "vision_pos_embeds": pinned["vision_pos_embeds"]}
        if self._pos_embeds is None:
            return None
        features = self.store.get(self._key(frame_idx))
        if features is None:
            return None
        return {"vision_feats": [f.to(self.device) for f in features],
                "vision_pos_embeds": self._pos_embeds}

    def cache_vision_features(self, frame_idx: int, features: dict) -> None:
        """Keep a frame's features; the positional encoding once for all frames.

        The model reads only the last level's positional encoding (that of the
        memory attention); the finer levels (80 MB at 1024 px) are not kept.
        """
        if self._pos_embeds is None:
            self._pos_embeds = [features["vision_pos_embeds"][-1].detach()]
        self.store.put(self._key(frame_idx), features["vision_feats"])

    def clear_all(self) -> None:
        """Forget the shared positional encodings (the store keeps its features)."""
        self._pos_embeds = None
        self._pinned = {}
