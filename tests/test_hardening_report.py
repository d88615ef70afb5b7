"""Hardening, round two (issue 27): ``s2w report`` and ``Explanation.load`` on hostile folders and
files (FIFOs, symlinks and paths that lead out, decompression bombs, malformed JSON), the
report's Content-Security-Policy, short temporary names, the report of a benchmark of every
built-in explainer, and no interval or claim from too few pairs.

Tests about processes use real files (``os.mkfifo``, ``os.symlink``) and run the CLI in a
subprocess with a timeout, so that a regression fails instead of hanging."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit import Explanation
from s2w_toolkit.errors import S2WError
from s2w_toolkit.io.images import MAX_PIXELS_ENV

S2W = [sys.executable, "-c", "from s2w_toolkit.cli.main import main; main()"]
TIMEOUT = 60  # seconds; the old code waited for a FIFO's writer forever
MIN_PAIRS = 6  # s2w_toolkit.bench.stats.MIN_PAIRS_FOR_CLAIM: the stated minimum for an interval or a claim
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def one_line_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in text, text
    return lines[0]


def _png(path, size=(60, 40), colour="navy") -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path.read_bytes()


def _big_png(path, width: int, height: int) -> None:
    """A valid grayscale PNG of ``width`` x ``height`` black pixels, compressed to a few hundred KB
    (a decompression bomb: 150 MP take 1.1 GB once decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(1), b"\0" * (width + 1)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def _rates(mates: int) -> dict:
    return {"mates": mates, "false_non_matches": 0, "fnmr": 0.0, "fnmr_low": 0.0, "fnmr_high": 0.5, "non_mates": 2,
            "false_matches": 0, "fmr": 0.0, "fmr_low": 0.0, "fmr_high": 0.6}


GROUPS = {"Gender": {"female": _rates(3), "male": _rates(1)}, "Age": {"young": _rates(2)}}


def _audit_folder(folder, figures: list[str]):
    """A small audit folder as ``s2w audit`` writes it: one gallery card per figure path."""
    folder.mkdir(parents=True, exist_ok=True)
    gallery = [{"key": f"pair{i}", "a": f"obama/{i}.jpg", "b": f"biden/{i}.jpg", "same": False, "similarity": 0.5,
                "outcome": "true non-match", "reasons": ["sample"],
                "explainers": [{"explainer": "centre", "figure": figure}]} for i, figure in enumerate(figures)]
    summary = {"kind": "audit", "settings": {"backbone": "dlib-resnet", "weights": "w", "pairs": "p", "attributes": ""},
               "threshold": {"threshold": 0.9, "source": "given"}, "counts": {"pairs": len(figures)},
               "verification": {}, "scores": [], "gallery": gallery, "words": {}, "groups": GROUPS,
               "group_tests": [], "group_note": "Predicted groups.", "findings": [], "errors": []}
    (folder / "audit.json").write_text(json.dumps(summary))
    return folder


def _report(*args, timeout=TIMEOUT):
    return subprocess.run([*S2W, "report", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _html(folder) -> str:
    return (folder / "report.html").read_text()


# -- a benchmark of every built-in explainer (items 17 and 18; its folder serves the others) --

def builtin_explainers() -> list[str]:
    from s2w_toolkit.builtin_plugins import s2w_register_explainers

    return [ref.name for ref in s2w_register_explainers()]


@pytest.fixture(scope="module")
def builtin_bench(tmp_path_factory):
    """``s2w benchmark`` of every built-in explainer on one mate and one non-mate (Sim2Word made
    cheap: one placement, no stability re-runs)."""
    from click.testing import CliRunner

    from s2w_toolkit.cli.main import cli

    out = tmp_path_factory.mktemp("bench") / "B"
    names = [a for name in builtin_explainers() for a in ("-e", name)]
    result = CliRunner().invoke(cli, ["benchmark", *names, "-o", "stability=0", "-o", "placements=1", "--count", "2",
                                      "--steps", "2", "--fill", "black", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def centre_bench(tmp_path_factory):
    """``s2w benchmark -e centre`` on one mate and one non-mate: a benchmark folder with every figure."""
    from click.testing import CliRunner

    from s2w_toolkit.cli.main import cli

    out = tmp_path_factory.mktemp("bench") / "C"
    result = CliRunner().invoke(cli, ["benchmark", "-e", "centre", "--count", "2", "--steps", "2", "--fill", "black",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def bench(centre_bench, tmp_path):
    """A copy of a benchmark folder to spoil."""
    copy = tmp_path / "B"
    shutil.copytree(centre_bench, copy, ignore=shutil.ignore_patterns("report.html", ".s2w-lock"))
    return copy


def test_the_report_of_a_benchmark_of_every_builtin_explainer(builtin_bench, tmp_path):
    summary = json.loads((builtin_bench / "summary.json").read_text())
    assert set(summary["explainers"]) == set(builtin_explainers())  # sim2word, input-gradient and both controls
    done = _report(builtin_bench, "--out", tmp_path / "page.html")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "page.html").read_text()
    items = re.findall(r"<li>(.*?)</li>", html)
    assert any(i.startswith("verification AUC") for i in items), items  # Sim2Word's AUC drop, as a list
    assert "builtin_function_or_method" not in html


def test_one_pair_per_type_shows_no_interval_and_no_claim(builtin_bench):
    text = (builtin_bench / "summary.md").read_text()
    assert f"need at least {MIN_PAIRS} pairs of a type" in text  # the rule, stated
    tables = [t for t in text.split("\n### ")[1:]]
    assert len(tables) == 6  # mates and non-mates, sides both, a and b
    for table in tables:
        assert "(1 pairs)" in table.splitlines()[0]
        assert f"1 pair, fewer than the {MIN_PAIRS} that an interval or a claim needs" in table
        rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
        for row in rows:
            assert not re.search(r"\[-?\d", row), row  # no "[0.020, 0.020]"
            assert ", beats" not in row and "does not beat" not in row, row
    summary = json.loads((builtin_bench / "summary.json").read_text())
    versus = summary["explainers"]["input-gradient"]["results"]["mate"]["both"]["deletion_auc"]["versus"]
    assert versus["beats"] is None and versus["low"] is None and versus["difference"] is not None
    assert "fewer than" in versus["too_few"]
    from s2w_toolkit.bench.stats import MIN_PAIRS_FOR_CLAIM

    assert MIN_PAIRS_FOR_CLAIM == MIN_PAIRS


def _rows(n: int, mine: float, control: float) -> list[dict]:
    side = {"deletion_auc": 0.0, "insertion_auc": 0.0, "scattered_deletion_auc": 0.0, "scattered_insertion_auc": 0.0,
            "deletion_curve": [0.0, 0.0], "insertion_curve": [0.0, 0.0]}
    rows = []
    for i in range(n):
        for name, value, role in (("x", mine + 0.01 * i, "explainer"), ("random", control, "control"),
                                  ("centre", control, "control")):
            rows.append({"key": f"p{i}", "a": "a", "b": "b", "same": True, "explainer": name, "role": role,
                         "evidence": "similarity", "similarity": 0.9, "threshold": 0.5, "seconds": 1.0,
                         "forward_passes": 1, "options": {}, "settings": {"seed": 0, "metrics": ["deletion"]},
                         "metrics": {"deletion": {s: {**side, "deletion_auc": value} for s in "ab"}}})
    return rows


@pytest.mark.parametrize("n", [1, 5, 6])
def test_a_claim_needs_the_stated_number_of_pairs(tmp_path, n):
    from s2w_toolkit.bench.report_markdown import markdown
    from s2w_toolkit.bench.summary import summarise

    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(n, 0.2, 0.6)))
    summary = summarise(tmp_path)
    versus = summary["explainers"]["x"]["results"]["mate"]["both"]["deletion_auc"]["versus"]
    text = markdown(summary)
    row = next(line for line in text.splitlines() if line.startswith("| x |"))
    if n < MIN_PAIRS:  # every pair lower than the controls, yet too few to claim it
        assert versus["beats"] is None and "[" not in row and "no claim (too few pairs)" in row
    else:
        assert versus["beats"] is True and re.search(r"vs (centre|random), beats", row), row


# -- figures and files (items 6, 7, 10) --

def test_a_fifo_named_like_a_figure_is_left_out_with_a_warning(bench, tmp_path):
    (bench / "summary.png").unlink()
    os.mkfifo(bench / "summary.png")
    done = _report(bench)
    assert done.returncode == 0, done.stderr
    warning = f"{bench / 'summary.png'}: is a FIFO (named pipe), not a figure file; left out of the report"
    assert f"warning: {warning}" in done.stderr
    assert warning in _html(bench)
    audit = _audit_folder(tmp_path / "A", ["pairs/p/centre.png", "pairs/q/centre.png"])
    _png(audit / "pairs/q/centre.png")
    os.makedirs(audit / "pairs/p")
    os.mkfifo(audit / "pairs/p/centre.png")
    done = _report(audit)
    assert done.returncode == 0, done.stderr
    assert "pairs/p/centre.png: is a FIFO (named pipe), not a figure file; left out" in done.stderr
    assert _html(audit).count("data:image/jpeg;base64,") == 1  # the other card's figure


def test_a_fifo_as_the_summary_file_is_one_line_at_once(tmp_path):
    folder = tmp_path / "A"
    folder.mkdir()
    os.mkfifo(folder / "audit.json")
    done = _report(folder)
    assert done.returncode == 1
    assert f"{folder / 'audit.json'}: is a FIFO (named pipe)" in one_line_error(done.stderr)


def test_the_report_embeds_nothing_from_outside_its_folder(bench, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"password=hunter2 " * 40)
    leaked = base64.b64encode(secret.read_bytes()[:30]).decode()[:36]
    (bench / "summary.png").unlink()
    os.symlink(secret, bench / "summary.png")
    (bench / "curves.png").unlink()
    os.symlink("roc.png", bench / "curves.png")  # a symlink that stays inside is fine
    done = _report(bench)
    assert done.returncode == 0, done.stderr
    html = _html(bench)
    assert leaked not in html and f"{bench / 'summary.png'}: leads outside {bench}" in done.stderr
    roc = base64.b64encode((bench / "roc.png").read_bytes()).decode()
    assert html.count(roc) == 2  # roc.png, and curves.png that points to it

    picture = _png(tmp_path / "secret.png", colour="red")
    audit = _audit_folder(tmp_path / "A", ["../secret.png", str(tmp_path / "secret.png"), "pairs/p/link.png",
                                           "pairs/q/centre.png"])
    _png(audit / "pairs/q/centre.png")
    os.makedirs(audit / "pairs/p")
    os.symlink(tmp_path / "secret.png", audit / "pairs/p/link.png")
    done = _report(audit)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("leads outside") == 3, done.stderr
    html = _html(audit)
    assert html.count("data:image/jpeg;base64,") == 1 and base64.b64encode(picture).decode()[:40] not in html
    (audit / "audit.json").rename(tmp_path / "real.json")
    os.symlink(tmp_path / "real.json", audit / "audit.json")  # the summary itself, from outside
    done = _report(audit)
    assert done.returncode == 1 and "audit.json: leads outside" in one_line_error(done.stderr)


def test_oversized_figures_are_left_out_with_a_warning(run_cli, bench, tmp_path):
    _big_png(bench / "summary.png", 12248, 12248)  # 150 MP: 1.1 GB to decode, 650 KB on disk
    result = run_cli("report", bench)
    assert result.exit_code == 0, result.output
    warning = f"{bench / 'summary.png'}: 12248x12248 is 150,013,504 pixels, over the limit of 40,000,000"
    assert warning in result.stderr and warning in _html(bench)
    audit = _audit_folder(tmp_path / "A", ["pairs/p/centre.png", "pairs/q/centre.png"])
    _png(audit / "pairs/q/centre.png")
    (audit / "pairs/p").mkdir()
    _big_png(audit / "pairs/p/centre.png", 20000, 20000)  # PIL's own guard raised DecompressionBombError
    result = run_cli("report", audit)
    assert result.exit_code == 0, result.output
    warning = "pairs/p/centre.png: 20000x20000 is 400,000,000 pixels, over the limit of 40,000,000"
    assert warning in result.stderr and warning in _html(audit)
    assert _html(audit).count("data:image/jpeg;base64,") == 1


@pytest.mark.parametrize("name,text", [("audit.json", "{}"), ("audit.json", "[]"), ("summary.json", "{}"),
                                       ("summary.json", "[]"), ("audit.json", '{"settings": 3}')])
def test_an_empty_or_list_summary_is_one_line_naming_the_file(run_cli, tmp_path, name, text):
    folder = tmp_path / "R"
    folder.mkdir()
    (folder / name).write_text(text)
    result = run_cli("report", folder)
    assert result.exit_code == 1
    line = one_line_error(result.stderr)
    assert f"{folder / name}: not a" in line and "Error:" not in line, line


def test_a_malformed_gallery_entry_is_one_line_naming_the_file(run_cli, tmp_path):
    folder = _audit_folder(tmp_path / "A", ["pairs/p/centre.png"])
    summary = json.loads((folder / "audit.json").read_text())
    summary["gallery"][0]["explainers"] = 5
    (folder / "audit.json").write_text(json.dumps(summary))
    result = run_cli("report", folder)
    assert result.exit_code == 1 and f"{folder / 'audit.json'}: not what `s2w audit` writes" in \
        one_line_error(result.stderr)


# -- temporary names (item 14) --

def test_a_long_out_name_keeps_the_temporary_name_short(run_cli, tmp_path):
    from s2w_toolkit.io.atomic import write_text

    folder = _audit_folder(tmp_path / "A", ["pairs/p/centre.png"])
    _png(folder / "pairs/p/centre.png")
    out = tmp_path / ("r" * 250 + ".html")  # 255 bytes: NAME_MAX
    result = run_cli("report", folder, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and "data:image/jpeg" in out.read_text()
    write_text(tmp_path / ("é" * 125 + ".json"), "{}")  # 255 bytes of UTF-8
    assert not list(tmp_path.glob("**/.*tmp*"))


# -- the Content-Security-Policy (item 12) --

def _policy(html: str) -> str:
    return re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)


def test_the_policy_allows_only_the_page_script_by_its_hash(tmp_path):
    folder = _audit_folder(tmp_path / "A", ["pairs/p/centre.png"])
    _png(folder / "pairs/p/centre.png")
    assert _report(folder).returncode == 0
    html = _html(folder)
    policy = dict(part.strip().split(" ", 1) for part in _policy(html).split(";"))
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 and "sortable" in scripts[0]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert policy["script-src"] == f"'sha256-{digest}'"  # that script and nothing else: no 'unsafe-inline'
    assert policy["default-src"] == "'none'" and policy["img-src"] == "data:"


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_an_injected_script_or_onerror_does_not_run_and_sorting_still_works(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    folder = _audit_folder(tmp_path / "A", ["pairs/p/centre.png"])
    _png(folder / "pairs/p/centre.png")
    page_file = tmp_path / "page.html"
    assert _report(folder, "--out", page_file).returncode == 0
    planted = ('<img id="planted" src="data:," onerror="window.pwned = (window.pwned || 0) + 1">'
               '<script>window.pwned = (window.pwned || 0) + 10</script>')  # what escaping keeps out today
    page_file.write_text(page_file.read_text().replace("</main>", planted + "</main>", 1))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(offline=True).new_page()
            refused = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # the planted image's error event
            assert page.evaluate("window.pwned === undefined"), "an injected script ran"
            assert len(refused) >= 2  # both refused by the policy
            mates = "Array.from(document.querySelectorAll('#groups tbody tr')).map(r => +r.cells[2].textContent)"
            assert page.evaluate(mates) == [3, 1, 2]
            page.click("#groups table.sortable th:nth-child(3)")  # the page's own script still sorts
            assert page.evaluate(mates) == [1, 2, 3]
            page.click("#groups table.sortable th:nth-child(3)")
            assert page.evaluate(mates) == [3, 2, 1]
        finally:
            browser.close()


# -- Explanation.load (items 6 and 9) --

@pytest.fixture
def saved(tmp_path):
    """``e/demo.json`` and ``e/demo.npz``, as Explanation.save writes them."""
    path = _mkdir(tmp_path / "e") / "demo.json"
    Explanation(score=0.5, maps={"a": np.eye(4), "b": np.ones((3, 3))}, explainer="demo").save(path)
    return path


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_error(path) -> str:
    with pytest.raises(S2WError) as info:
        Explanation.load(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path.parent)), message  # the JSON or its archive
    return message


def _with(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_explanation_load_does_not_wait_on_a_fifo(saved):
    path = saved
    (path.parent / "demo.npz").unlink()
    os.mkfifo(path.parent / "demo.npz")
    os.mkfifo(path.parent / "pipe.json")
    code = ("import sys\nfrom s2w_toolkit import Explanation\n"
            "for name in sys.argv[1:]:\n"
            "    try:\n        Explanation.load(name)\n    except Exception as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path), str(path.parent / "pipe.json")],
                          capture_output=True, text=True, timeout=TIMEOUT)
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    assert lines[0].startswith("ExplanationError") and "demo.npz: is a FIFO (named pipe)" in lines[0]
    assert "pipe.json: is a FIFO (named pipe)" in lines[1]


def _npz_declaring(path, shape) -> None:
    """An archive whose ``maps/a`` header declares ``shape`` (float32), with only 1 MB of its zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("maps/a.npy", header.getvalue() + bytes(1 << 20))
        small = io.BytesIO()
        np.save(small, np.ones((3, 3), np.float32))
        archive.writestr("maps/b.npy", small.getvalue())


def test_explanation_load_checks_map_sizes_before_decompressing(saved, monkeypatch):
    path = saved
    _npz_declaring(path.parent / "demo.npz", (20000, 20000))  # 1.6 GB once decompressed
    assert "array 'maps/a' is 20000x20000 (400,000,000 values), over the limit of 200,000,000" in _load_error(path)
    twenty = Explanation(score=0.5, maps={"a": np.ones((20, 20)), "b": np.ones((3, 3))})
    twenty.save(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "100")  # the image size limit applies to maps
    assert "array 'maps/a' is 20x20 (400 values), over the limit of 100" in _load_error(path)
    path.write_text(twenty.to_json())
    assert "more than 100 values" in _load_error(path)  # inline maps too


def test_explanation_load_keeps_maps_file_beside_the_json(saved, tmp_path):
    path = saved
    other = _mkdir(tmp_path / "other")
    shutil.copy(path.parent / "demo.npz", other / "x.npz")
    for name in ("../other/x.npz", str(other / "x.npz"), "..", "sub/x.npz"):
        _with(path, maps_file=name)
        assert "is not the name of a file beside it" in _load_error(path)
    os.symlink(other / "x.npz", path.parent / "link.npz")
    _with(path, maps_file="link.npz")
    assert "link.npz: leads outside" in _load_error(path)
    shutil.copy(other / "x.npz", path.parent / "copy.npz")
    _with(path, maps_file="copy.npz")
    assert Explanation.load(path).maps["a"].shape == (4, 4)


@pytest.mark.parametrize("text,message", [
    ('{"score": NaN, "maps_file": "demo.npz"}', "score is nan, not a finite cosine in [-1, 1]"),
    ('{"score": 42.0, "maps_file": "demo.npz"}', "score is 42.0, not a finite cosine in [-1, 1]"),
    ('{"score": null, "maps_file": "demo.npz"}', "'score' is null, not a number"),
    ("[0.5]", "an explanation is a JSON object, not a list"),
    ('{"score": 0.5, "maps_file": "demo.npz", "colour": 1}', "unknown key 'colour'"),
    ('{"maps_file": "demo.npz"}', "no 'score'"),
    ('{"score": 0.5, "maps_file": "demo.npz", "words": [3]}', "a word is a number, not an object"),
    ('{"score": 0.5, "maps": {"a": [[1, 2], [3]], "b": [[1]]}}', "maps side 'a'"),
    ('{"score": 0.5, "maps": {"a": [[1]], "b": [[NaN]]}}', "map 'b' has 1 non-finite values"),
    ("{", "not JSON"),
])
def test_explanation_load_refuses_bad_values_in_one_line(saved, text, message):
    path = saved
    path.write_text(text)
    assert message in _load_error(path)
