"""``s2w explain``: run one or more explainers on a pair, write JSON + PNG, print a summary.

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["explain", "--help"]).output.splitlines()[0]
    'Usage: cli explain [OPTIONS] [IMAGES]...'
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from ..errors import PluginError, S2WError
from ..interfaces import Explainer
from ..io.folders import writable_folder
from .console import out_console, progress_bar, report_failure, report_note, styled
from .options import apply_threshold, model_options, prepare, resolve_threshold, threshold_option

DEFAULT_EXPLAINER = "sim2word"


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("images", nargs=-1, type=click.UNPROCESSED)
@click.option("--explainer", "-e", "names", multiple=True, default=(DEFAULT_EXPLAINER,), show_default=True,
              help="Registered explainer name; repeat to run several.")
@click.option("--out", "out_dir", default="s2w-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for <explainer>.json and <explainer>.png.")
@click.option("--attributes", "attribute_spec", default=None,
              help="Attribute models for explainers that use them (default: mediapipe,faceres,face-geometry,face-areas).")
@click.option("--attribute-weights", default=None, help="Attribute checkpoint: PATH or NAME=PATH[,NAME=PATH].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Images per forward pass.")
@click.option("--option", "-o", "raw_options", multiple=True, metavar="KEY=VALUE",
              help="An explainer option, e.g. -o fill=blur -o top_k=2; repeatable.")
@click.option("--probe", type=click.Path(dir_okay=False), default=None,
              help="Group mode (sim2word): the face whose most characteristic attributes are wanted.")
@click.option("--gallery", type=click.Path(file_okay=False), default=None,
              help="Group mode: a folder with one image of each other identity (or identity sub-folders).")
@click.option("--details", is_flag=True,
              help="Also write <explainer>-details.png, the diagnostic figure (Sim2Word: every map, each erasure "
                   "against its controls), for explainers that have one.")
@click.option("--help-options", is_flag=True, help="List the selected explainers' options with types and defaults.")
@model_options
@threshold_option
def explain(images, names, out_dir, attribute_spec, attribute_weights, batch_size, raw_options, probe, gallery,
            details, help_options, backbone, weights, device, face_index, aligned, threshold) -> None:
    """Explain the similarity of the faces in two photos (default: Sim2Word on the bundled demo pair).

    With --probe and --gallery, Sim2Word's group mode ranks the probe's attributes by how much
    erasing them makes it look like the other faces, on average.
    """
    from ..registry import get_registry

    reg = get_registry()
    classes = {name: reg.explainer(name) for name in dict.fromkeys(names)}  # unknown names fail here
    if help_options:
        from .plugins import options_table

        for name, cls in classes.items():
            out_console().print(options_table(name, cls))
        return
    images, extra = _split_extra_options(images)
    _check_flags(extra, classes)
    if extra:
        listed = ", ".join(f"{k}={v}" for k, v in extra.items())
        report_note(f"explainer options from flags: {listed}")
    options = {**extra, **parse_key_values(raw_options)}
    if batch_size is not None:
        options["batch_size"] = batch_size
    if not (probe or gallery):
        from ..options import route_options

        options = route_options(classes, options)  # unknown keys and bad values fail before any work
    folder = writable_folder(out_dir)
    if probe or gallery:
        _group(probe, gallery, list(classes), options, attribute_spec, attribute_weights, folder, backbone, weights,
               device, face_index, aligned, images, threshold)
        return
    net, pair = prepare(images, backbone, weights, device, face_index, aligned, threshold)
    attributes = None
    if any(getattr(cls, "uses_attributes", False) for cls in classes.values()):
        from ..attributes.composite import load_attributes

        attributes = load_attributes(attribute_spec, attribute_weights, device=str(net.device))

    table = Table(title=f"s2w explain ({net.name} on {net.device})",
                  caption=f"threshold {net.threshold:.4f}: {net.threshold_source or 'the backbone default'}")
    table.add_column("explainer", no_wrap=True)
    for column in ("cosine", "verdict", "top words", "seconds"):
        table.add_column(column)
    failed, written = [], []
    progress = progress_bar(spinner=True)
    with progress:
        task = progress.add_task("explaining", total=len(classes))
        for name, cls in classes.items():
            progress.update(task, description=f"explaining with {name}")
            _explain_one(name, cls, options[name], attributes, pair, net, folder, table, failed, written, details)
            progress.advance(task)
    console = out_console()
    console.print(table)
    for explanation in written_explanations(written):
        if explanation.words:
            console.print(classes.get(explanation.explainer, Explainer).words_table(explanation))
        else:
            console.print(f"{explanation.explainer}: {explanation.metadata.get('caption', '')}")
    if len(written) < 2:
        (folder / "compare.png").unlink(missing_ok=True)  # an earlier run's comparison is not this run's
    else:
        from ..render import render_comparison

        from ..io.atomic import replacing

        with replacing(folder / "compare.png") as tmp:
            render_comparison([e for _, e in written], pair.image_a, pair.image_b, tmp)
        written.append((folder / "compare.png", None))
    for line, _ in written:
        console.print(f"wrote {line}", highlight=False, soft_wrap=True)
    if failed and len(classes) == 1:
        click.get_current_context().exit(1)  # its error is already on stderr, in one line
    if failed:
        raise S2WError(f"{len(failed)} of {len(classes)} explainer(s) failed: {', '.join(failed)}"
                       f"; the others' results are in {os.fspath(folder)}")


def _group(probe, gallery, names, options, attribute_spec, attribute_weights, folder, backbone, weights, device,
           face_index, aligned, images, threshold=None) -> None:
    from ..attributes.composite import load_attributes
    from ..pipeline import load_backbone
    from ..sim2word.explainer import Sim2WordExplainer
    from .group import run_group_mode

    if not (probe and gallery):
        raise click.UsageError("group mode needs both --probe and --gallery")
    if images or names != ["sim2word"]:
        raise click.UsageError("group mode takes no image arguments and runs the sim2word explainer only")
    sim2word = Sim2WordExplainer(**options)  # an OptionError is a one-line error
    if threshold is not None:
        resolve_threshold(threshold, backbone)  # a bad value fails before the model loads
    net = load_backbone(backbone, weights=weights, device=device)
    apply_threshold(net, threshold)
    attributes = load_attributes(attribute_spec, attribute_weights, device=str(net.device))
    run_group_mode(probe, gallery, net, attributes, sim2word.settings, folder, face_index, aligned,
                   identity=sim2word.identity_model(net))


def _split_extra_options(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Image paths, and any other ``--name value`` / ``--name=value`` / ``--flag`` given to
    ``s2w explain``: those become explainer options (``--xcos-head h.pt`` is ``-o xcos_head=h.pt``),
    so a plugin's options read like flags of its own."""
    images: list[str] = []
    extra: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            key, sep, value = token[2:].partition("=")
            if not sep:
                following = tokens[i + 1] if i + 1 < len(tokens) else None
                if following is not None and not following.startswith("--"):
                    value, i = following, i + 1
                else:
                    value = "true"
            extra[key.replace("-", "_")] = value
        else:
            images.append(token)
        i += 1
    return tuple(images), extra


