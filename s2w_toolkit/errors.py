"""Errors the toolkit reports to users as one line, without a traceback."""


class S2WError(Exception):
    """Base class of every error that the CLI prints as a one-line message.

    Example:
        >>> try:
        ...     raise ImageError("photo.jpg: not an image, or corrupt")
        ... except S2WError as exc:  # catches every toolkit error
        ...     print(type(exc).__name__, "-", exc)
        ImageError - photo.jpg: not an image, or corrupt
    """


class ImageError(S2WError):
    """An image is missing, unreadable, corrupt or truncated.

    Example:
        >>> import pathlib, tempfile
        >>> from s2w_toolkit.io.images import read_image
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "face.jpg"
        >>> _ = bad.write_text("not a photo")
        >>> read_image(bad)
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.ImageError: .../face.jpg: not an image, or corrupt
    """


class NoFaceError(S2WError):
    """No face was found where one was needed.

    Example:
        >>> import numpy as np
        >>> from s2w_toolkit.faces.detect import FaceDetector
        >>> FaceDetector().find(np.zeros((100, 100, 3), np.uint8), source="blank.jpg")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.NoFaceError: blank.jpg: no face found (use --aligned for pre-cropped faces)
    """


class CheckpointError(S2WError):
    """A weights file is missing, of the wrong format, or truncated.

    Example:
        >>> from s2w_toolkit.weights.formats import check_weights_file
        >>> check_weights_file("/no/such/weights.pth", "checkpoint file")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.CheckpointError: /no/such/weights.pth: no such checkpoint file
    """


class PluginError(S2WError):
    """A plugin is unknown, clashes with another, or failed.

    Example:
        >>> from s2w_toolkit.registry import get_registry
        >>> get_registry().explainer("no-such-explainer")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.PluginError: unknown explainer 'no-such-explainer'; known: ...
    """


class DeviceError(S2WError):
    """The requested device does not exist on this machine.

    Example:
        >>> from s2w_toolkit.devices import resolve_device
        >>> resolve_device("tpu")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.DeviceError: unknown device 'tpu'; use auto, cpu, cuda or cuda:N
    """


class OptionError(S2WError):
    """An explainer option is unknown to the explainers it is given to, or has a bad value.

    Example:
        >>> from s2w_toolkit.options import BaseOptions, build_options
        >>> build_options(BaseOptions, {"batch_sise": 8}, name="demo")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.OptionError: explainer 'demo' has no option 'batch_sise' (did you mean 'batch_size'?); ...
    """


class LabelsError(S2WError):
    """A labels file (attribute labels for training) that cannot be read.

    Example:
        >>> from s2w_toolkit.attributes.labels import read_labels
        >>> read_labels("/no/such/labels.csv")
        Traceback (most recent call last):
        ...
        s2w_toolkit.errors.LabelsError: /no/such/labels.csv: no such labels file
    """


def row_message(exc: BaseException) -> str:
    """A failure as a result row records it: the toolkit's own errors as they are (one line
    already), any other exception with its type.

    >>> row_message(S2WError("no face found")), row_message(ValueError("bad"))
    ('no face found', 'ValueError: bad')
    """
    return str(exc) if isinstance(exc, S2WError) else f"{type(exc).__name__}: {exc}"
