"""Issue 15: work done once (faces, ROAD factorisations, attribute predictions) and workers that
give the serial run's rows."""

from __future__ import annotations

import numpy as np
import pytest

from s2w_toolkit import load_backbone, road
from s2w_toolkit.bench.compare import row_differences
from s2w_toolkit.bench.pairs import read_pairs
from s2w_toolkit.bench.runner import run_benchmark
from s2w_toolkit.bench.store import read_rows
from s2w_toolkit.faces.cache import FaceCache
from s2w_toolkit.pipeline import load_pair


def test_road_factorisations_of_recurring_masks_are_kept_and_change_nothing(monkeypatch):
    rng = np.random.default_rng(3)
    faces = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    masks = rng.random((4, 40, 40)) < np.linspace(0.1, 0.8, 4)[:, None, None]
    monkeypatch.setenv(road.CACHE_ENV, "0")
    monkeypatch.setattr(road, "_FACTORISATIONS", road._Factorisations())
    reference = [road.road_impute(f, masks) for f in faces]
    assert not road._FACTORISATIONS.kept
    monkeypatch.setenv(road.CACHE_ENV, "64")
    got = [road.road_impute(f, masks) for f in faces]
    assert len(road._FACTORISATIONS.kept) == 4  # kept from the second face on
    assert all((a == b).all() for a, b in zip(reference, got))  # bit-identical


def test_the_face_cache_detects_each_photo_once_and_reads_it_back_from_disk(tmp_path):
    net = load_backbone("dlib-resnet", device="cpu")
    specs = read_pairs()
    cache = FaceCache(tmp_path / "faces")
    plain = [load_pair(s.a, s.b, net) for s in specs]
    cached = [load_pair(s.a, s.b, net, cache=cache) for s in specs]
    distinct = len({p for s in specs for p in (s.a, s.b)})
    assert (cache.misses, cache.hits) == (distinct, 2 * len(specs) - distinct)
    assert all((p.image_a == q.image_a).all() and (p.image_b == q.image_b).all() for p, q in zip(plain, cached))
    again = FaceCache(tmp_path / "faces")
    load_pair(specs[0].a, specs[0].b, net, cache=again)
    assert (again.misses, again.hits) == (0, 2)
    entry = next((tmp_path / "faces").rglob("*.npz"))
    entry.write_bytes(entry.read_bytes()[:100])  # damaged: detected again, rewritten, with a warning
    fresh = FaceCache(tmp_path / "faces")
    with pytest.warns(UserWarning, match="unreadable.*replaced"):
        for s in specs:
            load_pair(s.a, s.b, net, cache=fresh)
    assert fresh.misses == 1
    assert FaceCache(tmp_path / "faces")._read(entry.stem, net.template) is not None


def _serial_and_spread(tmp_path, monkeypatch, batch_pairs=2, **spread):
    """Rows of a serial run and of a spread one on three bundled pairs in groups of
    ``batch_pairs`` (whose metric images share batches), one thread per process (so that
    gradient maps agree to the bit)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = load_backbone("dlib-resnet", device="cpu")
        pairs = read_pairs()[:3]
        serial = run_benchmark(pairs, ["input-gradient"], net, tmp_path / "serial", steps=3,
                               batch_pairs=batch_pairs)
        spread_counts = run_benchmark(pairs, ["input-gradient"], net, tmp_path / "spread", steps=3,
                                      batch_pairs=batch_pairs, **spread)
    finally:
        torch.set_num_threads(threads)
    assert serial == spread_counts == {"written": 9, "failed": 0, "pairs_loaded": 3, "pairs": 3}
    return read_rows(tmp_path / "serial" / "results.jsonl"), read_rows(tmp_path / "spread" / "results.jsonl")


def test_the_metric_images_of_a_group_of_pairs_share_batches(tmp_path, monkeypatch):
    from s2w_toolkit.sim2word import rescore

    net = load_backbone("dlib-resnet", device="cpu")
    pairs, real, rows = read_pairs()[:3], rescore.rescore, {}
    for group in (1, 3):
        chunks: list[int] = []

        def counted(backbone, images, *args, **kwargs):
            chunks.append(len(images))
            return real(backbone, images, *args, **kwargs)

        monkeypatch.setattr(rescore, "rescore", counted)  # what the metrics score (the explainer does not use it)
        run_benchmark(pairs, ["input-gradient"], net, tmp_path / str(group), steps=3, batch_size=24,
                      batch_pairs=group, controls=False)
        monkeypatch.undo()
        rows[group] = (read_rows(tmp_path / str(group) / "results.jsonl"), chunks)
    # per pair and side: deletion 2 orders x 2 curves x 4 steps = 16 images; replacement 1 + 5 x 3 = 16
    (one, one_chunks), (three, three_chunks) = rows[1], rows[3]
    assert sum(three_chunks) == sum(one_chunks) == 3 * 2 * (16 + 16)
    assert three_chunks == [24] * 8  # the three pairs' 192 images in full chunks, across requests and pairs
    assert one_chunks == [24, 24, 16] * 3  # pair by pair: each pair's 64 images, across its requests
    assert row_differences(one, three, tolerance=1e-5) == []  # batch composition moves a cosine by ~1e-6 at most


def test_two_workers_write_the_serial_rows(tmp_path, monkeypatch):
    a, b = _serial_and_spread(tmp_path, monkeypatch, workers=2)
    assert row_differences(a, b) == []
    b[0]["metrics"]["deletion"]["a"]["deletion_auc"] += 1e-3  # the comparison sees a change
    assert row_differences(a, b)


@pytest.mark.slow  # a Ray cluster started; test_two_workers_write_the_serial_rows is the fast twin
def test_two_ray_actors_write_the_serial_rows(tmp_path, monkeypatch, one_ray_at_a_time):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        events: list[str] = []
        a, b = _serial_and_spread(tmp_path, monkeypatch, batch_pairs=1, workers=3, engine="ray",
                                  on_event=events.append)  # three tasks for two CPUs
    finally:
        ray.shutdown()
    assert row_differences(a, b) == []
    assert sum("ray actor" in e and "ready" in e for e in events) == 2  # capped at the cluster's two CPUs
    assert any("2 actors instead of 3" in e for e in events)
