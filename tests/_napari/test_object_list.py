"""_napari/objects.py: the object list from a Session (disk-painting double), without a viewer."""

import numpy as np
import pytest
from napari.layers import Labels

from doubles import DiskTracker
from napari_sam2._napari.objects import object_rows, presence_strip, visibility_colormap
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.session import Session

N_FRAMES = 6
PRESENT, ABSENT = 1 / (1 + np.exp(-5.0)), 1 / (1 + np.exp(5.0))  # the double's presence logits +-5


@pytest.fixture
def session():
    data = np.random.default_rng(0).integers(0, 1000, (N_FRAMES, 30, 40), dtype=np.uint16)
    session = Session(FrameSource(data), DiskTracker(absent={2: {4, 5}}))
    session.add_points(1, 0, [[10, 10]])
    session.add_object(2, name="dividing")
    session.add_points(2, 1, [[20, 30]])
    session.add_object(3, name="not clicked yet")
    with pytest.warns(UserWarning, match="have no prompts"):
        assert [r.frame for r in session.propagate("forward")] == [1, 2, 3, 4, 5]
    return session


def test_one_row_per_object_with_frames_presence_colour_and_visibility(session):
    labels = Labels(np.zeros((N_FRAMES, 30, 40), np.uint16))
    rows = object_rows(session, labels, hidden={2})
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert [r["name"] for r in rows] == ["", "dividing", "not clicked yet"]
    assert [(r["frames"], r["first"], r["last"]) for r in rows] == [(6, 0, 5), (3, 1, 3), (0, None, None)]
    assert rows[0]["presence"] == pytest.approx(PRESENT)
    assert rows[1]["presence"] == pytest.approx((3 * PRESENT + 2 * ABSENT) / 5)  # frame 0 not computed
    assert np.isnan(rows[2]["presence"])
    for row in rows:
        np.testing.assert_allclose(row["color"], labels.get_color(row["id"]))
    assert [r["visible"] for r in rows] == [True, False, True]
    assert object_rows(None, labels) == []


def test_presence_strip_is_nan_where_not_computed(session):
    np.testing.assert_allclose(presence_strip(session, 1), [PRESENT] * 6, rtol=1e-6)
    strip = presence_strip(session, 2)
    assert strip.dtype == np.float32 and strip.shape == (N_FRAMES,)
    assert np.isnan(strip[0])
    np.testing.assert_allclose(strip[1:], [PRESENT] * 3 + [ABSENT] * 2, rtol=1e-5)
    assert np.isnan(presence_strip(session, 3)).all()


def test_hidden_ids_become_transparent_and_the_others_keep_their_colour():
    colormap = Labels(np.zeros((2, 4, 4), np.uint16)).colormap
    assert visibility_colormap(colormap, [1, 2, 3], set()) is None  # nothing hidden: the layer's own
    hiding = visibility_colormap(colormap, [1, 2, 3], {2, 9})  # 9: hidden, not (yet) in the session
    colors = hiding.map(np.array([0, 1, 2, 3, 9]))
    assert colors[0, 3] == 0 and colors[2, 3] == 0 and colors[4, 3] == 0
    np.testing.assert_allclose(colors[[1, 3]], colormap.map(np.array([1, 3])))
    assert colors[1, 3] > 0 and colors[3, 3] > 0
    np.testing.assert_allclose(hiding.map(np.array([50]))[0], [0.8, 0.8, 0.8, 1.0])  # painted by hand
