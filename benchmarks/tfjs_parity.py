"""Parity and speed of the TFJS converter against TensorFlow.js (node, pure-JS CPU backend) on
HSE FaceRes (``faceres.json`` and ``faceres.bin`` of ``@vladmandic/human@3.3.6``).

Converts the model with :func:`s2w_toolkit.weights.tfjs_graph.convert_tfjs` and runs it and
TensorFlow.js (``tf.loadGraphModel`` on the same JSON and shard, through ``tf.io.fromMemory``, in
a node process fed raw float32 files) on: a deterministic pattern batch (sines and cosines of the
pixel indices, :func:`pattern`) and the demo faces resized to 224 px, in FaceRes's input
convention (BGR, minus the Caffe means 103.939, 116.779, 123.68). Prints the largest absolute
difference per output (gender, embedding, age) and the median time of one call on one face,
ours (torch, no gradients) and TensorFlow.js's (``execute`` and ``dataSync``, timed in node),
alternated in the same run (median and fastest; on a small shared machine single calls can stall
for a second, so the fastest is the steadier figure there). ``--record`` also writes
TensorFlow.js's outputs on the pattern batch to ``tests/data/faceres_tfjs_reference.npz`` (read
by ``tests/test_tfjs.py``).

    mkdir -p /tmp/tfjsref && (cd /tmp/tfjsref && npm install @tensorflow/tfjs@4)
    python benchmarks/tfjs_parity.py [--tfjs-dir /tmp/tfjsref] [--repeats 20] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from s2w_toolkit.weights.registry_files import registry_file
from s2w_toolkit.weights.tfjs_graph import convert_tfjs

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "s2w_toolkit" / "data" / "faces"
RECORD = ROOT / "tests" / "data" / "faceres_tfjs_reference.npz"
CAFFE_BGR_MEANS = np.array([103.939, 116.779, 123.68], np.float32)
SHORT = {"gender_pred/Sigmoid:0": "gender", "global_pooling/Mean": "embedding", "age_pred/Softmax:0": "age"}

NODE_SCRIPT = r"""
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

async function main() {
  await tf.setBackend('cpu');
  const jsonPath = process.argv[2];
  const model = JSON.parse(fs.readFileSync(jsonPath));
  const specs = [], shards = [];
  for (const group of model.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const net = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: model.modelTopology, weightSpecs: specs, weightData, format: model.format,
    generatedBy: model.generatedBy, convertedBy: model.convertedBy, signature: model.signature}));
  console.log(JSON.stringify({ready: true, inputs: net.inputNodes, outputs: net.outputNodes,
                              version: tf.version.tfjs, backend: tf.getBackend()}));
  const lines = readline.createInterface({input: process.stdin});
  for await (const line of lines) {
    const job = JSON.parse(line);
    const raw = fs.readFileSync(job.input);
    const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), job.shape, 'float32');
    const start = performance.now();
    let ys = net.execute(x);
    if (!Array.isArray(ys)) ys = [ys];
    const data = ys.map(y => y.dataSync());
    const ms = performance.now() - start;
    data.forEach((d, i) => fs.writeFileSync(job.out + i + '.bin', Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
    const shapes = ys.map(y => y.shape);
    tf.dispose([x, ...ys]);
    console.log(JSON.stringify({ms, shapes}));
  }
}
main().catch(e => { console.error(e); process.exit(1); });
"""


def pattern(batch: int = 2) -> np.ndarray:
    """A deterministic NHWC input in FaceRes's convention: a cartoon face (a skin-coloured ellipse
    with dark eyes, brows, nose and mouth on a striped background, a fine texture of sines over
    it), drawn from the pixel indices alone; face ``n`` is shifted a little. It excites about half
    of the embedding's channels, as real faces do. ``tests/test_tfjs.py`` repeats it."""
    n, h, w, c = np.meshgrid(np.arange(batch), np.arange(224), np.arange(224), np.arange(3), indexing="ij")

    def ellipse(cy: float, cx: object, ry: float, rx: float) -> np.ndarray:
        return np.exp(-np.maximum(((h - cy) / ry) ** 2 + ((w - cx) / rx) ** 2 - 1, 0) * 8)

    background = 60 + 40 * np.sin(0.05 * h + 0.8 * c + n)
    face = ellipse(115 + 3 * n, 112, 85, 65)
    img = background + face * (np.array([150.0, 170.0, 215.0])[c] - background)  # BGR skin
    for cx in (85 - 2 * n, 139 + 2 * n):
        img -= face * (110 * ellipse(95, cx, 7, 13) + 60 * ellipse(78, cx, 3, 18))  # an eye, a brow
    img -= face * (70 * ellipse(160, 112, 6, 22) + 25 * ellipse(125, 112, 14, 6))  # mouth, nose
    img += 12 * np.sin(0.7 * h + 0.5 * w + c) * np.cos(0.3 * w - 0.4 * h + n)
    return (img - CAFFE_BGR_MEANS.astype(np.float64)[c]).astype(np.float32)


