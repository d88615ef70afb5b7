"""The figures a report embeds, read from its result folder without trusting it.

A figure is read only when it is a regular file inside the folder once resolved (not a FIFO,
which would block; not ``../``, an absolute path or a symlink that leads out, which would put
another file's bytes in the page), of at most :data:`~s2w_toolkit.io.limits.MAX_FIGURE_BYTES`
bytes and :func:`~s2w_toolkit.io.limits.max_figure_pixels` pixels (checked from its header,
before it is decoded). Otherwise :func:`png_uri` and :func:`jpeg_uri` raise a one-line
:class:`~s2w_toolkit.errors.S2WError` naming the file, which the report shows as a warning
while leaving the figure out. A figure that does not exist is ``None``: not every run draws all.

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (40, 30), "white").save(folder / "roc.png")
    >>> png_uri(folder, "roc.png").startswith("data:image/png;base64,"), png_uri(folder, "gone.png")
    (True, None)
    >>> jpeg_uri(folder, "../roc.png")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.S2WError: .../../roc.png: leads outside ...
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from ..io.files import inside, read_regular
from ..io.limits import MAX_FIGURE_BYTES, max_figure_pixels

#: What a refusal of a figure over the pixel limit says instead of how to raise the limit.
TOO_LARGE = "too large for a report figure"


def _read(folder: str | os.PathLike[str], name: str | os.PathLike[str]) -> tuple[Path, bytes] | None:
    """``(shown path, bytes)`` of the figure ``name`` in ``folder``; None when it does not exist."""
    path = inside(folder, name)  # refuses an absolute name, ../ and a symlink out before anything is opened
    shown = Path(folder) / name
    if not os.path.lexists(shown):
        return None
    return shown, read_regular(path, MAX_FIGURE_BYTES, "a figure file")


def png_uri(folder: str | os.PathLike[str], name: str | os.PathLike[str]) -> str | None:
    """The PNG figure ``name`` of ``folder`` as a ``data:`` URI of its own bytes, checked as the
    module docstring says."""
    from ..errors import S2WError
    from ..io.images import opened_image

    found = _read(folder, name)
    if found is None:
        return None
    shown, data = found
    with opened_image(io.BytesIO(data), shown, max_figure_pixels(), TOO_LARGE) as image:
        kind = image.format
    if kind != "PNG":
        raise S2WError(f"{shown}: a {kind} image, not a PNG")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def jpeg_uri(folder: str | os.PathLike[str], name: str | os.PathLike[str], max_width: int = 1600,
             quality: int = 85) -> str | None:
    """An explanation figure as a JPEG ``data:`` URI at most ``max_width`` px wide (a report
    holds many; their PNGs are about 1 MB each), checked as the module docstring says."""
    from PIL import Image

    from ..io.images import opened_image

    found = _read(folder, name)
    if found is None:
        return None
    shown, data = found
    buffer = io.BytesIO()
    with opened_image(io.BytesIO(data), shown, max_figure_pixels(), TOO_LARGE) as image:
        image = image.convert("RGB")
        if image.width > max_width:
            image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
        image.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
