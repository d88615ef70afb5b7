"""`Explanation` is plain data that round-trips through JSON."""

import numpy as np
import pytest
import torch

from s2w_toolkit import Explanation, Word


def test_round_trip_keeps_everything():
    rng = np.random.default_rng(0)
    e = Explanation(
        score=0.25, maps={"a": torch.rand(1, 7, 7), "b": rng.random((14, 14))}, explainer="x", backbone="y",
        words=[Word("Big Nose", 0.4, {"erased": 0.1}), Word("Senior", 0.2)],
        extra_maps={"counterfactual": {"a": np.eye(3), "b": np.zeros((3, 3))}}, threshold=0.5,
        metadata={"seconds": 1.5},
    )
    back = Explanation.from_json(e.to_json())
    assert back.maps["a"].shape == (7, 7) and back.maps["b"].shape == (14, 14)
    np.testing.assert_allclose(back.maps["b"], e.maps["b"], atol=5e-6)  # JSON keeps 5 decimals
    np.testing.assert_array_equal(back.extra_maps["counterfactual"]["a"], np.eye(3, dtype=np.float32))
    assert back.words == e.words and back.same_person is False and back.metadata == {"seconds": 1.5}


@pytest.mark.parametrize("maps", [{"a": np.ones((2, 2))}, {"a": np.ones(3), "b": np.ones(3)},
                                  {"a": np.ones((2, 2)), "b": np.ones((2, 2)), "c": np.ones((2, 2))}])
def test_maps_must_be_2d_per_side(maps):
    with pytest.raises(ValueError):
        Explanation(score=0.0, maps=maps)
