"""The "Device" and "Precision" choices, shared by the main widget and the batch dock."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox

from ..core.models import PRECISIONS

DEVICES = ("auto", "cpu", "cuda", "mps")


def device_combo() -> QComboBox:
    """A combo box of the devices a model may run on, set to ``auto``."""
    combo = QComboBox()
    combo.addItems(DEVICES)
    combo.setToolTip("auto: the GPU when there is one (CUDA, Apple MPS), else the CPU")
    return combo


def precision_combo() -> QComboBox:
    """A combo box of :data:`~napari_sam2.core.models.PRECISIONS`, set to ``auto``."""
    combo = QComboBox()
    combo.addItems(PRECISIONS)
    combo.setToolTip("auto: bf16 where the hardware computes it (CUDA, recent x86 CPUs), else "
                     "fp32; fp32 / bf16 force one")
    return combo
