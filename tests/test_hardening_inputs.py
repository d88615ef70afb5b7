"""Issue 27, hardening round two: inputs that used to mix, stop or crash a run.

Resumed and merged runs never mix rows of different photos under one pair-list name (real
processes); a NUL byte in a pair path is an error row for that pair; a read-only ``--cache`` (a
real read-only mount) is warned about once and the run goes on; a cache entry copied over
another's is recomputed; ``.bin`` sets are bounded by their file size; text files that are not
UTF-8, odd face indices and malformed CelebA files are one-line errors naming file and line.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit.data import FACES_DIR
from s2w_toolkit.errors import CheckpointError, LabelsError, S2WError

CLI = [sys.executable, "-c", "from s2w_toolkit.cli.main import main; main()"]


@pytest.fixture(scope="module")
def crops(net, tmp_path_factory):
    """The demo faces detected and aligned once, as PNG files for ``--aligned`` runs."""
    from s2w_toolkit import load_face

    folder = tmp_path_factory.mktemp("crops")
    out = {}
    for name in ("obama", "obama2", "obama3", "biden"):
        face, _ = load_face(FACES_DIR / f"{name}.jpg", net)
        Image.fromarray(face).save(folder / f"{name}.png")
        out[name] = folder / f"{name}.png"
    return out


@pytest.fixture
def shared_backbone(net, monkeypatch):
    """In-process commands get a copy of the session's dlib-resnet instead of loading it."""
    from s2w_toolkit import pipeline

    real = pipeline.load_backbone
    monkeypatch.setattr(pipeline, "load_backbone", lambda name="dlib-resnet", weights=None, device="auto":
                        copy.deepcopy(net) if (name, weights) == ("dlib-resnet", None) else real(name, weights, device))


def _s2w(*args, timeout=600):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _photo_folder(folder: Path, crops: dict, b: str) -> Path:
    """``folder`` with ``a.png`` (obama), ``b.png`` (``b``) and ``pairs.csv`` naming the mate a|b."""
    folder.mkdir(parents=True)
    shutil.copy(crops["obama"], folder / "a.png")
    shutil.copy(crops[b], folder / "b.png")
    (folder / "pairs.csv").write_text("a,b,same\na.png,b.png,1\n")
    return folder / "pairs.csv"


# 1. resume and merge never mix photos under one pair-list name

def test_resume_refuses_the_same_pair_list_over_other_photos(crops, tmp_path):
    x = _photo_folder(tmp_path / "X", crops, "obama2")
    y = _photo_folder(tmp_path / "Y", crops, "biden")  # the same pairs.csv, byte for byte, other photos
    out = tmp_path / "o"
    run = ("benchmark", "--count", "1", "-e", "centre", "--steps", "2", "--aligned", "--out", out)
    first = _s2w(*run, "--pairs", x)
    assert first.returncode == 0, first.stderr
    before = (out / "results.jsonl").read_text()
    other = _s2w(*run, "--pairs", y, "--resume")
    assert other.returncode == 1 and "--resume:" in other.stderr and "root=" in other.stderr, other.stderr
    assert (out / "results.jsonl").read_text() == before  # nothing of Y's photos mixed in
    same = _s2w(*run, "--pairs", x, "--resume")  # the same folder still resumes, repeating nothing
    assert same.returncode == 0, same.stderr
    assert (out / "results.jsonl").read_text() == before
    shutil.copy(crops["biden"], tmp_path / "X" / "b.png")  # the same name, another photo
    changed = _s2w(*run, "--pairs", x, "--resume")
    assert changed.returncode == 1 and "b.png, which now holds other bytes" in changed.stderr, changed.stderr
    assert (out / "results.jsonl").read_text() == before


