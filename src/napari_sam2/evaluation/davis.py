"""Built-in evaluation: the DAVIS semi-supervised protocol and Cell Tracking Challenge export.

* :func:`run_davis` prompts each sequence's first frame with its ground-truth
  mask, propagates forward, writes the predicted masks in the DAVIS layout and
  scores them; :func:`score_davis` scores existing predictions.
* :func:`export_and_score_ctc` writes a label time-lapse as a CTC result and
  optionally scores it (SEG, TRA, DET); :func:`frame_scores` gives per-frame
  J and F of a label stack (both in :mod:`napari_sam2.evaluation.stack`).

The interactive (clicks) protocol is in :mod:`napari_sam2.evaluation.clicks`.
Metric definitions are in :mod:`napari_sam2.evaluation.metrics` and ``docs/evaluation.md``.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .stack import FramesAlong, export_and_score_ctc, frame_scores

__all__ = ["DavisSequence", "DavisReport", "FramesAlong", "davis_sequences", "export_and_score_ctc",
           "frame_scores", "run_davis", "score_davis"]

STATS = ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
COLUMNS = ("sequence", "frames", "objects", "J&F-Mean", *STATS)


@dataclass(frozen=True)
class DavisSequence:
    """One DAVIS sequence: its frames (JPEG) and annotations (PNG), in order."""

    name: str
    frames: tuple[Path, ...]
    masks: tuple[Path, ...]


def davis_sequences(root, sequences=None, max_frames: int | None = None) -> list[DavisSequence]:
    """Find the sequences of a DAVIS folder (``JPEGImages/480p`` and ``Annotations/480p``).

    Parameters
    ----------
    root : str or Path
        The DAVIS root folder.
    sequences : sequence of str, optional
        Names to use; default every sequence, sorted.
    max_frames : int, optional
        Keep only the first ``max_frames`` frames of each sequence (at least 3).

    Returns
    -------
    list of DavisSequence
    """
    root = Path(root)
    images, annotations = root / "JPEGImages" / "480p", root / "Annotations" / "480p"
    if not images.is_dir() or not annotations.is_dir():
        raise InputError(f"{root} is not a DAVIS folder: expected JPEGImages/480p/<sequence>/*.jpg "
                         "and Annotations/480p/<sequence>/*.png inside it")
    available = sorted(p.name for p in images.iterdir() if p.is_dir())
    names = list(sequences) if sequences else available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InputError(f"unknown sequence(s) {', '.join(unknown)} in {images}; "
                         f"available: {', '.join(available[:8])}{' ...' if len(available) > 8 else ''}")
    if max_frames is not None and max_frames < 3:
        raise InputError(f"--max-frames must be at least 3 (the first and last frames are not scored), "
                         f"got {max_frames}")
    out = []
    for name in names:
        frames = sorted((images / name).glob("*.jpg"))[:max_frames]
        masks = [annotations / name / f"{f.stem}.png" for f in frames]
        missing = [m.name for m in masks if not m.is_file()]
        if missing:
            raise InputError(f"sequence {name} has no annotation {missing[0]} in {annotations / name} "
                             f"({len(missing)} missing); scoring needs one mask per frame")
        if len(frames) < 3:
            raise InputError(f"sequence {name} has {len(frames)} frames; at least 3 are needed")
        out.append(DavisSequence(name, tuple(frames), tuple(masks)))
    return out


@dataclass
class DavisReport:
    """Per-sequence DAVIS scores and their mean.

    Attributes
    ----------
    rows : list of dict
        One per sequence, keys :data:`COLUMNS`.
    mean : dict
        The same keys for all sequences together; as in the DAVIS toolkit the
        statistics are averaged over objects (for single-object sequences this
        is the mean over sequences).
    info : dict
        What was scored: protocol, model or predictions folder.
    """

    rows: list = field(default_factory=list)
    mean: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def write(self, folder) -> tuple[Path, Path]:
        """Write ``davis_scores.csv`` and ``davis_scores.json`` into ``folder``; return their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = folder / "davis_scores.csv", folder / "davis_scores.json"
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows([*self.rows, self.mean])
        json_path.write_text(json.dumps({**self.info, "sequences": self.rows, "mean": self.mean}, indent=1))
        return csv_path, json_path

    def table(self) -> str:
        """A text table: sequence, J&F, J-Mean, F-Mean."""
        lines = [f"{'sequence':<20}{'frames':>7}{'J&F':>8}{'J-Mean':>8}{'F-Mean':>8}"]
        for row in [*self.rows, self.mean]:
            lines.append(f"{row['sequence']:<20}{row['frames']:>7}{row['J&F-Mean']:>8.3f}"
                         f"{row['J-Mean']:>8.3f}{row['F-Mean']:>8.3f}")
        return "\n".join(lines)


