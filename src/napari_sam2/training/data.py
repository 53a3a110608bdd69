"""Training data for fine-tuning: stacks at model resolution, clips, objects and prompts.

Frames go through the same :class:`~.frames.FrameSource` normalisation and
:class:`~.geometry.FrameGeometry` resize as at inference, once per stack, and
are kept as grey ``[0, 1]`` images of the model's input size; labels are
resized with nearest neighbours. Prompts are simulated as in SAM2 training:
a positive click inside the object, a (noisy) box or the mask on the first
frame, and corrective clicks in the largest error region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.frames import FrameSource, InputError
from ..core.geometry import FrameGeometry

__all__ = ["TrainStack", "ClipBatch", "prepare_stack", "reviewed_only", "synthetic_stacks", "sample_batch",
           "click_prompt", "box_prompt", "sample_corrective_click"]

MIN_AREA = 12  # pixels at model resolution: smaller objects are not prompted


@dataclass
class TrainStack:
    """One annotated stack, ready for training.

    Attributes
    ----------
    frames : float16 array (T, S, S)
        Grey frames in [0, 1] at the model's input size.
    labels : uint16 array (T, S, S)
        Instance labels at the same size, ids consistent over time.
    name : str
        Where it came from (for messages).
    """

    frames: np.ndarray
    labels: np.ndarray
    name: str


def prepare_stack(image, labels, image_size: int, name: str = "stack") -> TrainStack:
    """Check an image stack and its labels and bring both to the model's input size.

    Parameters
    ----------
    image : array-like (T, Y, X) or (Y, X)
        Grey images, any dtype (normalised per stack as at inference).
    labels : array-like of int, same shape
        Instance labels, 0 = background, ids consistent over time.
    image_size : int
        The model's input size.
    name : str
        Used in error messages.

    Returns
    -------
    TrainStack
    """
    image, labels = np.asarray(image), np.asarray(labels)
    if image.ndim == 2:
        image, labels = image[None], labels[None] if labels.ndim == 2 else labels
    if image.ndim != 3:
        raise InputError(f"{name}: images must be a (T, Y, X) stack of grey frames, got shape {image.shape}")
    if labels.shape != image.shape:
        raise InputError(f"{name}: labels have shape {labels.shape} but the images have shape "
                         f"{image.shape}; give one label image per frame, same size")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{name}: labels must be integer instance labels, not {labels.dtype}")
    if not labels.any():
        raise InputError(f"{name}: the labels contain no objects (all zero); nothing to learn from")
    import torch
    import torch.nn.functional as F

    source = FrameSource(image)
    geometry = FrameGeometry(source.frame_shape, image_size)
    frames = np.stack([
        geometry.image_to_model(source.frame(t), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))[0].numpy()
        for t in range(source.n_frames)
    ]).astype(np.float16)
    resized = F.interpolate(torch.from_numpy(labels.astype(np.float32))[:, None],
                            size=(image_size, image_size), mode="nearest-exact")
    return TrainStack(frames, resized[:, 0].numpy().astype(np.uint16), name)


def reviewed_only(labels, lineage) -> tuple[np.ndarray, str]:
    """The labels of a track output to train on: only its reviewed tracks, when any is reviewed.

    Parameters
    ----------
    labels : array-like of int (T, Y, X)
        A ``napari-sam2 track`` label stack (ids = track ids).
    lineage : Lineage or None
        Its lineage (:func:`~napari_sam2.core.track_exports.read_lineage`).

    Returns
    -------
    labels : numpy array
        Unreviewed tracks set to 0 (not sampled as training objects) when
        at least one track is reviewed; otherwise ``labels`` unchanged.
    note : str
        What was kept, for the log ("" without a lineage).
    """
    labels = np.asarray(labels)
    if lineage is None or not lineage.tracks:
        return labels, ""
    reviewed = lineage.reviewed_ids()
    if not reviewed:
        return labels, f"no track marked reviewed: training on all {len(lineage.tracks)} tracks"
    keep = np.isin(labels, reviewed)
    return np.where(keep, labels, 0).astype(labels.dtype), \
        f"training on the {len(reviewed)} reviewed tracks of {len(lineage.tracks)}"


def synthetic_stacks(n: int, seed: int, image_size: int, n_frames: int = 16, progress: bool = False):
    """``n`` varied synthetic time-lapses (see :func:`.synthetic.synthetic_timelapse`) as training stacks.

    Cell size, density, speed, brightness, blur and noise vary from stack to
    stack; frames are 224-288 pixels, not always square, so cells appear at
    several scales at the model's input. Cells do not divide (one id per
    cell), some leave the field and some enter it.

    Parameters
    ----------
    n : int
        Number of stacks.
    seed : int
        Stack ``i`` uses seed ``seed * 100_003 + i``; the same seed gives the same stacks.
    image_size : int
        The model's input size.
    n_frames : int
        Frames per stack.
    progress : bool
        Show a progress bar (stderr).

    Returns
    -------
    list of TrainStack
    """
    import sys

    from tqdm import tqdm

    stacks = []
    for i in tqdm(range(n), desc="synthetic stacks", file=sys.stderr, disable=not progress):
        image, labels = synthetic_variety(n_frames, seed * 100_003 + i)
        stacks.append(prepare_stack(image, labels, image_size, f"synthetic stack {i}"))
    return stacks


def synthetic_variety(n_frames: int, seed: int):
    """One synthetic time-lapse with randomly drawn appearance and motion (no divisions)."""
    from ..core.synthetic import synthetic_timelapse

    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.choice([224, 256, 288], 2))
    low = rng.uniform(0.045, 0.08)
    return synthetic_timelapse(
        n_frames, shape, n_cells=int(rng.integers(2, 13)), seed=seed, divisions=False,
        radius=(low, low + rng.uniform(0.01, 0.05)), speed=rng.uniform(0.004, 0.03),
        brightness=(rng.uniform(0.2, 0.6), rng.uniform(0.7, 1.2)), blur=rng.uniform(0.8, 2.5),
        photons=float(rng.choice([60, 150, 400, 1000])), read_noise=rng.uniform(2, 20),
        entering=rng.uniform(0.0, 0.15),
    )


@dataclass
class ClipBatch:
    """``C`` clips of ``K`` frames and ``O`` objects per clip (``B = C * O`` samples).

    Attributes
    ----------
    frames : float32 array (C, K, S, S)
        Grey frames in [0, 1].
    targets : bool array (B, K, S, S)
        Each sample's object mask per frame (empty where it is absent);
        sample ``b`` belongs to clip ``b // O``.
    objects_per_clip : int
    """

    frames: np.ndarray
    targets: np.ndarray
    objects_per_clip: int


def sample_batch(stacks: list[TrainStack], rng: np.random.Generator, clips: int, objects: int,
                 clip_length: int, augment: bool = True, leaving: float = 0.5) -> ClipBatch:
    """Sample clips and objects prompted on each clip's first frame.

    Parameters
    ----------
    stacks : list of TrainStack
    rng : numpy Generator
    clips, objects : int
        Clips per batch and objects per clip (repeated when a clip has fewer).
    clip_length : int
        Frames per clip (at most the shortest stack's length).
    augment : bool
        Random rotations, flips, time reversal, gamma and contrast.
    leaving : float
        Probability of choosing, when there is one, an object that is absent
        on some later frame of the clip (it leaves the field or is hidden).

    Returns
    -------
    ClipBatch
    """
    frames, targets = [], []
    for _ in range(clips):
        clip, labels, ids = _sample_clip(stacks, rng, clip_length, augment)
        present_later = np.array([[(lab == i).any() for lab in labels[1:]] for i in ids])
        leavers = ids[~present_later.all(axis=1)] if len(ids) else ids
        chosen = []
        for _ in range(objects):
            pool = leavers if len(leavers) and rng.random() < leaving else ids
            unused = [i for i in pool if i not in chosen]
            chosen.append(rng.choice(unused if unused else pool))
        frames.append(clip)
        targets.extend(labels == obj for obj in chosen)
    return ClipBatch(np.stack(frames).astype(np.float32), np.stack(targets), objects)


def _sample_clip(stacks, rng, clip_length, augment):
    for _ in range(100):
        stack = stacks[int(rng.integers(len(stacks)))]
        length = min(clip_length, len(stack.frames))
        start = int(rng.integers(len(stack.frames) - length + 1))
        clip = stack.frames[start:start + length].astype(np.float32)
        labels = stack.labels[start:start + length]
        if augment:
            clip, labels = _augment(clip, labels, rng)
        ids, counts = np.unique(labels[0], return_counts=True)
        ids = ids[(ids != 0) & (counts >= MIN_AREA)]
        if len(ids):
            return clip, labels, ids
    raise InputError("could not find a clip with an object of at least "
                     f"{MIN_AREA} pixels (at the model's input size) on its first frame")


def _augment(clip, labels, rng):
    if rng.random() < 0.5:
        clip, labels = clip[::-1], labels[::-1]
    k = int(rng.integers(4))
    clip, labels = np.rot90(clip, k, axes=(1, 2)), np.rot90(labels, k, axes=(1, 2))
    if rng.random() < 0.5:
        clip, labels = clip[:, :, ::-1], labels[:, :, ::-1]
    clip = np.clip(clip, 0, 1) ** rng.uniform(0.7, 1.4)
    clip = clip * rng.uniform(0.8, 1.2) + rng.uniform(-0.1, 0.1)
    return np.ascontiguousarray(clip), np.ascontiguousarray(labels)


def click_prompt(mask: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """A positive click ``(x, y)`` in model space: anywhere inside, or near the middle, half the time each."""
    from scipy import ndimage

    if rng.random() < 0.5:
        candidates = mask
    else:
        distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        candidates = distance >= 0.5 * distance.max()
    rows, cols = np.nonzero(candidates)
    k = int(rng.integers(len(rows)))
    return cols[k] + 0.5, rows[k] + 0.5


def box_prompt(mask: np.ndarray, rng: np.random.Generator, noise: float = 0.1,
               max_noise: float = 20.0) -> np.ndarray:
    """The mask's bounding box ``(x0, y0, x1, y1)`` in model space, each side moved by noise.

    The noise is Gaussian with a standard deviation of ``noise`` times the
    box's side, at most ``max_noise`` pixels (as in SAM2 training).
    """
    rows, cols = np.nonzero(mask)
    box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)
    side = np.array([box[2] - box[0], box[3] - box[1]] * 2, np.float32)
    jitter = np.clip(rng.normal(0, noise * side), -max_noise, max_noise)
    box = np.clip(box + jitter, 0, mask.shape[0])
    lo, hi = np.minimum(box[:2], box[2:]), np.maximum(box[:2], box[2:])
    return np.concatenate([lo, np.maximum(hi, lo + 1)])


def sample_corrective_click(target: np.ndarray, pred: np.ndarray, rng: np.random.Generator):
    """A click ``((x, y), label)`` correcting a predicted mask, drawn as SAM2 training draws them.

    Half the time the evaluation protocol's click
    (:func:`~napari_sam2.evaluation.clicks.corrective_click`: the interior point of
    the largest error region); otherwise any pixel of the errors of the kind
    with more pixels, missed (positive) or extra (negative). A perfect
    prediction gets a positive click inside the object (or a negative one in
    the background when the object is absent).
    """
    from ..evaluation.clicks import corrective_click, interior_point

    missed, extra = target & ~pred, pred & ~target
    exact = not (missed.any() or extra.any())
    if exact:
        positive = bool(target.any())
        error = target if positive else ~pred
    else:
        positive = bool(missed.sum() >= extra.sum())
        error = missed if positive else extra
    if rng.random() < 0.5:
        if exact:
            row, col = interior_point(error)
        else:
            click = corrective_click(target, pred)
            row, col, positive = click.row, click.col, click.positive
    else:
        rows, cols = np.nonzero(error)
        k = int(rng.integers(len(rows)))
        row, col = rows[k], cols[k]
    return (col + 0.5, row + 0.5), int(positive)
