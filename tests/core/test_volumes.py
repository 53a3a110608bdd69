"""VolumeSession with test doubles: the walk over t and z, corrections, parallel sweeps."""

import numpy as np
import pytest

from doubles import DiskTracker
from napari_sam2.core.errors import InputError
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.core.tracker import TrackOutput
from napari_sam2.core.volumes import TrackStep, VolumeResult, VolumeSession


class BrightTracker(DiskTracker):
    """Paints the bright pixels of the frame it reads: a mask's size follows the image."""

    def step(self, frame, steps, reverse):
        super().step(frame, steps, reverse)
        image = self.source.frame(frame)[..., 0]
        low = self.image_size // 4
        rows = np.linspace(0, image.shape[0] - 1, low).round().astype(int)
        cols = np.linspace(0, image.shape[1] - 1, low).round().astype(int)
        bright = image[np.ix_(rows, cols)] > 0.45
        logits = np.where(bright, 10.0, -10.0).astype(np.float32)
        return TrackOutput(np.repeat(logits[None], len(steps), 0), np.full(len(steps), 5.0, np.float32))


def counting(factory):
    made = []

    def make():
        made.append(factory())
        return made[-1]

    return make, made


@pytest.fixture
def series():
    return synthetic_volumes(n_times=5, n_planes=6, shape=(48, 48), n_nuclei=2, leaving=0, seed=3)


def test_prompt_answers_with_the_whole_volume_and_propagation_covers_every_time_point(series):
    image, _ = series
    make, made = counting(lambda: DiskTracker(image_size=64, radius=8, drift=0))
    session = VolumeSession(image, 0, 1, make)
    result = session.add_points(7, time=2, plane=3, points=[[20, 20]])
    assert isinstance(result, VolumeResult) and result.time == 2 and result.object_ids == (7,)
    assert all((result.labels[z] == 7).any() for z in range(6))  # swept both ways through z
    events = list(session.propagate())
    tracks = [e.time for e in events if isinstance(e, TrackStep)]
    volumes = [e.time for e in events if isinstance(e, VolumeResult)]
    assert tracks == [3, 4, 1, 0]  # forward from the prompt, then backward
    assert sorted(volumes) == [0, 1, 3, 4]  # volume 2 was swept when prompted
    assert set(np.unique(session.labels)) == {0, 7}
    assert (session.labels == 7).any(axis=(1, 2, 3)).all()


def test_track_follows_the_plane_where_the_object_is_largest():
    image, truth = synthetic_volumes(n_times=6, n_planes=12, shape=(48, 48), n_nuclei=1, leaving=0,
                                     z_speed=0.0, seed=5)
    # a nucleus that climbs one plane per time point, from plane 3
    first = int((truth[0] == 1).sum(axis=(1, 2)).argmax())
    image0, truth0 = image[0].copy(), truth[0].copy()
    for t in range(6):
        image[t], truth[t] = np.roll(image0, 3 + t - first, axis=0), np.roll(truth0, 3 + t - first, axis=0)
    z0 = 3
    rows, cols = np.nonzero(truth[0, z0])
    # the plane of t + 1 is where the object was largest at t: one plane behind a climbing object
    for follow, expected in (("largest", [3, 3, 4, 5, 6, 7]), ("fixed", [3] * 6)):
        session = VolumeSession(image, 0, 1, lambda: BrightTracker(image_size=64), follow=follow)
        session.add_points(1, 0, z0, [[rows.mean(), cols.mean()]])
        list(session.propagate("forward"))
        assert [session.objects[1].planes[t] for t in range(6)] == expected


def test_a_z_prompt_redoes_its_volume_only_and_a_track_prompt_the_track_after_it(series):
    image, _ = series
    session = VolumeSession(image, 0, 1, lambda: DiskTracker(image_size=64, radius=6, drift=0))
    session.add_points(1, 0, 2, [[10, 10]])
    list(session.propagate())
    assert session.done == {0, 1, 2, 3, 4}
    before = np.array(session.labels)

    result = session.add_points(1, 3, 5, [[40, 40]])  # another plane of a tracked time point: z prompt
    assert result.time == 3 and session.done == {0, 1, 2, 3, 4}
    assert list(session.propagate()) == []  # nothing else to redo
    changed = [t for t in range(5) if (before[t] != session.labels[t]).any()]
    assert changed == [3]

    assert session.objects[1].planes[2] == 2
    session.add_points(1, 2, 2, [[30, 30]])  # on the track's plane at t=2: the time-track prompt there
    assert session.objects[1].track_plane[2] == 2 and session.done == {0, 1, 2}
    events = list(session.propagate())
    assert [e.time for e in events if isinstance(e, TrackStep)] == [3, 4]
    assert sorted(e.time for e in events if isinstance(e, VolumeResult)) == [3, 4]


