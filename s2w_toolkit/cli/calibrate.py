"""``s2w calibrate``: the threshold that gives a target FMR for a backbone on a pair list.

Every image of the list is detected and aligned once (however many pairs it is in) and embedded
in batches; a pair whose image cannot be used is skipped with a one-line warning. A batch can
move a score by about 1e-7 from what ``s2w verify`` (one face per forward pass) computes, which
matters only for a pair at the cut; ``--batch-size 1`` gives verify's scores bit for bit. The JSON
written (atomically) is what ``--threshold FILE`` reads back (:func:`.options.resolve_threshold`).

Example:
    >>> from click.testing import CliRunner
    >>> from s2w_toolkit.cli.main import cli
    >>> result = CliRunner().invoke(cli, ["calibrate", "--fmr", "2"])
    >>> result.exit_code, result.output.strip()
    (1, 'error: --fmr must lie strictly between 0 and 1, got 2.0')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..errors import S2WError
from .console import out_console, progress_bar, report_warning, styled

#: What ``--threshold FILE`` checks that a file is.
KIND = "s2w-threshold"


def _embed_images(specs: list, net: Any, aligned: bool, batch_size: int) -> tuple[dict, dict]:
    """Unit embeddings per ``(path, face index)`` and the errors, with a progress bar."""
    from ..faces.embedding import embed_faces, face_keys

    progress = progress_bar()
    with progress:
        task = progress.add_task("loading faces", total=len(face_keys(specs)))
        return embed_faces(specs, net, aligned, batch_size, advance=lambda: progress.advance(task))


def _score_pairs(specs: list, net: Any, *, aligned: bool = False, batch_size: int = 64) -> tuple[list, list, list]:
    """Cosine scores of the pairs that load, their labels, and ``(key, error)`` per skipped pair
    (each also warned about in one line)."""
    units, failed = _embed_images(specs, net, aligned, batch_size)
    scores, same, skipped = [], [], []
    for s in specs:
        error = failed.get((s.a, s.face_a)) or failed.get((s.b, s.face_b))
        if error:
            skipped.append((s.key, error))
            report_warning(f"skipped pair {s.key}: {error}")
            continue
        scores.append(float((units[(s.a, s.face_a)] * units[(s.b, s.face_b)]).sum()))
        same.append(bool(s.same))
    return scores, same, skipped


def _calibration(scores: list, same: list, fmr: float) -> dict[str, Any]:
    """The threshold for ``fmr`` on these scores with its achieved rates and the summary; refuses
    a list without mates or without non-mates."""
    from ..bench.verification import rates_at_threshold, threshold_for_fmr, verification_summary

    mates, non_mates = sum(same), len(same) - sum(same)
    if not mates or not non_mates:
        raise S2WError(f"calibration needs mate and non-mate pairs; the pairs that loaded have {mates} mate(s) "
                       f"and {non_mates} non-mate(s)")
    threshold = threshold_for_fmr(scores, same, fmr)  # warns when fmr < 1 / non-mates
    at = rates_at_threshold(scores, same, threshold)
    return {"threshold": threshold, "target_fmr": fmr, "achieved_fmr": at["fmr"], "fnmr": at["fnmr"],
            "reachable": fmr * non_mates >= 1 - 1e-9, "false_matches": at["false_matches"],
            "non_mates": non_mates, "false_non_matches": at["false_non_matches"], "mates": mates,
            "summary": verification_summary(scores, same, threshold)}


@click.command()
@click.option("--pairs", "pairs_source", default=None,
              help="LFW pairs.txt, a CSV (a,b,same) or a folder of identity folders (default: the bundled pairs).")
@click.option("--root", default=None, help="Folder the pair paths are relative to (LFW's image folder).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Use at most this many pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling pairs from a folder.")
@click.option("--backbone", default="dlib-resnet", show_default=True, help="Registered backbone name.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint for the backbone (default: the packaged weights).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--aligned", is_flag=True, help="Images are pre-cropped faces: skip detection.")
@click.option("--fmr", type=float, default=1e-3, show_default=True, help="Target false match rate, in (0, 1).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Faces per forward pass (1: scores bit for bit as s2w verify computes them).")
@click.option("--out", "out_path", default="threshold.json", show_default=True, type=click.Path(dir_okay=False),
              help="The calibration JSON to write (read back by --threshold FILE).")
@click.option("--roc", "roc_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the ROC and DET curves to this PNG.")
def calibrate(pairs_source, root, count, seed, backbone, weights, device, aligned, fmr, batch_size, out_path,
              roc_path) -> None:
    """Find the threshold that gives FMR <= --fmr for a backbone on a pair list, and write it
    with the verification summary (ROC AUC, EER, TPR at FMR) to --out."""
    if not 0.0 < fmr < 1.0:
        raise S2WError(f"--fmr must lie strictly between 0 and 1, got {fmr}")
    from ..bench.pairs import pair_list_id, read_pairs
    from ..weights.fingerprint import weights_fingerprint
    from ..io.atomic import write_text
    from ..io.json_data import dumps
    from ..pipeline import load_backbone
    from ..io.folders import writable_folder

    for path in (out_path, roc_path):
        if path:
            writable_folder(str(Path(path).parent))  # before the work, not after
    specs = read_pairs(pairs_source, root, count=count, seed=seed)
    pairs_id = pair_list_id(pairs_source, root=root, count=count, seed=seed)
    net = load_backbone(backbone, weights=weights, device=device)
    scores, same, skipped = _score_pairs(specs, net, aligned=aligned, batch_size=batch_size)
    result = _calibration(scores, same, fmr)
    report = {"kind": KIND, "version": 1, "threshold": result.pop("threshold"), "backbone": net.name,
              "weights": weights_fingerprint(net), "weights_path": weights, "pairs": pairs_id,
              "pairs_source": pairs_source, "pairs_root": root, "pairs_listed": len(specs),
              "pairs_skipped": len(skipped), **result}
    write_text(out_path, dumps(report, indent=1) + "\n")
    written = [str(out_path)]
    if roc_path:
        from ..bench.roc import write_roc

        written.append(write_roc(scores, same, report["threshold"], roc_path))
    console = out_console()
    console.print(_table(report))
    console.print(f"wrote {', '.join(written)}", soft_wrap=True)


def _rate(value: float | None, count: int, total: int) -> str:
    return "-" if value is None else f"{value:.4g} ({count}/{total})"


def _table(report: dict) -> Table:
    s = report["summary"]
    table = Table(title=f"s2w calibrate: {report['backbone']} at FMR {report['target_fmr']:g}",
                  caption=f"pairs {report['pairs']}; accept when cosine >= threshold")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    eer = s["eer"]
    rows = [("pairs (skipped)", f"{s['pairs']} ({report['pairs_skipped']})"),
            ("mates / non-mates", f"{report['mates']} / {report['non_mates']}"),
            ("threshold", f"{report['threshold']:.6f}"),
            ("FMR target / achieved", f"{report['target_fmr']:g} / " + _rate(report["achieved_fmr"],
                                      report["false_matches"], report["non_mates"])),
            ("FNMR", _rate(report["fnmr"], report["false_non_matches"], report["mates"])),
            ("ROC AUC", "-" if s["roc_auc"] is None else f"{s['roc_auc']:.4f}"),
            ("EER (threshold)", "-" if eer["eer"] is None else f"{eer['eer']:.4f} ({eer['threshold']:.4f})")]
    for row in s["tpr_at_fmr"]:
        value = f"{row['tpr']:.4f}" if row["tpr"] is not None else "n/a: " + row["note"].split(": ", 1)[-1]
        rows.append((f"TPR at FMR {row['fmr']:g}", value))
    if not report["reachable"]:
        needed = math.ceil(1 / report["target_fmr"] - 1e-9)
        rows.append(("note", styled(f"FMR {report['target_fmr']:g} needs at least {needed} non-mates", "yellow")))
    for name, value in rows:
        table.add_row(name, value)
    return table
