"""Fine-tuning (or training from scratch) a SAM2 video model on annotated stacks.

The model is unrolled over short clips *with its memory*, through the same
per-frame methods of transformers' ``Sam2VideoModel`` that inference uses
(:mod:`.unroll`), with gradients: the image encoder, prompt
encoder, mask decoder, memory attention, memory encoder and object pointers
are all trained, on the exact code path of :class:`~.tracker.TransformersTracker`.

The model stays in ``eval()`` mode. In transformers, ``self.training``
switches off what inference relies on: presence logits are returned only in
eval mode; the mask of a prompted frame is binarised before the memory
encoder; object pointers come only from past conditioning frames; a single
mask output falls back to the best of three when unstable. Training mode
would only add dropout in the memory attention, which short runs do not need.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .data import TrainStack, sample_batch
from .model import build_model
from .unroll import train_step

__all__ = ["FinetuneConfig", "train", "train_step", "CHECKPOINT"]

CHECKPOINT = "checkpoint"


@dataclass
class FinetuneConfig:
    """Settings of a training run (saved with every checkpoint).

    Attributes
    ----------
    steps : int
        Optimiser steps in total (a resumed run continues up to this number).
    clip_length : int
        Frames per clip (8 in SAM2 training).
    clips, objects : int
        Clips per step and objects per clip: each step trains ``clips * objects`` samples.
    lr, weight_decay, warmup : float, float, int
        AdamW learning rate (cosine decay to 5 % after ``warmup`` linear steps).
    seed : int
        Seeds the random weights of a ``random:`` base and the sampling of every step.
    prompts : dict
        Probabilities of the first frame's prompt: ``click``, ``box``, ``mask``.
    correct_first, correct_later : float
        Probability of a corrective click on the first frame, and on one later frame.
    checkpoint_every, eval_every : int
        Steps between checkpoints, and between held-out evaluations (0: only at the end).
    fp16 : bool
        Save the final weights in float16 (half the size; loaded as float32).
    image_steps : int
        First steps on single frames (``clips * clip_length`` frames per step,
        the same cost): as SAM2's image pre-training, the model learns to follow
        prompts before it learns to track.
    image_every : int
        After those, every ``image_every``-th step is on single frames too (0:
        never), as SAM2 alternates image and video batches.
    feature_norm : float
        Weight of a penalty that keeps each token of the image embedding at
        mean 0 and standard deviation 1 over its channels (0: off; the CLI
        uses 1 for a ``random:`` base). The memory attention ends in a
        LayerNorm and the decoder sees its output on tracked frames, but the
        raw embedding on prompted frames; without the penalty a model trained
        from scratch learns embeddings of another scale, and a decoder
        trained on prompted frames fails on tracked ones.
    """

    steps: int = 1000
    clip_length: int = 8
    clips: int = 4
    objects: int = 2
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 100
    seed: int = 0
    prompts: dict = field(default_factory=lambda: {"click": 0.5, "box": 0.3, "mask": 0.2})
    correct_first: float = 0.3
    correct_later: float = 0.25
    checkpoint_every: int = 200
    eval_every: int = 0
    fp16: bool = False
    image_steps: int = 0
    image_every: int = 0
    feature_norm: float = 0.0


# -------------------------------------------------------------------------- training
def train(stacks: list[TrainStack], out: str | Path, base: str = "random:tiny",
          config: FinetuneConfig | None = None, eval_stacks=None, image_size: int | None = None,
          resume: bool = False, progress: bool = True, log=print) -> dict:
    """Train a SAM2 video model on annotated stacks and write it with ``save_pretrained``.

    Parameters
    ----------
    stacks : list of TrainStack
        Training data (:func:`~.data.prepare_stack`).
    out : str or Path
        Output folder: the final model (``config.json``, ``model.safetensors``),
        ``training.json`` (settings and metrics), ``log.jsonl`` (one line per
        logged step and evaluation) and ``checkpoint/`` (weights, optimiser
        state and step, for ``resume``).
    base : str
        See :func:`build_model`. Ignored when resuming.
    config : FinetuneConfig, optional
    eval_stacks : list of (image, labels), optional
        Held-out stacks at their own resolution, scored through the inference
        path (:mod:`.heldout`) every ``config.eval_every`` steps and at the end.
    image_size : int, optional
        Input size of a ``random:`` base.
    resume : bool
        Continue from ``out/checkpoint`` (weights, optimiser, step).
    progress : bool
        Progress bar on stderr.
    log : callable
        Receives one line of text per evaluation and checkpoint.

    Returns
    -------
    dict
        The final evaluation (empty without ``eval_stacks``), steps and wall time.
    """
    import torch
    from tqdm import tqdm

    config = config or FinetuneConfig()
    out = Path(out)
    if not stacks:
        raise InputError("no training stacks")
    checkpoint = out / CHECKPOINT
    if resume:
        loaded, optimizer, scheduler, start = _load_checkpoint(checkpoint, config)
    else:
        if (out / "config.json").exists() or checkpoint.exists():
            raise InputError(f"{out} already holds a model or a checkpoint; choose another folder, or "
                             "continue it", fix=("resume", True))
        loaded = build_model(base, image_size, config.seed)
        optimizer, scheduler = _optimizer(loaded.model, config)
        start = 0
    sizes = {s.frames.shape[-1] for s in stacks}
    if sizes != {loaded.image_size}:
        raise InputError(f"stacks were prepared at {sizes} px but the model takes {loaded.image_size} px")
    clip_length = min(config.clip_length, min(len(s.frames) for s in stacks))
    out.mkdir(parents=True, exist_ok=True)
    t0, result, logfile = time.time(), {}, out / "log.jsonl"
    bar = tqdm(total=config.steps, initial=start, desc="training", unit="step", file=sys.stderr,
               disable=not progress)
    window: list[dict] = []
    for step in range(start, config.steps):
        rng = np.random.default_rng([config.seed, step])
        if step < config.image_steps or (config.image_every and step % config.image_every == 0):
            batch = sample_batch(stacks, rng, config.clips * clip_length, config.objects, 1)
        else:
            batch = sample_batch(stacks, rng, config.clips, config.objects, clip_length)
        loss, terms = train_step(loaded, batch, rng, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(loaded.model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        window.append(terms)
        bar.update()
        bar.set_postfix(loss=f"{terms['loss']:.3f}", iou=f"{terms.get('mask_iou', float('nan')):.2f}")
        done = step + 1
        if done % 25 == 0 or done == config.steps:
            _append(logfile, {"step": done, "time": round(time.time() - t0, 1),
                              "lr": scheduler.get_last_lr()[0], **_mean_terms(window)})
            window = []
        if eval_stacks and config.eval_every and done % config.eval_every == 0 and done < config.steps:
            result = _evaluate(loaded, eval_stacks, done, logfile, log)
        if done % config.checkpoint_every == 0 or done == config.steps:
            _save_checkpoint(checkpoint, loaded, optimizer, scheduler, done, config, base)
    bar.close()
    if eval_stacks:
        result = _evaluate(loaded, eval_stacks, config.steps, logfile, log)
    _save_final(out, loaded, config, base, result, time.time() - t0)
    return {"steps": config.steps, "seconds": round(time.time() - t0, 1), **result}


def _optimizer(model, config: FinetuneConfig):
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def factor(step):
        if step < config.warmup:
            return (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _mean_terms(window: list[dict]) -> dict:
    keys = {k for terms in window for k in terms}
    return {k: round(float(np.mean([t[k] for t in window if k in t])), 4) for k in sorted(keys)}


def _append(path: Path, record: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(_finite(record)) + "\n")


def _finite(value):
    """NaN becomes None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _evaluate(loaded, eval_stacks, step, logfile, log) -> dict:
    from .heldout import evaluate_heldout

    result = evaluate_heldout(loaded, eval_stacks)
    _append(logfile, {"step": step, "eval": result})
    log(f"step {step}: held-out " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()))
    return result