def test_parallel_and_distributed_sweeps_give_the_same_labels(series):
    from dask.distributed import Client, LocalCluster

    image, _ = series

    def run(**kwargs):
        session = VolumeSession(image, 0, 1, lambda: DiskTracker(image_size=64, radius=6, drift=1))
        session.add_points(1, 1, 2, [[12, 12]])
        session.add_box(2, 1, 4, [25, 25, 40, 40])
        list(session.propagate(**kwargs))
        return np.array(session.labels)

    one = run(workers=1)
    assert set(np.unique(one)) == {0, 1, 2}
    np.testing.assert_array_equal(run(workers=2), one)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, \
            Client(cluster) as client:
        np.testing.assert_array_equal(run(client=client), one)


def test_absent_objects_leave_their_volumes_empty_and_axes_are_checked(series):
    image, _ = series
    session = VolumeSession(np.moveaxis(image, 0, 1), 1, 0,  # stored as ZTYX
                            lambda: DiskTracker(image_size=64, radius=6, drift=0, absent={1: {3, 4}}))
    session.add_points(1, 0, 2, [[10, 10]])
    list(session.propagate("forward"))
    present = (session.labels == 1).any(axis=(1, 2, 3))
    assert present.tolist() == [True, True, True, False, False]
    assert session.track_mask(1, 3) is None
    with pytest.raises(InputError, match="must differ"):
        VolumeSession(image, 0, 0, DiskTracker)
    with pytest.raises(InputError, match="4D"):
        VolumeSession(image[0], 0, 1, DiskTracker)
    with pytest.raises(InputError, match="plane 9 does not exist|frame 9 does not exist"):
        session.add_points(1, 0, 9, [[10, 10]])


def test_closing_the_generator_keeps_a_consistent_state(series):
    image, _ = series
    session = VolumeSession(image, 0, 1, lambda: DiskTracker(image_size=64, radius=6, drift=0))
    session.add_points(1, 0, 2, [[10, 10]])
    steps = session.propagate("forward")
    next(steps), next(steps)
    steps.close()
    rest = list(session.propagate("forward"))
    assert [e.time for e in rest if isinstance(e, TrackStep)] == [3, 4]
    assert sorted(e.time for e in rest if isinstance(e, VolumeResult)) == [1, 2, 3, 4]
    state = session.track_state()
    again = VolumeSession(image, 0, 1, lambda: DiskTracker(image_size=64, radius=6, drift=0))
    again.add_points(1, 0, 2, [[10, 10]])
    again.restore_track(state)
    events = list(again.propagate("forward"))
    assert not any(isinstance(e, TrackStep) for e in events)
    np.testing.assert_array_equal(again.labels, session.labels)


def test_the_time_track_reads_the_plane_chosen_for_each_time_point_and_nothing_ahead(series):
    from napari_sam2.core.frames import Normalization
    from napari_sam2.core.geometry import FrameGeometry
    from napari_sam2.core.model_frames import ModelFrames
    from napari_sam2.core.volume_views import PlaneSource, SeriesLimits, TrackPlanes

    image, _ = series
    planes = {}
    view = TrackPlanes(image, 0, 1, planes, 2)
    source = PlaneSource(view, 0, None, (0,), SeriesLimits(image, 0, 1, None, (0,), Normalization()))
    frames = ModelFrames(source, FrameGeometry(source.frame_shape, 32), (0.5,) * 3, (0.25,) * 3)
    np.testing.assert_array_equal(source.raw(1)[..., 0], image[1, 2])
    frames[1]
    before = frames[2]
    assert frames._ahead == {}  # no read-ahead: the plane of t=3 is not chosen yet
    planes[2] = 5
    again = frames[2]  # the same time point, now on plane 5: read again, not the remembered tensor
    np.testing.assert_array_equal(source.raw(2)[..., 0], image[2, 5])
    assert not np.array_equal(np.asarray(again), np.asarray(before))


def test_a_channel_axis_is_read_per_plane(series):
    image, _ = series
    stacked = np.stack([np.zeros_like(image), image], axis=1)  # TCZYX, the nuclei in channel 1
    session = VolumeSession(stacked, 0, 2, lambda: BrightTracker(image_size=64), channel_axis=1,
                            channels=(1,))
    assert (session.n_times, session.n_planes, session.plane_shape) == (5, 6, (48, 48))
    plain = VolumeSession(image, 0, 1, lambda: BrightTracker(image_size=64))
    for s in (session, plain):
        s.add_points(1, 0, 3, [[24, 24]])
        list(s.propagate("forward"))
    np.testing.assert_array_equal(session.labels, plain.labels)
    assert (session.labels == 1).any()
