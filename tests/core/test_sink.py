import numpy as np
import pytest
import tifffile

from doubles import DiskTracker
from napari_sam2.core.frames import FrameSource, InputError
from napari_sam2.core.label_store import open_labels
from napari_sam2.core.session import Session
from napari_sam2.core.sink import open_label_sink


@pytest.mark.parametrize("name", ["labels.zarr", "labels.tif"])
def test_frames_written_before_a_cancel_or_crash_are_on_disk(tmp_path, name):
    path = tmp_path / name
    data = np.random.default_rng(0).integers(0, 500, (8, 40, 50), dtype=np.uint16)
    tracker = DiskTracker()
    session = Session(FrameSource(data), tracker, open_label_sink(path, 8, (40, 50)))
    session.add_points(5, 0, [[20, 25]])
    run = session.propagate()
    next(run), next(run)
    run.close()  # cancel after frames 1 and 2

    def crash(*args):
        raise RuntimeError("out of memory")

    tracker.step = crash
    with pytest.raises(RuntimeError):
        list(session.propagate())
    on_disk = open_labels(path)[:] if name.endswith("zarr") else tifffile.imread(path)
    assert on_disk.shape == (8, 40, 50) and on_disk.dtype == np.uint16
    assert [bool((on_disk[f] == 5).any()) for f in range(8)] == [True] * 3 + [False] * 5


def test_zarr_sink_is_chunked_per_frame(tmp_path):
    sink = open_label_sink(tmp_path / "a.zarr", 5, (30, 20))
    assert sink.array.chunks == (1, 30, 20)


def test_existing_output_is_never_clobbered(tmp_path):
    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, np.ones((2, 4, 4), np.uint16))
    with pytest.raises(InputError, match="already exists; choose another name or pass overwrite=True"):
        open_label_sink(path, 2, (4, 4))
    assert tifffile.imread(path).sum() == 32
    assert not open_label_sink(path, 2, (4, 4), overwrite=True).array.any()


def test_bad_output_names(tmp_path):
    with pytest.raises(InputError, match=r"must end in .zarr, .tif or .tiff"):
        open_label_sink(tmp_path / "labels.png", 2, (4, 4))
    with pytest.raises(InputError, match="does not exist"):
        open_label_sink(tmp_path / "missing" / "labels.zarr", 2, (4, 4))
