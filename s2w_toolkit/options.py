"""Typed, strict explainer options: a declared dataclass, converted from text, routed by key.

An explainer declares ``Options``: a frozen dataclass subclassing :class:`BaseOptions` (which
holds ``batch_size`` and ``seed``, taken by every explainer). Its constructor converts each
value by the field's type and rejects keys it does not declare. Types understood: ``int``,
``float``, ``str``, ``bool`` (true/false, 1/0, yes/no, on/off), ``Literal[...]`` choices
(matched without regard to case), ``X | None`` (``none`` or an empty text is None) and
``tuple[str, ...]`` / ``list[str]`` (comma-separated text). Already-typed values pass as they
are. A ``None`` given for a field that cannot be None leaves its default.

Field ``metadata``: ``help`` (one line for ``s2w plugins NAME``), ``min`` and ``max``
(inclusive bounds). A ``ValueError`` from the dataclass's ``__post_init__`` is reported as an
:class:`~s2w_toolkit.errors.OptionError`, as are unknown keys and bad values.

:func:`route_options` hands each ``-o`` key to the selected explainers that declare it;
:func:`option_specs` lists an explainer's options with their types and defaults.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class BlurOptions(BaseOptions):
    ...     sigma: float = field(default=2.0, metadata={"help": "blur width in pixels", "min": 0})
    ...     mode: Literal["gauss", "box"] = "gauss"
    >>> build_options(BlurOptions, {"sigma": "3.5", "mode": "BOX", "batch-size": "8"}, name="blur")
    BlurOptions(batch_size=8, seed=0, sigma=3.5, mode='box')
    >>> build_options(BlurOptions, {"sigm": "1"}, name="blur")
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.OptionError: explainer 'blur' has no option 'sigm' (did you mean 'sigma'?); its options: ...
    >>> [(s.name, s.type, s.default) for s in option_specs(BlurOptions)][2:]
    [('sigma', 'float', 2.0), ('mode', 'one of: gauss, box', 'gauss')]
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Union

from .errors import OptionError

__all__ = ["BaseOptions", "OptionError", "OptionSpec", "build_options", "format_value", "normalise_key",
           "option_names", "option_specs", "options_class", "route_options", "type_label"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"none", ""})


@dataclass(frozen=True)
class BaseOptions:
    """The options every explainer takes; explainers' ``Options`` subclass it (frozen too).

    Example:
        >>> BaseOptions(), build_options(BaseOptions, {"seed": "3"})
        (BaseOptions(batch_size=64, seed=0), BaseOptions(batch_size=64, seed=3))
    """

    batch_size: int = field(default=64, metadata={"help": "images per forward pass (also --batch-size)", "min": 1})
    seed: int = field(default=0, metadata={"help": "seed of any random draw"})


@dataclass(frozen=True)
class OptionSpec:
    """One declared option: its ``name``, a readable ``type`` label, ``default`` and ``help``.

    Example:
        >>> option_specs(BaseOptions)[0]
        OptionSpec(name='batch_size', type='int', default=64, help='images per forward pass (also --batch-size)')
    """

    name: str
    type: str
    default: Any
    help: str = ""


class _Mismatch(Exception):
    """A value that does not fit a type (internal)."""


def normalise_key(key: str) -> str:
    """``"batch-size"`` -> ``"batch_size"``: keys may use either separator.

    >>> normalise_key(" top-k ")
    'top_k'
    """
    return str(key).strip().replace("-", "_")


def options_class(target: Any) -> type:
    """The options dataclass of an explainer class (or ``target`` itself if it is one)."""
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        return target
    return getattr(target, "Options", BaseOptions)


def check_options_class(options: Any, owner: str) -> None:
    """Raise ``TypeError`` unless ``options`` is a dataclass subclassing :class:`BaseOptions`."""
    if not (isinstance(options, type) and dataclasses.is_dataclass(options) and issubclass(options, BaseOptions)):
        raise TypeError(f"{owner}.Options must be a dataclass subclassing s2w_toolkit.options.BaseOptions")


def _name(target: Any, name: str | None) -> str:
    return name or getattr(target, "name", "") or getattr(target, "__name__", "?")


def _fields(options: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(options) if f.init}


def _hints(options: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(options)
    except Exception:  # annotations naming something out of reach: use them as written
        return {f.name: f.type for f in dataclasses.fields(options)}


def option_names(target: Any) -> list[str]:
    """The option names an explainer (or options class) declares, in declaration order.

    >>> option_names(BaseOptions)
    ['batch_size', 'seed']
    """
    return list(_fields(options_class(target)))


def _union_args(tp: Any) -> tuple | None:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def _allows_none(tp: Any) -> bool:
    args = _union_args(tp)
    return tp is Any or tp is None or type(None) is tp or (args is not None and type(None) in args)


def _sequence_kind(tp: Any) -> type | None:
    origin = typing.get_origin(tp) or tp
    return origin if origin in (tuple, list) else None


def type_label(tp: Any) -> str:
    """A readable label of a field type: ``int``, ``one of: a, b``, ``str or none``...

    >>> type_label(Literal["a", "b"] | None), type_label(tuple[str, ...])
    ('one of: a, b, none', 'comma-separated list of str')
    """
    args = _union_args(tp)
    if args is not None:
        rest = [a for a in args if a is not type(None)]
        if type(None) in args and len(rest) == 1 and typing.get_origin(rest[0]) is Literal:
            return type_label(rest[0]) + ", none"
        return " or ".join([type_label(a) for a in rest] + (["none"] if type(None) in args else []))
    if typing.get_origin(tp) is Literal:
        return "one of: " + ", ".join(str(c) for c in typing.get_args(tp))
    kind = _sequence_kind(tp)
    if kind is not None:
        item = (typing.get_args(tp) or (str,))[0]
        return f"comma-separated list of {type_label(item)}"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def _choice(value: Any, choices: tuple) -> Any:
    if value in choices and not isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    matches = [c for c in choices if str(c).casefold() == text]
    if len(matches) != 1:
        raise _Mismatch
    return matches[0]


def convert(value: Any, tp: Any) -> Any:
    """``value`` (text from the command line, or already typed) as type ``tp``; ``ValueError``
    if it does not fit.

    >>> convert("off", bool), convert("none", int | None), convert("a, b", tuple[str, ...])
    (False, None, ('a', 'b'))
    """
    try:
        return _convert(value, tp)
    except _Mismatch:
        raise ValueError(f"{value!r} is not {type_label(tp)}") from None


def _convert(value: Any, tp: Any) -> Any:
    args = _union_args(tp)
    if args is not None:
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower() in _NONE)):
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option)
            except _Mismatch:
                continue
        raise _Mismatch
    if typing.get_origin(tp) is Literal:
        return _choice(value, typing.get_args(tp))
    kind = _sequence_kind(tp)
    if kind is not None:
        item = (typing.get_args(tp) or (str,))[0]
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            raise _Mismatch
        return kind(_convert(part, item) for part in parts)
    return _scalar(value, tp)


def _parse(kind: type, text: str | None) -> Any:
    if text is None:
        raise _Mismatch
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise _Mismatch from None


def _scalar(value: Any, tp: Any) -> Any:
    text = value.strip() if isinstance(value, str) else None
    if tp is Any or (isinstance(tp, type) and tp not in (bool, int, float) and isinstance(value, tp)):
        return os.fspath(value) if tp is str else value
    if tp is bool:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _parse(int, text)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return _parse(float, text)
    if tp is str and isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(tp, type) and tp is not str:
        return _parse(tp, text)
    raise _Mismatch


def _did_you_mean(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _value(name: str, key: str, value: Any, tp: Any, metadata: Mapping) -> Any:
    try:
        converted = _convert(value, tp)
    except _Mismatch:
        raise OptionError(f"explainer {name!r}: option {key!r} wants {type_label(tp)}, got {value!r}") from None
    if converted is not None and not isinstance(converted, (str, bool, tuple, list)):
        low, high = metadata.get("min"), metadata.get("max")
        if low is not None and converted < low:
            raise OptionError(f"explainer {name!r}: option {key!r} must be at least {low}, got {value!r}")
        if high is not None and converted > high:
            raise OptionError(f"explainer {name!r}: option {key!r} must be at most {high}, got {value!r}")
    return converted


def build_options(target: Any, raw: Mapping[str, Any], name: str | None = None) -> Any:
    """The options instance of ``target`` (an explainer class or an options dataclass) from
    ``raw``, converted by field type; ``name`` (default: the explainer's) is used in errors.
    Raises :class:`~s2w_toolkit.errors.OptionError` for an unknown key or a bad value."""
    options = options_class(target)
    name = _name(target, name)
    fields = _fields(options)
    hints = _hints(options)
    values: dict[str, Any] = {}
    for raw_key, value in raw.items():
        key = normalise_key(raw_key)
        if key not in fields:
            valid = sorted(fields)
            raise OptionError(f"explainer {name!r} has no option {key!r}{_did_you_mean(key, valid)}; "
                              f"its options: {', '.join(valid)}")
        tp = hints.get(key, Any)
        if value is None and not _allows_none(tp):
            continue  # None means "not given": the default stays
        values[key] = _value(name, key, value, tp, fields[key].metadata)
    try:
        return options(**values)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"explainer {name!r}: {exc}") from None


def route_options(classes: Mapping[str, type], raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per selected explainer name, the converted keyword options to construct it with: each
    key of ``raw`` goes to every class that declares it. A key that none declares, a bad value
    or a rejected combination raises :class:`~s2w_toolkit.errors.OptionError`.

    >>> class A: name, Options = "a", BaseOptions
    >>> route_options({"a": A}, {"batch-size": "8"})
    {'a': {'batch_size': 8}}
    """
    given = {normalise_key(key): value for key, value in raw.items()}
    declared = {name: set(option_names(cls)) for name, cls in classes.items()}
    valid = sorted(set().union(*declared.values()))
    for key in given:
        if not any(key in names for names in declared.values()):
            raise OptionError(f"unknown option {key!r} for the selected explainers ({', '.join(classes)})"
                              f"{_did_you_mean(key, valid)}; valid: {', '.join(valid) or 'none'}")
    routed: dict[str, dict[str, Any]] = {}
    for name, cls in classes.items():
        mine = {key: value for key, value in given.items() if key in declared[name]}
        built = build_options(cls, mine, name=name)
        routed[name] = {key: getattr(built, key) for key in mine}
    return routed


def option_specs(target: Any) -> list[OptionSpec]:
    """The declared options of an explainer class (or options dataclass), in declaration order."""
    options = options_class(target)
    hints = _hints(options)
    specs = []
    for f in _fields(options).values():
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        specs.append(OptionSpec(f.name, type_label(hints.get(f.name, Any)), default, f.metadata.get("help", "")))
    return specs


def format_value(value: Any) -> str:
    """An option value as it would be written on the command line.

    >>> format_value(None), format_value(True), format_value(("a", "b")), format_value(())
    ('none', 'true', 'a,b', '(empty)')
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value) if value else "(empty)"
    return str(value)
