"""napari layers <-> core objects, without Qt.

Prompts from Points/Shapes layers, labels into a Labels layer, the object list, sample data,
a Tracks layer (with divisions) from labels and their lineage.
"""
