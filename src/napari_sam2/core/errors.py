"""The errors the core raises for bad input, in the API's own words.

A message names what is wrong and what to do. Where the remedy is a
parameter, the error carries it as ``fix`` (``("overwrite", True)``) and the
text says ``pass overwrite=True``; the command line and the widget reword
that remedy in their own terms (``--overwrite``, a checkbox) with
:meth:`InputError.worded`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["InputError", "ModelNotAvailable"]


class InputError(ValueError):
    """Bad user input: the message says what is wrong and what to do.

    Parameters
    ----------
    message : str
        What is wrong (and what to do, when that is not a parameter). The
        remedy goes where the message says ``{fix}``, else at its end.
    fix : (str, object), optional
        The API parameter and value that would fix it, e.g. ``("overwrite", True)``;
        value None when the user has to choose it (``("channel_axis", None)``).
    """

    def __init__(self, message: str, fix: tuple[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def worded(self, options: Mapping[str, str] | None = None) -> str:
        """The message with the remedy in a front end's words.

        Parameters
        ----------
        options : mapping, optional
            API parameter name -> how the front end names it (``{"overwrite": "--overwrite"}``).
            A parameter it does not name is written as ``name=value``.

        Returns
        -------
        str
        """
        if self.fix is None:
            return self.message
        name, value = self.fix
        if options and name in options:
            remedy = options[name] if value in (True, None) else f"{options[name]} {value}"
        else:
            remedy = name if value is None else f"{name}={value!r}"
        if "{fix}" in self.message:
            return self.message.replace("{fix}", f"pass {remedy}")
        return f"{self.message}; pass {remedy}"

    def __str__(self) -> str:
        return self.worded()


class ModelNotAvailable(InputError):
    """The model's weights are neither on disk nor downloadable."""
