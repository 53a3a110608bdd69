"""napari layers <-> core objects, without Qt.

Prompts from Points/Shapes layers, labels into a Labels layer, the object list, sample data.
"""
