"""Resource limits and odd files (issue 12): FIFOs, huge photos, decompression bombs, symlink
loops, tiny or non-square --aligned faces and files of random bytes named .pth."""

import json
import os
import struct
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from s2w_toolkit import load_backbone, load_face
from s2w_toolkit.errors import CheckpointError, ImageError
from s2w_toolkit.io.images import MAX_IMAGE_PIXELS, MAX_PIXELS_ENV, read_image

S2W = [sys.executable, "-c", "from s2w_toolkit.cli.main import main; main()"]
PEAK_MB = 1500  # huge-photo run: ~400 MB of libraries and models + 3 bytes a pixel; the float path took 2.7 GB


def one_line_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in text, text
    return lines[0]


@pytest.fixture
def pixel_limit_env(monkeypatch):
    """--max-image-pixels sets the variable for the process: make it part of what is restored."""
    monkeypatch.setenv(MAX_PIXELS_ENV, "")


def test_a_fifo_given_as_an_image_fails_at_once_in_one_line(tmp_path, demo):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    done = subprocess.run([*S2W, "verify", str(fifo), demo["obama"], "--device", "cpu"], capture_output=True,
                          text=True, timeout=90)  # the old code waited for a writer forever
    assert done.returncode == 1
    assert f"{fifo}: is a FIFO (named pipe), not an image file" in one_line_error(done.stderr)


