"""Options shared by every command that runs a model, and the model set-up they drive.

``--face-index-a`` and ``--face-index-b`` are folded into the command's ``face_index``
argument: an int when both photos use the same index (as ``--face-index`` alone gives), else
an ``(index_a, index_b)`` tuple. ``--max-image-pixels`` sets ``S2W_MAX_IMAGE_PIXELS`` for the
run. Neither adds a parameter to the commands.

``--threshold FLOAT|FILE`` (:func:`threshold_option`, on the commands that give a verdict) sets
the backbone's threshold for the run: a number, or a ``s2w calibrate`` JSON made for the same
backbone name (:func:`resolve_threshold`); its source replaces ``backbone.threshold_source``.

Example:
    >>> from click.testing import CliRunner
    >>> @click.command()
    ... @model_options
    ... def show(backbone, weights, device, face_index, aligned):
    ...     click.echo(repr(face_index))
    >>> [CliRunner().invoke(show, args).output.strip() for args in (["--face-index", "1"], ["--face-index-b", "2"])]
    ['1', '(0, 2)']
    >>> resolve_threshold("0.42", "dlib-resnet")
    (0.42, '--threshold 0.42')
"""

from __future__ import annotations

import functools
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import click

from ..data import DEMO_PAIR, demo_image
from ..errors import S2WError
from ..io.limits import MAX_IMAGE_PIXELS, MAX_PIXELS_ENV

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


def threshold_option(command: Callable) -> Callable:
    """Add ``--threshold FLOAT|FILE`` (parameter ``threshold``, a string or None), for the
    commands that give a verdict; :func:`prepare` and :func:`apply_threshold` apply it.

    Example:
        >>> from click.testing import CliRunner
        >>> show = threshold_option(click.command()(lambda threshold: click.echo(repr(threshold))))
        >>> CliRunner().invoke(show, ["--threshold", "0.5"]).output.strip()
        "'0.5'"
    """
    return click.option("--threshold", default=None, metavar="FLOAT|FILE",
                        help="Cosine threshold for the verdict: a number, or a `s2w calibrate` JSON "
                             "(default: the backbone's own).")(command)


def _read_calibration(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise S2WError(f"--threshold {path}: cannot read the calibration file ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise S2WError(f"--threshold {path}: not a calibration JSON ({exc})") from None
    value = data.get("threshold") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise S2WError(f"--threshold {path}: not a calibration JSON (no finite number under 'threshold')")
    if not isinstance(data.get("backbone"), str):
        raise S2WError(f"--threshold {path}: the calibration file does not name its backbone")
    return data


def resolve_threshold(value: str, backbone: Any) -> tuple[float, str]:
    """The threshold that ``--threshold value`` asks for, and where it came from.

    ``value`` is a finite number, or the path of a ``s2w calibrate`` JSON made for ``backbone``
    (a :class:`~s2w_toolkit.backbones.base.Backbone`, or its name). A file for another backbone name,
    a missing or unparsable file and a non-finite number are one-line :class:`S2WError` errors. With
    a Backbone, a file calibrated on other weights (another fingerprint) gives a warning.

    Example:
        >>> resolve_threshold("0.8", "dlib-resnet")
        (0.8, '--threshold 0.8')
    """
    name = backbone if isinstance(backbone, str) else backbone.name
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise S2WError(f"--threshold {value}: not a finite number")
        return number, f"--threshold {text}"
    path = Path(text)
    if not path.is_file():
        raise S2WError(f"--threshold {value}: neither a number nor a calibration file (no such file)")
    data = _read_calibration(path)
    if data["backbone"] != name:
        raise S2WError(f"--threshold {path}: calibrated for backbone {data['backbone']!r}, not {name!r}; "
                       f"run s2w calibrate --backbone {name}")
    if not isinstance(backbone, str) and data.get("weights"):
        from ..weights.fingerprint import weights_fingerprint

        if data["weights"] != weights_fingerprint(backbone):
            warnings.warn(f"{path} was calibrated on other {name} weights (fingerprint {data['weights']}); "
                          "its FMR may not hold for these", stacklevel=2)
    target = data.get("target_fmr")
    at = f"at FMR {target:g} " if isinstance(target, (int, float)) and not isinstance(target, bool) else ""
    return float(data["threshold"]), f"calibrated {at}on {data.get('pairs', 'unnamed pairs')} ({path.name})"


def apply_threshold(backbone: Any, value: str | None) -> None:
    """Set ``backbone.threshold`` and ``threshold_source`` for this run from ``--threshold value``
    (:func:`resolve_threshold`); None leaves the backbone's own.

    Example:
        >>> from s2w_toolkit.backbones.wrapped import wrap_module
        >>> from torch import nn
        >>> net = wrap_module(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), input_size=(8, 8))
        >>> apply_threshold(net, "0.25")
        >>> net.threshold, net.threshold_source
        (0.25, '--threshold 0.25')
    """
    if value is not None:
        backbone.threshold, backbone.threshold_source = resolve_threshold(value, backbone)


def image_pair(images: tuple[str, ...]) -> tuple[str, str]:
    """The two image arguments, or the bundled demo pair when none are given."""
    if not images:
        return tuple(str(demo_image(name)) for name in DEMO_PAIR)  # type: ignore[return-value]
    if len(images) != 2:
        raise click.UsageError(f"give two images (or none for the demo pair), got {len(images)}")
    return images[0], images[1]


def prepare(images: tuple[str, ...], backbone: str, weights: str | None, device: str,
            face_index: int | tuple[int, int], aligned: bool, threshold: str | None = None):
    """Load the backbone and the pair of faces; returns ``(backbone, pair)``. ``face_index``:
    one index for both images, or ``(index_a, index_b)``; ``threshold``: a ``--threshold``
    value (checked before the model loads)."""
    from ..pipeline import load_backbone, load_pair

    path_a, path_b = image_pair(images)
    if threshold is not None:
        resolve_threshold(threshold, backbone)  # a bad value fails before the model loads
    net = load_backbone(backbone, weights=weights, device=device)
    apply_threshold(net, threshold)
    return net, load_pair(path_a, path_b, net, face_index=face_index, aligned=aligned)
