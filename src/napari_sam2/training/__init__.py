"""Fine-tuning (or training from scratch) SAM2 video models; inference never imports this package.

- :mod:`.finetune`: the training loop, checkpoints and resume.
- :mod:`.model`: the model to train (registry, folder or random weights).
- :mod:`.data`: annotated stacks to clips, prompt sampling.
- :mod:`.unroll`: one step, the model unrolled over a clip with its memory.
- :mod:`.losses`: the SAM2 training losses.
- :mod:`.heldout`: held-out scores through the inference path.
"""
