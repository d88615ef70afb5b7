"""Errors the toolkit reports to users as one line, without a traceback."""


class S2WError(Exception):
    """Base class of every error that the CLI prints as a one-line message."""


class ImageError(S2WError):
    """An image is missing, unreadable, corrupt or truncated."""


class NoFaceError(S2WError):
    """No face was found where one was needed."""


class CheckpointError(S2WError):
    """A weights file is missing, of the wrong format, or truncated."""


class PluginError(S2WError):
    """A plugin is unknown, clashes with another, or failed."""


class DeviceError(S2WError):
    """The requested device does not exist on this machine."""


class OptionError(S2WError):
    """An explainer option is unknown to the explainers it is given to, or has a bad value."""


class LabelsError(S2WError):
    """A labels file (attribute labels for training) that cannot be read."""


def row_message(exc: BaseException) -> str:
    """A failure as a result row records it: the toolkit's own errors as they are (one line
    already), any other exception with its type.

    >>> row_message(S2WError("no face found")), row_message(ValueError("bad"))
    ('no face found', 'ValueError: bad')
    """
    return str(exc) if isinstance(exc, S2WError) else f"{type(exc).__name__}: {exc}"
