"""``napari-sam2 batch``: segment many stacks on a dask cluster (local by default)."""

from __future__ import annotations

import argparse
import sys

from ..core.checkpoint import CHECKPOINT_EVERY
from .options import add_memory_option, add_model_options

EXAMPLE = """\
example:
  napari-sam2 batch stacks.csv --out labels/ --workers 2 --model sam2.1-tiny

stacks.csv (a header, then one stack per row; paths relative to the CSV):
  image,prompts,axes,channels
  plate1/A01.tif,prompts/A01.json,TYX,
  plate1/A02.ome.zarr,prompts/A02.json,,1
  plate1/A03.tif,,,            (no prompts: automatic seeds, as napari-sam2 track)
or a glob of stacks, each with its prompts in <stem>.json beside it:
  napari-sam2 batch "plate1/*.tif" --out labels/

Each stack goes to OUT/<image stem>.zarr with segment's safety and metadata;
every row is checked before anything runs. OUT/batch-report.csv lists each
stack's outcome; the exit code is 0 only when every stack finished.
Ctrl+C cancels (finished outputs are kept); --resume skips finished stacks and
continues unfinished ones from their checkpoints.
On a cluster: start a scheduler (e.g. dask-jobqueue's SLURMCluster, see
docs/batch.md) and pass its address with --scheduler.
"""


def add_parser(sub) -> None:
    """Register ``batch`` on an ``argparse`` subparsers object."""
    cmd = sub.add_parser(
        "batch", help="segment many stacks on a dask cluster (local by default)",
        description="Segment every stack of a manifest (CSV) or a glob, in parallel on dask.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("manifest", help="a manifest .csv (columns image, prompts, axes, channels) or "
                     "a quoted glob of images")
    cmd.add_argument("--out", required=True, help="folder for the outputs (<stem>.zarr each) and "
                     "batch-report.csv; created if missing")
    cmd.add_argument("--workers", type=int, metavar="N",
                     help="worker processes of the local cluster (default: one per two cores); "
                     "each runs one stack at a time with cores/N torch threads")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="use the dask scheduler at ADDRESS (tcp://host:8786) instead of a local "
                     "cluster")
    cmd.add_argument("--torch-threads", type=int, metavar="N",
                     help="torch threads per worker (default: the host's cores / its workers)")
    add_model_options(cmd)
    add_memory_option(cmd)
    cmd.add_argument("--overwrite", action="store_true",
                     help="recompute every stack, replacing existing outputs once each is complete")
    cmd.add_argument("--resume", action="store_true",
                     help="skip finished stacks, continue unfinished ones from their checkpoints")
    cmd.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY, metavar="N",
                     help=f"frames between checkpoints (default {CHECKPOINT_EVERY})")
    cmd.set_defaults(run=run)


def run(args) -> int:
    """Run ``batch``: 0 when every stack finished, 1 when any failed."""
    from ..core.errors import InputError
    from ..workflows.batch import plan_batch, run_batch

    for name in ("workers", "torch_threads", "checkpoint_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1 (got {value})")
    if args.workers is not None and args.scheduler:
        raise InputError("--workers sizes a local cluster; with --scheduler the cluster's own "
                         "workers run the stacks: give one or the other")
    jobs = plan_batch(args.manifest, args.out, resume=args.resume, overwrite=args.overwrite)
    events = run_batch(jobs, args.out, workers=args.workers, scheduler=args.scheduler,
                       resume=args.resume, overwrite=args.overwrite, model=args.model,
                       device=args.device, preset=args.preset, precision=args.precision,
                       memory=args.memory, checkpoint_every=args.checkpoint_every,
                       torch_threads=args.torch_threads)
    return _follow(events, len(jobs))


def _follow(events, total: int) -> int:
    """Show the batch's progress; print the summary table; the exit code."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc="stacks", unit="stack", file=sys.stderr)
    try:
        for event in events:
            if event.kind == "started":
                print(f"napari-sam2 batch: {total} stack(s) on {event.message}", file=sys.stderr)
                if event.dashboard:
                    print(f"dashboard: {event.dashboard}", file=sys.stderr)
            elif event.kind in ("finished", "skipped", "failed"):
                bar.update()
                if event.kind == "failed":
                    bar.write(f"failed: {event.job.image.name}: {event.message}", file=sys.stderr)
            elif event.kind == "done":
                bar.close()
                print(summary_table(event.results))
                print(f"report: {event.message}")
                return 0 if event.ok else 1
    except KeyboardInterrupt:
        events.close()  # cancels the queued stacks, closes the cluster, writes the report
        raise KeyboardInterrupt("batch cancelled; finished stacks are kept, --resume continues "
                                "the rest") from None
    finally:
        bar.close()
    return 1


def summary_table(results) -> str:
    """One line per stack: outcome, output name, seconds, message (failures first)."""
    order = {"failed": 0, "cancelled": 1, "finished": 2, "skipped": 3}
    rows = sorted(results, key=lambda r: (order.get(r.kind, 9), r.job.row))
    width = max((len(r.job.out.name) for r in rows), default=6)
    lines = [f"{'outcome':9} {'output':{width}} {'seconds':>8}  message"]
    for r in rows:
        lines.append(f"{r.kind:9} {r.job.out.name:{width}} {r.seconds:8.1f}  {r.message}")
    counts = {k: sum(r.kind == k for r in rows) for k in order}
    lines.append(", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return "\n".join(lines)
