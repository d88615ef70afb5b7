"""Explaining one audited pair with each chosen explainer: a row per explainer, and its figure
(PNG) and explanation (JSON + maps) under ``pairs/<pair>/`` of the audit folder.

Example:
    >>> pair_folder("csv:a b.jpg|c.jpg")
    'a_b.jpg-c.jpg-...'
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

from ..errors import PluginError

#: Word details kept in a row: the numbers that say why a word is supported.
WORD_DETAILS = ("supported", "attribute", "direction", "excess", "control_mean", "control_std", "p_value",
                "p_selection", "agreement")


def pair_folder(key: str) -> str:
    """A folder name for a pair key: readable, and unique through a short hash."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key.split(":", 1)[-1].replace("|", "-"))[:60]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def word_rows(explanation: Any) -> list[dict] | None:
    """The explanation's words as plain rows (None for an explainer that names no words)."""
    if explanation.words is None:
        return None
    return [{"text": w.text, "score": w.score, **{k: w.details[k] for k in WORD_DETAILS if k in w.details}}
            for w in explanation.words]


def explain_pair(pair: Any, net: Any, name: str, cls: type, options: dict, attributes: Any,
                 folder: Path) -> dict[str, Any]:
    """Explain ``pair`` with one explainer; write ``folder/<name>.png`` and ``.json`` (``name`` made
    safe by :func:`~s2w_toolkit.io.names.safe_name`); return
    the row's fields (``similarity``, ``words``, ``figure``, ``json``, ``seconds``). Raises a
    one-line :class:`S2WError` on any failure of the explainer or its figure."""
    from ..io.atomic import replacing
    from ..io.names import remove_outputs, safe_name
    from ..pipeline import build_explainer, call_plugin

    start = time.perf_counter()
    stem = safe_name(name)  # file names stay inside the pair's folder
    remove_outputs(folder, stem)  # an earlier run's files are not left beside a failure's
    explainer = build_explainer(cls, options)
    explanation = explainer(pair, net, attributes if cls.uses_attributes else None)
    folder.mkdir(parents=True, exist_ok=True)
    explanation.save(folder / f"{stem}.json", figure=False)  # the figure below, isolated
    figure = folder / f"{stem}.png"
    with replacing(figure) as tmp:
        drawn = call_plugin(f"explainer {name!r} render", explainer.render, explanation, pair.image_a.copy(),
                            pair.image_b.copy(), tmp)
        if drawn is not None and Path(drawn) != tmp:
            raise PluginError(f"explainer {name!r} render wrote its figure elsewhere ({drawn})")
        if not tmp.is_file():
            raise PluginError(f"explainer {name!r} render wrote no figure")
    return {"similarity": explanation.score, "words": word_rows(explanation), "figure": str(figure),
            "json": str(folder / f"{stem}.json"), "seconds": time.perf_counter() - start}
