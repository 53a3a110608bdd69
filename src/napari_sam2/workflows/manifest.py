"""A batch's stacks: the manifest (a CSV or a glob), every row checked before any work.

A manifest CSV has a header naming its columns: ``image`` (required),
``prompts`` (empty: automatic seeds, see :func:`~.batch.run_batch`), and the
optional ``axes`` (the image's axis letters, e.g. ``TYX``, overriding the
file's) and ``channels`` (``0``, or ``0;1;2`` / ``0 1 2`` as RGB). Relative
paths are relative to the manifest's folder. A glob (``"stacks/*.tif"``)
lists the stacks instead; each takes its prompts from ``<stem>.json`` or
``<stem>.prompts.json`` beside it when there is one.

Every stack gets one output, ``OUT_DIR/<image stem>.zarr``; what to do with
it (write, skip, resume, replace) is decided here too, from the output itself:
finished outputs carry napari-sam2's metadata and no run folder; unfinished
ones have a run journal (:mod:`~napari_sam2.core.checkpoint`).
"""

from __future__ import annotations

import csv
import glob
from dataclasses import dataclass
from pathlib import Path

from ..core.axes import check_letters
from ..core.errors import InputError

__all__ = ["StackJob", "read_manifest", "plan_outputs", "output_state", "COLUMNS"]

#: the columns a manifest may have (``image`` is required)
COLUMNS = ("image", "prompts", "axes", "channels")
#: what a stack's output is before a batch: see :func:`output_state`
STATES = ("new", "finished", "unfinished", "foreign")


@dataclass
class StackJob:
    """One stack of a batch, checked.

    Attributes
    ----------
    row : int
        Its row in the manifest (1 = the first row after the header), or its
        rank in a glob's sorted matches.
    image : Path
    prompts : Path or None
        None: automatic seeds (``track``).
    axes : str or None
        Axis letters of the image (the manifest's, else the file's).
    channels : tuple of int or None
    out : Path
        ``OUT_DIR/<image stem>.zarr``.
    state : str
        The output's state before the batch (:data:`STATES`); ``"finished"``
        stacks are skipped by a ``resume``.
    """

    row: int
    image: Path
    prompts: Path | None
    axes: str | None
    channels: tuple[int, ...] | None
    out: Path
    state: str = "new"

    @property
    def name(self) -> str:
        return self.out.name


def read_manifest(manifest: str | Path, out_dir: str | Path) -> list[StackJob]:
    """Read and check a manifest CSV or a glob of stacks; nothing is written.

    Parameters
    ----------
    manifest : str or Path
        A ``.csv`` file with a header, or a glob pattern of images.
    out_dir : str or Path
        Where the outputs go.

    Returns
    -------
    list of StackJob
        In manifest order, with ``state`` still ``"new"`` (see :func:`plan_outputs`).
    """
    out_dir = Path(out_dir)
    text = str(manifest)
    if text.lower().endswith(".csv"):
        path = Path(manifest)
        if not path.is_file():
            raise InputError(f"manifest {path} does not exist")
        jobs = _read_csv(path, out_dir)
    else:
        jobs = _read_glob(text, out_dir)
    seen: dict[str, StackJob] = {}
    for job in jobs:
        other = seen.get(job.name.lower())
        if other is not None:
            raise InputError(f"manifest row {job.row} ({job.image}): its output {job.name} is also "
                             f"row {other.row}'s ({other.image}); rename one of the images or run "
                             "them in two batches")
        seen[job.name.lower()] = job
    for job in jobs:
        check_stack(job)
    return jobs


def _read_csv(path: Path, out_dir: Path) -> list[StackJob]:
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "image" not in header:
            raise InputError(f"manifest {path} needs a header row with an 'image' column (and "
                             f"optionally {', '.join(COLUMNS[1:])}); its first row is {header}")
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise InputError(f"manifest {path}: unknown column(s) {', '.join(unknown)}; the columns "
                             f"are {', '.join(COLUMNS)}")
        reader.fieldnames = header
        jobs = []
        for row, record in enumerate(reader, start=1):
            if None in record:
                raise InputError(f"manifest row {row}: more values than columns (a comma in a "
                                 "value? quote it, or write channels as 0;1;2)")
            values = {k: (v or "").strip() for k, v in record.items()}
            if not any(values.values()):
                continue  # a blank line
            jobs.append(_job(row, values, path.parent, out_dir))
    if not jobs:
        raise InputError(f"manifest {path} lists no stacks")
    return jobs


def _read_glob(pattern: str, out_dir: Path) -> list[StackJob]:
    matches = sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))
    images = [Path(m) for m in matches if not _is_prompts(Path(m))]
    if not images:
        raise InputError(f"{pattern!r} is neither a manifest .csv nor a glob matching any image")
    jobs = []
    for row, image in enumerate(images, start=1):
        prompts = next((p for p in (image.with_name(f"{_stem(image)}.json"),
                                    image.with_name(f"{_stem(image)}.prompts.json")) if p.is_file()),
                       None)
        jobs.append(StackJob(row, image, prompts, None, None, out_dir / f"{_stem(image)}.zarr"))
    return jobs


