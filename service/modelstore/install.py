"""Install a translation model: verify the source, convert it with CTranslate2, record a manifest.

The building blocks every kind of source uses (sources.py picks the kind: the official OPUS-MT release, downloaded;
a local release zip; an unpacked OPUS-MT directory; a Hugging Face Marian directory; an already converted
CTranslate2 directory; an Argos Translate package, modelstore/argos.py).
The new model is built beside the destination and renamed into place only when complete.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import ctranslate2

from service.errors import ServiceError
from service.modelstore.manifest import MANIFEST_FILE, Manifest, file_sha256, tree_sha256


@dataclass(frozen=True)
class Release:
    """The official OPUS-MT release installed by default for one direction."""

    name: str
    url: str
    target_token: str | None  # what a multi-target model needs before each source sentence


RELEASES = {  # one per manifest.DIRECTIONS
    "ar-en": Release("opus-mt-ar-en", "https://object.pouta.csc.fi/OPUS-MT-models/ar-en/opus-2019-12-18.zip", None),
    # Tatoeba-Challenge eng-ara (Helsinki-NLP/opus-mt-en-ar): its targets are several Arabic varieties,
    # so every source sentence starts with the target's language token; >>ara<< is Standard Arabic.
    "en-ar": Release(
        "opus-mt-en-ar", "https://object.pouta.csc.fi/Tatoeba-MT-models/eng-ara/opus-2020-07-03.zip", ">>ara<<"
    ),
}
# Checksums of known releases, by file name, so a local copy of the zip is verified too.
KNOWN_SHA256 = {"opus-2019-12-18.zip": "2406c939b175616789999f370a3f487e90cd018e4590e8679cf91ee8caff2416"}
TOKENIZER_FILES = ("source.spm", "target.spm")


class InstallError(ServiceError, RuntimeError):
    """The source cannot be installed; the message says why and what to do."""

    code = "install_failed"


def install_zip(
    archive: Path, dest: Path, quantization: str, sha256: str | None, label: str, identity: dict
) -> Manifest:
    """Verify a release zip (against sha256, or the known checksum of its name), unpack it and install it."""
    expected = sha256 or KNOWN_SHA256.get(archive.name)
    actual = file_sha256(archive)
    if expected and actual != expected:
        raise InstallError(f"checksum mismatch for {archive}: expected {expected}, got {actual}")
    with tempfile.TemporaryDirectory(prefix="opus-mt-unpack-", dir=dest.parent) as work:
        root = safe_extract(archive, Path(work))
        return install_from_path(root, dest, quantization, source_label=label, sha256=actual, **identity)


def safe_extract(archive: Path, target: Path) -> Path:
    """Unzip, refusing members that would land outside target; return the model's root folder."""
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            resolved = (target / member).resolve()
            if not resolved.is_relative_to(target.resolve()):
                raise InstallError(f"{archive} holds an unsafe path: {member}")
        zipped.extractall(target)
    entries = list(target.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def detect_kind(path: Path) -> str:
    """Say which kind of model directory this is: opus-mt, huggingface or ctranslate2."""
    if (path / "decoder.yml").is_file():
        return "opus-mt"
    if (path / "model.bin").is_file():
        return "ctranslate2"
    if (path / "config.json").is_file() and any(
        (path / name).is_file() for name in ("pytorch_model.bin", "model.safetensors")
    ):
        return "huggingface"
    raise InstallError(f"{path} is not an OPUS-MT, Hugging Face or CTranslate2 model directory")


def install_from_path(
    source: Path,
    dest: Path,
    quantization: str = "int8",
    name: str = RELEASES["ar-en"].name,
    demo: bool = False,
    source_label: str | None = None,
    sha256: str | None = None,
    direction: str = "ar-en",
    target_token: str | None = None,
    recorded_kind: str | None = None,
    version: str | None = None,
) -> Manifest:
    """Convert (or copy) a model directory into dest, with its tokenizers and a manifest.

    recorded_kind names where the model came from when that is more than its format (an Argos package).
    """
    kind = detect_kind(source)
    missing = [f for f in TOKENIZER_FILES if not (source / f).is_file()]
    if missing:
        raise InstallError(f"{source} lacks {', '.join(missing)}: the SentencePiece models must sit beside the model")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        recorded_quantization = _convert(kind, source, staging, quantization)
        for tokenizer in TOKENIZER_FILES:
            shutil.copyfile(source / tokenizer, staging / tokenizer)
        if (staging / MANIFEST_FILE).is_file():
            manifest = Manifest.read(staging)  # a model this project installed: keep its identity and labels
        else:
            manifest = Manifest(
                name=name,
                kind=recorded_kind or kind,
                source=source_label or str(source),
                sha256=sha256 or tree_sha256(source),
                quantization=recorded_quantization,
                converter=f"ctranslate2 {ctranslate2.__version__}",
                created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                demo=demo,
                direction=direction,
                target_token=target_token,
                version=version,
            )
            manifest.write(staging)
        _replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _convert(kind: str, source: Path, out: Path, quantization: str) -> str:
    if kind == "ctranslate2":
        shutil.copytree(source, out, dirs_exist_ok=True)
        return "preconverted"
    if kind == "opus-mt":
        from ctranslate2.converters import OpusMTConverter

        OpusMTConverter(str(source)).convert(str(out), quantization=quantization, force=True)
        return quantization
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        raise InstallError(
            f"converting a Hugging Face model needs transformers and torch ({error.name} is missing): "
            "pip install transformers torch"
        ) from error
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(source)).convert(str(out), quantization=quantization, force=True)
    return quantization


def _replace_dir(staging: Path, dest: Path) -> None:
    """Swap the finished model into place; an interrupted install leaves the old model usable."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)