def _check_flags(extra: dict[str, str], classes: dict[str, type]) -> None:
    """A ``--flag`` that is neither a flag of ``s2w explain`` nor an option of a selected
    explainer is a usage error (``--face-indx 3`` must not pass as an explainer option)."""
    import difflib

    from ..options import option_names

    declared = {key for cls in classes.values() for key in option_names(cls)}
    for key in extra:
        if key not in declared:
            flag = "--" + key.replace("_", "-")
            known = [opt for param in click.get_current_context().command.params for opt in param.opts
                     if opt.startswith("--")] + ["--" + k.replace("_", "-") for k in sorted(declared)]
            close = difflib.get_close_matches(flag, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise click.UsageError(f"no such option: {flag}{hint}; `s2w explain -e NAME --help-options` lists "
                                   "an explainer's options")


def parse_key_values(raw: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` from ``-o`` options as a dict; ``-`` in keys becomes ``_``."""
    options = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--option wants KEY=VALUE, got {item!r}")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def _explain_one(name: str, cls: type, options: dict, attributes, pair, net, folder: Path, table: Table,
                 failed: list, written: list, details: bool = False) -> None:
    """Run one explainer on its own copy of the pair and write its JSON and PNG (atomically), add
    its row; any failure of the plugin (``sys.exit()`` too) is reported, not raised.

    The files are named from a safe form of the explainer's name (always inside ``folder``), and
    an earlier run's files of this explainer are removed first: what is left is this run's."""
    from ..io.atomic import replacing
    from ..io.names import remove_outputs, safe_name
    from ..pipeline import build_explainer, call_plugin

    stem = safe_name(name)
    remove_outputs(folder, stem)
    try:
        explainer = build_explainer(cls, options)
        explanation = explainer(pair, net, attributes if cls.uses_attributes else None)
        explanation.metadata.setdefault("threshold_source", net.threshold_source)
        json_path = folder / f"{stem}.json"
        explanation.save(json_path, figure=False)  # JSON + .npz of the maps, kept even if the figure then fails
        with replacing(folder / f"{stem}.png") as tmp:
            drawn = call_plugin(f"explainer {name!r} render", explainer.render, explanation, pair.image_a.copy(),
                                pair.image_b.copy(), tmp)
            drawn = tmp if drawn is None else Path(drawn)
            if drawn == tmp and not tmp.is_file():
                raise PluginError(f"explainer {name!r} render wrote no figure")
        png_path = folder / f"{stem}.png" if drawn == tmp else drawn
        if details:
            from ..plotting import save_figure

            extra = call_plugin(f"explainer {name!r} details figure", explainer.details_figure, explanation,
                                pair.image_a.copy(), pair.image_b.copy())
            if extra is not None:
                png_path = f"{png_path}, {save_figure(extra, folder / f'{stem}-details.png')}"
    except (S2WError, OSError) as exc:
        failed.append(name)
        report_failure(exc)
        table.add_row(name, "-", styled("failed", "red"), "", "")
        return
    verdict = styled("same person", "green") if explanation.same_person else styled("different person", "red")
    words = ", ".join(w.text for w in (explanation.words or [])[:3])
    table.add_row(name, f"{explanation.score:.4f}", verdict, words, f"{explanation.metadata['seconds']:.2f}")
    written.append((f"{json_path} (maps in {json_path.with_suffix('.npz').name}), {png_path}", explanation))


def written_explanations(written: list) -> list:
    return [e for _, e in written if e is not None and (e.words or e.metadata.get("support"))]
