"""insightface ``.bin`` evaluation sets as pair lists: format, safety, and a benchmark on one."""

from __future__ import annotations

import io
import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit.bench.insightface_bin import read_bin, read_bin_pairs
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.errors import CheckpointError

#: (image a, image b, same) of the small set: demo faces as ArcFace 112 px crops.
PAIRS = [("obama", "obama2", True), ("obama", "biden", False), ("obama3", "biden", False)]


@pytest.fixture(scope="module")
def crops(demo):
    from s2w_toolkit.faces.align import align_face
    from s2w_toolkit.faces.detect import FaceDetector
    from s2w_toolkit.faces.templates import arcface_template
    from s2w_toolkit.io.images import read_image

    template, out = arcface_template(), {}
    detector = FaceDetector(landmarks=template.landmarks)
    for name in ("obama", "obama2", "obama3", "biden"):
        image = read_image(demo[name])
        face = align_face(image, detector.find(image).landmarks, template)
        buffer = io.BytesIO()
        Image.fromarray(face).save(buffer, format="JPEG", quality=95)
        out[name] = buffer.getvalue()
    return out


def _write(path, crops, numpy_style=False):
    images = [crops[n] for a, b, _ in PAIRS for n in (a, b)]
    flags = [same for _, _, same in PAIRS]
    if numpy_style:  # as some re-saved sets hold them: uint8 arrays and a bool array, protocol 2
        images, flags = [np.frombuffer(i, np.uint8) for i in images], np.array(flags)
    path.write_bytes(pickle.dumps((images, flags), protocol=2 if numpy_style else 4))
    return path


def test_a_bin_reads_as_aligned_pairs_with_its_images_byte_for_byte(crops, tmp_path):
    path = _write(tmp_path / "tiny.bin", crops)
    pairs = read_pairs(path)
    assert [p.same for p in pairs] == [s for _, _, s in PAIRS] and all(p.aligned for p in pairs)
    assert [p.key for p in pairs] == ["bin:tiny.bin:0", "bin:tiny.bin:1", "bin:tiny.bin:2"]
    assert [p.fold for p in pairs] == [1, 4, 7]  # consecutive tenths of the list
    with open(pairs[1].b, "rb") as f:
        assert f.read() == crops["biden"]
    again = read_bin_pairs(path, cache=os.path.dirname(pairs[0].a))
    assert [p.a for p in again] == [p.a for p in pairs]


def test_python2_style_bins_read_the_same(crops, tmp_path):
    plain = read_bin(_write(tmp_path / "a.bin", crops))
    numpy_style = read_bin(_write(tmp_path / "b.bin", crops, numpy_style=True))
    assert plain == numpy_style


def test_a_hostile_or_damaged_bin_is_refused_before_anything_runs(crops, tmp_path, run_cli):
    hostile = tmp_path / "hostile.bin"
    hostile.write_bytes(pickle.dumps(os.system))
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        read_bin(hostile)
    good = _write(tmp_path / "good.bin", crops).read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_bin(cut)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(pickle.dumps(([crops["obama"]] * 3, [True, False])))
    with pytest.raises(CheckpointError, match="two images per is-same flag"):
        read_bin(odd)
    text = tmp_path / "text.bin"
    text.write_bytes(pickle.dumps(([b"not an image"] * 2, [True])))
    with pytest.raises(CheckpointError, match="neither JPEG nor PNG"):
        read_bin(text)
    result = run_cli("benchmark", "--pairs", hostile, "-e", "input-gradient", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "refused to unpickle" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_benchmark_runs_on_a_bin(crops, tmp_path, run_cli, monkeypatch):
    from s2w_toolkit.faces.detect import FaceDetector

    def no_detection(*args, **kwargs):
        raise AssertionError("a .bin holds aligned faces: nothing may be detected")

    monkeypatch.setattr(FaceDetector, "detect", no_detection)
    monkeypatch.delenv("S2W_CACHE_DIR", raising=False)  # conftest sets it; this test is about the default
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = _write(tmp_path / "tiny.bin", crops)
    out = tmp_path / "out"
    result = run_cli("benchmark", "--pairs", path, "-e", "input-gradient", "--steps", "4", "--out", out,
                     "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 3 and not [r for r in rows if r.get("error")]  # 3 pairs x (explainer + 2 controls)
    assert (tmp_path / "cache" / "s2w-toolkit" / "bin").is_dir()
    scores = {r["key"]: r["similarity"] for r in rows if r["explainer"] == "input-gradient"}
    assert scores["bin:tiny.bin:0"] > max(scores["bin:tiny.bin:1"], scores["bin:tiny.bin:2"])  # the mate pair
