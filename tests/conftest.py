"""Shared fixtures: the real default backbone, the demo faces, a CLI runner, and the project's
own explainers (a third party's installed plugin is not the project's to test)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from s2w_toolkit.data import demo_image

#: The distributions this repository builds: the toolkit and the plugins under plugins/.
PROJECT_DISTRIBUTIONS = ("s2w-toolkit", "s2w-gradcam", "s2w-xcos", "s2w-xssab", "s2w-avsl", "s2w-perturb",
                         "s2w-center-prior")


@pytest.fixture
def project_explainers():
    """The names of the installed explainers that this repository provides."""
    from s2w_toolkit.testing import explainer_names

    return explainer_names(PROJECT_DISTRIBUTIONS)


@pytest.fixture(scope="session")
def net():
    from s2w_toolkit import load_backbone

    return load_backbone("dlib-resnet", device="cpu")


@pytest.fixture(scope="session")
def demo():
    return {name: str(demo_image(name)) for name in ("obama", "obama2", "obama3", "biden")}


@pytest.fixture
def run_cli():
    from s2w_toolkit.cli.main import cli

    def run(*args: str):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return run


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked slow (the real network end to end, the full CLI); "
                          "README's test command and .ci/run pass it")


def pytest_collection_modifyitems(config, items):
    """Without ``--slow``, the tests marked ``slow`` are deselected: ``pytest -q`` is the fast set.
    With it, they go first, so that the xdist workers do not end on one long test."""
    if config.getoption("--slow"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the rest keep their order
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_configure(config):
    """Keep the user's cache directory out of the tests (and their subprocesses): converted
    ONNX graphs and extracted ``.bin`` images go to a folder of this session."""
    import os
    import tempfile

    os.environ.setdefault("S2W_CACHE_DIR", tempfile.mkdtemp(prefix="s2w-test-cache-"))
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:  # a pytest-xdist worker: share the cores out, or the workers' thread pools fight over them
        threads = max(1, len(os.sched_getaffinity(0)) // int(workers))
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # this worker's subprocesses too
            os.environ.setdefault(variable, str(threads))
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture
def one_ray_at_a_time():
    """Held while a test runs a Ray cluster: the xdist workers start one cluster at a time."""
    import fcntl
    import os
    from pathlib import Path

    with open(Path(os.environ["S2W_CACHE_DIR"]) / "ray-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
