"""Segment many stacks on dask.distributed: what ``napari-sam2 batch`` runs.

:func:`run_batch` is a generator of :class:`BatchEvent` (one per stack as it
finishes, fails or is skipped, then ``done``), so that a command line, a
widget or a script can show progress and cancel (close the generator, or set
the ``cancel`` event). Every stack is checked before any work
(:func:`plan_batch`); each goes to ``OUT_DIR/<stem>.zarr`` through
``segment_file``, with its safety, metadata and resume. Workers keep their
model loaded (:class:`~.batch_worker.ModelKeeper`). A stack whose worker is
lost is rescheduled by dask (``distributed.scheduler.allowed-failures``
times) and continues from its last checkpoint; a bad stack fails once and is
reported. ``OUT_DIR/batch-report.csv`` lists every stack's outcome.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.checkpoint import CHECKPOINT_EVERY
from ..core.errors import InputError
from ..core.models import AUTO, DEFAULT_PRESET
from .manifest import StackJob

__all__ = ["BatchEvent", "plan_batch", "run_batch", "REPORT_NAME", "default_workers"]

REPORT_NAME = "batch-report.csv"
#: a stack's outcome in the report
OUTCOMES = ("finished", "skipped", "failed", "cancelled")


@dataclass
class BatchEvent:
    """What happened in a batch.

    Attributes
    ----------
    kind : str
        ``"started"`` (once: ``message`` says where it runs, ``total`` the
        stacks), ``"skipped"`` (finished by an earlier batch), ``"finished"``,
        ``"failed"``, then ``"done"`` (once, last: ``results`` holds every
        stack's final event, ``message`` the report's path).
        A cancelled batch ends with ``"cancelled"`` instead of ``"done"``.
    job : StackJob or None
    message : str
        The summary of a finished stack, the one-line error of a failed one.
    seconds : float
    worker : str
        ``host:pid`` of the worker that ran it.
    total : int
    dashboard : str or None
        The dask dashboard's address (``"started"``), when it runs.
    results : list of BatchEvent
    """

    kind: str
    job: StackJob | None = None
    message: str = ""
    seconds: float = 0.0
    worker: str = ""
    total: int = 0
    dashboard: str | None = None
    results: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every stack finished (for ``done``/``cancelled``) or this one did."""
        if self.kind in ("done", "cancelled"):
            return self.kind == "done" and all(r.kind in ("finished", "skipped")
                                               for r in self.results)
        return self.kind in ("finished", "skipped")