def _is_prompts(path: Path) -> bool:
    return path.suffix.lower() in (".json", ".csv")


def _stem(image: Path) -> str:
    """``a.ome.tif`` -> ``a``; ``b.zarr`` -> ``b``."""
    name = image.name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return image.stem


def _job(row: int, values: dict, base: Path, out_dir: Path) -> StackJob:
    where = f"manifest row {row}"
    if not values.get("image"):
        raise InputError(f"{where}: the image column is empty")
    image = _resolve(values["image"], base)
    prompts = _resolve(values["prompts"], base) if values.get("prompts") else None
    axes = values.get("axes") or None
    if axes is not None:  # the letters now; their count once the image is opened (check_stack)
        axes = check_letters(axes, None, what=f"{where} ({image.name}): axes")
    channels = None
    if values.get("channels"):
        parts = values["channels"].replace(";", " ").replace(",", " ").split()
        try:
            channels = tuple(int(p) for p in parts)
        except ValueError:
            raise InputError(f"{where} ({image.name}): channels {values['channels']!r} must be "
                             "integers like 0 or 0;1;2") from None
    return StackJob(row, image, prompts, axes, channels, out_dir / f"{_stem(image)}.zarr")


def _resolve(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def open_stack(job: StackJob):
    """``(data, axes, channels)`` of a job's image, opened lazily, as ``segment`` reads it.

    ``axes`` is the :class:`~napari_sam2.core.axes.Axes` resolved from the
    manifest's ``axes`` column, else the file's axis names, else a guess.
    """
    from ..core.stack_view import default_channels
    from ..core.stack_view import open_stack as open_view

    data, axes = open_view(job.image, job.axes, user_source="from the manifest's axes column")
    return data, axes, default_channels(axes, job.channels)


def check_stack(job: StackJob) -> None:
    """Check one stack as ``segment`` would (image, axes, channels, prompts), reading no pixels."""
    from ..core.frames import FrameSource, check_frame
    from ..core.prompt_files import read_prompts
    from ..core.prompts import check_prompt

    try:
        if job.prompts is not None and not job.prompts.is_file():
            raise InputError(f"prompts file {job.prompts} does not exist")
        data, axes, channels = open_stack(job)
        if axes.volumes:  # volumes over time: segment checks them before its model loads
            return
        source = FrameSource(data, axes.axis, axes.channel_axis, channels)
        if job.prompts is None:
            return
        spatial = tuple(d for d in range(data.ndim) if d not in (source.axis, source.channel_axis))
        for obj in read_prompts(job.prompts, source.axis, spatial, data.ndim, source.channel_axis):
            for frame, prompt in obj.prompts.items():
                check_frame(frame, source.n_frames)
                check_prompt(prompt, source.frame_shape, f"object {obj.obj_id}, frame {frame}")
    except InputError as err:
        raise InputError(f"manifest row {job.row} ({job.image.name}): {err.message}",
                         fix=err.fix) from None


def output_state(out: Path) -> str:
    """``new`` (no output), ``unfinished`` (a run journal), ``finished`` (our metadata, no
    journal) or ``foreign`` (something else is there)."""
    from ..core.outputs import run_folder
    from .labels_run import stored_run

    if (run_folder(out) / "journal.json").exists():
        return "unfinished"
    if not out.exists():
        return "new"
    return "finished" if stored_run(out) is not None else "foreign"


def plan_outputs(jobs: list[StackJob], resume: bool, overwrite: bool) -> None:
    """Decide each job's fate from its output, refusing what ``segment`` would refuse.

    Sets ``job.state``. Without ``resume`` or ``overwrite``, an existing
    output (finished or not) is refused, naming its row; with ``resume``,
    finished outputs are skipped and unfinished ones continued; with
    ``overwrite`` alone, every output is recomputed.
    """
    from ..core.outputs import check_output_path

    for job in jobs:
        where = f"manifest row {job.row} ({job.image.name})"
        job.state = output_state(job.out)
        if job.state == "unfinished" and not (resume or overwrite):
            raise InputError(f"{where}: {job.out} holds an unfinished run; {{fix}} to continue it, "
                             "or pass --overwrite to start over", fix=("resume", True))
        try:
            check_output_path(job.out, (job.image, job.prompts), overwrite,
                              exists_ok=resume or job.state == "unfinished")
        except InputError as err:
            raise InputError(f"{where}: {err.message}", fix=err.fix) from None
        if job.state == "foreign" and not overwrite:
            raise InputError(f"{where}: {job.out} exists and carries no napari-sam2 metadata; "
                             "move it away or {fix}", fix=("overwrite", True))
