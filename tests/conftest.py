"""Shared fixtures: the real default backbone, the demo faces, and a CLI runner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from s2w_toolkit.data import demo_image


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