def default_workers() -> int:
    """Local workers for this machine: one per two cores (each with two torch threads)."""
    from .batch_worker import host_cores

    return max(1, host_cores() // 2)


def plan_batch(manifest, out_dir: str | Path, resume: bool = False,
               overwrite: bool = False) -> list[StackJob]:
    """Read and check every stack of a manifest and decide what to do with its output.

    Nothing is written but ``out_dir`` itself (created when missing, once every
    stack is checked). Raises :class:`InputError` naming the first bad row.

    Parameters
    ----------
    manifest : str or Path
        A manifest ``.csv`` or a glob of images (see :mod:`.manifest`).
    out_dir : str or Path
    resume : bool
        Skip finished outputs, continue unfinished ones.
    overwrite : bool
        Recompute every output (replaced only once its new labels are complete).

    Returns
    -------
    list of StackJob
    """
    from .manifest import plan_outputs, read_manifest

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder for the outputs")
    if not out_dir.exists() and not out_dir.parent.is_dir():
        raise InputError(f"the folder {out_dir.parent} for {out_dir.name} does not exist")
    jobs = read_manifest(manifest, out_dir)
    if out_dir.exists():
        plan_outputs(jobs, resume, overwrite)
    else:  # a new folder: no output exists, none can lie over an (existing) input
        out_dir.mkdir()
    return jobs


def _check_settings(model, preset: str, precision: str, memory) -> None:
    """The model, preset, precision and memory policy exist (before a cluster starts)."""
    import importlib.util

    from ..core.memory_policies import make_policy
    from ..core.models import PRECISIONS, REGISTRY
    from ..core.models.registry import preset as check_preset

    if importlib.util.find_spec("distributed") is None:
        raise InputError("batch runs on dask.distributed, which is not installed: pip install "
                         "'napari-sam2[batch]'")
    check_preset(preset)
    make_policy(memory)
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    name = str(model)
    if name != AUTO and name not in REGISTRY and not name.startswith("random:") and \
            not Path(name).expanduser().is_dir():
        raise InputError(f"unknown model {name!r}: use one of {', '.join(REGISTRY)} or the path of "
                         "a folder written by save_pretrained", fix=("model", None))


def run_batch(jobs, out_dir: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, client=None, resume: bool = False,
              overwrite: bool = False, model=AUTO, device: str = "auto",
              preset: str = DEFAULT_PRESET, precision: str = "auto", memory: str | None = None,
              checkpoint_every: int = CHECKPOINT_EVERY, torch_threads: int | None = None,
              cancel=None) -> Iterator[BatchEvent]:
    """Segment every stack on a dask cluster, yielding an event per stack.

    Parameters
    ----------
    jobs : str, Path or list of StackJob
        A manifest or glob (checked with :func:`plan_batch`), or jobs it returned.
    out_dir : str or Path
        The outputs' folder; the report goes to ``out_dir/batch-report.csv``.
    workers : int, optional
        Worker processes of the local cluster (default :func:`default_workers`).
    scheduler : str, optional
        Address of a running dask scheduler to use instead of a local cluster.
    client : distributed.Client, optional
        A client to use (left open); overrides ``workers`` and ``scheduler``.
    resume, overwrite : bool
        See :func:`plan_batch`.
    model, device, preset, precision, memory, checkpoint_every
        As for :func:`~.segment.segment_file`; ``model`` is a name or folder
        (each worker loads it once).
    torch_threads : int, optional
        Torch threads per worker; default: the host's cores shared among its workers.
    cancel : threading.Event, optional
        Set it (from any thread) to stop the batch: queued stacks are
        cancelled, finished outputs kept (``resume`` continues).

    Yields
    ------
    BatchEvent
    """
    out_dir = Path(out_dir)
    if not isinstance(jobs, list):
        jobs = plan_batch(jobs, out_dir, resume, overwrite)
    _check_settings(model, preset, precision, memory)
    settings = dict(model=str(model), device=device, preset=preset, precision=precision,
                    memory=memory, checkpoint_every=checkpoint_every, resume=resume,
                    overwrite=overwrite, started=time.time())
    results: dict[int, BatchEvent] = {}
    todo = []
    for job in jobs:
        if resume and job.state == "finished":
            results[job.row] = BatchEvent("skipped", job, f"{job.out} is finished (earlier batch)")
        else:
            todo.append(job)
    connection = _Connection(workers, scheduler, client, torch_threads)
    futures: dict = {}
    try:
        connection.open()
        yield BatchEvent("started", message=connection.description, total=len(jobs),
                         dashboard=connection.dashboard)
        for event in results.values():
            yield event
        from .batch_worker import segment_stack

        batch = uuid.uuid4().hex[:8]  # a key of its own: never an earlier batch's result
        for job in todo:
            future = connection.client.submit(segment_stack, job, settings, pure=False,
                                              key=f"segment-{job.out.stem}-{batch}")
            futures[future] = job
        pending = set(futures)
        while pending:
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt("cancelled")
            done, pending = _wait_some(pending)
            for future in done:
                event = _outcome(future, futures[future])
                results[event.job.row] = event
                yield event
    except (KeyboardInterrupt, GeneratorExit):
        for job in jobs:
            results.setdefault(job.row, BatchEvent("cancelled", job, "cancelled before it finished"))
        connection.cancel(futures)
        _write_report(out_dir, jobs, results)
        raise
    finally:
        connection.close()
    report = _write_report(out_dir, jobs, results)
    yield BatchEvent("done", message=str(report), total=len(jobs),
                     results=[results[job.row] for job in jobs])


def _wait_some(pending: set) -> tuple[set, set]:
    """The futures done within half a second (so that a cancel is seen soon), and the rest."""
    from distributed import wait

    try:
        done, not_done = wait(list(pending), timeout=0.5, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), pending
    return set(done), set(not_done)


def _outcome(future, job: StackJob) -> BatchEvent:
    """A finished future as a ``finished`` or ``failed`` event."""
    if future.status == "finished":
        value = future.result()
        return BatchEvent("finished", job, value["summary"], value["seconds"], value["worker"])
    if future.status == "cancelled":  # by someone else on a shared cluster
        return BatchEvent("failed", job, "its task was cancelled on the cluster")
    err = future.exception()
    name = type(err).__name__
    if isinstance(err, InputError):
        message = err.message if err.fix is None else str(err)
    elif name == "KilledWorker":
        message = ("its worker died every time it ran it (out of memory? a crash? see the worker "
                   f"logs): {str(err).splitlines()[0] if str(err) else name}")
    else:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        message = f"{name}: {first}" if first else name
    return BatchEvent("failed", job, message)


def _write_report(out_dir: Path, jobs: list[StackJob], results: dict) -> Path:
    """``out_dir/batch-report.csv``: row, image, output, outcome, seconds, worker, message."""
    path = out_dir / REPORT_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["row", "image", "output", "outcome", "seconds", "worker", "message"])
        for job in jobs:
            event = results.get(job.row) or BatchEvent("cancelled", job, "not run")
            writer.writerow([job.row, str(job.image), str(job.out), event.kind,
                             f"{event.seconds:.1f}", event.worker, event.message])
    tmp.replace(path)
    return path


