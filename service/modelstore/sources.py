"""Where a model can be installed from, and the installer for each kind of source.

Above install.py (the building blocks: unpack, convert, record the manifest) and argos.py (Argos packages, built
on those blocks), so that neither imports the other's way round. A new kind of source is one entry in INSTALLERS
and one line in source_kind.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from service.config import QUANTIZATIONS
from service.modelstore import argos
from service.modelstore.download import download
from service.modelstore.install import KNOWN_SHA256, RELEASES, InstallError, install_from_path, install_zip
from service.modelstore.manifest import DIRECTIONS, Manifest


@dataclass(frozen=True)
class Request:
    """One install: the source (a URL or a path), where the model goes, and how."""

    source: str
    dest: Path
    quantization: str
    sha256: str | None
    progress: Callable[[int, int | None], None] | None
    direction: str

    @property
    def identity(self) -> dict:
        """The name, direction and target token the direction's release gives a model that records none."""
        release = RELEASES[self.direction]
        return {"name": release.name, "direction": self.direction, "target_token": release.target_token}


def install(
    source: str | None,
    dest: Path,
    quantization: str = "int8",
    sha256: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    direction: str = "ar-en",
) -> Manifest:
    """Install from a URL, a zip, an Argos package or a directory (default: the direction's official release)."""
    if quantization not in QUANTIZATIONS:
        raise InstallError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if direction not in RELEASES:
        raise InstallError(f"unknown direction {direction!r}; choose one of {', '.join(DIRECTIONS)}")
    request = Request(source or RELEASES[direction].url, dest, quantization, sha256, progress, direction)
    return INSTALLERS[source_kind(request.source)](request)


def source_kind(source: str) -> str:
    """Which kind of source this is: a key of INSTALLERS."""
    if source.startswith(("http://", "https://")):
        return "url"
    path = Path(source)
    if path.suffix == argos.SUFFIX and path.is_file():  # an Argos package is a zip too: asked first
        return "argos"
    if path.is_file() and zipfile.is_zipfile(path):
        return "zip"
    if path.is_dir():
        return "directory"
    raise InstallError(f"{source} is not a URL, a zip file or a model directory")


def _from_url(request: Request) -> Manifest:
    name = request.source.rstrip("/").rsplit("/", 1)[-1]
    downloads = request.dest.parent / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    expected = request.sha256 or KNOWN_SHA256.get(name)
    archive = download(request.source, downloads / name, expected, progress=request.progress)
    return install_zip(archive, request.dest, request.quantization, request.sha256, request.source, request.identity)


def _from_argos_package(request: Request) -> Manifest:
    return argos.install_package(Path(request.source), request.dest, request.direction, request.sha256)


def _from_zip(request: Request) -> Manifest:
    path = Path(request.source)
    return install_zip(path, request.dest, request.quantization, request.sha256, str(path), request.identity)


def _from_directory(request: Request) -> Manifest:
    path = Path(request.source)
    return install_from_path(
        path, request.dest, request.quantization, source_label=str(path), sha256=request.sha256, **request.identity
    )


INSTALLERS: dict[str, Callable[[Request], Manifest]] = {
    "url": _from_url,
    "argos": _from_argos_package,
    "zip": _from_zip,
    "directory": _from_directory,
}
