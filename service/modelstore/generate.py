"""Generated models: OPUS-MT-format directories with random weights, for tests and benchmarks.

They have the real format and architecture (a Marian .npz, decoder.yml, a vocab .yml, source.spm
and target.spm) and are installed through the same converter path as the real model. Their
translations are noise, and their manifest says so.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import numpy as np
import sentencepiece as spm
import yaml

from service.modelstore import install, length_switch, marian_spec, marian_vocab

CORPUS_DIR = Path(__file__).parent / "corpus"
NPZ_NAME = "opus.spm32k-spm32k.transformer-align.model1.npz.best-perplexity.npz"
VOCAB_NAME = "opus.spm32k-spm32k.vocab.yml"
SPM_SPECIALS = {"<unk>", "<s>", "</s>"}
REALISTIC_LENGTH_SUFFIX = "-reallen"  # in the name of a model that ends outputs near a human length


def train_sentencepiece(lines_path: Path, vocab_size: int, out_path: Path) -> list[str]:
    """Train a unigram SentencePiece model on a text file; return its pieces minus specials."""
    model = io.BytesIO()
    with open(lines_path, encoding="utf-8") as lines:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line.strip() for line in lines if line.strip()),
            model_writer=model,
            vocab_size=vocab_size,
            hard_vocab_limit=False,  # a small shipped corpus cannot always fill the real size
            character_coverage=1.0,
            model_type="unigram",
            num_threads=1,  # one thread keeps the pieces reproducible
            minloglevel=2,
        )
    out_path.write_bytes(model.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    return [piece for piece in pieces if piece not in SPM_SPECIALS]


def _is_bias(name: str) -> bool:
    return re.fullmatch(r"b[qkvo12]?", name.rsplit("_", 1)[-1]) is not None


def random_weights(arch: marian_spec.MarianArchitecture, seed: int) -> dict[str, np.ndarray]:
    """Small random weights for every parameter; layer norms start at identity."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in marian_spec.parameter_shapes(arch).items():
        if name.endswith("_ln_scale"):
            weights[name] = np.ones(shape, dtype=np.float32)
        elif name.endswith("_ln_bias") or _is_bias(name):
            weights[name] = np.zeros(shape, dtype=np.float32)
        else:
            scale = 1.0 / np.sqrt(shape[0])
            weights[name] = rng.normal(0.0, scale, size=shape).astype(np.float32)
    return weights


def fit_length_switch(
    arch: marian_spec.MarianArchitecture, corpus_dir: Path, source_lang: str, target_lang: str, model_dir: Path
) -> tuple[length_switch.LengthSwitch, ...]:
    """The end-of-sentence switches' lines fitted to the corpus's pairs, tokenised with the model's own tokenizers."""
    tokenizers = (
        spm.SentencePieceProcessor(model_file=str(model_dir / f"{side}.spm")) for side in ("source", "target")
    )
    lengths = []
    for tokenizer, lang in zip(tokenizers, (source_lang, target_lang), strict=True):
        with open(corpus_dir / f"tico19.{lang}", encoding="utf-8") as lines:
            lengths.append([len(tokenizer.encode(line.strip())) for line in lines])
    return length_switch.fit_spread(arch, *lengths)


def write_opus_mt_dir(
    size: str,
    out_dir: Path,
    seed: int = 1,
    corpus_dir: Path = CORPUS_DIR,
    direction: str = "ar-en",
    realistic_length: bool = False,
) -> Path:
    """Write an OPUS-MT release directory (as unpacked from its zip) with random weights.

    direction picks the tokenizers' languages; an en-ar vocabulary also holds the release's target token.
    realistic_length builds in an end-of-sentence switch (modelstore/length_switch.py) fitted to the
    shipped corpus's human translations, so outputs end near a human length instead of at the limit.
    """
    arch = marian_spec.SIZES[size]
    source_lang, target_lang = direction.split("-")
    target_token = install.RELEASES[direction].target_token
    out_dir.mkdir(parents=True, exist_ok=True)
    pieces_per_side = min(32000, (arch.vocab_size - 2) // 2)
    source_pieces = train_sentencepiece(corpus_dir / f"tico19.{source_lang}", pieces_per_side, out_dir / "source.spm")
    target_pieces = train_sentencepiece(corpus_dir / f"tico19.{target_lang}", pieces_per_side, out_dir / "target.spm")
    if target_token:
        source_pieces.append(target_token)
    tokens = marian_vocab.shared_vocab(source_pieces, target_pieces, arch.vocab_size)
    marian_vocab.write_vocab(tokens, out_dir / VOCAB_NAME)

    weights = random_weights(arch, seed)
    if realistic_length:
        switches = fit_length_switch(arch, corpus_dir, source_lang, target_lang, out_dir)
        length_switch.install_switch(weights, arch, switches, seed)
    config = yaml.safe_dump(marian_spec.model_config(arch)).encode("utf-8")
    # Marian stores its config as a NUL-terminated byte string inside the .npz.
    weights["special:model.yml"] = np.frombuffer(config + b"\0", dtype=np.int8)
    np.savez(out_dir / NPZ_NAME, **weights)

    decoder = {
        "models": [NPZ_NAME],
        "vocabs": [VOCAB_NAME, VOCAB_NAME],
        "beam-size": 4,
        "normalize": 0.6,
        "relative-paths": True,
    }
    (out_dir / "decoder.yml").write_text(yaml.safe_dump(decoder), encoding="utf-8")
    ending = f" It ends outputs near a human length, on one of {switches}." if realistic_length else ""
    (out_dir / "README.md").write_text(
        f"Generated {size} model: random weights (seed {seed}); its translations are noise.{ending}\n",
        encoding="utf-8",
    )
    return out_dir


def generate(
    size: str,
    out_dir: Path,
    seed: int = 1,
    quantization: str = "int8",
    direction: str = "ar-en",
    realistic_length: bool = False,
) -> Path:
    """Generate a random-weight OPUS-MT model and install it into out_dir through the real path.

    realistic_length: its outputs end near a human length for their source (see write_opus_mt_dir).
    """
    if size not in marian_spec.SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(marian_spec.SIZES)}")
    if direction not in install.RELEASES:
        raise ValueError(f"unknown direction {direction!r}; choose one of {', '.join(install.RELEASES)}")
    suffix = "" if direction == "ar-en" else f"-{direction}"  # ar-en keeps the name its memory entries carry
    suffix += REALISTIC_LENGTH_SUFFIX if realistic_length else ""
    with tempfile.TemporaryDirectory(prefix="opus-mt-generated-") as work:
        source = write_opus_mt_dir(
            size, Path(work) / "release", seed, direction=direction, realistic_length=realistic_length
        )
        return install.install_from_path(
            source,
            out_dir,
            quantization=quantization,
            name=f"generated-{size}{suffix}",
            demo=True,
            source_label=f"generated:{size}{suffix}:seed={seed}",
            direction=direction,
            target_token=install.RELEASES[direction].target_token,
        )
