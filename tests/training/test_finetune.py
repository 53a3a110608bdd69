"""Fine-tuning: the unrolled training step, checkpoints, resume, the command line, bad input."""

import json

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2.cli import main
from napari_sam2.core.models import load_model
from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.training.data import prepare_stack, sample_batch
from napari_sam2.training.finetune import FinetuneConfig
from napari_sam2.training.model import build_model
from napari_sam2.training.unroll import train_step

SIZE = 64  # model input: tiny_config at 64 px keeps every step well under a second


@pytest.fixture(scope="module")
def clip_stack():
    image, labels = synthetic_timelapse(6, (64, 64), 3, seed=1, divisions=False)
    return prepare_stack(image, labels, SIZE)


def _steps(loaded, batch, config, n):
    optimizer = torch.optim.AdamW(loaded.model.parameters(), lr=config.lr)
    losses = []
    for _ in range(n):
        loss, _ = train_step(loaded, batch, np.random.default_rng(1), config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_a_few_steps_reduce_the_loss_on_a_fixed_clip(clip_stack):
    torch.manual_seed(0)
    loaded = build_model("random:tiny", SIZE, seed=0)
    batch = sample_batch([clip_stack], np.random.default_rng(0), clips=1, objects=2, clip_length=3)
    losses = _steps(loaded, batch, FinetuneConfig(lr=2e-3), 3)
    assert losses[-1] < 0.85 * losses[0], losses  # measured: 4.68 -> 1.76
    assert not loaded.model.training  # trained in eval mode, as inference runs


def test_gradients_reach_memory_attention_encoder_and_object_pointers(clip_stack):
    loaded = build_model("random:tiny", SIZE, seed=0)
    # an untrained model may call every object absent, which replaces object pointers by a
    # learned constant; start from one that sees them, as a model does after a few steps
    with torch.no_grad():
        loaded.model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(10.0)
    batch = sample_batch([clip_stack], np.random.default_rng(0), clips=1, objects=2, clip_length=3)
    config = FinetuneConfig(prompts={"click": 1.0}, correct_first=0.0, correct_later=0.0)
    loss, terms = train_step(loaded, batch, np.random.default_rng(0), config)
    loss.backward()
    grads = {name: p.grad for name, p in loaded.model.named_parameters()}
    for prefix in ("memory_attention.", "memory_encoder.", "object_pointer_proj.",
                   "memory_temporal_positional_encoding", "mask_decoder.", "vision_encoder."):
        group = {n: g for n, g in grads.items() if n.startswith(prefix)}
        assert group, prefix
        assert any(g is not None and g.abs().sum() > 0 for g in group.values()), prefix
    assert set(terms) >= {"focal", "dice", "iou", "presence", "loss"}


def test_a_batch_of_objects_runs_like_each_object_alone(clip_stack):
    """The batching fixes leave every sample's computation as at inference (batch of one)."""
    from napari_sam2.training.data import ClipBatch

    loaded = build_model("random:tiny", SIZE, seed=0)
    with torch.no_grad():
        loaded.model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(10.0)
    batch = sample_batch([clip_stack], np.random.default_rng(0), clips=1, objects=2, clip_length=3)
    config = FinetuneConfig(prompts={"mask": 1.0}, correct_first=0.0, correct_later=0.0)

    def decoder_outputs(b):
        outputs = []
        hook = loaded.model.mask_decoder.register_forward_hook(lambda _m, _i, out: outputs.append(out))
        with torch.no_grad():
            train_step(loaded, b, np.random.default_rng(0), config)
        hook.remove()
        return outputs

    together = decoder_outputs(batch)
    for i in range(2):
        alone = decoder_outputs(ClipBatch(batch.frames, batch.targets[i:i + 1], 1))
        assert len(alone) == len(together) == 3  # mask prompt's pointer, then two tracked frames
        for joint, single in zip(together, alone, strict=True):
            for a, b in zip(joint, single, strict=True):
                torch.testing.assert_close(a[i:i + 1], b, atol=1e-4, rtol=1e-4)


def _write_pair(folder, name, seed, n_frames=6):
    image, labels = synthetic_timelapse(n_frames, (48, 48), 2, seed=seed, divisions=False)
    tifffile.imwrite(folder / f"{name}.tif", image)
    tifffile.imwrite(folder / f"{name}_labels.tif", labels)
    return str(folder / f"{name}.tif"), str(folder / f"{name}_labels.tif")


def test_cli_trains_checkpoints_resumes_and_the_output_loads(tmp_path, capsys):
    a, a_labels = _write_pair(tmp_path, "a", 1)
    b, b_labels = _write_pair(tmp_path, "b", 2)
    out = tmp_path / "model"
    args = ["finetune", "--images", a, b, "--labels", a_labels, b_labels, "--base", "random:tiny",
            "--image-size", str(SIZE), "--out", str(out), "--clip-length", "3", "--clips", "1",
            "--objects", "1", "--checkpoint-every", "1", "--eval-every", "0", "--seed", "3"]
    assert main([*args, "--steps", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    state = json.loads((out / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 2 and state["config"]["seed"] == 3
    assert (out / "checkpoint" / "optimizer.pt").is_file()
    # held-out: the last stack, scored through the inference path
    evaluation = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert "click_iou" in evaluation[-1]["eval"]

    assert main([*args, "--steps", "2"]) == 2  # never overwrite a trained model
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert json.loads((out / "checkpoint" / "trainer_state.json").read_text())["step"] == 3
    steps = [json.loads(line).get("step") for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 3 and 3 not in steps[:-2]

    loaded = load_model(out, device="cpu")
    assert type(loaded.model).__name__ == "Sam2VideoModel" and loaded.image_size == SIZE


def test_bad_input_gives_clear_errors(tmp_path, capsys):
    a, a_labels = _write_pair(tmp_path, "a", 1)
    tifffile.imwrite(tmp_path / "small.tif", np.zeros((6, 40, 48), np.uint16))
    tifffile.imwrite(tmp_path / "empty.tif", np.zeros((6, 48, 48), np.uint16))
    base = ["finetune", "--image-size", str(SIZE), "--out", str(tmp_path / "m"), "--steps", "1"]

    cases = [
        (["--images", a, "--labels", str(tmp_path / "small.tif")], "labels have shape (6, 40, 48)"),
        (["--images", a, "--labels", str(tmp_path / "empty.tif")], "contain no objects"),
        (["--images", a, "--labels", a_labels, "--base", "random:huge"], "unknown random model"),
        (["--images", a, "--labels", a_labels, "--base", "no-such-model"], "unknown model 'no-such-model'"),
        (["--images", a, a, "--labels", a_labels], "2 image file(s) but 1 label file(s)"),
        ([], "no training data"),
        (["--images", a, "--labels", a_labels, "--feature-norm", "-1"], "--feature-norm must be 0 or more"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, message
    assert not (tmp_path / "m").exists()


def test_from_scratch_memory_attention_starts_looking_at_the_same_place():
    """A new model's memory cross-attention peaks, for every query position, at that position."""
    from transformers.models.sam2_video.modeling_sam2_video import apply_rotary_pos_emb_2d

    model = build_model("random:tiny", 128, seed=0).model
    memory = model.memory_attention
    attention = memory.layers[0].cross_attn_image
    cells = memory.position_ids.shape[0]
    with torch.no_grad():
        cos, sin = memory.rotary_emb(torch.zeros(1), memory.position_ids)
        query = attention.q_proj(torch.zeros(1, 1, cells, attention.hidden_size))
        key = attention.k_proj(torch.zeros(1, 1, cells, attention.kv_in_dim))
        query, key = apply_rotary_pos_emb_2d(query, key, cos, sin)
        logits = (query @ key.transpose(-1, -2))[0, 0] * attention.scaling
    assert torch.equal(logits.argmax(-1), torch.arange(cells))
    neighbour = logits.diagonal()[:-1] - logits.diagonal(1)  # own position vs the next one
    assert float(neighbour.min()) >= 2.0


def test_feature_norm_penalty_pulls_embedding_tokens_to_unit_scale(clip_stack):
    batch = sample_batch([clip_stack], np.random.default_rng(0), clips=1, objects=1, clip_length=2)
    prompts = dict(prompts={"click": 1.0}, correct_first=0.0, correct_later=0.0, lr=5e-3)
    plain, penalised = FinetuneConfig(**prompts), FinetuneConfig(**prompts, feature_norm=1.0)
    loaded = build_model("random:tiny", SIZE, seed=0)
    loss, terms = train_step(loaded, batch, np.random.default_rng(0), plain)
    total, _ = train_step(loaded, batch, np.random.default_rng(0), penalised)
    assert float(total) == pytest.approx(float(loss) + terms["feature_norm"], rel=1e-4)

    def penalty_after_training(config):
        torch.manual_seed(0)
        loaded = build_model("random:tiny", SIZE, seed=0)
        _steps(loaded, batch, config, 4)
        return train_step(loaded, batch, np.random.default_rng(0), config)[1]["feature_norm"]

    assert penalty_after_training(penalised) < 0.5 * penalty_after_training(plain)  # measured: 0.10 vs 1.56
