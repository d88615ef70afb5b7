"""Figures that say what they show: Sim2Word's words drawn only when supported, with a sentence of
what each means; the diagnostic panels marked; compare.png grouped by what each map answers."""

import numpy as np
import pytest

from s2w_toolkit.explainers.explanation import Explanation, Word
from s2w_toolkit.render import comparison_figure
from s2w_toolkit.sim2word.figure import sim2word_figure, word_sections
from s2w_toolkit.sim2word.figure_details import details_figure

FACE = np.full((32, 32, 3), 120, np.uint8)
MAP = {"a": np.eye(8), "b": np.eye(8)[::-1]}


def _row(attribute, s, controls, supported):
    return {"attribute": attribute, "word": attribute, "eligible": True, "s": s, "delta": s - 0.95,
            "control_s": controls, "control_mean": float(np.mean(controls)), "control_std": 0.01,
            "excess": s - float(np.mean(controls)), "p_value": 0.05 if supported else 0.6,
            "p_selection": 0.05 if supported else 0.7, "supported": supported}


def _ranked(attribute, side, delta, supported, ranking):
    return {"text": attribute, "score": 0.9, "details": {"side": side, "attribute": attribute, "delta": delta,
                                                          "p_value": 0.05 if supported else 0.6,
                                                          "supported": supported, "ranking": ranking}}


def sim2word_explanation(supported: bool) -> Explanation:
    """A non-mate (cosine 0.95 < 0.96): 'Nose' on face a raises the cosine to 0.97, above 18 of
    19 controls; 'Smiling' lowers it (the shared ranking), not supported."""
    nose = _row("Nose", 0.97, [0.94] * 18 + [0.98], supported)
    smiling = _row("Smiling", 0.93, [0.95] * 19, False)
    rankings = {"distinguishing": [_ranked("Nose", "a", 0.02, supported, "distinguishing")],
                "shared": [_ranked("Smiling", "a", -0.02, False, "shared")]}
    words = [Word("Nose", 0.9, {"side": "a", "supported": True})] if supported else []
    return Explanation(score=0.95, threshold=0.96, maps=MAP, explainer="sim2word", backbone="net", words=words,
                       extra_maps={"distinguishing #1": MAP, "joint #1": MAP},
                       metadata={"support": {"placements": 19}, "lead_ranking": "distinguishing", "case": "non-mate",
                                 "settings": {"erase": None}, "rankings": rankings,
                                 "joint_map_words": {"joint #1": {"a": "Nose", "b": ""}},
                                 "directions": [{"target": "a", "attributes": [nose, smiling]},
                                                {"target": "b", "attributes": []}]})


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def test_a_supported_word_is_drawn_with_what_it_means():
    e = sim2word_explanation(supported=True)
    apart, share = word_sections(e)
    assert apart["title"] == "What sets them apart" and share["title"] == "What they share"  # the verdict's first
    (line,) = apart["lines"]
    assert line["word"] == "Nose" and line["map"] == "distinguishing #1"
    assert line["statement"] == ("erasing it on both faces raises the similarity by 0.020; 18 of 19 random regions "
                                 "of its size raise it less (p = 0.05)")
    assert share["lines"] == []  # Smiling is not supported: not drawn as named
    fig = sim2word_figure(e, FACE, FACE)
    texts = " ".join(_texts(fig))
    assert "Nose  (face a)" in texts and "Smiling" not in texts and fig.get_size_inches()[0] == 9.0
    assert "Different people: cosine 0.950 < threshold 0.960 (net)" == fig.get_suptitle()


def test_no_supported_word_means_no_word_drawn_and_a_sentence_that_says_so():
    e = sim2word_explanation(supported=False)
    sections = word_sections(e)
    assert all(s["lines"] == [] for s in sections)
    texts = " ".join(_texts(sim2word_figure(e, FACE, FACE)))
    assert "No attribute explains this pair better than a region of the same size." in texts
    assert "Nose" not in texts and "Smiling" not in texts
    details = " ".join(_texts(details_figure(e, FACE, FACE)))
    assert "Nose (not named)" in details  # the diagnostic panels say it, the main figure does not draw it
    assert "(named)" in " ".join(_texts(details_figure(sim2word_explanation(True), FACE, FACE)))


def test_the_official_words_are_shown_as_ranked_not_tested():
    e = Explanation(score=0.95, threshold=0.96, maps=MAP, words=[Word("Big Nose", 0.91, {"side": "b", "cosine": 0.97})],
                    extra_maps={"joint #1": MAP}, metadata={"support": None,
                                                            "joint_map_words": {"joint #1": {"b": "Big Nose"}}})
    (section,) = word_sections(e)
    assert "not tested" in section["meaning"] and section["lines"][0]["map"] == "joint #1"
    assert section["lines"][0]["statement"] == "cosine with its region erased 0.970 (score 0.910)"


def test_compare_groups_maps_by_what_they_answer():
    alike = Explanation(score=0.9, maps=MAP, explainer="gradcam", metadata={"evidence": "similarity"})
    differ = Explanation(score=0.9, maps=MAP, explainer="sim2word", metadata={"evidence": "dissimilarity"})
    control = Explanation(score=0.9, maps=MAP, explainer="random", metadata={"evidence": "similarity", "control": True})
    fig = comparison_figure([differ, alike, control], FACE, FACE)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["gradcam: where the faces are alike  (cosine 0.9000)",
                      "random: a content-free control  (cosine 0.9000)",
                      "sim2word: where the faces differ  (cosine 0.9000)"]
    colour_maps = [ax.images[1].get_cmap().name for ax in fig.axes if len(ax.images) == 2]
    assert colour_maps == ["viridis"] * 4 + ["magma"] * 2
    assert sum(ax.get_ylabel() == "share of the map's maximum" for ax in fig.axes) == 3  # one colour bar per row


@pytest.mark.parametrize("supported", [True, False])
def test_the_figure_fits_a_readme(supported):
    from s2w_toolkit.plotting import png_bytes
    from PIL import Image
    import io

    width, height = Image.open(io.BytesIO(png_bytes(sim2word_figure(sim2word_explanation(supported), FACE, FACE)))).size
    assert width == 900 and 450 <= height <= 1000
