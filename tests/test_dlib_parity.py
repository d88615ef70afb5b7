"""The PyTorch port of dlib's face ResNet against dlib's own descriptor, on real face chips."""

import dlib
import numpy as np
import pytest
import torch

from s2w_toolkit.weights.packaged import model_file
from s2w_toolkit.io.images import read_image

TOLERANCE = 1e-4  # max abs difference per descriptor element


@pytest.fixture(scope="module")
def dlib_chips(demo):
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))
    recognizer = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))
    chips, descriptors = [], []
    for name in ("obama", "obama2", "biden"):
        image = read_image(demo[name])
        small = image[::2, ::2].copy()  # detection only; landmarks on the full image
        rect = detector(small, 1)[0]
        box = dlib.rectangle(*(2 * v for v in (rect.left(), rect.top(), rect.right(), rect.bottom())))
        chip = dlib.get_face_chip(image, predictor(image, box), size=150, padding=0.25)
        chips.append(chip)
        descriptors.append(np.array(recognizer.compute_face_descriptor(chip)))
    return np.stack(chips), np.stack(descriptors)


def test_embedding_matches_dlib(net, dlib_chips):
    chips, reference = dlib_chips
    with torch.no_grad():
        ours = net(net.preprocess(chips)).numpy()
    assert ours.shape == reference.shape == (3, 128)
    assert np.abs(ours - reference).max() <= TOLERANCE
    # and the verdicts follow: obama/obama2 close, obama/biden far
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > net.threshold > unit[0] @ unit[2]


def test_gradients_reach_the_input(net, dlib_chips):
    chips, _ = dlib_chips
    x = net.preprocess(chips[:1]).requires_grad_(True)
    y = net.preprocess(chips[2:3])
    net.similarity(x, y).sum().backward()
    grad = x.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    # a step against the gradient lowers the similarity: the gradient is the real one
    with torch.no_grad():
        before = net.similarity(x, y).item()
        after = net.similarity(x - 0.05 * grad / grad.abs().max(), y).item()
    assert after < before


def test_cam_layer_is_the_last_map_of_at_least_7x7(net):
    seen = {}
    handle = net.cam_layer.register_forward_hook(lambda m, i, o: seen.update(shape=o.shape))
    with torch.no_grad():
        net(torch.zeros(1, 3, 150, 150))
    handle.remove()
    assert seen["shape"] == (1, 128, 8, 8)  # the 4x4 and 2x2 maps are too coarse for a 150 px face