def test_merge_refuses_rows_of_other_photos_under_one_name(crops, tmp_path, run_cli, shared_backbone):
    x = _photo_folder(tmp_path / "X", crops, "obama2")
    y = _photo_folder(tmp_path / "Y", crops, "biden")
    run = ("benchmark", "-e", "centre", "--steps", "2", "--aligned")
    assert run_cli(*run, "--pairs", x, "--out", tmp_path / "o1").exit_code == 0
    assert run_cli(*run, "--pairs", y, "--out", tmp_path / "o2").exit_code == 0
    folders = run_cli("benchmark", "merge", tmp_path / "o1", tmp_path / "o2", "--out", tmp_path / "m1")
    assert folders.exit_code == 1 and "different settings: pairs=" in folders.stderr, folders.stderr
    shutil.copy(crops["biden"], tmp_path / "X" / "b.png")  # X changed in place between two runs of it
    assert run_cli(*run, "--pairs", x, "--out", tmp_path / "o3").exit_code == 0
    photos = run_cli("benchmark", "merge", tmp_path / "o1", tmp_path / "o3", "--out", tmp_path / "m2")
    assert photos.exit_code == 1 and "different photos under one name" in photos.stderr, photos.stderr
    assert "b.png" in photos.stderr and not (tmp_path / "m2" / "results.jsonl").exists()
    same = run_cli("benchmark", "merge", tmp_path / "o1", tmp_path / "o1", "--out", tmp_path / "m3")
    assert same.exit_code == 0, same.output


def test_audit_resume_refuses_other_photos_so_its_rates_stay_true(crops, tmp_path):
    x, y = tmp_path / "X", tmp_path / "Y"
    for folder, mate in ((x, "obama2"), (y, "biden")):  # Y's "mate" is another person: a false non-match
        folder.mkdir()
        for name, source in (("a.png", "obama"), ("b.png", mate), ("c.png", "obama3"), ("d.png", "biden")):
            shutil.copy(crops[source], folder / name)
        (folder / "pairs.csv").write_text("a,b,same\na.png,b.png,1\na.png,d.png,0\nc.png,d.png,0\n")
    out = tmp_path / "A"
    run = ("audit", "-e", "centre", "--aligned", "--errors", "0", "--near", "0", "--contrast", "0", "--out", out)
    first = _s2w(*run, "--pairs", x / "pairs.csv")
    assert first.returncode == 0, first.stderr
    summary = (out / "audit.json").read_text()
    assert json.loads(summary)["counts"]["false_non_matches"] == 0
    other = _s2w(*run, "--pairs", y / "pairs.csv", "--resume")
    assert other.returncode == 1 and "--resume:" in other.stderr, other.stderr
    assert (out / "audit.json").read_text() == summary
    shutil.copy(crops["biden"], x / "b.png")  # the same name, another photo: the mate would turn a false non-match
    changed = _s2w(*run, "--pairs", x / "pairs.csv", "--resume")
    assert changed.returncode == 1 and "b.png, which now holds other bytes" in changed.stderr, changed.stderr
    assert (out / "audit.json").read_text() == summary


# 3. a NUL byte in a pair path is an error row for that pair

def test_a_nul_byte_in_a_pair_path_is_an_error_row_for_that_pair(crops, tmp_path, run_cli, shared_backbone):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"a,b,same\n{crops['obama']},{crops['obama2']}\0x,1\n{crops['obama']},{crops['obama2']},1\n"
                     f"{crops['obama']},{crops['biden']},0\n")
    out = tmp_path / "out"
    result = run_cli("benchmark", "--pairs", pairs, "-e", "centre", "--steps", "2", "--aligned", "--out", out)
    assert result.exit_code == 1  # a row failed
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    bad = [r for r in rows if "\0" in r["b"]]
    assert len(rows) == 6 and len(bad) == 2 and all(r["stage"] == "load" for r in bad)
    assert all("obama2.png\\0x: not a usable file name (it holds a NUL byte)" in r["error"] for r in bad)
    assert all("error" not in r for r in rows if r not in bad)
    calibrated = run_cli("calibrate", "--pairs", pairs, "--aligned", "--fmr", "0.5", "--out", tmp_path / "t.json")
    assert calibrated.exit_code == 0, calibrated.output
    assert "obama2.png\\0x: not a usable file name" in calibrated.stderr  # the skipped pair names its file


# 4. a read-only --cache folder: one warning, and the run goes on without writing it

@contextmanager
def _mount(folder: Path):
    """A tmpfs at ``folder`` (skipped where mounting is not permitted); yields a function that
    makes it read-only, a real read-only file system that root cannot write either."""
    folder.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs",
                                                        str(folder)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield lambda: subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_cache_folder_warns_once_and_the_run_goes_on(crops, tmp_path):
    cache = tmp_path / "cache"
    with _mount(cache) as read_only:
        read_only()
        out = tmp_path / "out"
        result = _s2w("benchmark", "--count", "2", "-e", "centre", "--steps", "2", "--cache", cache, "--out", out)
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert len(rows) == 4 and not [r for r in rows if "error" in r]  # 2 pairs x (centre, random)
        warned = [line for line in result.stderr.splitlines() if "face cache" in line]
        assert len(warned) == 1 and "Read-only file system" in warned[0], result.stderr
        assert not list(cache.iterdir())


