"""Group mode of ``s2w explain``: ``--probe p.jpg --gallery DIR`` with the sim2word explainer.

Example:
    >>> from s2w_toolkit.data import FACES_DIR
    >>> [p.name for p in gallery_images(str(FACES_DIR))][:2]
    ['biden.jpg', 'obama.jpg']
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from rich.table import Table

from ..errors import S2WError
from ..io.atomic import write_text
from ..io.json_data import dumps
from ..io.suffixes import is_image_name
from .console import out_console, report_warning



def gallery_images(folder: str) -> list[Path]:
    """One image per other identity: the images in ``folder``, or the first image (by name) of
    each of its sub-folders when it has identity sub-folders."""
    root = Path(folder)
    if not root.is_dir():
        raise S2WError(f"{root}: --gallery must be a folder of face images (or of identity folders)")
    images = sorted(p for p in root.iterdir() if p.is_file() and is_image_name(p))
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        inside = sorted(p for p in sub.iterdir() if p.is_file() and is_image_name(p))
        images += inside[:1]
    if not images:
        raise S2WError(f"{root}: no images found for --gallery")
    return images


def run_group_mode(probe: str, gallery: str, net, attributes, settings, folder: Path,
                   face_index: int | tuple[int, int], aligned: bool, identity=None) -> None:
    """Load the faces (skipping, with a warning, gallery images that cannot be used), run group
    mode, write ``sim2word-group.json`` and ``.png`` and print the ranked table."""
    from ..pipeline import face_indices, load_face
    from ..sim2word.figure_details import render_group
    from ..sim2word.group import run_group

    probe_index, gallery_index = face_indices(face_index)
    probe_face, _ = load_face(probe, net, probe_index, aligned)
    faces, used = [], []
    for path in gallery_images(gallery):
        if path.resolve() == Path(probe).resolve():
            continue
        try:
            faces.append(load_face(path, net, gallery_index, aligned)[0])
            used.append(str(path))
        except S2WError as exc:
            report_warning(f"skipped {exc}")
    if not faces:
        raise S2WError(f"{gallery}: no usable gallery face")
    result = run_group(net, probe_face, faces, attributes, settings, identity=identity)
    ranked = result.ranked()
    caption = (f"{Path(probe).name} against {len(faces)} other faces (mean score "
               f"{result.extra['mean_angular']:.3f}): ")
    supported = result.supported()
    if supported:
        caption += f"the most characteristic attribute is {supported[0]['word'].lower()}."
    elif ranked:
        caption += "no attribute explains it better than a region of the same size, for most gallery faces."
    else:
        caption += "no eligible attribute."
    matched = [path for path, score in zip(used, result.gallery_scores) if score >= net.threshold]
    if matched:  # the gallery should hold other identities
        report_warning(f"{len(matched)} gallery face(s) pass the threshold {net.threshold:.4f} as the probe's "
                       f"person: {', '.join(Path(p).name for p in matched)}")
    joint = {r["attribute"]: result.joint[j].numpy() for j, r in enumerate(result.rows)}
    png = render_group(probe_face, ranked, {"identity": result.identity.numpy(),
                                            "counterfactual": result.counterfactual.numpy(), "joint": joint},
                       folder / "sim2word-group.png", caption)
    report = {"probe": probe, "gallery": used, "gallery_similarity": result.gallery_scores,
              "threshold": net.threshold, "threshold_source": net.threshold_source,
              "gallery_same_person": [score >= net.threshold for score in result.gallery_scores], "caption": caption,
              "ranking": [r["attribute"] for r in ranked], "supported": [r["attribute"] for r in supported],
              "attributes": result.rows,
              "forward_images": result.forward_images, "identity_strategy": result.extra["identity_strategy"],
              "settings": dataclasses.asdict(settings),
              "maps": {"identity": np.round(result.identity.numpy().astype(float), 5).tolist(),
                       "counterfactual": np.round(result.counterfactual.numpy().astype(float), 5).tolist()}}
    write_text(folder / "sim2word-group.json", dumps(report, indent=1))
    verdicts = (f"{len(matched)} of {len(faces)} gallery faces pass the threshold {net.threshold:.4f} "
                f"({net.threshold_source or 'the backbone default'})")
    table = Table(title=f"sim2word group mode: {Path(probe).name} against {len(faces)} faces",
                  caption=f"{caption}\n{verdicts}")
    for column in ("#", "attribute", "word", "mean score", "mean cosine", "change", "erased"):
        table.add_column(column, justify="left" if column in ("attribute", "word") else "right")
    for rank, r in enumerate(ranked, start=1):
        table.add_row(str(rank), r["attribute"], r["word"], f"{r['mean_angular']:.4f}", f"{r['mean_cosine']:.4f}",
                      f"{r['delta']:+.4f}", f"{100 * r['erased_fraction']:.1f}%")
    console = out_console()
    console.print(table)
    console.print(f"wrote {folder / 'sim2word-group.json'}, {png}", highlight=False, soft_wrap=True)
