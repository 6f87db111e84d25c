"""The Marian transformer format that OPUS-MT releases use: architecture, parameter names, model.yml.

Kept apart from the generator (generate.py) in the way CTranslate2 keeps specs apart from
converters: this file only says what a Marian model of a given size looks like.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MarianArchitecture:
    """Dimensions of a Marian transformer (post-norm, tied embeddings, as in OPUS-MT)."""

    enc_depth: int
    dec_depth: int
    dim_emb: int
    dim_ffn: int
    heads: int
    vocab_size: int
    activation: str = "swish"


# opus-mt-ar-en (opus-2019-12-18): 6+6 layers, d_model 512, FFN 2048, 8 heads, swish, and a
# shared vocabulary of 62,834 entries (source and target SentencePiece pieces together).
OPUS_MT_AR_EN = MarianArchitecture(6, 6, 512, 2048, 8, 62834)

SIZES = {
    "tiny": MarianArchitecture(2, 2, 64, 128, 4, 2000),
    "base": OPUS_MT_AR_EN,
}


def model_config(arch: MarianArchitecture) -> dict:
    """The `special:model.yml` entry Marian stores inside the .npz (the keys CTranslate2 reads)."""
    return {
        "type": "transformer",
        "dim-vocabs": [arch.vocab_size, arch.vocab_size],
        "dim-emb": arch.dim_emb,
        "enc-depth": arch.enc_depth,
        "dec-depth": arch.dec_depth,
        "tied-embeddings-all": True,
        "transformer-heads": arch.heads,
        "transformer-dim-ffn": arch.dim_ffn,
        "transformer-ffn-depth": 2,
        "transformer-ffn-activation": arch.activation,
        "transformer-decoder-autoreg": "self-attention",
        "transformer-no-projection": False,
        "transformer-preprocess": "",
        "transformer-postprocess": "dan",
        "transformer-postprocess-emb": "d",
        "transformer-guided-alignment-layer": "last",
        "transformer-tied-layers": [],
        "max-length": 512,
    }


def _attention(prefix: str, dim: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for part in "qkvo":
        shapes[f"{prefix}_W{part}"] = (dim, dim)
        shapes[f"{prefix}_b{part}"] = (1, dim)
    shapes[f"{prefix}_Wo_ln_scale"] = (1, dim)
    shapes[f"{prefix}_Wo_ln_bias"] = (1, dim)
    return shapes


def _ffn(prefix: str, dim: int, dim_ffn: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}_W1": (dim, dim_ffn),
        f"{prefix}_b1": (1, dim_ffn),
        f"{prefix}_W2": (dim_ffn, dim),
        f"{prefix}_b2": (1, dim),
        f"{prefix}_ffn_ln_scale": (1, dim),
        f"{prefix}_ffn_ln_bias": (1, dim),
    }


def parameter_shapes(arch: MarianArchitecture) -> dict[str, tuple[int, ...]]:
    """Every .npz parameter name with its shape; Marian stores weights as (in, out)."""
    dim = arch.dim_emb
    shapes: dict[str, tuple[int, ...]] = {"Wemb": (arch.vocab_size, dim)}
    for i in range(1, arch.enc_depth + 1):
        shapes.update(_attention(f"encoder_l{i}_self", dim))
        shapes.update(_ffn(f"encoder_l{i}_ffn", dim, arch.dim_ffn))
    for i in range(1, arch.dec_depth + 1):
        shapes.update(_attention(f"decoder_l{i}_self", dim))
        shapes.update(_attention(f"decoder_l{i}_context", dim))
        shapes.update(_ffn(f"decoder_l{i}_ffn", dim, arch.dim_ffn))
    shapes["decoder_ff_logit_out_b"] = (1, arch.vocab_size)
    return shapes
