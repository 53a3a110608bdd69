"""The axes of an image stack: which dimension is time, z, channel, row and col.

The user's letters (``axes="TZYX"``, ``--axes``) win over the file's (OME,
ImageJ, zarr attributes, read by :mod:`.io`); without either the axes are
guessed, and :meth:`Axes.describe` says so. Only the letters ``T Z C Y X S``
exist here (``S``: the samples of an RGB(A) image, a channel axis like ``C``);
tifffile's internal codes never reach a message.

:func:`~.stack_view.select_axes` gives a lazy view of a range of time points or planes
(``frames="10:20"``, in :mod:`.stack_view`), with the numbers of the stored
array kept in :attr:`Axes.start` so that prompts and outputs use them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InputError

__all__ = ["LETTERS", "Axes", "resolve_axes", "with_roles", "check_letters", "guess_letters"]

#: the axis letters a user may give: time, z, channel, row, col, RGB samples
LETTERS = "TZCYXS"
#: singular and plural names of the stack axes, for messages
_NOUNS = {"T": ("time point", "time points"), "Z": ("plane", "planes")}


@dataclass(frozen=True)
class Axes:
    """The axes of an array: letters, sizes, where they came from, and their roles.

    Parameters
    ----------
    letters : str
        One of ``T Z C Y X S`` per dimension, e.g. ``"TZYX"``.
    shape : tuple of int
    source : str
        ``"from --axes"``, ``"from ImageJ metadata"``, ``"guessed"``...
    axis : int or None
        The propagation axis of a 2D+t or z-stack run (None: a single image,
        or volumes over time).
    channel_axis : int or None
        The channel axis (``C`` or ``S``) if any.
    start : tuple of int
        Per dimension, the stored array's index of this array's first entry
        (all 0 unless this is a :func:`select_axes` view).
    held : tuple of (str, int, int)
        The ranges of the stored array a view holds, ``(("T", 10, 20),)`` (stop
        excluded); an axis of which one entry was chosen is not in ``letters``.
    chosen : bool
        The propagation axis was chosen (``axis=``), not a default.
    kept : tuple of int
        Per dimension, its dimension in the stored array (empty: the same).
    stored_shape : tuple of int
        The stored array's shape (empty: ``shape``).
    warnings : tuple of str
        What did not add up (metadata against data), for the front end to show.
    """

    letters: str
    shape: tuple[int, ...]
    source: str
    axis: int | None = None
    channel_axis: int | None = None
    start: tuple[int, ...] = ()
    held: tuple[tuple[str, int, int], ...] = ()
    chosen: bool = False
    kept: tuple[int, ...] = ()
    stored_shape: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    def find(self, letter: str) -> int | None:
        """Index of an axis letter (``S`` counts as ``C``), None when absent."""
        letter = letter.upper()
        for candidate in (letter, "S") if letter == "C" else (letter,):
            if candidate in self.letters:
                return self.letters.index(candidate)
        return None

    @property
    def t(self) -> int | None:
        return self.find("T")

    @property
    def z(self) -> int | None:
        return self.find("Z")

    @property
    def c(self) -> int | None:
        return self.find("C")

    @property
    def y(self) -> int:
        return self.letters.index("Y")

    @property
    def x(self) -> int:
        return self.letters.index("X")

    @property
    def sizes(self) -> dict[str, int]:
        """Letter -> size, in the array's order."""
        return dict(zip(self.letters, (int(s) for s in self.shape), strict=True))

    @property
    def volumes(self) -> bool:
        """True for volumes over time: T and Z both longer than 1, neither a chosen role."""
        t, z = self.t, self.z
        return (t is not None and z is not None and self.shape[t] > 1 and self.shape[z] > 1
                and self.axis is None and self.channel_axis not in (t, z))

    def offset(self, dim: int | None) -> int:
        """The stored array's index of entry 0 along ``dim`` (0 outside a view)."""
        return self.start[dim] if dim is not None and self.start else 0

    def selection(self) -> dict[str, list[int]]:
        """The ranges of the stored array this view holds: ``{"t": [10, 20]}`` (stop excluded)."""
        return {letter.lower(): [start, stop] for letter, start, stop in self.held}

    def describe(self, channels=None, option: str = "--axes") -> str:
        """One line: the axes read, where from, what is propagated, which channel(s).

        ``read as T=20 Z=5 Y=443 X=512 (from ImageJ metadata; --axes to change);
        volumes over time: T and Z``
        """
        sizes = " ".join(f"{a}={s}" for a, s in self.sizes.items())
        line = f"read as {sizes} ({self.source}; {option} to change)"
        held = self.selection()
        if held:
            parts = [f"{k.upper()} {a}" if b == a + 1 else f"{k.upper()} {a}:{b}" for k, (a, b)
                     in held.items()]
            line += f"; selected {', '.join(parts)}"
        if self.volumes:
            line += f"; volumes over time: T ({self.shape[self.t]}) and Z ({self.shape[self.z]})"
        elif self.axis is not None:
            letter = self.letters[self.axis]
            line += f"; propagating along {letter} ({self.shape[self.axis]})"
        else:
            line += "; one image"
        if self.channel_axis is not None:
            used = ",".join(str(c) for c in (channels if channels is not None else (0,)))
            letter = self.letters[self.channel_axis]
            line += f"; channel(s) {used} of {letter} ({self.shape[self.channel_axis]})"
        return line