def test_a_fifo_given_as_weights_fails_at_once(tmp_path):
    for name in ("w.pth", "w.onnx", "w.pkl", "w.dat"):
        os.mkfifo(tmp_path / name)
    code = ("from s2w_toolkit import load_backbone\n"
            "for name, file in (('arcface-r18', 'w.pth'), ('onnx', 'w.onnx'), ('vggface2-resnet50', 'w.pkl'),\n"
            "                   ('dlib-resnet', 'w.dat')):\n"
            "    try:\n"
            "        load_backbone(name, weights=file, device='cpu')\n"
            "    except Exception as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=90)
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout + done.stderr
    for line, name in zip(lines, ("w.pth", "w.onnx", "w.pkl", "w.dat")):
        assert line.startswith(f"CheckpointError {name}: not a regular file (a FIFO"), line


def test_a_huge_photo_finds_the_face_in_bounded_memory(tmp_path, demo):
    face = Image.open(demo["obama"])
    left, top = 5000, 3000
    canvas = Image.new("RGB", (8000, 6000), (120, 130, 140))  # 48 MP; the face is 265 px wide in it
    canvas.paste(face, (left, top))
    canvas.save(tmp_path / "big.jpg", quality=90)
    code = ("import json, sys\n"
            "from s2w_toolkit.pipeline import load_backbone, load_pair, verify\n"
            "net = load_backbone('dlib-resnet', device='cpu')\n"
            "pair = load_pair(sys.argv[1], sys.argv[2], net)\n"
            # VmHWM: this process's own peak RSS (getrusage would also count the parent's pages
            # from before exec, so a large pytest process would inflate it)
            "peak = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n"
            "print(json.dumps({'box': pair.info['a']['box'], 'peak_mb': peak, **verify(pair, net)}))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "big.jpg"), demo["obama"]],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    peak_mb = result["peak_mb"]
    x0, y0, x1, y1 = result["box"]
    assert left + 330 < (x0 + x1) / 2 < left + 680 and top + 100 < (y0 + y1) / 2 < top + 450  # the face, in place
    assert result["similarity"] > 0.9 and result["same_person"]
    assert peak_mb < PEAK_MB, f"peak RSS {peak_mb:.0f} MB"


def _header_only_png(path, width: int, height: int) -> None:
    """A PNG that declares ``width`` x ``height`` RGB pixels but holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
                     + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_one_line_naming_file_limit_and_option(run_cli, tmp_path, demo, pixel_limit_env):
    bomb = tmp_path / "bomb.png"
    _header_only_png(bomb, 30000, 30000)
    with pytest.raises(ImageError, match=f"bomb.png: 30000x30000 is 900,000,000 pixels, over the limit of "
                                         f"{MAX_IMAGE_PIXELS:,}"):
        read_image(bomb)
    result = run_cli("verify", bomb, demo["obama"])
    assert result.exit_code == 1
    line = one_line_error(result.stderr)
    assert str(bomb) in line and "200,000,000" in line and "--max-image-pixels" in line and MAX_PIXELS_ENV in line
    lifted = run_cli("verify", bomb, demo["obama"], "--max-image-pixels", "0")  # no limit: now its data is read
    assert lifted.exit_code == 1 and "cannot read image" in one_line_error(lifted.stderr)


def test_the_pixel_limit_follows_the_environment_and_the_option(run_cli, monkeypatch, demo, pixel_limit_env):
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000000")  # obama.jpg is 910x1137 = 1,034,670 pixels
    result = run_cli("verify", demo["obama"], demo["obama2"])
    assert result.exit_code == 1 and "over the limit of 1,000,000" in one_line_error(result.stderr)
    assert run_cli("verify", demo["obama"], demo["obama2"], "--max-image-pixels", "2000000").exit_code == 0
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ImageError, match="S2W_MAX_IMAGE_PIXELS='lots': not a whole number"):
        read_image(demo["obama"])


def test_symlink_loops_are_named(run_cli, tmp_path, demo):
    for name in ("a.jpg", "w.pth", "w.onnx"):
        os.symlink(tmp_path / f"{name}.loop", tmp_path / name)
        os.symlink(tmp_path / name, tmp_path / f"{name}.loop")
    with pytest.raises(ImageError, match="a.jpg: symlink loop"):
        read_image(tmp_path / "a.jpg")
    result = run_cli("verify", tmp_path / "a.jpg", demo["obama"])
    assert result.exit_code == 1 and "a.jpg: symlink loop" in one_line_error(result.stderr)
    for backbone, name in (("arcface-r18", "w.pth"), ("onnx", "w.onnx")):
        with pytest.raises(CheckpointError, match=f"{name}: symlink loop"):
            load_backbone(backbone, weights=str(tmp_path / name), device="cpu")


def test_aligned_faces_below_32_px_are_refused_and_non_square_ones_warned(run_cli, net, tmp_path, demo):
    face, _ = load_face(demo["obama"], net)
    Image.fromarray(face[:1, :1]).save(tmp_path / "dot.png")
    Image.fromarray(face[:31, :]).save(tmp_path / "strip.png")
    for name, size in (("dot.png", "1x1"), ("strip.png", "150x31")):
        with pytest.raises(ImageError, match=f"{name}: {size} is too small for an aligned face "
                                             r"\(at least 32 px on the short side\)"):
            load_face(tmp_path / name, net, aligned=True)
        result = run_cli("verify", tmp_path / name, demo["obama"], "--aligned")
        assert result.exit_code == 1 and "too small for an aligned face" in one_line_error(result.stderr)
    Image.fromarray(face).resize((150, 200)).save(tmp_path / "tall.png")
    with pytest.warns(UserWarning, match=r"tall.png: the aligned face is 150x200, not square; it is stretched"):
        stretched, _ = load_face(tmp_path / "tall.png", net, aligned=True)
    assert stretched.shape == (150, 150, 3)
    Image.fromarray(face).save(tmp_path / "square.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a square face of the template's size gives no warning
        load_face(tmp_path / "square.png", net, aligned=True)


def test_random_bytes_named_pth_are_not_called_pickled_objects(tmp_path):
    noise = tmp_path / "noise.pth"
    noise.write_bytes(bytes([0x13, 0x37, 0xc0, 0xde]) + np.random.default_rng(0).bytes(4092))
    with pytest.raises(CheckpointError, match="noise.pth: expected an arcface_torch .pth state dict for arcface-r18, "
                                              r"but it is not a checkpoint: unrecognised content \(first bytes "
                                              "13 37 c0 de "):
        load_backbone("arcface-r18", weights=str(noise), device="cpu")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pth: .* not a checkpoint: the file is empty"):
        load_backbone("arcface-r18", weights=str(empty), device="cpu")
