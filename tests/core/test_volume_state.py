"""What a 3D+t run keeps while it walks a long series: bounded, whatever the number of time points.

The RSS probe in ``docs/volumes.md`` found the process flat once the shared
feature cache is full. These tests pin down the reasons with the real model
classes: the cache never holds more than its budget, and no 2D session
outlives its sweep (only the time-track sessions, one per object, stay).
"""

from __future__ import annotations

import gc

import numpy as np

from napari_sam2.core.feature_cache import FeatureCache
from napari_sam2.core.frames import FrameSource
from napari_sam2.core.session import Session
from napari_sam2.core.synthetic_volumes import synthetic_volumes
from napari_sam2.core.tracker import TransformersTracker
from napari_sam2.core.volumes import TrackStep, VolumeResult, VolumeSession


def live_sessions() -> int:
    gc.collect()
    return sum(type(o) is Session for o in gc.get_objects())


def one_frame_bytes(tiny_model, image) -> int:
    cache = FeatureCache()
    session = Session(FrameSource(image[0]), TransformersTracker(tiny_model, feature_cache=cache))
    session.add_points(1, 0, [[10, 10]])
    return cache._bytes


def test_feature_cache_and_sessions_stay_bounded_over_a_long_series(tiny_model):
    image, truth = synthetic_volumes(n_times=10, n_planes=4, shape=(40, 40), n_nuclei=2, leaving=0,
                                     seed=2)
    budget = 3 * one_frame_bytes(tiny_model, image)
    assert budget > 0
    cache = FeatureCache(max_bytes=budget)
    before = live_sessions()
    session = VolumeSession(image, 0, 1, lambda: TransformersTracker(tiny_model, feature_cache=cache))
    for obj_id in (1, 2):
        z, rows, cols = np.nonzero(truth[0] == obj_id)
        k = len(z) // 2
        session.add_points(obj_id, time=0, plane=int(z[k]), points=[[int(rows[k]), int(cols[k])]])
    frames_seen = cache.misses
    volumes, peak_sessions, peak_bytes = [], 0, 0
    for event in session.propagate():
        assert isinstance(event, TrackStep | VolumeResult)
        peak_bytes = max(peak_bytes, cache._bytes)
        if isinstance(event, VolumeResult):
            volumes.append(event.time)
            peak_sessions = max(peak_sessions, live_sessions() - before)
    assert sorted(volumes) == list(range(1, 10))
    assert cache.misses - frames_seen > 3 * 4  # far more planes encoded than the cache can hold ...
    assert 0 < peak_bytes <= budget  # ... and it never held more than its budget
    assert len(cache._memory) <= 3
    # between volumes only the two objects' time-track sessions are alive: every sweep's session is gone
    assert peak_sessions == 2
    assert live_sessions() - before == 2
