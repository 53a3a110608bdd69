"""The widget's Advanced "Memory" choice reaches the tracker and is saved with the session (#22)."""

import numpy as np

from napari_sam2._qt.memory_choice import MEMORY_HELP
from napari_sam2._qt.widget import Sam2Widget
from napari_sam2.core.memory_policies import DEFAULT_MEMORY, MEMORY_POLICIES


def _widget(viewer, data):
    viewer.add_image(data, name="cells", axis_labels=("t", "y", "x"))
    widget = Sam2Widget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.model_combo.setCurrentText("demo")
    return widget


def _idle(qtbot, controller):
    qtbot.waitUntil(lambda: controller.worker is None and controller.session is not None, timeout=60_000)


def test_memory_choice_lists_every_policy_with_help_and_the_default(qtbot):
    from qtpy.QtCore import Qt

    from napari_sam2._qt.memory_choice import memory_combo

    combo = memory_combo()
    assert [combo.itemText(i) for i in range(combo.count())] == list(MEMORY_POLICIES)
    assert combo.currentText() == DEFAULT_MEMORY
    assert set(MEMORY_HELP) == set(MEMORY_POLICIES)
    assert all(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count()))


def test_chosen_memory_reaches_the_demo_tracker_and_survives_save_and_load(make_napari_viewer, qtbot,
                                                                           tmp_path):
    from napari_sam2.core.synthetic import synthetic_timelapse

    data, _ = synthetic_timelapse(4, (128, 128), 3, seed=7, divisions=False)
    chosen = next(name for name in MEMORY_POLICIES if name != DEFAULT_MEMORY)
    widget = _widget(make_napari_viewer(), data)
    widget.memory_combo.setCurrentText(chosen)
    widget.start()
    _idle(qtbot, widget.controller)
    assert widget.controller.session.tracker.memory.name == chosen
    path = widget.save_session(str(tmp_path / "cells.sam2.json"))
    assert path is not None

    widget2 = _widget(make_napari_viewer(), np.array(data))
    assert widget2.memory_combo.currentText() == DEFAULT_MEMORY
    widget2.load_session(str(path))
    _idle(qtbot, widget2.controller)
    assert widget2.memory_combo.currentText() == chosen
    assert widget2.controller.session.tracker.memory.name == chosen
