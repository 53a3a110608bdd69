import json

import pytest
import torch

from napari_sam2.core.frames import InputError
from napari_sam2.core.models import REGISTRY, ModelNotAvailable, load_model, pick_device, resolve_model
from napari_sam2.core.models import loading as models


def test_registry_names_and_hub_ids():
    assert {name: spec.repo_id for name, spec in REGISTRY.items()} == {
        "sam2.1-tiny": "facebook/sam2.1-hiera-tiny",
        "sam2.1-small": "facebook/sam2.1-hiera-small",
        "sam2.1-base-plus": "facebook/sam2.1-hiera-base-plus",
        "sam2.1-large": "facebook/sam2.1-hiera-large",
        "edgetam": "yonigozlan/EdgeTAM-hf",
        "sam3": "facebook/sam3",
        "demo": "(bundled)",
    }


def test_a_save_pretrained_folder_loads_as_the_video_class(tiny_model_dir):
    loaded = load_model(tiny_model_dir, device="cpu")
    assert type(loaded.model).__name__ == "Sam2VideoModel"
    assert loaded.image_size == 128 and loaded.device == "cpu"
    assert not loaded.model.training
    assert next(loaded.model.parameters()).dtype == torch.float32


def test_unknown_model_name():
    with pytest.raises(InputError, match="unknown model 'sam3-huge': use one of sam2.1-tiny"):
        resolve_model("sam3-huge")


def test_folders_that_are_not_sam2_checkpoints(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        resolve_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(InputError, match="not a SAM2-family checkpoint: its model_type is 'bert'"):
        resolve_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "sam2_video"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InputError, match="no .safetensors weights"):
        resolve_model(tmp_path)


def test_missing_weights_offline_says_what_to_fetch(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailable) as err:
        resolve_model("sam2.1-small", offline=True)
    message = str(err.value)
    assert "facebook/sam2.1-hiera-small" in message and str(tmp_path) in message
    assert "config.json model.safetensors" in message and "pass model='./sam2.1-small'" in message


