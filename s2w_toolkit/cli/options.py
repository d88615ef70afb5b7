"""Options shared by every command that runs a model, and the model set-up they drive."""

from __future__ import annotations

import functools
from typing import Callable

import click

from ..data import DEMO_PAIR, demo_image


def model_options(command: Callable) -> Callable:
    """Add ``--backbone``, ``--weights``, ``--device``, ``--face-index`` and ``--aligned``."""
    decorators = [
        click.option("--backbone", default="dlib-resnet", show_default=True, help="Registered backbone name."),
        click.option("--weights", type=click.Path(dir_okay=False), default=None,
                     help="Checkpoint for the backbone (default: the packaged weights)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--face-index", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which face to use, 0 = the largest."),
        click.option("--aligned", is_flag=True, help="Images are pre-cropped faces: skip detection."),
    ]
    return functools.reduce(lambda f, d: d(f), reversed(decorators), command)


def image_pair(images: tuple[str, ...]) -> tuple[str, str]:
    """The two image arguments, or the bundled demo pair when none are given."""
    if not images:
        return tuple(str(demo_image(name)) for name in DEMO_PAIR)  # type: ignore[return-value]
    if len(images) != 2:
        raise click.UsageError(f"give two images (or none for the demo pair), got {len(images)}")
    return images[0], images[1]


def prepare(images: tuple[str, ...], backbone: str, weights: str | None, device: str, face_index: int,
            aligned: bool):
    """Load the backbone and the pair of faces; returns ``(backbone, pair)``."""
    from ..pipeline import load_backbone, load_pair

    path_a, path_b = image_pair(images)
    net = load_backbone(backbone, weights=weights, device=device)
    return net, load_pair(path_a, path_b, net, face_index=face_index, aligned=aligned)
