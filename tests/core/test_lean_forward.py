"""The memory-lean forwards give transformers' results (real model classes, random weights)."""

import numpy as np
import torch

import napari_sam2.core.tracker as tracker_module
from napari_sam2.core import lean_forward
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.models import load_model
from napari_sam2.core.session import Session


def _fresh_model():
    return load_model("random:tiny", device="cpu", precision="fp32").model


def _modules(model, name):
    return [m for m in model.modules() if type(m).__name__ == name]


def test_rotary_attention_over_memory_frames_and_pointers():
    model = _fresh_model()
    plain = _modules(model, "Sam2VideoRoPEAttention")
    assert plain
    layer = model.memory_attention.layers[0]
    tokens = model.memory_attention.position_ids.shape[0]  # one frame's feature grid
    query = torch.randn(1, 1, tokens, layer.cross_attn_image.hidden_size)
    memory = torch.randn(1, 1, 3 * tokens + 5, 64)  # three memory frames and five pointer tokens
    rope = model.memory_attention.rotary_emb(query[:, 0], model.memory_attention.position_ids)
    with torch.no_grad():
        expected_cross = layer.cross_attn_image(query, memory, memory, rope, num_k_exclude_rope=5)[0]
        expected_self = layer.self_attn(query, query, query, rope)[0]
        assert lean_forward.make_lean(model) > 0
        cross = layer.cross_attn_image(query, memory, memory, rope, num_k_exclude_rope=5)[0]
        own = layer.self_attn(query, query, query, rope)[0]
    torch.testing.assert_close(cross, expected_cross, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(own, expected_self, rtol=1e-5, atol=1e-6)
    assert lean_forward.make_lean(model) == 0  # already lean: nothing done twice


def test_feed_forward_in_blocks(monkeypatch):
    model = _fresh_model()
    mlp = model.vision_encoder.backbone.blocks[0].mlp
    x = torch.randn(1, 48, 48, mlp.proj_in.in_features)
    with torch.no_grad():
        expected = mlp(x)
        lean_forward.make_lean(model)
        monkeypatch.setattr(lean_forward, "ROWS_PER_BLOCK", 1000)  # 48 * 48 rows: three blocks
        blocked = mlp(x)
    assert blocked.shape == expected.shape
    torch.testing.assert_close(blocked, expected, rtol=1e-5, atol=1e-6)


def test_session_masks_unchanged_by_lean_forwards(monkeypatch):
    """Click, propagate over 8 frames: logits of the lean model equal the plain one's."""
    rng = np.random.default_rng(3)
    frames = (rng.random((8, 64, 80)) * 4000).astype(np.uint16)

    def run(model):
        session = Session(FrameSource(frames), tracker_module.TransformersTracker(model))
        session.add_points(1, 0, [[30, 40]], [1])
        return [(r.masks.copy(), r.scores.copy()) for r in session.propagate("forward")], session

    loaded = load_model("random:tiny", device="cpu", precision="fp32")
    monkeypatch.setattr(tracker_module, "make_lean", lambda model: 0)
    plain_masks, _ = run(loaded)
    monkeypatch.setattr(lean_forward, "ROWS_PER_BLOCK", 512)
    monkeypatch.setattr(tracker_module, "make_lean", lean_forward.make_lean)
    lean_masks, session = run(loaded)
    assert any("forward" in vars(m) for m in _modules(loaded.model, "Sam2VideoRoPEAttention"))
    assert len(lean_masks) == 7
    assert sum(int(masks.sum()) for masks, _ in plain_masks) > 0  # something to compare
    for (plain, plain_scores), (lean, lean_scores) in zip(plain_masks, lean_masks, strict=True):
        assert np.array_equal(plain, lean)
        np.testing.assert_allclose(lean_scores, plain_scores, rtol=1e-5, atol=1e-6)


def _decoder_inputs(model, points, dense_from_mask):
    """Mask-decoder inputs laid out as transformers makes them (feature maps channels-last in memory)."""
    decoder = model.mask_decoder
    channels = decoder.hidden_size
    size = model.prompt_encoder.image_embedding_size

    def features(c, scale):
        h, w = size[0] * scale, size[1] * scale
        return torch.randn(h * w, 1, c).permute(1, 2, 0).view(1, c, h, w)  # as the cached features

    image = features(channels, 1)
    positions = model.get_image_wide_positional_embeddings().repeat(1, 1, 1, 1)
    sparse = torch.randn(1, points, 3, channels)
    if dense_from_mask:
        dense = torch.randn(1, channels, *size)
    else:
        dense = torch.randn(channels)[None, :, None, None].expand(1, channels, *size)
    return image, positions, sparse, dense, [features(channels // 8, 4), features(channels // 4, 2)]


def test_fast_mask_decoder_matches_transformers():
    model = _fresh_model()
    decoder = model.mask_decoder
    torch.manual_seed(0)
    cases = [(points, dense, multimask) for points in (1, 2) for dense in (False, True)
             for multimask in (False, True)]
    inputs = [_decoder_inputs(model, points, dense) for points, dense, _ in cases]

    def run_all():
        return [decoder(*args[:4], multimask, args[4])
                for args, (_, _, multimask) in zip(inputs, cases, strict=True)]

    with torch.no_grad():
        expected = run_all()
        assert lean_forward.make_lean(model) > 0
        assert "forward" in vars(decoder)
        fast = run_all()
    for got, want in zip(fast, expected, strict=True):
        assert [t.shape for t in got] == [t.shape for t in want]
        assert want[0].abs().max() > 0.01  # masks that are not all zero
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_positional_embeddings_computed_once_per_weights():
    model = _fresh_model()
    with torch.no_grad():
        expected = model.get_image_wide_positional_embeddings()
        lean_forward.make_lean(model)
        first = model.get_image_wide_positional_embeddings()
        assert model.get_image_wide_positional_embeddings() is first  # cached
        torch.testing.assert_close(first, expected, rtol=0, atol=0)
        model.shared_image_embedding.positional_embedding.mul_(2.0)  # new weights: computed again
        changed = model.get_image_wide_positional_embeddings()
    assert changed is not first
    torch.testing.assert_close(changed, model._plain_positional_embeddings(), rtol=0, atol=0)
    assert not torch.equal(changed, first)
