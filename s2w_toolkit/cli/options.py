"""Options shared by every command that runs a model, and the model set-up they drive.

``--face-index-a`` and ``--face-index-b`` are folded into the command's ``face_index``
argument: an int when both photos use the same index (as ``--face-index`` alone gives), else
an ``(index_a, index_b)`` tuple. ``--max-image-pixels`` sets ``S2W_MAX_IMAGE_PIXELS`` for the
run. Neither adds a parameter to the commands.

Example:
    >>> from click.testing import CliRunner
    >>> @click.command()
    ... @model_options
    ... def show(backbone, weights, device, face_index, aligned):
    ...     click.echo(repr(face_index))
    >>> [CliRunner().invoke(show, args).output.strip() for args in (["--face-index", "1"], ["--face-index-b", "2"])]
    ['1', '(0, 2)']
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import click

from ..data import DEMO_PAIR, demo_image
from ..io.images import MAX_IMAGE_PIXELS, MAX_PIXELS_ENV

_SIDES = "s2w.face_index_sides"


def _keep_side(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    ctx.meta.setdefault(_SIDES, {})[param.name] = value  # eager: stored before --face-index is processed


def _fold_face_index(ctx: click.Context, param: click.Parameter, value: int) -> int | tuple[int, int]:
    sides = ctx.meta.get(_SIDES, {})
    index_a = value if sides.get("face_index_a") is None else sides["face_index_a"]
    index_b = value if sides.get("face_index_b") is None else sides["face_index_b"]
    return index_a if index_a == index_b else (index_a, index_b)


def _set_pixel_limit(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if value is not None:
        os.environ[MAX_PIXELS_ENV] = str(value)


def model_options(command: Callable) -> Callable:
    """Add ``--backbone``, ``--weights``, ``--device``, ``--face-index`` (with ``-a``/``-b``),
    ``--aligned`` and ``--max-image-pixels``."""
    side = "Face index in the {} image (default: --face-index)."
    decorators = [
        click.option("--backbone", default="dlib-resnet", show_default=True, help="Registered backbone name."),
        click.option("--weights", type=click.Path(dir_okay=False), default=None,
                     help="Checkpoint for the backbone (default: the packaged weights)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--face-index", type=click.IntRange(min=0), default=0, show_default=True,
                     callback=_fold_face_index, help="Which face to use, 0 = the largest."),
        click.option("--face-index-a", type=click.IntRange(min=0), default=None, is_eager=True, expose_value=False,
                     callback=_keep_side, help=side.format("first")),
        click.option("--face-index-b", type=click.IntRange(min=0), default=None, is_eager=True, expose_value=False,
                     callback=_keep_side, help=side.format("second")),
        click.option("--aligned", is_flag=True, help="Images are pre-cropped faces: skip detection."),
        click.option("--max-image-pixels", type=click.IntRange(min=0), default=None, expose_value=False,
                     envvar=MAX_PIXELS_ENV, show_envvar=True, callback=_set_pixel_limit,
                     help=f"Refuse larger images (decompression-bomb guard; default {MAX_IMAGE_PIXELS:,}, 0: no limit)."),
    ]
    return functools.reduce(lambda f, d: d(f), reversed(decorators), command)


def image_pair(images: tuple[str, ...]) -> tuple[str, str]:
    """The two image arguments, or the bundled demo pair when none are given."""
    if not images:
        return tuple(str(demo_image(name)) for name in DEMO_PAIR)  # type: ignore[return-value]
    if len(images) != 2:
        raise click.UsageError(f"give two images (or none for the demo pair), got {len(images)}")
    return images[0], images[1]


def prepare(images: tuple[str, ...], backbone: str, weights: str | None, device: str,
            face_index: int | tuple[int, int], aligned: bool):
    """Load the backbone and the pair of faces; returns ``(backbone, pair)``. ``face_index``:
    one index for both images, or ``(index_a, index_b)``."""
    from ..pipeline import load_backbone, load_pair

    path_a, path_b = image_pair(images)
    net = load_backbone(backbone, weights=weights, device=device)
    return net, load_pair(path_a, path_b, net, face_index=face_index, aligned=aligned)
