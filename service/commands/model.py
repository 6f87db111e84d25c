"""`python -m service model install|generate|info|ensure`: translation models."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from service.config import QUANTIZATIONS, Settings
from service.modelstore import manifest as model_manifest
from service.modelstore.download import DownloadError


def register(commands) -> None:
    model = commands.add_parser("model", help="install, generate or inspect translation models")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    install = model_commands.add_parser("install", help="install the real model (download, zip or directory)")
    install.add_argument(
        "--direction",
        choices=model_manifest.DIRECTIONS,
        default="ar-en",
        help="ar-en translates the news; en-ar (optional) translates English queries to search the Arabic",
    )
    install.add_argument(
        "--source",
        help="URL, release zip, Argos Translate package (.argosmodel), OPUS-MT, Hugging Face or CTranslate2 directory "
        "(default: the direction's official "
        "release: opus-2019-12-18 for ar-en, Tatoeba eng-ara opus-2020-07-03 for en-ar)",
    )
    install.add_argument("--quantization", default="int8", choices=QUANTIZATIONS)
    install.add_argument("--sha256", help="expected SHA-256 of the downloaded or given zip")
    install.add_argument(
        "--dest",
        type=Path,
        help="install here (default: MT_MODEL_DIR or models/opus-mt-ar-en; for en-ar, MT_REVERSE_MODEL_DIR or "
        "models/opus-mt-en-ar)",
    )
    install.set_defaults(handler=run_install)
    generate = model_commands.add_parser("generate", help="generate a random-weight model for tests and benchmarks")
    generate.add_argument("--size", choices=("tiny", "base"), default="tiny")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--direction", choices=model_manifest.DIRECTIONS, default="ar-en")
    generate.add_argument(
        "--realistic-length",
        action="store_true",
        help="end outputs near the length a human translation of the source would have (for benchmarks)",
    )
    generate.add_argument("out_dir", type=Path)
    generate.set_defaults(handler=run_generate)
    info = model_commands.add_parser("info", help="print the installed model's manifest")
    info.set_defaults(handler=run_info)
    ensure = model_commands.add_parser("ensure", help="make sure a model is installed (used by `make run`)")
    ensure.add_argument(
        "--demo-fallback",
        action="store_true",
        help="without network or local source, generate the demo model in models/demo",
    )
    ensure.set_defaults(handler=run_ensure)


def _download_bar():
    bar = tqdm(unit="B", unit_scale=True, desc="download", file=sys.stderr, disable=None)

    def update(done: int, total: int | None) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


def run_install(args, services) -> int:
    from service.modelstore.sources import install

    settings = services.settings
    dest = args.dest or _configured_dir(settings, args.direction) or model_manifest.DEFAULT_DIRS[args.direction]
    manifest = install(
        args.source, dest, args.quantization, args.sha256, progress=_download_bar(), direction=args.direction
    )
    print(f"installed {manifest.id} into {dest}")
    return 0


def _configured_dir(settings: Settings, direction: str) -> Path | None:
    configured = settings.model_dir if direction == "ar-en" else settings.reverse_model_dir
    return configured if isinstance(configured, Path) else None  # MT_REVERSE_MODEL_DIR=off names no directory


def run_generate(args, services) -> int:
    from service.modelstore.generate import generate

    started = time.monotonic()
    manifest = generate(
        args.size, args.out_dir, args.seed, direction=args.direction, realistic_length=args.realistic_length
    )
    print(
        f"generated {manifest.id} into {args.out_dir} in {time.monotonic() - started:.1f}s "
        f"(random weights: translations are noise)"
    )
    return 0


def run_info(args, services) -> int:
    settings = services.settings
    model_dir = model_manifest.resolve_model_dir(settings.model_dir)
    print(
        json.dumps(
            {**model_manifest.Manifest.read(model_dir).to_dict(), "path": str(model_dir)}, indent=2, ensure_ascii=False
        )
    )
    return 0


def run_ensure(args, services) -> int:
    from service.modelstore.generate import generate
    from service.modelstore.sources import install

    settings = services.settings
    model_dir = model_manifest.resolve_model_dir(settings.model_dir)
    try:
        installed = model_manifest.Manifest.read(model_dir)
        print(f"model ready: {installed.id} at {model_dir}" + (" (demo: noise)" if installed.demo else ""))
        return 0
    except model_manifest.ModelNotInstalled:
        pass  # nothing installed yet: install it below
    try:
        manifest = install(None, model_dir, progress=_download_bar())
        print(f"installed {manifest.id} into {model_dir}")
        return 0
    except DownloadError as error:
        print(
            f"warning: {error}\nwarning: install the real model when you can: "
            f"`{model_manifest.INSTALL_HINT}`, or offline from a copy of the release: "
            f"`{model_manifest.INSTALL_HINT} --source /path/to/opus-2019-12-18.zip`",
            file=sys.stderr,
        )
        if not args.demo_fallback:
            return 2
    manifest = generate("tiny", model_manifest.DEMO_MODEL_DIR)
    print(
        f"warning: carrying on with the generated demo model {manifest.id} at "
        f"{model_manifest.DEMO_MODEL_DIR}: random weights, every translation is NOISE",
        file=sys.stderr,
    )
    return 0
