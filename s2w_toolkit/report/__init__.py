"""``s2w report``: an audit or a benchmark folder as one self-contained HTML page.

* :mod:`.charts`: the page's figures as embedded PNG data (ROC/DET, score distributions);
* :mod:`.context`: what the template shows, read from ``audit.json`` or ``summary.json``;
* :mod:`.page`: rendering with jinja2 (``templates/report.html.j2``) and writing the file.

Example:
    >>> from s2w_toolkit.report.context import markdown_blocks
    >>> [b["kind"] for b in markdown_blocks(chr(10).join(["# Run", "| a |", "| --- |", "| 1 |"]))]
    ['heading', 'table']
"""
