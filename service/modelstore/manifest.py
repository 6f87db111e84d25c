"""The manifest written beside every installed model: what it is, where it came from, how it was built."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from service.errors import ServiceError

MANIFEST_FILE = "manifest.json"
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "opus-mt-ar-en"
DEFAULT_REVERSE_MODEL_DIR = MODELS_DIR / "opus-mt-en-ar"  # English→Arabic, for English queries (optional)
DEMO_MODEL_DIR = MODELS_DIR / "demo"
DIRECTIONS = ("ar-en", "en-ar")  # source-target; ar-en translates the news, en-ar only English queries
DEFAULT_DIRS = {"ar-en": DEFAULT_MODEL_DIR, "en-ar": DEFAULT_REVERSE_MODEL_DIR}
INSTALL_HINT = "python -m service model install"


class ModelNotInstalled(ServiceError, RuntimeError):
    """No usable model at the configured directory."""

    status, code = 503, "model_unavailable"

    def __init__(self, model_dir: Path):
        super().__init__(
            f"no translation model installed at {model_dir}; install one with "
            f"`{INSTALL_HINT}` (or `{INSTALL_HINT} --source opus-2019-12-18.zip` offline)"
        )


@dataclass(frozen=True)
class Manifest:
    """Identity and provenance of an installed model; `id` keys the translation memory."""

    name: str
    kind: str  # opus-mt | huggingface | ctranslate2 | argos
    source: str
    sha256: str
    quantization: str
    converter: str
    created: str
    demo: bool = False  # random weights: every translation is noise
    direction: str = "ar-en"  # source-target; manifests written before there were two directions are ar-en
    target_token: str | None = None  # put before every source sentence, as multi-target models need (>>ara<<)
    version: str | None = None  # the source's own version, where it has one (an Argos package's package_version)

    @property
    def id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}-{self.quantization}"

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "id": self.id}

    def write(self, model_dir: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        (model_dir / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        path = model_dir / MANIFEST_FILE
        if not path.is_file() or not (model_dir / "model.bin").is_file():
            raise ModelNotInstalled(model_dir)
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})


def resolve_model_dir(configured: Path | None) -> Path:
    """The configured directory, else the real model if installed, else the demo model if generated."""
    if configured is not None:
        return configured
    for candidate in (DEFAULT_MODEL_DIR, DEMO_MODEL_DIR):
        if (candidate / MANIFEST_FILE).is_file():
            return candidate
    return DEFAULT_MODEL_DIR


def resolve_reverse_model_dir(configured: Path | str | None) -> Path | None:
    """The English→Arabic model's directory: the configured one, else the default if installed; None when off."""
    if configured == "off":
        return None
    if configured is not None:
        return Path(configured)
    return DEFAULT_REVERSE_MODEL_DIR if (DEFAULT_REVERSE_MODEL_DIR / MANIFEST_FILE).is_file() else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(root: Path) -> str:
    """One digest over a directory's file names and contents, for sources that are not one file."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        digest.update(file_sha256(path).encode("ascii"))
    return digest.hexdigest()
