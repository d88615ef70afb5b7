"""Every attribute model declares the face regions its words speak about (issue 28): the swap
game counts a planted region as found when the top word speaks about it. The declarations are
checked for every built-in model, and, for the landmark-based face-parts model, against where
its own evidence maps lie."""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit.attributes.word_regions import ATTRIBUTE_REGIONS
from s2w_toolkit.interfaces import FACE_REGIONS, AttributeModel
from s2w_toolkit.registry import get_registry

BUILTIN = ("age-gender", "face-parts", "face-geometry", "mediapipe", "faceres", "sim2word-resnet50")


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_attribute_is_declared_with_known_regions(name):
    cls = get_registry().attribute_model(name)
    declared = cls.regions
    assert set(declared) == set(cls.attributes), f"{name}: every attribute needs its regions"
    for attribute, regions in declared.items():
        assert regions and set(regions) <= set(FACE_REGIONS), (name, attribute, regions)
        assert attribute in ATTRIBUTE_REGIONS  # declared on purpose, not by the whole-face fallback


def test_the_declarations_say_what_the_words_are_about():
    assert ATTRIBUTE_REGIONS["Big Nose"] == ("nose",) and ATTRIBUTE_REGIONS["Bushy Eyebrows"] == ("eyebrows",)
    assert "mouth" in ATTRIBUTE_REGIONS["Smiling"] and ATTRIBUTE_REGIONS["Hair Color"] == ("hair",)

    class Undeclared(AttributeModel):
        name, attributes = "undeclared", ("Sparkle",)

        def predict(self, images, template=None):
            raise NotImplementedError

    assert Undeclared().word_regions() == {"Sparkle": ("face",)}  # speaks about the whole face


def test_composites_and_caches_keep_each_models_declarations():
    from s2w_toolkit.attributes.composite import load_attributes

    model = load_attributes("age-gender,face-parts", device="cpu")
    regions = model.word_regions()
    assert regions["Gender"] == ("face",) and regions["Narrow Eyes"] == ("eyes",)
    assert set(regions) == set(model.attributes)


def test_face_parts_evidence_lies_in_the_regions_it_declares(net, demo):
    from s2w_toolkit import load_face
    from s2w_toolkit.attributes.face_parts import FaceParts
    from s2w_toolkit.faces.aligned_landmarks import aligned_landmarks
    from s2w_toolkit.game.regions import REGIONS, region_mask
    from s2w_toolkit.game.scores import mass_ratio

    faces = np.stack([load_face(demo[n], net)[0] for n in ("obama", "biden", "obama2")])
    model = FaceParts()
    prediction = model.predict(faces, net.template)
    points = aligned_landmarks(faces, net.template)
    checked = 0
    for j, attribute in enumerate(model.attributes):
        regions = model.word_regions()[attribute]
        if not set(regions) <= set(REGIONS):
            continue  # jaw, cheeks, hair: no landmark region of the game to compare with
        for i in range(len(faces)):
            mask = np.zeros(faces.shape[1:3], bool)
            for region in regions:
                mask |= region_mask(region, points[i], mask.shape)
            assert mass_ratio(prediction.maps[i, j].cpu().numpy(), mask) > 3, (attribute, i)  # chance is 1
        checked += 1
    assert checked >= 7
