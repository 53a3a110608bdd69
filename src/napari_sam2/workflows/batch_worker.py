"""The worker side of a batch: a model kept loaded per worker, and the task that segments one stack.

:class:`ModelKeeper` is a dask ``WorkerPlugin``: on each worker it sets
torch's thread count (so that the workers of one machine share its cores
without oversubscribing them) and keeps every model it has loaded, keyed by
the loading arguments, for the worker's life. :func:`segment_stack` is the
task: it runs ``segment_file`` (or ``track_file`` for a stack without
prompts) with that model, continuing the stack's own interrupted run when an
earlier attempt of the same batch was lost with its worker.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

# dask only registers plugins that subclass its own; this module is imported by a batch alone,
# which loads distributed anyway
from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["ModelKeeper", "PLUGIN_NAME", "segment_stack", "host_cores"]

PLUGIN_NAME = "napari-sam2-models"


def host_cores() -> int:
    """The CPU cores this process may run on (its affinity: a SLURM job's share, not the node's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class ModelKeeper(WorkerPlugin):
    """Keep models loaded on a worker; set torch's threads so workers do not oversubscribe cores.

    Registered with ``client.register_plugin(ModelKeeper(...), name=PLUGIN_NAME)``;
    dask runs :meth:`setup` on every worker, including workers that join or
    restart later.

    Parameters
    ----------
    workers_per_host : dict, optional
        Host name -> number of dask workers on it; a worker uses
        ``cores // workers`` torch threads (one worker per host when the host is not listed).
    torch_threads : int, optional
        Use this many torch threads instead.
    """

    def __init__(self, workers_per_host: dict[str, int] | None = None,
                 torch_threads: int | None = None):
        self.workers_per_host = dict(workers_per_host or {})
        self.torch_threads = torch_threads
        self.threads = 1
        self.models: dict[tuple, object] = {}
        self.loads = 0  # models loaded by this worker (tests check it stays at one)

    def setup(self, worker=None) -> None:
        """Choose and set the worker's torch threads (called by dask on each worker)."""
        import socket

        share = self.workers_per_host.get(socket.gethostname(), 1)
        self.threads = self.torch_threads or max(1, host_cores() // max(1, share))
        self.models = {}
        self.loads = 0
        self.apply_threads()

    def apply_threads(self) -> None:
        """Set torch's threads in the calling thread (OpenMP keeps the setting per thread)."""
        import torch

        torch.set_num_threads(self.threads)

    def model(self, name, device: str, preset: str, precision: str):
        """The model for these arguments, loaded on the first call, then kept."""
        from ..core.models import load_model

        key = (str(name), device, preset, precision)
        if key not in self.models:
            self.models[key] = load_model(name, device, preset=preset, precision=precision)
            self.loads += 1
        return self.models[key]

    def teardown(self, worker=None) -> None:
        """Drop the models (the worker is closing)."""
        self.models = {}


def _keeper() -> ModelKeeper | None:
    try:
        from distributed import get_worker

        return get_worker().plugins.get(PLUGIN_NAME)
    except ValueError:  # not on a dask worker (a direct call, e.g. in a test)
        return None


def _finished_since(out: Path, since: float) -> bool:
    """Whether ``out`` is a finished output written after ``since`` (by this batch)."""
    from .manifest import output_state

    try:
        return output_state(out) == "finished" and (out / "zarr.json").stat().st_mtime >= since
    except OSError:
        return False


def _ours(out: Path, since: float) -> bool:
    """Whether ``out``'s unfinished run was started after ``since`` (by this batch)."""
    from ..core.checkpoint import RunJournal
    from ..core.outputs import run_folder

    journal = RunJournal.load(run_folder(out))
    return journal is not None and journal.data.get("started", 0) >= since


def segment_stack(job, settings: dict) -> dict:
    """Segment one stack of a batch into ``job.out`` (the task a worker runs).

    Parameters
    ----------
    job : StackJob
        The checked stack.
    settings : dict
        ``model``, ``device``, ``preset``, ``precision``, ``memory``,
        ``checkpoint_every``, ``resume``, ``overwrite`` and ``started`` (the
        batch's start time: an output finished, or a run started, after it is
        this batch's own, from an attempt lost with its worker).

    Returns
    -------
    dict
        ``summary``, ``seconds``, ``worker`` (host:pid).
    """
    import socket

    from ..core.io import image_scale
    from .manifest import open_stack, output_state

    start = time.perf_counter()
    where = f"{socket.gethostname()}:{os.getpid()}"
    since = settings["started"]
    if _finished_since(job.out, since):
        return {"summary": f"{job.out} was finished by an earlier attempt", "seconds": 0.0,
                "worker": where}
    resume = output_state(job.out) == "unfinished" and (settings["resume"] or _ours(job.out, since))
    keeper = _keeper()
    if keeper is not None:
        keeper.apply_threads()
    data, axes, channels = open_stack(job)
    common = dict(channels=channels, device=settings["device"], preset=settings["preset"],
                  precision=settings["precision"], memory=settings["memory"],
                  overwrite=settings["overwrite"], resume=resume, progress=False, image_path=job.image,
                  scale=image_scale(job.image, len(axes.stored_shape or axes.shape)))
    model = settings["model"]
    if keeper is not None:
        model = keeper.model(model, settings["device"], settings["preset"], settings["precision"])
    if job.prompts is None:  # automatic seeds: every cell tracked
        from .track import track_file

        summary = track_file(data, job.out, model=model, axis=axes.axis,
                             channel_axis=axes.channel_axis, axes=axes.letters, **common)
    else:
        from .segment import segment_file

        with _sweep_client(keeper is not None and axes.volumes) as client:
            summary = segment_file(data, job.prompts, job.out, model=model, axes=axes,
                                   checkpoint_every=settings["checkpoint_every"], client=client,
                                   **common)
    return {"summary": summary, "seconds": time.perf_counter() - start, "worker": where}


@contextmanager
def _sweep_client(volumes: bool):
    """The batch's own cluster for a volume stack's z-sweeps (None otherwise, or off a worker).

    ``worker_client`` lets this task wait for the sweeps without holding the
    worker's thread, so the sweeps of one large stack spread over every worker.
    """
    if not volumes:
        yield None
        return
    from distributed import worker_client

    with worker_client() as client:
        yield client
