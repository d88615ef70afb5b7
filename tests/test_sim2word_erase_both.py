"""``erase="both"``: the region erased on both faces, s_j = cos(f(T erased), f(F erased)), and the
controls alike; a difference planted in one region is then a distinguishing word, where erasing
the target alone cannot tell it from a region the model ignores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2w_toolkit.backbones.wrapped import wrap_module
from s2w_toolkit.fills import fill_inputs
from s2w_toolkit.interfaces import Pair
from s2w_toolkit.sim2word.core import Settings, run_sim2word

from test_sim2word_counterfactual import _faces
from test_sim2word_rankings import BOXES, DIFFERENT, SAME, SIZE, TwoRegions
from test_sim2word_support import Squares


@pytest.fixture(scope="module")
def setup():
    net = wrap_module(TwoRegions(), input_size=(SIZE, SIZE), threshold=0.99, name="two-regions")
    faces = _faces(DIFFERENT, SAME)
    x = net.preprocess(faces)
    return net, faces, x, Pair(a=x[:1], b=x[1:], image_a=faces[0], image_b=faces[1])


def test_s_j_and_the_controls_are_the_cosines_of_both_faces_erased(setup):
    net, faces, x, pair = setup
    result = run_sim2word(net, pair, Squares(BOXES), Settings(erase="both", stability=0, sequential=False))
    target = run_sim2word(net, pair, Squares(BOXES), Settings(erase="target", stability=0, sequential=False))
    fills = fill_inputs(net, faces, "blur", 0, x)
    for i, d in enumerate(result.directions):
        for j, row in enumerate(d.rows):
            m = d.masks[j]
            erased = torch.stack([torch.where(m, fills[i], x[i]), torch.where(m, fills[1 - i], x[1 - i])])
            with torch.no_grad():
                e = torch.nn.functional.normalize(net(erased), dim=1)
            assert row["s"] == pytest.approx(float(e[0] @ e[1]), abs=1e-5)
    # every erased image and every control has its counter image beside it
    assert result.forward_images == 2 * target.forward_images


def test_a_planted_difference_is_distinguishing_when_both_faces_are_erased(setup):
    """The faces agree on one read square and differ on the other. Erasing the different square
    on both faces takes the difference away (the cosine rises to the shared square's); on the
    target alone (with the half masks and the controls anywhere of the former defaults) it cannot,
    and the word is not named. The defaults erase both faces."""
    net, _, _, pair = setup
    both = run_sim2word(net, pair, Squares(BOXES), Settings(stability=0))
    assert both.settings.erases_both
    alone = run_sim2word(net, pair, Squares(BOXES), Settings(erase="target", stability=0, mask_fraction=0.5, dilate=0,
                                                            control_overlap=1.0))
    assert [r["attribute"] for r in both.directions[0].words("distinguishing")] == ["Different"]
    assert all(not d.words("distinguishing") for d in alone.directions)
    from s2w_toolkit.sim2word.explainer import to_explanation

    caption = to_explanation(both).metadata["caption"]
    assert "erasing it on both faces raises the cosine" in caption, caption


def test_erase_both_refuses_what_it_cannot_do(setup):
    net, _, x, _ = setup
    for bad in ({"fill": "road"}, {"rank_by": "uncertainty"}, {"erase": "neither"}):
        with pytest.raises(ValueError):
            Settings(**{"erase": "both", **bad})
    from s2w_toolkit.sim2word.core import explain_directions

    with torch.no_grad():
        others = net(x[1:])
    with pytest.raises(ValueError, match="counter face's image"):
        explain_directions(net, x[:1], np.zeros((1, SIZE, SIZE, 3), np.uint8), Squares(BOXES),
                           Settings(erase="both", stability=0, placements=2), 0.99, others=others, pairs=[(0, 1)])
