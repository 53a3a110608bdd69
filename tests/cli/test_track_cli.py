"""``napari-sam2 track``: outputs with the lineage, seeds from labels, safety, restart, bad input."""


import numpy as np
import pytest
import tifffile

from conftest import without_read_as
from napari_sam2.cli import main
from napari_sam2.core.label_store import open_labels, read_label_metadata
from napari_sam2.core.lineage import Lineage
from napari_sam2.core.synthetic import synthetic_timelapse


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    folder = tmp_path_factory.mktemp("track")
    image, truth = synthetic_timelapse(5, (96, 96), n_cells=4, seed=3, divisions=False)
    tifffile.imwrite(folder / "movie.tif", image, imagej=True, metadata={"axes": "TYX"})
    tifffile.imwrite(folder / "seeds.tif", truth[0])
    return folder, truth


def track(*args):
    return main(["track", *map(str, args), "--model", "demo", "--device", "cpu"])


@pytest.fixture
def no_model(monkeypatch):
    """Bad input must be refused before the model loads."""
    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("napari_sam2.core.models.load_model", refuse)


def stored(out):
    meta = read_label_metadata(out)
    return meta, Lineage.from_dict(meta["lineage"])


def test_automatic_seeds_write_labels_and_the_lineage(movie, tmp_path, capsys):
    folder, _ = movie
    out = tmp_path / "tracks.zarr"
    assert track(folder / "movie.tif", "--out", out) == 0
    assert "tracks from" in capsys.readouterr().out
    labels = open_labels(out)[:]
    meta, lineage = stored(out)
    assert labels.shape == (5, 96, 96) and labels.any()
    assert set(np.unique(labels)[1:]) <= set(lineage.tracks)
    assert all(not t.reviewed for t in lineage.tracks.values())
    assert meta["axes"] == "tyx" and not (tmp_path / "tracks.zarr.sam2-run").exists()
    assert track(folder / "movie.tif", "--out", out) == 2
    assert "already exists" in capsys.readouterr().err
    assert track(folder / "movie.tif", "--out", out, "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_seeds_from_labels_keep_their_ids(movie, tmp_path):
    folder, truth = movie
    out = tmp_path / "seeded.zarr"
    assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif") == 0
    labels = open_labels(out)[:]
    _, lineage = stored(out)
    assert set(np.unique(labels[0])[1:]) == set(np.unique(truth[0])[1:])
    first = {t for t in lineage.tracks if lineage.tracks[t].start == 0}
    assert first == set(np.unique(truth[0])[1:].tolist())


def interrupt_after_frame(monkeypatch, frame):
    """Make ``TrackAll.run`` raise Ctrl+C after yielding ``frame``; returns the original ``run``."""
    from napari_sam2.core.track_all import TrackAll

    original = TrackAll.run

    def cut(self, *args, **kwargs):
        for step in original(self, *args, **kwargs):
            yield step
            if step.frame == frame:
                raise KeyboardInterrupt

    monkeypatch.setattr(TrackAll, "run", cut)
    return original


def test_an_unfinished_run_is_refused_then_restarted_by_resume(movie, tmp_path, monkeypatch, capsys):
    from napari_sam2.core.track_all import TrackAll

    folder, _ = movie
    out = tmp_path / "cut.zarr"
    original = interrupt_after_frame(monkeypatch, 2)
    assert track(folder / "movie.tif", "--out", out) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(TrackAll, "run", original)
    assert track(folder / "movie.tif", "--out", out) == 2
    assert "unfinished run" in capsys.readouterr().err
    assert track(folder / "movie.tif", "--out", out, "--resume") == 0
    _, lineage = stored(out)
    assert lineage.tracks and not (tmp_path / "cut.zarr.sam2-run").exists()


def test_windowed_tracking_follows_the_seeded_cells_like_whole_map_tracking(movie, tmp_path):
    folder, truth = movie
    labels = {}
    for name, window in (("full", "off"), ("window", "2,6")):
        out = tmp_path / f"{name}.zarr"
        assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif",
                     "--window", window) == 0
        labels[name] = open_labels(out)[:]
        meta, _ = stored(out)
    assert meta["parameters"]["window"] == [2, 6, 0.5]
    full, windowed = labels["full"], labels["window"]
    for cell in np.unique(truth[0])[1:]:
        iou = np.sum((full == cell) & (windowed == cell)) / np.sum((full == cell) | (windowed == cell))
        assert iou >= 0.9, (cell, iou)


def test_window_option_values():
    from napari_sam2.cli.track import parse_window
    from napari_sam2.core.errors import InputError
    from napari_sam2.core.window_geometry import WindowParams

    assert parse_window("on") is True and parse_window("off") is False
    assert parse_window("2,6") == WindowParams(margin=2, min_size=6)
    for bad in ("big", "2", "-1,6", "2,0"):
        with pytest.raises(InputError, match="--window"):
            parse_window(bad)


