"""Loading is strict (every weight, nothing else) and the weights have a fingerprint."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import without_read_as
from napari_sam2.core.errors import InputError
from napari_sam2.core.models import load_model


def copy_with(tiny_model_dir, tmp_path, name, change):
    """A copy of the tiny model folder whose model.safetensors ``change`` rewrites."""
    folder = tmp_path / name
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    change(weights, load_file(weights))
    return folder


CORRUPTIONS = {
    "empty": (lambda f, sd: save_file({}, f),
              r"is missing 3\d\d weights \(mask_decoder\.conv_s0\.bias, "),
    "no vision encoder": (
        lambda f, sd: save_file({k: v for k, v in sd.items() if not k.startswith("vision_encoder")}, f),
        r"is missing \d+ weights \(vision_encoder\.backbone"),
    "an unexpected key": (lambda f, sd: save_file({**sd, "extra.weight": torch.zeros(2)}, f),
                          r"has 1 unexpected weight \(extra\.weight\)"),
    "a wrong shape": (lambda f, sd: save_file({**sd, "mask_decoder.conv_s0.bias": torch.zeros(3)}, f),
                      r"1 weight of the wrong shape \(mask_decoder\.conv_s0\.bias\)"),
    "truncated": (lambda f, sd: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
                  r"model\.safetensors is not a readable safetensors file \(truncated or corrupt"),
    "garbage": (lambda f, sd: f.write_bytes(b"not a safetensors file" * 20),
                r"model\.safetensors is not a readable safetensors file"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_a_damaged_checkpoint_is_an_error_naming_the_keys(tiny_model_dir, tmp_path, case, capfd):
    change, message = CORRUPTIONS[case]
    folder = copy_with(tiny_model_dir, tmp_path, case.replace(" ", "-"), change)
    with pytest.raises(InputError, match=message) as info:
        load_model(folder, device="cpu")
    assert "\n" not in str(info.value) and str(folder) in str(info.value)
    captured = capfd.readouterr()
    assert "LOAD REPORT" not in captured.err + captured.out  # transformers' table is not printed


def test_a_complete_checkpoint_loads_without_a_progress_bar(tiny_model_dir, capfd):
    import transformers.utils.logging as hf_logging

    before = (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity())
    loaded = load_model(tiny_model_dir, device="cpu")
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()) == before
    assert len(loaded.fingerprint) == 64


def test_cli_reports_a_truncated_checkpoint_in_one_line(tiny_model_dir, tmp_path):
    import tifffile

    folder = copy_with(tiny_model_dir, tmp_path, "cut", CORRUPTIONS["truncated"][0])
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((3, 16, 16), np.uint8))
    (tmp_path / "p.json").write_text(
        '{"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[4, 4]]}]}]}')
    proc = subprocess.run(
        [sys.executable, "-m", "napari_sam2.cli", "segment", str(tmp_path / "s.tif"), "--prompts",
         str(tmp_path / "p.json"), "--out", str(tmp_path / "o.zarr"), "--model", str(folder)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    err = without_read_as(proc.stderr)
    assert err.startswith("napari-sam2: error: ") and err.count("\n") == 1
    assert "not a readable safetensors file" in proc.stderr and "Traceback" not in proc.stderr


def test_fingerprint_follows_the_weights_not_the_name(tiny_model_dir, tmp_path):
    from napari_sam2.core.models.random import save_random_model

    same = shutil.copytree(tiny_model_dir, tmp_path / "a" / "tiny-sam2")
    other = save_random_model(tmp_path / "b" / "tiny-sam2", seed=1)  # same name, other weights
    fingerprints = [load_model(f, device="cpu").fingerprint for f in (tiny_model_dir, same, other)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    random_a = load_model("random:tiny", device="cpu").fingerprint
    assert random_a == load_model("random:tiny", device="cpu").fingerprint
    assert len(random_a) == 64 and random_a not in fingerprints


def test_new_weights_in_the_same_folder_never_reuse_disk_features(tiny_model_dir, tmp_path):
    """A model folder re-saved with other weights (same path, same name): every frame re-encoded."""
    from napari_sam2.core.feature_cache import FeatureCache
    from napari_sam2.core.frames import FrameSource
    from napari_sam2.core.models.random import save_random_model
    from napari_sam2.core.session import Session
    from napari_sam2.core.tracker import TransformersTracker

    data = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    store, folder = tmp_path / "features.zarr", tmp_path / "tiny-sam2"
    encoded = []
    for seed in (0, 7):
        shutil.rmtree(folder, ignore_errors=True)
        save_random_model(folder, seed=seed)
        loaded = load_model(folder, device="cpu")
        calls = []
        hook = loaded.model.vision_encoder.register_forward_hook(
            lambda *a, calls=calls: calls.append(1))
        session = Session(FrameSource(data), TransformersTracker(loaded, feature_cache=FeatureCache(
            folder=store)))
        session.add_points(1, 0, [[10, 12]])
        list(session.propagate())
        hook.remove()
        encoded.append(len(calls))
    assert encoded == [4, 4]  # not [4, 1]: the second weights never got the first ones' features
    import zarr

    assert len(list(zarr.open_group(str(store), mode="r").group_keys())) == 8