def check_letters(text: str, shape, what: str = "axes") -> str:
    """The user's axis letters, upper-case, checked against the array's shape.

    ``shape`` None (the image not opened yet) checks the letters alone, not their count.

    Raises
    ------
    InputError
        Letters other than T Z C Y X S, a repeated letter, the wrong count,
        no Y or no X, or both C and S.
    """
    letters = str(text).strip().upper()
    if shape is None:
        hint = "one letter per dimension of the image, e.g. TYX"
    else:
        hint = (f"one letter per dimension of {tuple(int(s) for s in shape)}, "
                f"e.g. {guess_letters(tuple(shape))}")
    bad = sorted(set(letters) - set(LETTERS))
    if bad:
        raise InputError(f"{what} {text!r} has {', '.join(map(repr, bad))}: use only the letters "
                         f"T Z C Y X S ({hint})")
    repeated = sorted({a for a in letters if letters.count(a) > 1})
    if repeated:
        raise InputError(f"{what} {text!r} repeats {', '.join(repeated)}: give {hint}")
    if shape is not None and len(letters) != len(shape):
        raise InputError(f"{what} {text!r} has {len(letters)} letters but the image has {len(shape)} "
                         f"dimensions: give {hint}")
    if "Y" not in letters or "X" not in letters:
        raise InputError(f"{what} {text!r} has no {'Y' if 'Y' not in letters else 'X'}: every "
                         f"image has rows (Y) and columns (X); give {hint}")
    if "C" in letters and "S" in letters:
        raise InputError(f"{what} {text!r} has both C and S (channels twice): use one of them")
    return letters


