"""napari layers <-> core objects (no Qt widgets here)."""
