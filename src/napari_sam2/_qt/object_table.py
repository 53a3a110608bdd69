"""The object table of the SAM2 widget: one row per object, with its colour and presence strip."""

from __future__ import annotations

import math

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QImage, QPixmap
from qtpy.QtWidgets import QLabel, QTableWidgetItem

__all__ = ["fill_table", "STRIP_WIDTH"]

#: width of an object's presence strip in the table, in pixels
STRIP_WIDTH = 64


def fill_table(table, rows: list[dict], presence_strip) -> None:
    """Show ``rows`` (:func:`.._napari.objects.object_rows`) in ``table`` (id, name, frames, presence,
    strip); ``presence_strip(obj_id)`` gives an object's presence per frame.

    Rows that show the same as before are left alone: every changed cell makes Qt
    repaint, which with software OpenGL recomposes the whole window.
    """
    shown = getattr(table, "_shown_rows", [])
    table.blockSignals(True)
    if table.rowCount() != len(rows):
        table.setRowCount(len(rows))
    now = []
    for n, row in enumerate(rows):
        strip = presence_strip(row["id"])
        presence = "" if math.isnan(row["presence"]) else f"{row['presence']:.2f}"
        span = f"{row['frames']}" + (f" ({row['first']}–{row['last']})" if row["frames"] else "")
        rgb = tuple(float(v) for v in row["color"][:3])
        key = (row["id"], row["name"], span, presence, rgb, row["visible"], strip.tobytes())
        now.append(key)
        if n < len(shown) and shown[n] == key and table.item(n, 0) is not None:
            continue
        id_item = QTableWidgetItem(str(row["id"]))
        id_item.setFlags(id_item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        id_item.setCheckState(Qt.CheckState.Checked if row["visible"] else Qt.CheckState.Unchecked)
        id_item.setBackground(QColor.fromRgbF(*rgb))
        light = 0.3 * rgb[0] + 0.6 * rgb[1] + 0.1 * rgb[2] > 0.5
        id_item.setForeground(QColor("black" if light else "white"))
        for col, item in enumerate((id_item, QTableWidgetItem(row["name"]), QTableWidgetItem(span),
                                    QTableWidgetItem(presence))):
            table.setItem(n, col, item)
        label = table.cellWidget(n, 4)  # a new cell widget is laid out and painted in a second pass
        if isinstance(label, QLabel):
            _draw_strip(label, strip, row["color"])
        else:
            table.setCellWidget(n, 4, _draw_strip(QLabel(), strip, row["color"]))
    table._shown_rows = now
    table.blockSignals(False)


def _draw_strip(label: QLabel, presence: np.ndarray, color) -> QLabel:
    """Draw on ``label`` a small picture of an object's presence over frames: its colour where
    present, dark where absent, light grey where not computed yet; returns the label."""
    rgb = np.empty((len(presence), 3), np.uint8)
    rgb[:] = (220, 220, 220)
    done = ~np.isnan(presence)
    present = done & (np.nan_to_num(presence) > 0.5)
    rgb[done & ~present] = (40, 40, 40)
    rgb[present] = (np.asarray(color[:3]) * 255).astype(np.uint8)
    strip = np.ascontiguousarray(np.repeat(rgb[None], 10, axis=0))
    image = QImage(strip.data, strip.shape[1], strip.shape[0], 3 * strip.shape[1],
                   QImage.Format.Format_RGB888).copy()
    label.setPixmap(QPixmap.fromImage(image).scaled(STRIP_WIDTH, 10))
    label.setToolTip(f"present on {int(present.sum())} of {len(presence)} frames")
    return label