def score_davis(root, predictions, sequences=None, max_frames=None, progress: bool = True) -> DavisReport:
    """Score predicted masks in the DAVIS layout (``predictions/<sequence>/00000.png`` ...).

    Parameters
    ----------
    root : str or Path
        DAVIS root with the ground truth.
    predictions : str or Path
        Folder of per-sequence prediction folders (indexed PNGs, or {0, 255}
        masks for one object).
    sequences, max_frames
        See :func:`davis_sequences`.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    DavisReport
    """
    from tqdm import tqdm

    from ..core.imagefiles import ImageFolder, read_mask
    from .metrics import evaluate_labels

    predictions = Path(predictions)
    seqs = davis_sequences(root, sequences, max_frames)
    pred_files = {}
    for seq in seqs:  # every file checked before the (slow) scoring starts
        files = [predictions / seq.name / f"{f.stem}.png" for f in seq.frames]
        missing = [p for p in files if not p.is_file()]
        if missing:
            raise InputError(f"prediction {missing[0]} is missing ({len(missing)} of {len(files)} "
                             f"for sequence {seq.name})")
        pred_files[seq.name] = files
    report = DavisReport(info={"protocol": "DAVIS semi-supervised", "predictions": str(predictions)})
    per_object = []
    for seq in tqdm(seqs, desc="scoring", unit="sequence", file=sys.stderr, disable=not progress):
        gt, pred = ImageFolder(seq.masks, "mask"), ImageFolder(pred_files[seq.name], "mask")
        if gt.shape != pred.shape:
            raise InputError(f"{seq.name}: predictions are {pred.shape[1:]}, the ground truth {gt.shape[1:]}")
        ids = [int(i) for i in np.unique(read_mask(seq.masks[0])) if i]
        scores = evaluate_labels(gt, pred, object_ids=ids)
        per_object += [_stats(o) for o in scores.objects.values()]
        report.rows.append({"sequence": seq.name, "frames": len(seq.frames), "objects": len(ids),
                            **scores.summary()})
    mean = {k: float(np.mean([o[k] for o in per_object])) for k in STATS}
    report.mean = {"sequence": "mean", "frames": sum(r["frames"] for r in report.rows),
                   "objects": len(per_object), "J&F-Mean": (mean["J-Mean"] + mean["F-Mean"]) / 2, **mean}
    return report


def _stats(obj) -> dict:
    j, f = obj.j_stats, obj.f_stats
    return {"J-Mean": j["mean"], "J-Recall": j["recall"], "J-Decay": j["decay"],
            "F-Mean": f["mean"], "F-Recall": f["recall"], "F-Decay": f["decay"]}


def run_davis(root, out, sequences=None, model="sam2.1-tiny", device: str = "auto",
              max_frames: int | None = None, overwrite: bool = False, progress: bool = True,
              preset: str = "accurate") -> DavisReport:
    """Run the DAVIS semi-supervised protocol with a SAM2 model and score it.

    Each sequence's first-frame annotation prompts one mask per object id;
    the session propagates forward over the RGB frames (read one at a time)
    and writes ``out/<sequence>/<frame>.png`` (indexed PNG, DAVIS palette) as
    each frame is computed. Scores go to ``out/davis_scores.csv`` and ``.json``.

    Parameters
    ----------
    root : str or Path
        DAVIS root folder.
    out : str or Path
        Results folder.
    sequences, max_frames
        See :func:`davis_sequences`.
    model : str or LoadedModel
        Model name, ``save_pretrained`` folder, ``random:tiny``, or a loaded model.
    device : str
        ``auto``, ``cpu``, ``cuda``, ``mps``.
    overwrite : bool
        Replace earlier predictions in ``out``.
    progress : bool
        Progress bars on stderr.
    preset : {"fast", "balanced", "accurate"}
        Model input size and memory frames, see ``napari_sam2.core.models.PRESETS``.

    Returns
    -------
    DavisReport
    """
    from ..core.models import LoadedModel, load_model

    seqs = davis_sequences(root, sequences, max_frames)
    out = Path(out)
    for seq in seqs:
        if any((out / seq.name).glob("*.png")) and not overwrite:
            raise InputError(f"{out / seq.name} already holds predictions; choose another --out "
                             "or pass --overwrite")
    loaded = model if isinstance(model, LoadedModel) else load_model(model, device, preset=preset)
    for seq in seqs:
        for old in (out / seq.name).glob("*.png"):
            old.unlink()
        segment_davis_sequence(seq, loaded, out / seq.name, progress)
    report = score_davis(root, out, [s.name for s in seqs], max_frames, progress)
    report.info = {"protocol": "DAVIS semi-supervised", "model": loaded.name, "device": loaded.device,
                   "max_frames": max_frames}
    if loaded.name.startswith("random:"):
        report.info["note"] = "random weights: the scores are meaningless for quality"
    report.write(out)
    return report


def segment_davis_sequence(seq: DavisSequence, loaded, folder, progress: bool = True) -> Path:
    """Prompt frame 0 with its annotation, propagate forward, write one PNG per frame into ``folder``."""
    from tqdm import tqdm

    from ..core.frames import FrameSource, Normalization
    from ..core.imagefiles import ImageFolder, MaskFolder, read_mask
    from ..core.session import Session
    from ..core.sink import LabelSink
    from ..core.tracker import TransformersTracker

    frames = ImageFolder(seq.frames, "rgb")
    first = read_mask(seq.masks[0])
    if first.shape != frames.frame_shape[:2]:
        raise InputError(f"{seq.masks[0]} is {first.shape}, the frames are {frames.frame_shape[:2]}")
    ids = [int(i) for i in np.unique(first) if i]
    if not ids:
        raise InputError(f"the first annotation of {seq.name} ({seq.masks[0]}) is empty: nothing to track")
    # uint8 RGB: min-max limits (about 0-255), not a percentile stretch
    source = FrameSource(frames, 0, channel_axis=3, channels=(0, 1, 2), normalization=Normalization(0, 100))
    sink = LabelSink(MaskFolder(folder, [f.stem for f in seq.frames], source.frame_shape))
    session = Session(source, TransformersTracker(loaded), sink)
    for obj_id in ids:
        session.add_mask(obj_id, 0, first == obj_id)
    with tqdm(total=session.pending_frames("forward"), desc=seq.name, unit="frame", file=sys.stderr,
              disable=not progress) as bar:
        for _ in session.propagate("forward"):
            bar.update()
    return Path(folder)
