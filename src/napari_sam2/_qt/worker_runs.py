"""Run the controller's workers, showing the busy state only for work long enough to see.

Every change to the widget (status text, buttons enabled or not, the object
table) makes Qt compose the whole window again; in a window holding napari's
OpenGL canvas, with software OpenGL (Mesa llvmpipe: no GPU, remote desktops,
Xvfb), each composition took 35-150 ms of CPU on the shared 2-core machine,
taken from the model computing the click. A click's worker usually finishes
in a fraction of a second: marking the widget busy and idle again around it
cost two or three compositions and nothing a user could read. Short
("quiet") workers therefore show their busy state only once they have run
:data:`BUSY_AFTER_S` seconds; long ones (loading, propagating) at once.
"""

from __future__ import annotations

from functools import partial

from .repaints import hold_repaints, pause_busy_animations, resume_busy_animations, single_shot, stop_timer

__all__ = ["BUSY_AFTER_S", "WorkerRuns"]

#: a quiet worker (a click, a frame encoded ahead) marks the widget busy once it has run this long
BUSY_AFTER_S = 0.3


class WorkerRuns:
    """The controller's worker runs (a mixin: ``_on_finished`` is the controller's)."""

    def _run(self, worker, what: str, quiet: bool = False, hold: bool = False) -> None:
        """Start ``worker`` as the controller's one worker; ``what`` names it in the status.

        ``quiet``: show the busy state (status, disabled buttons) only after
        :data:`BUSY_AFTER_S` s, and skip the search for animations to pause (a
        worker without a progress bar starts none). ``hold``: the window does not
        repaint until the worker has finished, for at most :data:`BUSY_AFTER_S` s
        (a click: its point and mask drawn at once).
        """
        self._end_worker_timers()  # (a worker started from another's finished handler)
        self.worker = worker
        worker.errored.connect(lambda err: self._failed(f"{what} failed: {err}"))
        worker.finished.connect(self._on_finished)
        if hold:
            self._release_repaints = hold_repaints(self.viewer, BUSY_AFTER_S)
        if quiet:
            self._busy_timer = single_shot(BUSY_AFTER_S, partial(self._show_busy, worker, what))
        else:
            # after napari's own handlers, which start the status bar's "in progress" GIF
            worker.started.connect(self._pause_animations)
            self._show_busy(worker, what)
        worker.start()

    def _show_busy(self, worker, what: str) -> None:
        if self.worker is worker:  # not finished meanwhile
            self.status.emit(what + "…")
            self.busy_changed.emit(True)

    def _pause_animations(self) -> None:
        self._paused += pause_busy_animations()

    def _resume_animations(self) -> None:
        """Resume paused animations, end the hold on repaints and the busy timer (a worker has finished)."""
        resume_busy_animations(self._paused)
        self._paused = []
        self._end_worker_timers()

    def _end_worker_timers(self) -> None:
        """End the hold on repaints (the window repaints) and the pending busy state, if any."""
        stop_timer(getattr(self, "_busy_timer", None))
        release = getattr(self, "_release_repaints", None)
        self._busy_timer = self._release_repaints = None
        if release is not None:
            release()