def test_a_read_only_cache_is_still_read(net, crops, tmp_path):
    from s2w_toolkit.faces.cache import FaceCache
    from s2w_toolkit.pipeline import load_pair

    with _mount(tmp_path / "cache") as read_only:
        load_pair(crops["obama"], crops["obama2"], net, aligned=True, cache=FaceCache(tmp_path / "cache"))
        read_only()
        with pytest.warns(UserWarning, match="cannot be written") as caught:
            cache = FaceCache(tmp_path / "cache")
            for _ in range(2):
                load_pair(crops["obama"], crops["biden"], net, aligned=True, cache=cache)
        assert len(caught) == 1 and (cache.hits, cache.misses) == (3, 1)  # obama from disk, biden computed once


# 5. a well-formed cache entry of another face is recomputed, with a warning

def test_a_cache_entry_copied_over_another_is_recomputed_with_a_warning(net, tmp_path):
    from s2w_toolkit.faces.cache import FaceCache
    from s2w_toolkit.pipeline import load_pair, verify

    a, b = FACES_DIR / "obama.jpg", FACES_DIR / "obama2.jpg"
    cache = FaceCache(tmp_path / "faces")
    truth = verify(load_pair(a, b, net, cache=cache), net)["similarity"]
    entry = {p: cache._file(cache.key(p, net.template, 0, False)) for p in (a, b)}
    shutil.copy(entry[a], entry[b])  # well-formed, but the face of obama.jpg under obama2.jpg's name
    fresh = FaceCache(tmp_path / "faces")
    with pytest.warns(UserWarning, match="was not made from .*obama2.jpg"):
        score = verify(load_pair(a, b, net, cache=fresh), net)["similarity"]
    assert score == pytest.approx(truth, abs=1e-6) and score < 0.99 and fresh.misses == 1
    assert FaceCache(tmp_path / "faces")._read(entry[b].stem, net.template) is not None  # replaced


# 11. .bin sets are bounded by their file size

def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (112, 112), (90, 90, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


class _Uninitialised:
    """Pickles as numpy's ``_reconstruct`` of an array of ``n`` bools with no data in the file."""

    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        from s2w_toolkit.weights.safe_pickle import _allowed

        return next(f for (m, name), f in _allowed().items() if name == "_reconstruct"), (np.ndarray, (self.n,), b"b")


def test_bin_counts_are_checked_against_the_file_size_before_anything_is_built(tmp_path):
    from s2w_toolkit.bench.insightface_bin import read_bin

    path = tmp_path / "flags.bin"
    path.write_bytes(pickle.dumps(([_jpeg()] * 2, _Uninitialised(3_000_000)), protocol=4))
    assert path.stat().st_size < 2000
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"claims 3,000,000 is-same flags in a \d+-byte file"):
        read_bin(path)
    assert time.perf_counter() - start < 1.0


def test_a_bin_listing_one_image_many_times_writes_it_once(tmp_path):
    from s2w_toolkit.bench.insightface_bin import read_bin_pairs

    path = tmp_path / "many.bin"
    path.write_bytes(pickle.dumps(([_jpeg()] * 2000, [True, False] * 500), protocol=4))
    pairs = read_bin_pairs(path, cache=tmp_path / "images")
    assert len(pairs) == 1000 and len({p.a for p in pairs} | {p.b for p in pairs}) == 1
    assert len(list((tmp_path / "images").iterdir())) == 1


# 15. bad text files are one line naming the file and the line

def test_pair_lists_that_are_not_utf8_name_the_file_and_line(tmp_path, run_cli):
    from s2w_toolkit.bench.pairs import read_pairs

    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b,same\nobama.jpg,biden.jpg,0\nJosé.jpg,b.jpg,1\n".encode("latin-1"))
    with pytest.raises(S2WError, match=r"latin\.csv:3: not UTF-8 text \(byte 0xe9 at column 4\)"):
        read_pairs(latin)
    wide = tmp_path / "wide.csv"
    wide.write_bytes("a,b,same\na.jpg,b.jpg,1\n".encode("utf-16"))
    with pytest.raises(S2WError, match=r"wide\.csv:1: UTF-16 text"):
        read_pairs(wide)
    lfw = tmp_path / "pairs.txt"
    lfw.write_bytes("1 1\nJosé 1 2\nA 1 B 1\n".encode("latin-1"))
    with pytest.raises(S2WError, match=r"pairs\.txt:2: not UTF-8"):
        read_pairs(lfw)
    result = run_cli("benchmark", "--pairs", latin, "--out", tmp_path / "out")
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0 and "latin.csv:3:" in result.output


