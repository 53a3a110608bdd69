"""Tracks, divisions and review flags of a track-all run: lineage as data.

A *track* is one label id over a contiguous run of frames (Cell Tracking
Challenge convention): when a cell divides, its track ends and two daughter
tracks with new ids start on the next frame, each naming the mother as its
``parent``. :class:`Lineage` holds the tracks and the review flags; it reads
and writes the CTC ``res_track.txt`` text (``L B E P`` per line) and a plain
JSON-able dict (kept in a label store's attributes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError

__all__ = ["Track", "Flag", "Lineage", "FLAG_KINDS"]

#: what a review flag can say about a track, most severe first
FLAG_KINDS = ("jump", "overlap", "presence_drop", "iou_drop", "area_jump",
              "ends_inside", "gap", "short", "division")


@dataclass
class Flag:
    """Something a person should look at: ``kind`` (one of :data:`FLAG_KINDS`) on ``frame``.

    ``severity`` is in 0..1 (1 most severe); ``message`` says what was seen in
    a biologist's words (``"area doubled from frame 11 to 12"``).
    """

    track_id: int
    frame: int
    kind: str
    severity: float
    message: str

    def __post_init__(self):
        if self.kind not in FLAG_KINDS:
            raise ValueError(f"unknown flag kind {self.kind!r}; one of {FLAG_KINDS}")


@dataclass
class Track:
    """One label id from frame ``start`` to frame ``end`` (inclusive); ``parent`` 0 means none."""

    track_id: int
    start: int
    end: int
    parent: int = 0
    reviewed: bool = False


@dataclass
class Lineage:
    """All tracks of a label stack, their parent links and review flags.

    Examples
    --------
    >>> lineage = Lineage()
    >>> _ = lineage.add(1, start=0)
    >>> lineage.extend(1, 4)
    >>> lineage.divide(1, frame=5, daughters=(2, 3))
    >>> lineage.to_ctc_text()
    '1 0 4 0\\n2 5 5 1\\n3 5 5 1\\n'
    """

    tracks: dict[int, Track] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    # ---------------------------------------------------------------- building
    def add(self, track_id: int, start: int, end: int | None = None, parent: int = 0) -> Track:
        """Start a track (an id already used is an error: ids are never reused)."""
        track_id = int(track_id)
        if track_id in self.tracks:
            raise ValueError(f"track {track_id} already exists")
        if parent and parent not in self.tracks:
            raise ValueError(f"parent track {parent} of track {track_id} does not exist")
        track = Track(track_id, int(start), int(start if end is None else end), int(parent))
        self.tracks[track_id] = track
        return track

    def extend(self, track_id: int, frame: int) -> None:
        """Make track ``track_id`` cover ``frame`` (either direction)."""
        track = self.tracks[int(track_id)]
        track.start, track.end = min(track.start, int(frame)), max(track.end, int(frame))

    def divide(self, parent: int, frame: int, daughters) -> None:
        """End ``parent`` before ``frame`` and start the ``daughters`` on ``frame``."""
        mother = self.tracks[int(parent)]
        if frame <= mother.start:
            raise ValueError(f"track {parent} starts on frame {mother.start}: it cannot divide on {frame}")
        mother.end = min(mother.end, int(frame) - 1)
        for daughter in daughters:
            self.add(daughter, frame, parent=parent)

    def add_mother(self, mother: int, frame: int, daughters) -> Track:
        """A division found backward: ``mother`` ends on ``frame - 1``, ``daughters`` begin on ``frame``.

        The daughters exist (tracked backward down to ``frame``) and have no parent yet;
        the mother is a new track of one frame (it is extended as it is tracked backward).
        """
        if frame < 1:
            raise ValueError(f"daughters beginning on frame {frame} have no frame for a mother")
        for daughter in daughters:
            track = self.tracks[int(daughter)]
            if track.parent:
                raise ValueError(f"track {daughter} already has parent {track.parent}")
            if track.end < frame:
                raise ValueError(f"track {daughter} ends on frame {track.end}, before {frame}")
        added = self.add(mother, frame - 1)
        for daughter in daughters:
            track = self.tracks[int(daughter)]
            track.start, track.parent = max(track.start, int(frame)), added.track_id
        return added

    def flag(self, track_id: int, frame: int, kind: str, severity: float, message: str) -> Flag:
        """Record a review flag."""
        flag = Flag(int(track_id), int(frame), kind, float(severity), message)
        self.flags.append(flag)
        return flag

    def remove(self, track_id: int) -> None:
        """Drop a track, its flags, and the parent link of its daughters."""
        self.tracks.pop(int(track_id), None)
        self.flags = [f for f in self.flags if f.track_id != track_id]
        for track in self.tracks.values():
            if track.parent == track_id:
                track.parent = 0

    # ---------------------------------------------------------------- reading
    def daughters(self, track_id: int) -> list[int]:
        """Ids of the tracks whose parent is ``track_id``."""
        return sorted(t.track_id for t in self.tracks.values() if t.parent == track_id)

    def edges(self) -> list[tuple[int, int]]:
        """``(parent, daughter)`` pairs."""
        return sorted((t.parent, t.track_id) for t in self.tracks.values() if t.parent)

    def reviewed_ids(self) -> list[int]:
        """Ids of the tracks a person marked reviewed, ascending."""
        return sorted(i for i, t in self.tracks.items() if t.reviewed)

    def review_list(self) -> list[Flag]:
        """Flags, most severe first (then by frame and track)."""
        return sorted(self.flags, key=lambda f: (-f.severity, f.frame, f.track_id))

    # ---------------------------------------------------------------- files
    def to_ctc_text(self) -> str:
        """The CTC ``res_track.txt`` text: ``L B E P`` per track, sorted by id."""
        return "".join(f"{t.track_id} {t.start} {t.end} {t.parent}\n"
                       for t in sorted(self.tracks.values(), key=lambda t: t.track_id))

    @classmethod
    def from_ctc_text(cls, text: str, source: str = "res_track.txt") -> Lineage:
        """Read ``L B E P`` lines; a malformed line is a one-line error naming it."""
        lineage = cls()
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                label, begin, end, parent = (int(p) for p in parts)
            except ValueError:
                raise InputError(f"{source} line {number}: expected four integers 'L B E P', "
                                 f"got {line.strip()!r}") from None
            if label < 1 or begin < 0 or end < begin or parent < 0:
                raise InputError(f"{source} line {number}: {line.strip()!r} is not a valid track "
                                 "(label >= 1, 0 <= begin <= end, parent >= 0)")
            rows.append((label, begin, end, parent))
        for label, begin, end, _ in rows:
            lineage.tracks[label] = Track(label, begin, end)
        for label, _, _, parent in rows:
            if parent and parent not in lineage.tracks:
                raise InputError(f"{source}: track {label} names parent {parent}, which is not listed")
            lineage.tracks[label].parent = parent
        return lineage

    def write_ctc(self, path) -> None:
        """Write ``res_track.txt`` (or any path) with :meth:`to_ctc_text`."""
        Path(path).write_text(self.to_ctc_text())

    def to_dict(self) -> dict:
        """A JSON-able dict (tracks and flags)."""
        return {"tracks": [asdict(t) for t in sorted(self.tracks.values(), key=lambda t: t.track_id)],
                "flags": [asdict(f) for f in self.flags]}

    @classmethod
    def from_dict(cls, data: dict) -> Lineage:
        """The inverse of :meth:`to_dict`."""
        lineage = cls()
        for row in data.get("tracks", []):
            track = Track(**row)
            lineage.tracks[track.track_id] = track
        lineage.flags = [Flag(**row) for row in data.get("flags", [])]
        return lineage
