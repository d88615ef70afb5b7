"""Every ```python snippet of docs/plugin-guide.md runs: in order, in one namespace, as a reader
would paste them. A snippet that is only a fragment is marked ``<!-- guide-test: skip -->`` on
the line before its fence."""

import re
from pathlib import Path

import pytest

from s2w_toolkit.registry import get_registry

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugin-guide.md"
SKIP = "<!-- guide-test: skip -->"
FENCE = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def snippets(text: str) -> list[tuple[int, str, bool]]:
    """(first line of code, code, skipped) of each python snippet; lines count from 1."""
    out = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        out.append((text.count("\n", 0, match.start()) + 2, match.group(1), before.strip() == SKIP))
    return out


def test_snippets_are_found_and_skips_are_few():
    found = snippets(GUIDE.read_text())
    assert len(found) >= 4 and sum(skipped for _, _, skipped in found) <= 2
    assert snippets("x\n<!-- guide-test: skip -->\n```python\n1/0\n```\n```python\nx = 1\n```\n") == [
        (4, "1/0\n", True), (7, "x = 1\n", False)]


def test_every_python_snippet_of_the_plugin_guide_runs(monkeypatch):
    # the guide's plugin module: the installed copy, or the repository's when it is not installed
    monkeypatch.syspath_prepend(str(ROOT / "plugins" / "s2w-center-prior"))
    namespace = {"__name__": "plugin_guide"}
    ran = 0
    try:
        for line, code, skipped in snippets(GUIDE.read_text()):
            if skipped:
                continue
            try:
                exec(compile("\n" * (line - 1) + code, str(GUIDE), "exec"), namespace)  # tracebacks: guide lines
            except Exception as exc:
                pytest.fail(f"the snippet at docs/plugin-guide.md line {line} raised {type(exc).__name__}: {exc}")
            ran += 1
    finally:
        from s2w_toolkit.registry import set_registry

        set_registry(None)
    assert ran >= 4 and "center-prior" in get_registry().names("explainer")
