"""JPEG/PNG folders as lazy stacks; DAVIS-style indexed masks."""

import numpy as np
import pytest

from napari_sam2.core.frames import FrameSource, InputError, Normalization
from napari_sam2.core.imagefiles import ImageFolder, MaskFolder, davis_palette, read_mask, write_mask

Image = pytest.importorskip("PIL.Image", reason="Pillow reads and writes the PNG/JPEG files")


def test_indexed_mask_round_trip_with_the_davis_palette(tmp_path):
    labels = np.zeros((6, 9), np.uint16)
    labels[1:3, 2:5], labels[4, 8] = 1, 3
    write_mask(tmp_path / "m.png", labels)
    image = Image.open(tmp_path / "m.png")
    assert image.mode == "P" and image.getpalette()[:12] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), labels)
    assert len(davis_palette()) == 768
    with pytest.raises(InputError, match="does not fit"):
        write_mask(tmp_path / "big.png", labels + 300)


def test_binary_and_void_values(tmp_path):
    binary = np.zeros((4, 4), np.uint8)
    binary[1:3, 1:3] = 255
    Image.fromarray(binary).save(tmp_path / "binary.png")  # DAVIS-2016: {0, 255} is one object
    np.testing.assert_array_equal(read_mask(tmp_path / "binary.png"), binary // 255)
    multi = binary // 255 * 2
    multi[0, 0] = 255  # void in a multi-object mask reads as background
    Image.fromarray(multi).save(tmp_path / "multi.png")
    read = read_mask(tmp_path / "multi.png")
    assert read[0, 0] == 0 and read.max() == 2
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="RGB image"):
        read_mask(tmp_path / "rgb.png")


def test_image_folder_reads_only_the_frames_asked_for(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for t in range(4):
        files.append(tmp_path / f"{t:05d}.jpg")
        Image.fromarray(rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(files[-1])
    files[2].write_bytes(b"not a jpeg")  # never touched unless frame 2 is read
    frames = ImageFolder(files)
    assert frames.shape == (4, 10, 12, 3) and frames.dtype == np.uint8 and frames[3, 2:4].shape == (2, 12, 3)
    source = FrameSource(frames, 0, channel_axis=3, channels=(0, 1, 2),
                         normalization=Normalization(0, 100, sample_frames=2))
    assert source.frame(0).shape == (10, 12, 3) and 0 <= source.frame(3).min() <= source.frame(3).max() <= 1
    with pytest.raises(InputError, match="cannot read"):
        frames[2]


def test_mask_folder_writes_a_png_per_frame_and_reads_unwritten_frames_as_zero(tmp_path):
    folder = MaskFolder(tmp_path / "seq", ["00000", "00001"], (5, 6))
    stale = np.ones((5, 6), np.uint8)
    Image.fromarray(stale).save(tmp_path / "seq" / "00001.png")  # an earlier run's file is ignored
    assert folder.shape == (2, 5, 6) and not folder[1].any()
    folder[0] = np.eye(5, 6, dtype=np.uint16) * 2
    assert (tmp_path / "seq" / "00000.png").is_file() and folder[0].max() == 2