def test_a_face_index_that_is_not_an_ascii_number_names_the_line(tmp_path):
    from s2w_toolkit.bench.pairs import read_pairs

    csv = tmp_path / "pairs.csv"
    csv.write_text("a,b,same,face_a\nobama.jpg,biden.jpg,0,1\nobama.jpg,biden.jpg,0,²\n", encoding="utf-8")
    with pytest.raises(S2WError, match=r"pairs\.csv:3: face_a must be a face index .*'²'"):
        read_pairs(csv)
    lfw = tmp_path / "pairs.txt"
    lfw.write_text("1 1\nA ² 2\nA 1 B 1\n", encoding="utf-8")
    with pytest.raises(S2WError, match=r"pairs\.txt:2: image numbers must be whole numbers"):
        read_pairs(lfw)


def test_label_files_that_are_not_utf8_or_have_odd_indices_name_the_line(tmp_path):
    from s2w_toolkit.attributes.labels import read_labels

    latin = tmp_path / "labels.csv"
    latin.write_bytes("face,smiling\na.jpg,yes\nJosé.jpg,no\n".encode("latin-1"))
    with pytest.raises(LabelsError, match=r"labels\.csv:3: not UTF-8"):
        read_labels(latin)
    latin.write_bytes("face,smiling\na.jpg,yes\n".encode("utf-16"))
    with pytest.raises(LabelsError, match=r"labels\.csv:1: UTF-16"):
        read_labels(latin)
    latin.write_text("face,smiling\na.jpg#1,yes\nb.jpg#²,no\n", encoding="utf-8")
    with pytest.raises(LabelsError, match=r"labels\.csv:3: face 'b.jpg#²': the index after # must be a whole"):
        read_labels(latin)


CELEBA = "3\nSmiling Big_Nose\n000001.jpg 1 -1\n000002.jpg -1 1\n000003.jpg 1 1\n"


@pytest.mark.parametrize("partition, message", [
    ("000001.jpg 0\n000002.jpg\n000003.jpg 2\n", r"list_eval_partition\.txt:2: expected 'image split'"),
    ("000001.jpg 0\n000002.jpg train\n", r"list_eval_partition\.txt:2: expected 'image split'"),
    ("000001.jpg 0\n000002.jpg 1\n", r"list_eval_partition\.txt:3: ends without a line for 000003\.jpg"),
])
def test_a_malformed_celeba_partition_file_names_the_line(tmp_path, partition, message):
    from s2w_toolkit.attributes.labels import read_labels

    (tmp_path / "list_attr_celeba.txt").write_text(CELEBA)
    (tmp_path / "list_eval_partition.txt").write_text(partition)
    with pytest.raises(LabelsError, match=message):
        read_labels(tmp_path / "list_attr_celeba.txt")


def test_a_short_celeba_attribute_list_names_the_line(tmp_path):
    from s2w_toolkit.attributes.labels import read_labels

    (tmp_path / "list_attr_celeba.txt").write_text(CELEBA.replace("3\n", "5\n", 1))
    with pytest.raises(LabelsError, match=r"list_attr_celeba\.txt:6: ends after 3 of the 5 images"):
        read_labels(tmp_path / "list_attr_celeba.txt")


def test_audit_fmr_without_a_non_mate_writes_its_error_rows_and_one_line(crops, tmp_path, run_cli, shared_backbone):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"a,b,same\n{crops['obama']},{crops['obama2']},1\n{crops['obama']},{crops['obama3']},1\n"
                     f"{crops['obama']},{tmp_path / 'gone.png'},0\n")
    out = tmp_path / "A"
    result = run_cli("audit", "--pairs", pairs, "-e", "centre", "--aligned", "--fmr", "0.1", "--out", out)
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --fmr 0.1: no non-mate pair was scored (2 pairs scored, 1 failed to load)"), last
    assert "audit.json" in last
    summary = json.loads((out / "audit.json").read_text())
    assert [e["stage"] for e in summary["errors"]] == ["load"] and "gone.png" in summary["errors"][0]["error"]
    assert summary["counts"]["scored"] == 2 and "not calibrated" in summary["threshold"]["source"]