def guess_letters(shape) -> str:
    """Axis letters for an array whose file does not name them.

    The last two axes are Y, X (or Y, X, S for a last axis of 3 or 4 after
    two large ones: RGB); before them T, then Z; a 4D axis of at most 4
    entries next to a larger one is taken as C.
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    if ndim >= 3 and shape[-1] in (3, 4) and min(shape[-3:-1]) > 4:
        return (guess_letters(shape[:-1]) if ndim > 3 else "YX") + "S"
    if ndim <= 2:
        return "YX"[-ndim:] if ndim else ""
    if ndim == 3:
        return "TYX"
    if ndim == 4:
        if shape[1] <= 4 < shape[0]:
            return "TCYX"
        if shape[0] <= 4 < shape[1]:
            return "CTYX"
        return "TZYX"
    if ndim == 5:
        return "TZCYX"
    raise InputError(f"image has {ndim} dimensions {shape}: at most T, Z, C, Y, X (and S) are read")


def resolve_axes(shape, user: str | None = None, file_axes: str | None = None,
                 file_source: str | None = None, axis=None, channel_axis=None,
                 warnings: tuple[str, ...] = (), user_source: str = "from --axes") -> Axes:
    """The axes of an array: the user's letters, else the file's, else a guess.

    Parameters
    ----------
    shape : tuple of int
    user : str, optional
        The user's letters (``"TZYX"``); checked by :func:`check_letters`.
    file_axes : str, optional
        The letters the file names (from :func:`~.io.read_image`); ignored when
        they are not one of T Z C Y X S per dimension.
    file_source : str, optional
        Where the file's letters come from (``"from ImageJ metadata"``).
    axis, channel_axis : int or str, optional
        The old way: the propagation and channel axes by number or letter.
    warnings : tuple of str
        Carried to :attr:`Axes.warnings` (e.g. metadata that disagrees with the data).
    user_source : str
        How ``user`` is named in the result (``"from axes="`` for the API).

    Returns
    -------
    Axes
        With the default roles (:func:`default_roles`) unless ``axis``/``channel_axis`` say otherwise.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise InputError(f"image has {len(shape)} dimensions {shape}; expected at least rows and "
                         "columns (Y, X): give a 2D image or a stack of them")
    if user:
        letters, source = check_letters(user, shape), user_source
    elif file_axes and _valid(file_axes.upper(), len(shape)):
        letters, source = file_axes.upper(), file_source or "from the file"
    else:
        letters, source = guess_letters(shape), "guessed"
    notes = list(warnings)
    c = letters.find("C")
    if c >= 0 and shape[c] > 4 and source != user_source:
        notes.append(f"C has {shape[c]} entries, more than colour channels usually have: if they "
                     "are planes or time points, name the axes (e.g. TZYX)")
    axes = Axes(letters, shape, source, warnings=tuple(notes))
    return with_roles(axes, axis, channel_axis)


def _valid(letters: str, ndim: int) -> bool:
    return (len(letters) == ndim and set(letters) <= set(LETTERS) and len(set(letters)) == ndim
            and "Y" in letters and "X" in letters and not ("C" in letters and "S" in letters))


def with_roles(axes: Axes, axis=None, channel_axis=None) -> Axes:
    """``axes`` with its propagation and channel axes: given (number or letter) or the defaults.

    Defaults: C (or S) is the channel axis; T and Z both longer than 1 are
    volumes over time (``axis`` None); else T if longer than 1, else Z, else
    the first remaining axis before Y, X; a 2D image (with channels) is one image.
    """
    channel = axes.c if channel_axis is None else _axis_index(channel_axis, axes, "channel_axis")
    if axis is not None:
        chosen = _axis_index(axis, axes, "axis")
        return replace(axes, axis=chosen, channel_axis=channel, chosen=True)
    probe = replace(axes, axis=None, channel_axis=channel, chosen=False)
    if probe.volumes:
        return probe
    stack = [d for d in range(len(axes.shape)) if d not in (axes.y, axes.x, channel)]
    for letter in ("T", "Z"):
        d = axes.find(letter)
        if d in stack and axes.shape[d] > 1:
            return replace(probe, axis=d)
    return replace(probe, axis=stack[0] if stack else None)


def _axis_index(value, axes: Axes, what: str) -> int:
    """An axis number or letter (the user's letters: t, z, c...) to its index."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is not None:
        if not -len(axes.shape) <= number < len(axes.shape):
            raise InputError(f"{what} {number} does not exist: the image has {len(axes.shape)} "
                             f"dimensions ({axes.letters}, {axes.source})")
        return number % len(axes.shape)
    found = axes.find(str(value)) if len(str(value)) == 1 else None
    if found is None:
        raise InputError(f"{what} {value!r} is neither a number nor one of the image's axes "
                         f"{axes.letters} ({axes.source}); {{fix}} to name them",
                         fix=("axes", None))
    return found
