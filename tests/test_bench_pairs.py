"""Pair lists for benchmarks: bundled set, LFW pairs.txt, CSV, identity folders, shards."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from s2w_toolkit.bench.pairs import BUNDLED, PairSpec, parse_shard, read_pairs, shard
from s2w_toolkit.data import FACES_DIR
from s2w_toolkit.errors import S2WError

LFW = """2\t2
Aaron_Peirsol\t1\t2
Abel_Pacheco\t1\t4
AJ_Cook\t1\tMarsha_Thomason\t1
Abdel_Madi_Shabneh\t1\tDean_Barker\t1
Akhmed_Zakayev\t1\t3
Al_Gore\t2\t6
Abdel_Madi_Shabneh\t1\tMohammad_Ali\t1
Abdoulaye_Wade\t4\tBruce_Weber\t1
"""


def test_bundled_set():
    assert BUNDLED.is_file()
    pairs = read_pairs()
    assert len(pairs) == 6
    assert sum(p.same for p in pairs) == 3
    for p in pairs:
        assert Path(p.a).is_file() and Path(p.b).is_file()
        assert Path(p.a).parent == FACES_DIR
        assert p.same == ("biden" not in p.a + p.b)
    assert len({p.key for p in pairs}) == 6
    assert {frozenset((Path(p.a).stem, Path(p.b).stem)) for p in pairs if p.same} == {
        frozenset(("obama", "obama2")), frozenset(("obama", "obama3")), frozenset(("obama2", "obama3"))}
    assert read_pairs(count=2) == pairs[:2]


def test_lfw_pairs_txt(tmp_path):
    txt = tmp_path / "pairs.txt"
    txt.write_text(LFW)
    pairs = read_pairs(txt, tmp_path / "lfw")
    assert len(pairs) == 8
    assert [p.fold for p in pairs] == [0] * 4 + [1] * 4
    assert [p.same for p in pairs] == [True, True, False, False] * 2
    assert pairs[0].a == str(tmp_path / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
    assert pairs[0].b == str(tmp_path / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg")
    assert pairs[2].b == str(tmp_path / "lfw" / "Marsha_Thomason" / "Marsha_Thomason_0001.jpg")
    assert pairs[0].key == "lfw:f0:Aaron_Peirsol_0001:Aaron_Peirsol_0002"
    assert pairs[5].key == "lfw:f1:Al_Gore_0002:Al_Gore_0006"
    assert len({p.key for p in pairs}) == 8
    assert read_pairs(txt, tmp_path / "lfw") == pairs  # stable
    assert Path(read_pairs(txt)[0].a).parent.parent == tmp_path  # root defaults to the txt's folder
    assert read_pairs(txt, tmp_path, count=3) == read_pairs(txt, tmp_path)[:3]


def test_lfw_old_layout(tmp_path):
    txt = tmp_path / "pairsDevTrain.txt"
    txt.write_text("1\nA\t1\t2\nB\t1\tC\t3\n")
    pairs = read_pairs(txt, tmp_path)
    assert [(p.same, p.fold) for p in pairs] == [(True, 0), (False, 0)]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("\n".join(LFW.splitlines()[:-2]) + "\n", "pairs.txt:8", "file ends"),
    (LFW.replace("Al_Gore\t2\t6", "Al_Gore\t2"), "pairs.txt:7", "expected 3 fields"),
    (LFW.replace("AJ_Cook\t1\tMarsha_Thomason\t1", "AJ_Cook\t1\t2"), "pairs.txt:4", "expected 4 fields"),
    (LFW.replace("Aaron_Peirsol\t1\t2", "Aaron_Peirsol\tone\t2"), "pairs.txt:2", "whole numbers"),
    (LFW + "Extra\t1\t2\n", "pairs.txt:10", "more pair lines"),
    ("ten 300\n", "pairs.txt:1", "header"),
])
def test_lfw_errors(tmp_path, text, line, words):
    txt = tmp_path / "pairs.txt"
    txt.write_text(text)
    with pytest.raises(S2WError, match=words) as err:
        read_pairs(txt, tmp_path)
    assert line in str(err.value) and "\n" not in str(err.value)


def test_csv_spellings(tmp_path):
    csv = tmp_path / "list.csv"
    rows = ["1", "0", "TRUE", "false", "Yes", "no", "same", "Different"]
    csv.write_text("a,b,same\n" + "".join(f"x{i}.png,y{i}.png,{s}\n" for i, s in enumerate(rows)))
    pairs = read_pairs(csv)
    assert [p.same for p in pairs] == [True, False] * 4
    assert pairs[0] == PairSpec(str(tmp_path / "x0.png"), str(tmp_path / "y0.png"), True, 0, "csv:x0.png|y0.png")
    assert read_pairs(csv, "/imgs")[1].b == str(Path("/imgs") / "y1.png")
    assert len(read_pairs(csv, count=3)) == 3


@pytest.mark.parametrize(("text", "words"), [
    ("a,b,same\nx.jpg,y.jpg,maybe\n", "list.csv:2: same must be"),
    ("a,b\nx.jpg,y.jpg\n", "list.csv:1: header"),
    ("a,b,same\nx.jpg,,1\n", "list.csv:2: both"),
    ("a,b,same\n", "no pairs"),
])
def test_csv_errors(tmp_path, text, words):
    csv = tmp_path / "list.csv"
    csv.write_text(text)
    with pytest.raises(S2WError, match=words):
        read_pairs(csv)


def test_missing_and_unknown(tmp_path):
    with pytest.raises(S2WError, match="no such pairs file"):
        read_pairs(tmp_path / "nope.csv")
    (tmp_path / "pairs.json").write_text("{}")
    with pytest.raises(S2WError, match=r"known: \.csv"):
        read_pairs(tmp_path / "pairs.json")
    with pytest.raises(S2WError, match="at least 1"):
        read_pairs(count=0)


def _faces(root: Path, sizes: dict[str, int]) -> Path:
    for name, n in sizes.items():
        (root / name).mkdir(parents=True)
        for k in range(n):
            Image.new("RGB", (4, 4), (k * 40, 0, 0)).save(root / name / f"{name}_{k:04d}.png")
    return root


def test_folder_sampling(tmp_path):
    folder = _faces(tmp_path / "ids", {"ann": 4, "bob": 3, "cyd": 5})
    (folder / "notes.txt").write_text("not an identity")
    first, again = read_pairs(folder, count=10, seed=1), read_pairs(folder, count=10, seed=1)
    assert first == again
    assert read_pairs(folder, count=10, seed=2) != first
    assert len(first) == 10 and sum(p.same for p in first) == 5
    assert len({frozenset((p.a, p.b)) for p in first}) == 10
    assert len({p.key for p in first}) == 10
    for p in first:
        assert Path(p.a).is_file() and Path(p.b).is_file() and p.a != p.b
        assert (Path(p.a).parent == Path(p.b).parent) == p.same


def test_folder_small_and_errors(tmp_path):
    folder = _faces(tmp_path / "two", {"ann": 2, "bob": 2})  # 2 mate and 4 non-mate pairs in all
    pairs = read_pairs(folder, count=4)
    assert [p.same for p in pairs] == [True, False, True, False]
    assert {frozenset((p.a, p.b)) for p in pairs if p.same} == {
        frozenset((str(folder / n / f"{n}_0000.png"), str(folder / n / f"{n}_0001.png"))) for n in ("ann", "bob")}
    with pytest.raises(S2WError, match="only 2 distinct mate pairs, 3 asked for"):
        read_pairs(folder, count=6)
    single = _faces(tmp_path / "single", {"ann": 1, "bob": 1})
    assert [p.same for p in read_pairs(single, count=1)] == [False]
    with pytest.raises(S2WError, match="no identity folder has 2 images"):
        read_pairs(single, count=2)
    with pytest.raises(S2WError, match="at least 2 identity folders"):
        read_pairs(_faces(tmp_path / "one", {"ann": 3}), count=2)


def test_shards_cover_without_overlap():
    pairs = [PairSpec(f"a{i}", f"b{i}", i % 2 == 0, key=f"csv:{i}") for i in range(11)]
    for total in (1, 3, 4, 11, 12):
        parts = [shard(pairs, i, total) for i in range(1, total + 1)]
        keys = [p.key for part in parts for p in part]
        assert sorted(keys) == sorted(p.key for p in pairs) and len(keys) == len(set(keys))
    assert shard(pairs, 2, 4) == [pairs[1], pairs[5], pairs[9]]
    with pytest.raises(S2WError):
        shard(pairs, 0, 4)


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)
    assert parse_shard(" 4/4 ") == (4, 4)
    assert parse_shard("1/1") == (1, 1)
    for bad in ("0/4", "5/4", "x", "1/", "/4", "2", "a/b", "-1/4", "1/0"):
        with pytest.raises(S2WError, match="expected I/N"):
            parse_shard(bad)
