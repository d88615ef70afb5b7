"""``s2w attributes``: the attribute words of the faces in photos, with their evidence maps
(``s2w attributes [predict] IMAGES``), and ``s2w attributes train``, which fits your own heads.

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> CliRunner().invoke(cli, ["attributes", "--help"]).output.splitlines()[0]
    'Usage: cli attributes [OPTIONS] COMMAND [ARGS]...'
"""

from __future__ import annotations

import json

import click
from rich.table import Table

from ..data import demo_image
from ..io.atomic import write_text
from ..io.json_data import dumps
from ..io.folders import writable_folder
from ..io.names import distinct_labels, distinct_stems
from .console import out_console, styled
from .options import model_options


class _DefaultToPredict(click.Group):
    """A group whose sub-command name may be left out: ``s2w attributes a.jpg`` is
    ``s2w attributes predict a.jpg``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["predict", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToPredict)
def attributes() -> None:
    """Attribute words of faces (predict, the default) or train your own heads (train).

    "s2w attributes a.jpg" is short for "s2w attributes predict a.jpg".
    """


@attributes.command("predict")
@click.argument("images", nargs=-1, type=click.Path())
@click.option("--attributes", "spec", default=None,
              help="Attribute models, comma-separated (default: mediapipe,faceres,face-geometry,face-areas; "
                   "sim2word-resnet50 when --attribute-weights is given).")
@click.option("--attribute-weights", default=None,
              help="Checkpoint: PATH for the first model, or NAME=PATH[,NAME=PATH].")
@click.option("--out", "out_dir", default="s2w-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for attributes-<image>.png and .json.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON instead of tables.")
@model_options
def predict(images, spec, attribute_weights, out_dir, as_json, backbone, weights, device, face_index,
               aligned) -> None:
    """Predict attributes of the faces in photos (default: the bundled Obama portrait).

    Faces are aligned as --backbone aligns them, so the maps are in that backbone's frame.
    """
    import numpy as np

    from ..attributes.composite import load_attributes
    from ..pipeline import face_indices, load_backbone, load_face
    from ..render import render_attributes

    paths = list(images) or [str(demo_image("obama"))]
    model = load_attributes(spec, attribute_weights, device)
    folder = writable_folder(out_dir)
    net = load_backbone(backbone, weights=weights, device=device)
    index = face_indices(face_index)[0]  # one image at a time: --face-index-a
    faces = np.stack([load_face(p, net, index, aligned)[0] for p in paths])
    prediction = model.predict(faces, net.template)
    report = []
    console = out_console()
    labels, stems = distinct_labels(paths), distinct_stems(paths)  # kit/1.jpg and biden/1.jpg both kept
    for i, (path, label, stem) in enumerate(zip(paths, labels, stems)):
        rows = prediction.rows(i)
        png = render_attributes(faces[i], rows, prediction.maps[i].cpu().numpy(), folder / f"attributes-{stem}.png",
                                title=f"{label}: {model.name}")
        write_text(folder / f"attributes-{stem}.json", dumps({"image": path, "model": model.name,
                                                                    "attributes": rows}, indent=2))
        report.append({"image": path, "png": png, "attributes": rows})
        if not as_json:
            console.print(_table(label, model.name, rows))
            console.print(f"wrote {png}, {folder / f'attributes-{stem}.json'}", highlight=False, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(report, indent=2))


def _table(image: str, model: str, rows: list[dict]) -> Table:
    table = Table(title=f"{image} ({model})")
    for column in ("attribute", "word", "confidence", "present", "value / threshold"):
        table.add_column(column, justify="right" if column == "confidence" else "left", no_wrap=column == "attribute")
    for row in rows:
        measured = "" if row["value"] is None else f"{row['value']:.3g}"
        if measured and row["threshold"] is not None and row["threshold"] == row["threshold"]:
            measured += f" / {row['threshold']:.3g}"
        present = styled("yes", "green") if row["present"] else "no"
        table.add_row(row["attribute"], row["word"], f"{row['confidence']:.2f}", present, measured)
    return table


from .attributes_train import train  # noqa: E402

attributes.add_command(train)
