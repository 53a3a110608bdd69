"""Segment a stack from a prompts file into a label file: what ``napari-sam2 segment`` runs."""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.errors import InputError
from ..core.models import AUTO, DEFAULT_PRESET

__all__ = ["segment_file"]


def segment_file(data, prompts_path, out, axis=0, channel_axis=None, channels=None,
                 model=AUTO, device="auto", direction="both", overwrite=False,
                 progress=True, preset=DEFAULT_PRESET, feature_cache=None, compile=False,
                 precision="auto", memory=None) -> str:
    """Segment ``data`` with the prompts in a file, writing labels to ``out``.

    Everything is checked before the model is loaded, and ``out`` is never
    replaced unless ``overwrite``.

    Parameters
    ----------
    data : array-like
        The stack (numpy, dask, zarr), read one frame at a time.
    prompts_path : str or Path
        Prompts ``.json`` or a napari Points ``.csv`` (:func:`~napari_sam2.core.prompt_files.read_prompts`).
    out : str or Path
        Label output, ``.zarr`` or ``.tif``.
    axis, channel_axis, channels
        See :class:`~napari_sam2.core.frames.FrameSource`.
    model, device, preset, compile, precision
        See :func:`~napari_sam2.core.models.load_model`.
    direction : {"both", "forward", "backward"}
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        A progress bar on stderr.
    feature_cache : str or Path, optional
        A zarr store keeping image features across runs.
    memory : str, optional
        Memory policy (:data:`~napari_sam2.core.memory_policies.MEMORY_POLICIES`).

    Returns
    -------
    str
        A one-line summary.
    """
    from tqdm import tqdm

    from ..core.feature_cache import FeatureCache
    from ..core.frames import FrameSource, check_frame
    from ..core.memory_policies import make_policy
    from ..core.models import load_model
    from ..core.prompt_files import read_prompts
    from ..core.prompts import check_prompt
    from ..core.session import Session, check_direction
    from ..core.sink import open_label_sink
    from ..core.tracker import TransformersTracker

    check_direction(direction)
    policy = make_policy(memory)  # a wrong name fails before anything is read
    source = FrameSource(data, axis, channel_axis, channels)
    spatial = tuple(d for d in range(data.ndim) if d not in (source.axis, source.channel_axis))
    objects = read_prompts(prompts_path, source.axis, spatial)
    for obj in objects:
        for frame, prompt in obj.prompts.items():
            check_frame(frame, source.n_frames)
            check_prompt(prompt, source.frame_shape, f"object {obj.obj_id}, frame {frame}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"output {out} already exists; choose another name "
                             "or {fix}", fix=("overwrite", True))
    cache = FeatureCache(folder=feature_cache) if feature_cache else None
    loaded = load_model(model, device, preset=preset, compile=compile, precision=precision)
    sink = open_label_sink(out, source.n_frames, source.frame_shape, overwrite=overwrite)
    session = Session(source, TransformersTracker(loaded, feature_cache=cache, memory=policy), sink)
    for obj in objects:
        session.add_object(obj.obj_id, obj.name)
        for frame, prompt in sorted(obj.prompts.items()):
            session.set_prompt(obj.obj_id, frame, prompt)
    total = session.pending_frames(direction)
    with tqdm(total=total, desc="propagating", unit="frame", file=sys.stderr,
              disable=not progress) as bar:
        for _ in session.propagate(direction):
            bar.update()
    return (
        f"wrote {out}: {source.n_frames} frames of {source.frame_shape[0]} x "
        f"{source.frame_shape[1]}, {len(objects)} object(s), model {loaded.name} ({loaded.preset}, "
        f"{loaded.image_size} px) on {loaded.device}"
    )
