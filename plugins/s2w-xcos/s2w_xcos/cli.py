"""``s2w xcos train``: learn the xCos attention head on a folder of faces (no identity labels).

Only click is imported here; torch and the models load when the command runs, so ``s2w --help``
stays fast.

Example:
    >>> from click.testing import CliRunner
    >>> "--images" in CliRunner().invoke(xcos, ["train", "--help"]).output
    True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click


@click.group("xcos")
def xcos() -> None:
    """xCos explainer tools: train its attention head."""


@xcos.command("train")
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of face photos (searched recursively); no identity labels needed.")
@click.option("--backbone", default="dlib-resnet", show_default=True, help="Registered backbone name.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint for the backbone (default: the packaged weights).")
@click.option("--epochs", type=click.IntRange(min=0), default=40, show_default=True)
@click.option("--pairs", type=click.IntRange(min=1), default=256, show_default=True,
              help="Face pairs sampled (seeded) from the folder.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Pairs per optimiser step (and faces per forward pass).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Adam learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="xcos-head.pt", show_default=True,
              help="Where to write the head (use it with: s2w explain -e xcos -o xcos_head=PATH).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--aligned", is_flag=True, help="Images are pre-cropped faces: skip detection.")
def train(images, backbone, weights, epochs, pairs, batch_size, lr, seed, out_path, device, aligned) -> None:
    """Train the attention head so that xCos reproduces the backbone's cosine (L1 loss)."""
    from s2w_toolkit.errors import S2WError
    from s2w_toolkit.pipeline import load_backbone

    from .head import save_head
    from .train import train_head

    check_writable(out_path)  # before minutes of training, not after
    net = load_backbone(backbone, weights=weights, device=device)
    result = train_head(images, net, epochs=epochs, pairs=pairs, seed=seed, batch_size=batch_size, lr=lr,
                        aligned=aligned)
    training = {**result.summary(), "backbone_weights": weights or ""}
    try:
        path = save_head(result.head, out_path, training=training)
    except OSError as exc:
        raise S2WError(f"{out_path}: cannot write the head ({exc.strerror or exc})") from None
    cfg = result.head.config
    click.echo(f"trained the xCos attention head for {net.name} ({cfg['channels']}x{cfg['height']}x{cfg['width']} "
               f"grid) on {result.faces} faces ({len(result.skipped)} skipped), {result.pairs} pairs, "
               f"{result.steps} steps: L1 loss {result.loss_before:.4f} -> {result.loss_after:.4f}")
    click.echo(f"wrote {path}")


def check_writable(path: str | os.PathLike) -> None:
    """Raise a one-line ``S2WError`` unless a file can be written at ``path`` (its missing
    parent folders are created when the head is saved).

    Example:
        >>> check_writable(os.path.join(tempfile.mkdtemp(), "new", "head.pt"))
    """
    from s2w_toolkit.errors import S2WError

    target = Path(path)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise S2WError(f"{target}: cannot write the head ({folder} is not a folder)")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise S2WError(f"{target}: cannot write the head in {folder} ({exc.strerror or exc})") from None
    if target.exists() and (target.is_dir() or not os.access(target, os.W_OK)):
        raise S2WError(f"{target}: cannot write the head (an existing folder or a read-only file)")