def _save_checkpoint(folder: Path, loaded, optimizer, scheduler, step, config, base) -> None:
    """Weights (save_pretrained), optimiser and scheduler state and the step, replaced atomically."""
    import shutil

    import torch

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    loaded.model.save_pretrained(tmp, safe_serialization=True)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               tmp / "optimizer.pt")
    state = {"step": step, "base": base, "config": asdict(config),
             "mean": list(loaded.mean), "std": list(loaded.std)}
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(folder: Path, config: FinetuneConfig):
    import torch
    from transformers import Sam2VideoModel

    from ..core.models import LoadedModel

    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        raise InputError(f"nothing to resume: {folder} holds no checkpoint (trainer_state.json)")
    state = json.loads(state_file.read_text())
    model = Sam2VideoModel.from_pretrained(folder, use_safetensors=True, dtype=torch.float32).eval()
    model.requires_grad_(True)
    loaded = LoadedModel(model, str(folder), "cpu", int(model.config.image_size),
                         tuple(state["mean"]), tuple(state["std"]))
    optimizer, scheduler = _optimizer(model, config)
    saved = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    step = int(state["step"])
    if step >= config.steps:
        raise InputError(f"the checkpoint is at step {step}; ask for more steps to continue",
                         fix=("steps", step + 1000))
    return loaded, optimizer, scheduler, step


def _save_final(out: Path, loaded, config, base, result, seconds) -> None:
    import copy

    import torch

    model = copy.deepcopy(loaded.model).to(torch.float16) if config.fp16 else loaded.model
    model.save_pretrained(out, safe_serialization=True)
    info = {"base": base, "config": asdict(config), "image_size": loaded.image_size,
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "seconds": round(seconds, 1), "heldout": result}
    (out / "training.json").write_text(json.dumps(_finite(info), indent=1))
