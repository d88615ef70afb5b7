"""The audit report in a real headless Chromium (Debian's ``chromium``, driven by Playwright,
no browser download): rendered to a screenshot that is not blank, with no network request, every
gallery image decoded, and readable at a phone's width. Skipped where Chromium is not installed
(``.ci/run`` installs it)."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from click.testing import CliRunner

    from s2w_toolkit.cli.main import cli

    out = tmp_path_factory.mktemp("audit") / "A"
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "-e", "centre", "--contrast", "1", "--near", "1", "--threshold", "0.95",
                                 "--out", str(out)])  # 0.95: the bundled mates below it are false non-matches
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["report", str(out)]).exit_code == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _open(browser, report, width, height):
    """The page at this viewport, with every request but the page itself recorded and refused
    (and every request its Content-Security-Policy refused before it left)."""
    context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
    page = context.new_page()
    requests: list[str] = []

    def refuse(route):
        if route.request.url != report.as_uri():
            requests.append(route.request.url[:80])
            return route.abort()
        return route.continue_()

    page.route("**/*", refuse)
    page.on("console", lambda message: requests.append(message.text[:80]) if "Content Security Policy" in message.text
            else None)  # a request the page's own policy refused was still attempted
    page.goto(report.as_uri(), wait_until="load")
    return page, requests


def _not_blank(png: bytes) -> float:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    return float((pixels < 200).mean())  # the share of pixels darker than the background


def test_the_report_renders_offline_with_every_image_decoded(browser, report):
    page, requests = _open(browser, report, 1280, 900)
    try:
        assert requests == []  # nothing fetched: images embedded, no external script, font or style
        images = page.evaluate("""() => Promise.all(Array.from(document.images).map(
            img => img.decode().then(() => [img.naturalWidth, img.closest('.card') !== null], () => [0, false])))""")
        cards = page.evaluate("document.querySelectorAll('.card').length")
        assert cards >= 2 and len(images) >= cards + 2  # each card's figure, ROC/DET and the distribution
        assert all(width > 100 for width, _ in images)
        assert sum(in_card for _, in_card in images) == cards  # one explainer: one decoded figure per pair
        assert page.evaluate("document.querySelector('#summary').innerText").count("false non-matches") >= 1
        shot = page.screenshot(full_page=True)
        assert _not_blank(shot) > 0.05
        page.click("#groups table.sortable th:nth-child(3)")  # the optional sorting works, and sorts
        mates = page.evaluate("Array.from(document.querySelectorAll('#groups tbody tr')).map(r => +r.cells[2].textContent)")
        assert mates == sorted(mates)
    finally:
        page.context.close()


def test_the_report_reads_at_a_phone_width(browser, report):
    page, requests = _open(browser, report, 390, 844)
    try:
        assert requests == []
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling of the page: wide tables scroll in their own box
        figure = page.evaluate("document.querySelector('.card img').getBoundingClientRect().width")
        assert 0 < figure <= 390
        assert _not_blank(page.screenshot()) > 0.05
    finally:
        page.context.close()
