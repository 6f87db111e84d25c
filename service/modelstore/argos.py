"""Argos Translate packages (.argosmodel), the models LibreTranslate runs: install one, or write one.

An .argosmodel is a zip holding one folder with metadata.json (from_code, to_code, package_version,
...), model/ (a CTranslate2 model) and sentencepiece.model, one SentencePiece model that Argos uses
to encode the source and decode the target alike; here it becomes both source.spm and target.spm.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from service.modelstore.install import InstallError, install_from_path, safe_extract
from service.modelstore.manifest import Manifest, file_sha256

SUFFIX = ".argosmodel"
KIND = "argos"
METADATA_FILE = "metadata.json"
MODEL_FOLDER = "model"
SENTENCEPIECE_FILE = "sentencepiece.model"


def install_package(
    archive: Path, dest: Path, direction: str = "ar-en", expected_sha256: str | None = None
) -> Manifest:
    """Install the Argos package in archive into dest as a CTranslate2 model with a manifest naming it."""
    if not zipfile.is_zipfile(archive):
        raise InstallError(f"{archive} is not an Argos package (not a zip file)")
    sha256 = file_sha256(archive)
    if expected_sha256 and sha256 != expected_sha256:
        raise InstallError(f"checksum mismatch for {archive}: expected {expected_sha256}, got {sha256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="argos-unpack-", dir=dest.parent) as work:
        root = safe_extract(archive, Path(work))
        metadata = _metadata(archive, root)
        codes = f"{metadata.get('from_code')}-{metadata.get('to_code')}"
        if codes != direction:
            raise InstallError(f"{archive} translates {codes}, not {direction}")
        if metadata.get("target_prefix"):
            raise InstallError(f"{archive} needs a target prefix, which this service does not support")
        missing = [
            name
            for name, present in (
                (f"{MODEL_FOLDER}/model.bin", (root / MODEL_FOLDER / "model.bin").is_file()),
                (SENTENCEPIECE_FILE, (root / SENTENCEPIECE_FILE).is_file()),
            )
            if not present
        ]
        if missing:
            raise InstallError(f"{archive} is not a complete Argos package: it lacks {', '.join(missing)}")
        model = root / MODEL_FOLDER
        (model / "manifest.json").unlink(missing_ok=True)  # the manifest written below is the only one
        for tokenizer in ("source.spm", "target.spm"):
            shutil.copyfile(root / SENTENCEPIECE_FILE, model / tokenizer)
        return install_from_path(
            model,
            dest,
            name=f"argos-translate-{codes.replace('-', '_')}",
            source_label=str(archive),
            sha256=sha256,
            direction=direction,
            recorded_kind=KIND,
            version=str(metadata.get("package_version") or "") or None,
        )


def _metadata(archive: Path, root: Path) -> dict:
    path = root / METADATA_FILE
    if not path.is_file():
        raise InstallError(f"{archive} is not a complete Argos package: it lacks {METADATA_FILE}")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InstallError(f"{archive}: {METADATA_FILE} is not valid JSON ({error})") from error
    if not isinstance(metadata, dict):
        raise InstallError(f"{archive}: {METADATA_FILE} is not a JSON object")
    if metadata.get("type", "translate") != "translate":
        raise InstallError(f"{archive} is an Argos {metadata['type']!r} package, not a translation model")
    return metadata


def write_package(model_dir: Path, out: Path, sentencepiece_model: Path, version: str = "1.0") -> Path:
    """Package an installed model (model.bin and its vocabulary) as an .argosmodel that LibreTranslate installs.

    sentencepiece_model must cover both languages: Argos decodes the output with it.
    """
    source, target = Manifest.read(model_dir).direction.split("-")
    folder = f"translate-{source}_{target}-{version.replace('.', '_')}"
    metadata = {
        "package_version": version,
        "argos_version": "1.9.6",
        "from_code": source,
        "to_code": target,
        "type": "translate",
        "from_name": source,
        "to_name": target,
    }
    with zipfile.ZipFile(out, "w") as zipped:
        zipped.writestr(f"{folder}/{METADATA_FILE}", json.dumps(metadata, indent=2))
        zipped.write(sentencepiece_model, f"{folder}/{SENTENCEPIECE_FILE}")
        for path in sorted(model_dir.iterdir()):
            if path.is_file() and path.name not in ("manifest.json", "source.spm", "target.spm"):
                zipped.write(path, f"{folder}/{MODEL_FOLDER}/{path.name}")
    return out
