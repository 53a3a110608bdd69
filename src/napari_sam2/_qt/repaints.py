"""Keep the viewer from repainting while the model works.

napari plays an animated "in progress" GIF in its status bar for as long as
any progress bar exists. In a window that holds an OpenGL canvas, each GIF
frame makes Qt compose the whole window again through OpenGL; with software
OpenGL (Mesa llvmpipe: no GPU, remote desktops, Xvfb) that is ~25 ms of CPU on
other threads per frame, ~20 times a second, taken from the model. Measured
on a 2-core machine: a worker computing for 2.4 s took 5.4-6.0 s with the GIF
running, 2.4-2.5 s with it paused. The progress bars themselves (frames done,
time left) only repaint when a frame is done, and stay.

A click is the other case: the point appears on the canvas, napari updates the
layer list and layer controls, then the mask arrives: two or three window
compositions (each a canvas redraw through llvmpipe, 50-150 ms of CPU on the
shared machine) competing with the model for the same cores.
:func:`hold_repaints` keeps the window from repainting while a click is
computed, for at most a fraction of a second: the point and its mask are then
drawn in one composition.
"""

from __future__ import annotations

__all__ = ["hold_repaints", "pause_busy_animations", "resume_busy_animations", "single_shot",
           "stop_timer"]


def _running_movies():
    from qtpy.QtGui import QMovie
    from qtpy.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance()
    if app is None:
        return []
    movies = []
    for window in app.topLevelWidgets():
        if not isinstance(window, QMainWindow):
            continue
        for label in window.findChildren(QLabel):
            movie = label.movie()
            if movie is not None and movie.state() == QMovie.MovieState.Running:
                movies.append(movie)
    return movies


def pause_busy_animations() -> list:
    """Pause the animations (napari's "in progress" GIF) running in main windows.

    Returns
    -------
    list of QMovie
        The paused movies (they keep showing their current frame), for
        :func:`resume_busy_animations`.
    """
    movies = _running_movies()
    for movie in movies:
        movie.setPaused(True)
    return movies


def resume_busy_animations(movies) -> None:
    """Resume movies paused by :func:`pause_busy_animations` that napari has not stopped since."""
    from qtpy.QtGui import QMovie

    for movie in movies:
        try:
            if movie.state() == QMovie.MovieState.Paused:
                movie.setPaused(False)
        except RuntimeError:  # the C++ object is gone (window closed)
            pass


def hold_repaints(viewer, seconds: float):
    """Keep ``viewer``'s window from repainting until the returned release is called, or ``seconds`` pass.

    Parameters
    ----------
    viewer : napari.Viewer
    seconds : float
        The longest hold: after it the window repaints whatever happens (what
        changed meanwhile, e.g. a clicked point, is drawn then).

    Returns
    -------
    callable
        Ends the hold (the window repaints once); calling it again does nothing.
    """
    window = getattr(getattr(viewer, "window", None), "_qt_window", None)
    if window is None or not window.updatesEnabled():
        return lambda: None
    window.setUpdatesEnabled(False)
    timer = None

    def release() -> None:
        nonlocal window
        stop_timer(timer)
        if window is not None:
            try:
                window.setUpdatesEnabled(True)
            except RuntimeError:  # the window is gone
                pass
            window = None

    timer = single_shot(seconds, release)
    return release


def single_shot(seconds: float, callback):
    """A started one-shot ``QTimer`` calling ``callback``; end it with :func:`stop_timer`.

    (Unlike ``QTimer.singleShot``, it can be stopped: a pending call keeps what it
    refers to alive, a closed viewer included.)
    """
    from qtpy.QtCore import QTimer

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(callback)
    timer.start(int(1000 * seconds))
    return timer


def stop_timer(timer) -> None:
    """Stop a :func:`single_shot` timer and drop its callback (None: nothing to do)."""
    if timer is None:
        return
    try:
        timer.stop()
        timer.timeout.disconnect()
    except (TypeError, RuntimeError):  # already disconnected, or the timer is gone
        pass
