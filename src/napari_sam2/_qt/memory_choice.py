"""The widget's "Memory" choice: the memory policies with what each does, in a biologist's words."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox

from ..core.memory_policies import DEFAULT_MEMORY, MEMORY_POLICIES

#: what each policy does, for the tooltip of its entry
MEMORY_HELP = {
    "sam2": "SAM2's own behaviour: every frame's mask is remembered as it is, so a mask that "
            "slid onto a touching cell follows that cell from then on",
    "exclusive": "cells never share pixels in the model's memory: a pixel two cells claim is "
                 "remembered only for the more certain one",
    "cells": "for touching cells: of the model's candidate masks, keep the one that stays on the "
             "cell it had on the frame before instead of spreading onto a neighbour",
    "cells-claims": "as cells, and a pixel two cells claim goes to the cell that held it before; "
                    "a frame where a mask jumped or suddenly grew is not remembered",
    "motion": "follows each cell's movement (a motion model): of the model's candidate masks, "
              "prefer the one where the cell was expected to move, and remember only frames whose "
              "mask is confident and where the cell was expected",
    "motion-cells": "as motion, and the mask stays on the cell it had on the frame before; a pixel "
                    "two cells claim is remembered only for the more certain one",
    "dam": "as sam2, and also remembers a few frames where a neighbour almost took the cell while "
           "it was tracked well, so the model keeps seeing how the two differ",
}


def memory_combo() -> QComboBox:
    """A combo box of :data:`MEMORY_POLICIES` with a tooltip per entry, set to the default."""
    combo = QComboBox()
    for name in MEMORY_POLICIES:
        combo.addItem(name)
        combo.setItemData(combo.count() - 1, MEMORY_HELP.get(name, name), Qt.ItemDataRole.ToolTipRole)
    combo.setCurrentText(DEFAULT_MEMORY)
    combo.setToolTip("which masks the model remembers while tracking: matters when cells touch "
                     "or cross (hover an entry for what it does)")
    return combo