class _Connection:
    """The client and, unless one was given, the cluster it owns."""

    def __init__(self, workers, scheduler, client, torch_threads):
        if workers is not None and workers < 1:
            raise InputError(f"workers must be at least 1 (got {workers})", fix=("workers", 1))
        self.workers, self.scheduler, self.client = workers, scheduler, client
        self.torch_threads = torch_threads
        self.owned_client = client is None
        self.cluster = None
        self.description = ""
        self.dashboard = None

    def open(self) -> None:
        import logging

        from distributed import Client, LocalCluster

        from .batch_worker import PLUGIN_NAME, ModelKeeper

        if self.client is None and self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except OSError as err:
                raise InputError(f"cannot reach the dask scheduler at {self.scheduler}: {err}") \
                    from None
        elif self.client is None:
            n = self.workers or default_workers()
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=":0",
                                        silence_logs=logging.CRITICAL)
            self.client = Client(self.cluster)
        import socket

        hosts: dict[str, int] = {}
        for host in self.client.run(socket.gethostname).values():
            hosts[host] = hosts.get(host, 0) + 1
        self.client.register_plugin(ModelKeeper(hosts, self.torch_threads), name=PLUGIN_NAME)
        where = ("a local cluster" if self.cluster is not None
                 else f"the cluster at {self.client.scheduler.address}")
        self.description = f"{sum(hosts.values())} worker(s) on {where}"
        if "dashboard" in self.client.scheduler_info().get("services", {}):
            self.dashboard = self.client.dashboard_link
            if not _has_dashboard():
                self.dashboard += " (its pages need bokeh: pip install 'bokeh>=3.1')"

    def cancel(self, futures) -> None:
        if self.client is not None and futures:
            try:
                self.client.cancel(list(futures), force=True)
            except Exception:  # the cluster may already be gone
                pass

    def close(self) -> None:
        if self.owned_client and self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _has_dashboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None