@pytest.mark.parametrize("args, message", [
    (["--seeds", "wrong.tif"], "has shape (50, 60), the frames are (96, 96)"),
    (["--seeds", "huge.tif"], "above 65535"),
    (["--seeds", "missing.tif"], "does not exist"),
    (["--geff", "g.txt"], "must end in .geff or .zarr"),
    (["--seed-frame", "9"], "frame 9 does not exist"),
    (["--window", "big"], "--window big: give on, off or MARGIN,MIN_SIZE"),
    (["--max-gap", "-1"], "--max-gap -1: give the number of frames a cell may be missing"),
    (["--max-gap", "two"], "--max-gap two: give the number of frames a cell may be missing"),
])
def test_bad_input_is_one_line_before_the_model(movie, tmp_path, no_model, capsys, args, message):
    folder, _ = movie
    tifffile.imwrite(tmp_path / "wrong.tif", np.ones((50, 60), np.uint16))
    tifffile.imwrite(tmp_path / "huge.tif", np.full((96, 96), 70000, np.uint32))
    args = [str(tmp_path / a) if a.endswith(".tif") or a == "res" else a for a in args]
    assert track(folder / "movie.tif", "--out", tmp_path / "o.zarr", *args) == 2
    err = without_read_as(capsys.readouterr().err)
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o.zarr").exists()


def test_labels_output_must_be_zarr(movie, tmp_path, no_model, capsys):
    folder, _ = movie
    assert track(folder / "movie.tif", "--out", tmp_path / "o.tif") == 2
    assert "name the output e.g. o.zarr" in capsys.readouterr().err


def test_no_cells_found_writes_nothing(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "blank.tif", np.full((3, 64, 64), 100, np.uint16))
    out = tmp_path / "none.zarr"
    assert track(tmp_path / "blank.tif", "--out", out) == 2
    assert "no cells found on frame 0" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "none.zarr.sam2-run").exists()


def test_exports_write_ctc_and_geff_that_read_back_as_the_stored_lineage(movie, tmp_path):
    from napari_sam2.core.track_exports import read_ctc_folder, read_geff

    folder, _ = movie
    out = tmp_path / "e.zarr"
    assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif",
                 "--ctc", tmp_path / "res", "--geff", tmp_path / "g.geff") == 0
    _, lineage = stored(out)
    ctc_labels, ctc_lineage = read_ctc_folder(tmp_path / "res")
    assert ctc_labels.shape == (5, 96, 96)
    assert sorted(ctc_lineage.tracks) == sorted(lineage.tracks)
    assert ctc_lineage.edges() == lineage.edges()
    geff_lineage, nodes = read_geff(tmp_path / "g.geff")
    assert sorted(geff_lineage.tracks) == sorted(lineage.tracks)


def test_max_gap_is_recorded_and_a_run_saved_without_it_still_resumes(movie, tmp_path, monkeypatch, capsys):
    import json

    from napari_sam2.core.track_all import TrackAll
    from napari_sam2.core.track_exports import write_ctc_ground_truth
    from napari_sam2.core.track_nodes import presence
    from napari_sam2.evaluation.ctc import score_ctc

    folder, truth = movie
    out = tmp_path / "gap.zarr"
    original = interrupt_after_frame(monkeypatch, 2)
    assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif") == 130
    monkeypatch.setattr(TrackAll, "run", original)
    journal = tmp_path / "gap.zarr.sam2-run" / "journal.json"
    data = json.loads(journal.read_text())
    assert data["params"]["max_gap"] == 2  # the default
    assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif", "--resume",
                 "--max-gap", "0") == 2
    assert "max_gap was 2, now 0" in capsys.readouterr().err
    del data["params"]["max_gap"]  # a run saved before gap closing existed
    journal.write_text(json.dumps(data))
    assert track(folder / "movie.tif", "--out", out, "--seeds", folder / "seeds.tif", "--resume",
                 "--max-gap", "3", "--ctc", tmp_path / "01_RES") == 0
    assert "gap(s) closed" in capsys.readouterr().out
    meta, lineage = stored(out)
    assert meta["parameters"]["max_gap"] == 3
    true_lineage = Lineage()
    for cell, frames in presence(truth).items():
        true_lineage.add(cell, frames[0], frames[-1])
    write_ctc_ground_truth(truth, true_lineage, tmp_path / "01_GT")
    assert score_ctc(tmp_path / "01_GT", tmp_path / "01_RES")["DET"] > 0.5  # a valid CTC folder


def test_volumes_over_time_are_refused_with_the_plane_option(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "v.tif", np.zeros((3, 4, 32, 32), np.uint16))
    assert track(tmp_path / "v.tif", "--axes", "TZYX", "--out", tmp_path / "v.zarr") == 2
    err = capsys.readouterr().err
    assert "read as T=3 Z=4 Y=32 X=32" in err and "--planes N" in err
    assert not (tmp_path / "v.zarr").exists()
