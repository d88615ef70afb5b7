"""Sim2Word's ranked words as a console table (what ``s2w explain`` prints for it).

Example:
    >>> from s2w_toolkit.explainers.explanation import Explanation, Word
    >>> e = Explanation(score=0.5, maps={"a": [[0.0]], "b": [[0.0]]}, explainer="sim2word",
    ...                 words=[Word("Gray Hair", 0.61, {"side": "a", "attribute": "Hair Color", "cosine": 0.2})])
    >>> [c.header for c in words_table(e).columns][:4]
    ['#', 'face', 'attribute', 'word']
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..explainers.explanation import Explanation


def words_table(explanation: Explanation) -> Table:
    """The ranked words of one explanation: side, attribute, word, cosine s_j and its score."""
    case = explanation.metadata.get("case", "")
    caption = explanation.metadata.get("caption")
    table = Table(title=Text(f"{explanation.explainer}: ranked words" + (f" ({case} pair)" if case else "")),
                  caption=Text(caption) if caption else None)  # outside text is never read as markup
    judged = bool(explanation.metadata.get("support"))
    columns = ["#", "face", "attribute", "word", "s_j (cosine)", "1-arccos/pi", "change", "erased"]
    columns += ["vs random", "p", "p (selection)"] if judged else []
    for column in columns:
        table.add_column(column, justify="right" if column not in ("face", "attribute", "word") else "left")
    for rank, w in enumerate(explanation.words[:10], start=1):
        d = w.details
        cells = [str(rank), d.get("side", ""), Text(str(d.get("attribute", ""))), Text(w.text),
                 f"{d.get('cosine', float('nan')):.4f}", f"{w.score:.4f}", f"{d.get('delta', 0.0):+.4f}",
                 f"{100 * d.get('erased_fraction', 0.0):.1f}%"]
        if judged:
            cells += [f"{d.get('excess', float('nan')):+.4f}", f"{d.get('p_value', float('nan')):.2f}",
                      f"{d.get('p_selection', float('nan')):.2f}"]
        table.add_row(*cells)
    return table
