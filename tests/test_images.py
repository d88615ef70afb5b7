"""Reading photos of every common mode, and one-line errors for broken ones."""

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit.errors import ImageError
from s2w_toolkit.io.images import read_image


@pytest.fixture(scope="module")
def obama_rgb(demo):
    return read_image(demo["obama"])


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "I;16", "CMYK"])
def test_modes_become_rgb8(tmp_path, obama_rgb, mode):
    img = Image.fromarray(obama_rgb)
    if mode == "I;16":
        gray = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        img = Image.fromarray(gray)
        assert img.mode.startswith("I;16")
    else:
        img = img.convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    rgb = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == obama_rgb.shape
    if mode in ("L", "I;16"):
        expected = np.asarray(Image.fromarray(obama_rgb).convert("L"))
        assert np.abs(rgb[..., 0].astype(int) - expected).max() <= 1


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    Image.fromarray(rgba).save(tmp_path / "t.png")
    assert (read_image(tmp_path / "t.png") == 255).all()


def test_grayscale_and_rgba_photos_verify(run_cli, tmp_path, obama_rgb, demo):
    Image.fromarray(obama_rgb).convert("L").save(tmp_path / "gray.png")
    Image.fromarray(obama_rgb).convert("RGBA").save(tmp_path / "rgba.png")
    result = run_cli("verify", tmp_path / "gray.png", tmp_path / "rgba.png", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"same_person": true' in result.stdout


def _broken_files(tmp_path, demo):
    data = open(demo["obama"], "rb").read()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    (tmp_path / "text.jpg").write_text("not an image")
    return {
        "missing": (tmp_path / "nope.jpg", "no such file"),
        "truncated": (tmp_path / "truncated.jpg", "cannot read image"),
        "corrupt": (tmp_path / "corrupt.jpg", "not an image"),
        "text": (tmp_path / "text.jpg", "not an image"),
        "folder": (tmp_path, "is a folder"),
    }


@pytest.mark.parametrize("case", ["missing", "truncated", "corrupt", "text", "folder"])
def test_broken_images_fail_in_one_line(run_cli, tmp_path, demo, case):
    path, message = _broken_files(tmp_path, demo)[case]
    with pytest.raises(ImageError, match=message):
        read_image(path)
    result = run_cli("verify", path, demo["obama"])
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_image_without_a_face(run_cli, tmp_path, demo):
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(tmp_path / "blank.png")
    result = run_cli("verify", tmp_path / "blank.png", demo["obama"])
    assert result.exit_code == 1
    assert "no face found" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path, demo):
    import subprocess
    import sys

    code = "from s2w_toolkit.cli.main import main; main()"
    args = ["verify", str(tmp_path / "nope.jpg"), demo["obama"]]
    debug = subprocess.run([sys.executable, "-c", code, "--debug", *args], capture_output=True, text=True)
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr  # the whole traceback, down to where it was raised
    assert "s2w_toolkit/io/images.py" in debug.stderr and "ImageError" in debug.stderr
    plain = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr  # without --debug: one line
