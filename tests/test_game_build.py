"""The swap game's building (issue 28): planted regions change nothing outside their support, a
null case from the same photo changes nothing the network sees, the cases are seeded, the
manifest resumes, and bad input is one line each.

The faces are the bundled demo portraits (three photos of one person, one of another), copied
into identity folders; the backbone is the real default one.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit.errors import S2WError
from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
from s2w_toolkit.game.blend import blend
from s2w_toolkit.game.cases import PlannedCase, people_from_pairs, plan_cases
from s2w_toolkit.game.regions import REGIONS, parse_regions, region_mask
from s2w_toolkit.game.swap import place_region


@pytest.fixture(scope="module")
def faces(net, demo):
    from s2w_toolkit import load_face

    chips = {name: load_face(path, net)[0] for name, path in demo.items()}
    points = dict(zip(chips, aligned_landmarks(np.stack(list(chips.values())), net.template)))
    return chips, points


@pytest.fixture
def identities(demo, tmp_path):
    folder = tmp_path / "people"
    for person, names in (("obama", ("obama", "obama2", "obama3")), ("biden", ("biden",))):
        (folder / person).mkdir(parents=True)
        for name in names:
            shutil.copy(demo[name], folder / person / f"{name}.jpg")
    return folder


@pytest.mark.parametrize("method", ["poisson", "feather"])
@pytest.mark.parametrize("region", sorted(REGIONS))
def test_a_swap_leaves_every_pixel_outside_its_support_unchanged(faces, region, method):
    chips, points = faces
    swap = place_region(chips["obama"], points["obama"], chips["biden"], points["biden"], region, method)
    outside = ~swap.support
    assert np.array_equal(swap.image[outside], chips["obama"][outside])
    changed = (swap.image != chips["obama"]).any(axis=2)
    assert changed.sum() > 0.5 * swap.region_mask.sum()  # the region itself really changed
    assert swap.region_mask[changed].mean() > 0.3 and 0.02 < swap.support_fraction < 0.3


def test_blends_keep_the_outside_and_follow_the_donor_inside():
    face = np.full((40, 40, 3), 100, np.uint8)
    donor = np.full((40, 40, 3), 200, np.uint8)
    donor[18:22, 18:22] = 120
    mask = np.zeros((40, 40), bool)
    mask[12:28, 12:28] = True
    poisson, support = blend(face, donor, mask, "poisson")
    assert np.array_equal(support, mask) and (poisson[~mask] == 100).all()
    # gradient domain: the donor's dark square keeps its contrast (80) on the face's level
    assert abs(int(poisson[13, 13, 0]) - 100) <= 3 and 70 < int(poisson[13, 13, 0]) - int(poisson[20, 20, 0]) < 90
    feathered, ring = blend(face, donor, mask, "feather", sigma=1.5)
    assert ring[mask].all() and ring.sum() > mask.sum() and (feathered[~ring] == 100).all()
    assert feathered[20, 20, 0] == 120 and feathered[16, 16, 0] == 200  # inside: the donor


def test_a_null_case_from_the_same_photo_changes_the_cosine_by_less_than_1e_3(faces, net):
    import torch

    chips, points = faces
    mate = chips["obama2"]
    images = [mate] + [place_region(mate, points["obama2"], mate, points["obama2"], r).image for r in REGIONS]
    with torch.no_grad():
        units = net.embed(net.preprocess(np.stack(images)))
    cosines = (units[1:] @ units[0]).numpy()
    assert (np.abs(1 - cosines) < 1e-3).all(), cosines
    real = place_region(mate, points["obama2"], chips["biden"], points["biden"], "nose").image
    with torch.no_grad():
        swapped = net.embed(net.preprocess(np.stack([mate, real])))
    assert 1 - float(swapped[0] @ swapped[1]) > 10 * np.abs(1 - cosines).max()  # a real swap is seen


def test_regions_have_masks_on_their_features(faces):
    chips, points = faces
    p = points["obama"]
    for name, region in REGIONS.items():
        mask = region_mask(name, p, chips["obama"].shape[:2])
        inside = [mask[int(round(y)), int(round(x))] for x, y in p[region.points()]]
        assert all(inside), name
        assert 0.02 < mask.mean() < 0.15, (name, mask.mean())
    with pytest.raises(S2WError, match="unknown region 'ears'; known: eyebrows, eyes, mouth, nose"):
        parse_regions("eyes,ears")


def test_the_plan_is_seeded_and_draws_donors_from_other_people():
    people = {f"p{i}": [f"p{i}/{k}.jpg" for k in range(3)] for i in range(5)}
    plan = plan_cases(people, ["eyes", "nose"], donors=2, seed=3)
    assert plan == plan_cases(people, ["eyes", "nose"], donors=2, seed=3)
    assert plan != plan_cases(people, ["eyes", "nose"], donors=2, seed=4)
    swaps = [c for c in plan if c.kind == "swap"]
    assert len(swaps) == 5 * 2 * 2 and all(c.donor_person != c.person for c in swaps)
    nulls = [c for c in plan if c.kind == "null"]
    assert len(nulls) == 5 * 2 and all(c.donor not in (c.probe, c.mate) for c in nulls)
    assert len({c.case_id for c in plan}) == len(plan)
    with pytest.raises(S2WError, match="no person has two usable photos"):
        plan_cases({"a": ["a.jpg"], "b": ["b.jpg"]}, ["nose"], 1, 0)


def test_people_from_a_pair_list_are_joined_by_mate_pairs():
    from s2w_toolkit.bench.pairs import PairSpec

    specs = [PairSpec("x/a1.jpg", "x/a2.jpg", True, 0, "k1"), PairSpec("x/a2.jpg", "x/a3.jpg", True, 0, "k2"),
             PairSpec("x/a1.jpg", "y/b1.jpg", False, 0, "k3"), PairSpec("y/b1.jpg", "y/b2.jpg", True, 0, "k4")]
    assert people_from_pairs(specs) == {"x": ["x/a1.jpg", "x/a2.jpg", "x/a3.jpg"], "y": ["y/b1.jpg", "y/b2.jpg"]}


def test_build_writes_faces_masks_and_a_manifest_that_resumes(identities, tmp_path, run_cli):
    out = tmp_path / "game"
    args = ("game", "build", "--identities", identities, "--regions", "nose,mouth", "--donors", "1", "--out", out,
            "--device", "cpu")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted((r["region"], r["kind"]) for r in rows) == [("mouth", "null"), ("mouth", "swap"),
                                                              ("nose", "null"), ("nose", "swap")]
    for row in rows:
        mate = np.asarray(Image.open(out / row["mate"]))
        swapped = np.asarray(Image.open(out / row["swapped"]))
        mask = np.asarray(Image.open(out / row["mask"])) > 0
        assert np.array_equal(swapped[~mask], mate[~mask])  # the PNG files keep it bit for bit
        c = row["cosine"]
        assert row["drop"] == pytest.approx(c["probe_before"] - c["probe_after"])
        assert row["probe_kept"] == (row["kind"] == "null" or row["drop"] >= 0.01)
    summary = json.loads((out / "game.json").read_text())
    assert summary["counts"]["nose"]["swaps"] == 1 and summary["settings"]["blend"] == "poisson"
    assert "nose" in result.stdout and "probe kept" in result.stdout
    refused = run_cli(*args)
    assert refused.exit_code == 1 and "already holds a game; use --resume" in refused.stderr
    again = run_cli(*args, "--resume")
    assert again.exit_code == 0 and (out / "manifest.jsonl").read_text().count("\n") == 4  # nothing redone
    other = run_cli(*args[:-2], "--seed", "1", "--resume", "--device", "cpu")
    assert other.exit_code == 1 and "was built with another people" not in other.stderr
    assert "was built with another seed" in other.stderr


def test_bad_input_is_one_line_each_and_nothing_else_is_lost(identities, demo, tmp_path, run_cli):
    lonely = tmp_path / "lonely"
    for person in ("a", "b"):
        (lonely / person).mkdir(parents=True)
        shutil.copy(demo["obama"], lonely / person / "1.jpg")
    result = run_cli("game", "build", "--identities", lonely, "--out", tmp_path / "g1", "--device", "cpu")
    assert result.exit_code == 1 and "no person has two usable photos" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = run_cli("game", "build", "--identities", identities, "--regions", "ears", "--out", tmp_path / "g2")
    assert unknown.exit_code == 1 and "unknown region 'ears'" in unknown.stderr
    (identities / "carol").mkdir()
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(identities / "carol" / "blank.png")  # no face in it
    (identities / "carol" / "broken.jpg").write_text("not a photo")
    out = tmp_path / "g3"
    result = run_cli("game", "build", "--identities", identities, "--regions", "nose", "--donors", "1",
                     "--seed", "2", "--out", out, "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "blank.png: no face found" in result.stderr and "broken.jpg: not an image" in result.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    errors = [r for r in rows if "error" in r]
    assert {r["stage"] for r in errors} == {"load", "case"}
    assert {r["photo"].rsplit("/", 1)[-1] for r in errors if r["stage"] == "load"} == {"blank.png", "broken.jpg"}
    from s2w_toolkit.game.cases import people_from_folder

    planned = {c.case_id for c in plan_cases(people_from_folder(identities), ["nose"], 1, 2)}
    assert {r["case"] for r in rows if "case" in r} == planned  # every case made, or an error row naming it
    assert any("error" not in r for r in rows)  # the cases that could be made were


def test_a_planned_case_names_itself_safely():
    case = PlannedCase("../x", "a.jpg", "b.jpg", "nose", "y z", "c.jpg", "swap")
    assert "/" not in case.case_id and case.case_id.startswith("x-")


def test_build_from_a_pair_list(tmp_path, run_cli):
    from s2w_toolkit.bench.pairs import BUNDLED
    from s2w_toolkit.data import FACES_DIR

    out = tmp_path / "game"
    result = run_cli("game", "build", "--pairs", BUNDLED, "--root", FACES_DIR, "--regions", "eyes", "--donors", "1",
                     "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {(r["kind"], r["donor_person"] == r["person"]) for r in rows} == {("swap", False), ("null", True)}
    both = run_cli("game", "build", "--pairs", BUNDLED, "--identities", tmp_path, "--out", tmp_path / "g2")
    assert both.exit_code == 2 and "give one of --identities DIR or --pairs FILE" in both.output
