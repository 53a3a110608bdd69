"""_napari/history.py: a propagation undone in a real Labels layer (numpy or zarr) marks its frames
not done."""

import numpy as np
import pytest
import zarr
from napari.layers import Labels

from doubles import DiskTracker
from napari_sam2._napari.history import PropagationRun
from napari_sam2._napari.layers import LayerSink, StackAxes
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.session import Session

SHAPE = (8, 40, 50)


@pytest.mark.parametrize("backend", ["numpy", "zarr"])
def test_an_undone_run_marks_exactly_its_frames_not_done(backend, tmp_path):
    data = np.zeros(SHAPE, np.uint16) if backend == "numpy" else zarr.open_array(
        str(tmp_path / "l.zarr"), mode="w", shape=SHAPE, chunks=(1, 40, 50), dtype=np.uint16)
    layer = Labels(data)
    sink = LayerSink(layer, StackAxes(0, (1, 2)), *SHAPE[:1], SHAPE[1:])
    tracker = DiskTracker()
    image = np.random.default_rng(0).integers(0, 100, SHAPE, dtype=np.uint16)
    session = Session(FrameSource(image), tracker, sink)
    sink.apply(2, session.add_points(1, 2, [[20, 25]]).labels)

    run = PropagationRun.start(session)
    items = []
    layer.events.paint.connect(items.append)
    with layer.block_history():
        for result in session.propagate("forward"):
            run.add(result)
            sink.apply(result.frame, result.labels)
    run.committed(items[-1].value)
    assert session.objects[1].forward_done == 7 and not run.undone(layer)

    layer.undo()
    assert run.undone(layer)
    assert run.mark_not_done(session) == 5  # frames 3..7
    obj = session.objects[1]
    assert (obj.backward_done, obj.forward_done) == (2, 2) and sorted(obj.presence) == [2]
    assert tracker.forgotten[-1] == (1, [3, 4, 5, 6, 7])
    assert [r.frame for r in session.propagate("forward")] == [3, 4, 5, 6, 7]


def test_a_run_that_changed_nothing_is_never_seen_as_undone():
    run = PropagationRun({})
    run.committed(None)
    assert not run.undone(Labels(np.zeros((2, 4, 4), np.uint16)))
