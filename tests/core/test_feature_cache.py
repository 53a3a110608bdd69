import numpy as np
import pytest
import torch
import zarr
from test_session_model import stack

from napari_sam2.core.feature_cache import FeatureCache, frame_key
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.session import Session
from napari_sam2.core.tracker import TransformersTracker


def count_encoder_calls(model):
    calls = []
    hook = model.vision_encoder.register_forward_hook(lambda *a: calls.append(1))
    return calls, hook


def test_a_second_pass_does_not_re_encode(tiny_model):
    session = Session(FrameSource(stack(10)), TransformersTracker(tiny_model))
    calls, hook = count_encoder_calls(tiny_model.model)
    try:
        session.add_points(1, 0, [[30, 40]])
        list(session.propagate())
        first = len(calls)
        session.add_points(1, 0, [[20, 20]], [0])  # a correction on the anchor: everything again
        assert [r.frame for r in session.propagate()] == list(range(1, 10))
    finally:
        hook.remove()
    assert first == 10 and len(calls) == first
    assert session.tracker.feature_cache.hits >= 10


def test_features_on_disk_serve_a_new_session_and_give_the_same_masks(tiny_model, tmp_path):
    data = stack(6)
    first = Session(FrameSource(data), TransformersTracker(tiny_model, feature_cache=FeatureCache(
        folder=tmp_path / "features")))
    first.add_points(1, 2, [[30, 40]])
    expected = [r.labels for r in first.propagate()]
    assert len(first.tracker._session.cache._pos_embeds) == 1  # only the level the model reads
    assert len(list(zarr.open_group(str(tmp_path / "features"), mode="r").group_keys())) == 6
    calls, hook = count_encoder_calls(tiny_model.model)
    try:
        second = Session(FrameSource(data), TransformersTracker(tiny_model, feature_cache=FeatureCache(
            folder=tmp_path / "features")))
        second.add_points(1, 2, [[30, 40]])
        got = [r.labels for r in second.propagate()]
    finally:
        hook.remove()
    assert len(calls) == 1  # only the shared positional encodings' first frame
    agree = np.mean([np.mean(a == b) for a, b in zip(expected, got, strict=True)])
    assert agree > 0.99  # fp16 (or bf16) on disk


def test_memory_budget_and_keys():
    cache = FeatureCache(max_bytes=3000)
    for i in range(10):
        cache.put(str(i), [torch.zeros(250)])  # 1000 bytes each
    assert sum(f.numel() * 4 for v in cache._memory.values() for f in v) <= 3000
    assert cache.get("0") is None and cache.get("9") is not None
    a, b = torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)
    b[0, 0, 0] = 1e-3
    assert frame_key("m", a) == frame_key("m", a.clone())
    assert frame_key("m", a) != frame_key("m", b) != frame_key("other", b)


def test_a_full_cache_reuses_evicted_storage_but_never_one_still_in_use():
    cache = FeatureCache(max_bytes=3 * 400)
    for name, value in zip("abc", (1.0, 2.0, 3.0), strict=True):
        cache.put(name, [torch.full((100,), value)])
    storage = {k: v[0].data_ptr() for k, v in cache._memory.items()}
    in_use = cache.get("a")  # a caller still holds frame a's features
    cache.put("d", [torch.full((100,), 4.0)])  # evicts b, which nobody holds: its storage is reused
    assert cache._memory["d"][0].data_ptr() == storage["b"]
    cache.put("e", [torch.full((100,), 5.0)])  # evicts c
    cache.put("f", [torch.full((100,), 6.0)])  # evicts a: held, so not written into
    assert float(in_use[0][0]) == 1.0
    assert [float(cache.get(k)[0][0]) for k in "def"] == [4.0, 5.0, 6.0]
    assert cache.get("a") is None


def test_disk_round_trip_keeps_the_working_precision(tmp_path):
    """fp32 features come back fp32 (stored as fp16), bf16 ones come back bf16 (same bits)."""
    store = tmp_path / "features.zarr"
    for dtype in (torch.float32, torch.bfloat16):
        FeatureCache(folder=store).put(str(dtype), [torch.linspace(-3, 3, 64, dtype=dtype)])
        back = FeatureCache(folder=store).get(str(dtype))
        assert back[0].dtype == dtype
        torch.testing.assert_close(back[0].float(), torch.linspace(-3, 3, 64, dtype=dtype).float(),
                                   atol=2e-2, rtol=0)
    assert torch.equal(FeatureCache(folder=store).get(str(torch.bfloat16))[0],
                       torch.linspace(-3, 3, 64, dtype=torch.bfloat16))


def test_interrupted_disk_entry_is_not_read_and_bad_store_is_refused(tmp_path):
    from napari_sam2.core.feature_store import ZarrFeatureStore
    from napari_sam2.core.frames import InputError

    store = ZarrFeatureStore(tmp_path / "features.zarr")
    entry = store.root.require_group("k")  # arrays written, "complete" never set: a crash
    entry.create_array("level0", shape=(4,), dtype="float16")
    assert "k" not in store and FeatureCache(folder=tmp_path / "features.zarr").get("k") is None
    store.put("k", [torch.ones(4)])  # the next run writes it properly
    assert torch.equal(FeatureCache(folder=tmp_path / "features.zarr").get("k")[0], torch.ones(4))
    (tmp_path / "a_file").write_text("not a cache")
    with pytest.raises(InputError, match="cannot use .*a_file as a feature cache"):
        FeatureCache(folder=tmp_path / "a_file")
