"""The demo's per-object IoU, lost cells and overview.png (legend, ground-truth outlines)."""

import numpy as np
import pytest
from scipy import ndimage

from napari_sam2.core.synthetic import synthetic_timelapse
from napari_sam2.workflows.demo import PALETTE, score_demo

Image = pytest.importorskip("PIL.Image", reason="Pillow draws overview.png")


def test_a_lost_cell_is_flagged_and_drawn_as_an_outline(tmp_path):
    image, truth = synthetic_timelapse(n_frames=7, seed=5, divisions=False)
    ids = [int(i) for i in np.unique(truth[0]) if i]
    lost = ids[1]
    labels = truth.copy()
    labels[3:][labels[3:] == lost] = 0  # lost from frame 3 on: 4 empty frames
    text = score_demo(tmp_path, image, truth, labels)

    table = {int(line.split()[0]): line.split() for line in text.splitlines()[2:2 + len(ids)]}
    assert sorted(table) == ids
    assert table[lost][-1] == "LOST" and table[lost][7] == "4"  # lost frames
    assert all("LOST" not in table[k] and table[k][2] == "1.000" for k in ids if k != lost)
    assert f"1 of {len(ids)} cell(s) LOST: cell {lost} (last-frame IoU 0.00, empty on 4 frame(s)" in text
    pooled = (truth[:3] == lost).sum() / (truth == lost).sum()
    mean = (len(ids) - 1 + pooled) / len(ids)
    assert f"mean IoU against the ground truth: {mean:.3f}" in text

    with Image.open(tmp_path / "overview.png") as png:
        sheet = np.asarray(png.convert("RGB")).astype(int)
    assert sheet.shape[1] == 4 * 256 + 3 * 4 and sheet.shape[0] > 256 + 40  # a legend under the frames
    last = sheet[:256, 3 * 260 : 3 * 260 + 256]  # the last panel shows frame 6
    cell = truth[6] == lost
    edge = cell & ~ndimage.binary_erosion(cell)
    colour = PALETTE[(lost - 1) % len(PALETTE)]
    assert np.mean(np.all(last[edge] == colour, axis=1)) > 0.9  # outlined in its colour...
    core = ndimage.binary_erosion(cell, iterations=3)
    rgb = last[core]
    assert np.mean((rgb[:, 0] == rgb[:, 1]) & (rgb[:, 1] == rgb[:, 2])) > 0.7  # ...and grey inside
    filled = last[ndimage.binary_erosion(truth[6] == ids[0], iterations=3)]  # a kept cell is tinted
    assert np.mean((filled[:, 0] == filled[:, 1]) & (filled[:, 1] == filled[:, 2])) < 0.3
    legend = sheet[256:]
    assert np.any(np.all(legend == colour, axis=2))  # its swatch
    assert np.any((legend[..., 0] == 255) & (legend[..., 1] == 70) & (legend[..., 2] == 70))  # "LOST"


def test_a_cell_never_segmented_is_listed_as_lost(tmp_path):
    image, truth = synthetic_timelapse(n_frames=3, seed=5, divisions=False)
    labels = np.where(truth == 1, 0, truth)
    text = score_demo(tmp_path, image, truth, labels)
    row = next(line.split() for line in text.splitlines() if line.split()[:2] == ["1", "1"])
    assert row[2] == "0.000" and row[-1] == "LOST"