def faces() -> list[tuple[str, np.ndarray]]:
    """The demo faces at 224 px, BGR minus the Caffe means, (1, 224, 224, 3) float32 each."""
    out = []
    for path in sorted(FACES.glob("*.jpg")):
        rgb = np.asarray(Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32)
        out.append((path.name, (rgb[..., ::-1] - CAFFE_BGR_MEANS)[None].copy()))
    return out


class TFJS:
    """TensorFlow.js in a node process, called like our module (NHWC numpy in, list of numpy out);
    ``last_ms``: the time node measured for the last call."""

    def __init__(self, model_json: Path, tfjs_dir: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tfjsref-"))
        script = self.tmp / "run.js"
        script.write_text(NODE_SCRIPT)
        env = dict(os.environ, NODE_PATH=str(tfjs_dir / "node_modules"))
        self.proc = subprocess.Popen(["node", str(script), str(model_json)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.info = json.loads(self._line())
        self.last_ms, self.calls = 0.0, 0

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        while line and not line.startswith("{"):  # tfjs prints advice about tfjs-node first
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the node process ended (is @tensorflow/tfjs installed in --tfjs-dir?)")
        return line

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        self.calls += 1
        inp, out = self.tmp / "x.bin", str(self.tmp / f"y{self.calls}_")
        inp.write_bytes(np.ascontiguousarray(x, "<f4").tobytes())
        self.proc.stdin.write(json.dumps({"input": str(inp), "shape": list(x.shape), "out": out}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self._line())
        self.last_ms = reply["ms"]
        return [np.fromfile(f"{out}{i}.bin", "<f4").reshape(s) for i, s in enumerate(reply["shapes"])]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def ours(net: torch.nn.Module, x: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        return [o.numpy() for o in net(torch.from_numpy(x))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfjs-dir", type=Path, default=Path("/tmp/tfjsref"),
                        help="a folder where `npm install @tensorflow/tfjs@4` was run")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--record", action="store_true",
                        help=f"write TensorFlow.js's outputs on the pattern to {RECORD}")
    args = parser.parse_args()
    model_json = registry_file("faceres.json")
    registry_file("faceres.bin")  # checked too
    start = time.perf_counter()
    net = convert_tfjs(model_json).eval()
    print(f"converted in {time.perf_counter() - start:.2f} s; torch threads {torch.get_num_threads()}")
    ref = TFJS(model_json, args.tfjs_dir)
    print(f"TensorFlow.js {ref.info['version']} ({ref.info['backend']} backend); outputs {ref.info['outputs']}")
    assert ref.info["outputs"] == net.output_names, (ref.info["outputs"], net.output_names)
    names = [SHORT.get(n, n) for n in net.output_names]
    worst = dict.fromkeys(names, 0.0)
    cases = [("pattern x2", pattern(2))] + faces()  # the pattern: a batch of two
    for label, x in cases:
        a, b = ours(net, x), ref(x)
        diffs = [float(np.abs(p - q).max()) for p, q in zip(a, b)]
        print(f"{label:12s} " + "  ".join(f"{n} {d:.2e}" for n, d in zip(names, diffs)) +
              f"  (gender {a[0].ravel()[0]:.3f}, age argmax {int(a[2][0].argmax())})")
        worst = {n: max(worst[n], d) for n, d in zip(names, diffs)}
        if args.record and label.startswith("pattern"):
            RECORD.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(RECORD, **dict(zip(names, b)), input_sum=np.float64(x.astype(np.float64).sum()))
            print(f"recorded TensorFlow.js's outputs on the pattern in {RECORD} ({RECORD.stat().st_size} bytes)")
    print("worst: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()) +
          ("  (within 1e-4)" if max(worst.values()) <= 1e-4 else "  (OVER 1e-4)"))
    x = cases[1][1] if len(cases) > 1 else pattern(1)
    ours(net, x), ref(x)  # warm-up
    mine, theirs = [], []
    for _ in range(args.repeats):  # alternated
        start = time.perf_counter()
        ours(net, x)
        mine.append(time.perf_counter() - start)
        ref(x)
        theirs.append(ref.last_ms / 1e3)
    for label, t in (("ours (torch)", mine), ("TensorFlow.js (node, cpu)", theirs)):
        print(f"one face, {label}: median {statistics.median(t) * 1e3:.1f} ms, fastest {min(t) * 1e3:.1f} ms "
              f"({args.repeats} calls, alternated)")
    ref.close()


if __name__ == "__main__":
    main()