def test_cache_listing_knows_nothing_is_cached_but_the_bundled_model(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert models.cached_models() == {**dict.fromkeys(REGISTRY, False), "demo": True}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_devices():
    assert pick_device("auto") in ("cpu", "mps")
    assert pick_device("cpu") == "cpu"
    with pytest.raises(InputError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_random_models_are_labelled():
    with pytest.warns(UserWarning, match="random weights"):
        loaded = load_model("random:tiny", device="cpu")
    assert loaded.image_size == 128
    with pytest.raises(InputError, match="unknown random model"):
        load_model("random:huge", device="cpu")


def test_random_edgetam_without_timm_says_what_to_install(monkeypatch):
    from napari_sam2.core.models import random as random_models

    def no_timm():
        raise ModuleNotFoundError("No module named 'timm'")

    monkeypatch.setitem(random_models.RANDOM_MODELS, "edgetam", no_timm)
    with pytest.raises(InputError, match="random:edgetam needs a package that is not installed.*timm"):
        load_model("random:edgetam", device="cpu", preset="fast")


def test_presets_shrink_the_input_and_the_memory(tmp_path):
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models.configs import tiny_config
    from napari_sam2.core.models.random import save_random_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker

    folder = save_random_model(tmp_path / "m1024", tiny_config(1024))
    for preset, size, memories in (("fast", 512, 4), ("balanced", 768, 6), ("accurate", 1024, 7)):
        loaded = load_model(folder, device="cpu", preset=preset)
        assert (loaded.image_size, loaded.model.num_maskmem, loaded.preset) == (size, memories, preset)
        tracker = TransformersTracker(loaded)
        assert tracker.mask_memory_frames == memories
        if preset == "fast":
            import numpy as np

            session = Session(FrameSource(np.random.default_rng(0).random((3, 40, 50))), tracker)
            session.add_points(1, 0, [[20, 20]])
            assert len(list(session.propagate())) == 2
    with pytest.raises(InputError, match="unknown preset 'turbo'"):
        load_model(folder, device="cpu", preset="turbo")
    assert load_model(tmp_path / "m1024", device="cpu", preset="fast").image_size == 512
    assert load_model("random:tiny", device="cpu", preset="fast").image_size == 128  # never upscaled


def test_auto_lets_the_preset_choose_the_model(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    assert models.choose_model("demo", "fast") == "demo"  # a named model is kept
    assert models.choose_model(tmp_path, "fast") == tmp_path
    for preset in ("accurate", "balanced"):
        assert models.choose_model("auto", preset, offline=False) == "sam2.1-tiny"
    # fast: EdgeTAM when its package imports and its weights are cached or may be downloaded
    monkeypatch.setitem(models.EXTRA_PACKAGES, "edgetam", "json")
    assert models.choose_model("auto", "fast", offline=False) == "edgetam"
    assert models.choose_model("auto", "fast", offline=True) == "sam2.1-tiny"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert models.choose_model("auto", "fast") == "sam2.1-tiny"
    monkeypatch.setattr(models, "cached_models", lambda: {"edgetam": True})
    assert models.choose_model("auto", "fast") == "edgetam"
    monkeypatch.setitem(models.EXTRA_PACKAGES, "edgetam", "no_such_package_for_edgetam")
    assert models.choose_model("auto", "fast", offline=False) == "sam2.1-tiny"
    with pytest.raises(InputError, match="unknown preset 'turbo'"):
        models.choose_model("auto", "turbo")


def test_compiled_encoder_gives_the_same_features(tiny_model_dir):
    """``compile=True`` wraps the image encoder in torch.compile; outputs are unchanged."""
    plain = load_model(tiny_model_dir, device="cpu")
    compiled = load_model(tiny_model_dir, device="cpu", compile=True)
    assert type(compiled.model.vision_encoder).__name__ == "OptimizedModule"
    pixels = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        expected = plain.model.get_image_features(pixels, return_dict=True).fpn_hidden_states
        got = compiled.model.get_image_features(pixels, return_dict=True).fpn_hidden_states
    for a, b in zip(expected, got, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_precision_choice_and_bf16_tracking_on_cpu(tiny_model_dir, monkeypatch):
    """bf16 autocast runs the whole CPU path; its masks follow fp32's; auto asks the hardware."""
    import numpy as np

    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker
    from napari_sam2.evaluation.metrics import jaccard

    assert load_model(tiny_model_dir, device="cpu", precision="fp32").bf16 is False
    monkeypatch.setattr(models, "native_bf16", lambda device: False)
    assert load_model(tiny_model_dir, device="cpu").bf16 is False
    monkeypatch.setattr(models, "native_bf16", lambda device: True)
    assert load_model(tiny_model_dir, device="cpu").bf16 is True
    with pytest.raises(InputError, match="unknown precision 'fp8'.*auto, fp32, bf16"):
        load_model(tiny_model_dir, device="cpu", precision="fp8")

    data = np.random.default_rng(3).random((4, 60, 70))
    keys, labels = {}, {}
    for precision in ("fp32", "bf16"):
        loaded = load_model(tiny_model_dir, device="cpu", precision=precision)
        tracker = TransformersTracker(loaded)
        session = Session(FrameSource(data), tracker)
        session.add_points(1, 0, [[30, 30]])
        labels[precision] = [r.labels for r in session.propagate("forward")]
        features = tracker.feature_cache.get(tracker._session.cache._key(0))
        assert features[0].dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
        keys[precision] = tracker._session.cache._key(0)
    assert keys["fp32"] != keys["bf16"]  # a shared on-disk cache never mixes the two
    assert len(labels["bf16"]) == 3
    agreement = [jaccard(a == 1, b == 1) for a, b in zip(labels["fp32"], labels["bf16"], strict=True)]
    assert min(agreement) > 0.8, agreement


def test_a_loaded_model_is_returned_as_it_is(tiny_model):
    """Workflows take a name or a model: a batch worker passes the model it keeps."""
    assert load_model(tiny_model, device="cuda", precision="bf16") is tiny_model
