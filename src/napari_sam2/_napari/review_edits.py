"""The lineage follows Ctrl+Z: review edits that change the labels, undone and redone with them.

Deleting a track, a division marked by hand (when it gives a daughter a new
id) and a track fixed by re-tracking each change the Labels layer in one undo
step *and* the lineage. napari's Ctrl+Z / Ctrl+Shift+Z only put the labels
back; :class:`ReviewEdits` remembers, per edit, a few pixels of its undo step
(:class:`~.history.UndoSample`) and the lineage records it changed (the
tracks whose start, end, parent or review state changed, and their flags), so
that :meth:`ReviewEdits.sync` can put those records back as well: the lineage
saved with the labels then always describes the labels. Edits that change
no pixel (accepting a track) are not undone by Ctrl+Z, and are kept.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace

from ..core.lineage import Flag, Lineage, Track
from .history import UndoSample

__all__ = ["ReviewEdits"]

#: one track's lineage records: the track (None: no such track) and its flags
Records = dict[int, tuple[Track | None, list[Flag]]]


def _records(lineage: Lineage, track_ids) -> Records:
    return {tid: (replace(lineage.tracks[tid]) if tid in lineage.tracks else None,
                  [f for f in lineage.flags if f.track_id == tid]) for tid in track_ids}


def _put(lineage: Lineage, records: Records) -> None:
    """Make the lineage hold ``records`` for their tracks (in place: the layer's metadata shares it)."""
    for tid, (track, _) in records.items():
        if track is None:
            lineage.tracks.pop(tid, None)
        else:
            lineage.tracks[tid] = replace(track)
    flags = [f for f in lineage.flags if f.track_id not in records]
    lineage.flags[:] = flags + [f for _, kept in records.values() for f in kept]


@dataclass
class _Edit:
    what: str
    sample: UndoSample
    before: Records
    after: Records
    applied: bool = True


class ReviewEdits:
    """The label-changing edits of one review, to keep its lineage in step with the layer's undo.

    Parameters
    ----------
    layer : napari.layers.Labels
    lineage : Lineage
        Changed in place by :meth:`sync`.
    """

    def __init__(self, layer, lineage: Lineage):
        self.layer, self.lineage = layer, lineage
        self.edits: list[_Edit] = []

    @contextmanager
    def record(self, what: str):
        """Run an edit that writes one undo step of the layer and changes the lineage.

        ``what`` names it in :meth:`sync`'s messages (``"delete of track 4"``).
        """
        lineage = self.lineage
        old_tracks = {tid: replace(t) for tid, t in lineage.tracks.items()}
        old_flags = list(lineage.flags)
        items = []
        self.layer.events.paint.connect(items.append)
        try:
            yield
        finally:
            self.layer.events.paint.disconnect(items.append)
        sample = UndoSample.from_item(items[-1].value) if items else None
        changed = {tid for tid in set(old_tracks) | set(lineage.tracks)
                   if old_tracks.get(tid) != lineage.tracks.get(tid)}
        changed |= {key[0] for key in set(map(astuple, old_flags)) ^ set(map(astuple, lineage.flags))}
        if sample is None or not changed:
            return
        before = {tid: (old_tracks.get(tid), [f for f in old_flags if f.track_id == tid]) for tid in changed}
        self.edits.append(_Edit(what, sample, before, _records(lineage, changed)))

    def sync(self) -> list[str]:
        """Put back the lineage records of the edits Ctrl+Z undid (and of those redone); returns what changed.

        Newest edits are undone first and redone last, as napari replays its history.
        """
        said = []
        for edit in reversed(self.edits):
            if edit.applied and edit.sample.state(self.layer) == "undone":
                _put(self.lineage, edit.before)
                edit.applied = False
                said.append(f"undone: {edit.what}")
        for edit in self.edits:
            if not edit.applied and edit.sample.state(self.layer) == "done":
                _put(self.lineage, edit.after)
                edit.applied = True
                said.append(f"redone: {edit.what}")
        return said

