"""Generated models that stop near a realistic length: an end-of-sentence switch built into random weights.

Random weights never emit </s>, so a generated model decodes to its limit. A constant bias on the
</s> logit would stop it after a geometric number of steps, whatever the source's length. Here the
weights make the decoder find the source's end, with only what the real Marian architecture (as
CTranslate2 converts it) has:

- Some residual dimensions are kept out of every sublayer (no sublayer reads or writes them), so
  through every layer they carry only what the input put there, rescaled by each layer norm: sine
  and cosine columns of the sinusoidal position table at about ten frequencies from 1 to 1/200, an
  end marker, and a reference column (the marker and the reference are the table's slowest sine
  columns, whose values stay near zero). Each is read minus the reference, which cancels the layer
  norms' mean subtraction.
- The embedding of </s> alone carries the marker. CTranslate2 appends </s> to the source, so the
  encoder's last position holds the marker. The embedding is tied, so the marker is also the
  direction that raises the </s> logit; the decoder's first input is a zero embedding, without it.
- The last head of the last decoder layer's cross-attention (the first head gives the word
  alignments) is a position comparator: its query is the decoder step's (sin, cos) pairs rotated by
  `offset` steps, its keys the source positions' pairs `shift` columns further along the table, so
  q.k = sum of cos(w_j (t + offset) - w_(j+shift) p), largest where p = (t + offset) / ratio with
  ratio = w_(j+shift) / w_j, the same for every j because the table's frequencies are geometric.
  Decoding step t attends to source position (t + offset) / ratio; when that reaches </s>, the head's
  value (the marker, amplified) turns the final layer norm's output towards </s>'s embedding, and
  the next token is </s>.

- Each layer norm shrinks the kept columns as random sublayers add variance; the settings suit the
  tiny model's depth, so deeper models (opus-mt's 6+6 layers) get their random sublayers' outputs
  scaled down until the kept columns reach the top as strong as in the tiny model (`sublayer_scale`).

So a source of n tokens decodes to about ratio * n - offset tokens (`switch_length`). `fit_switch`
computes ratio (one the table allows) and offset from human translations (the shipped tico19 pairs,
tokenised with the generated model's own SentencePiece models): the lengths follow the human line,
not the human spread around it (a token or two here; humans: 10th-90th percentile ratio 0.75-1.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.modelstore import marian_spec

# </s>'s embedding in the marker column: also its output weight there, so the largest boost the switch
# can give the </s> logit is this times sqrt(dim), whatever the vocabulary's width
MARKER_WEIGHT = 0.5
# Each layer norm shrinks the kept columns by sqrt(1 + v), v the variance a random sublayer adds (about
# this, measured on the generated models); the switch's settings suit the tiny model's depth, so deeper
# models get their sublayers' outputs scaled down until the kept columns reach the top as strong as there.
SUBLAYER_VARIANCE = 0.3
REFERENCE_LAYER_NORMS = 2 * 2 + 3 * 2  # the tiny model's: 2 per encoder layer, 3 per decoder layer
SWITCH_STRENGTH = (
    20.0  # what the switch head writes, in units of the marker's input value: </s> wins once most attention is on it
)
EOS_ID = 0  # Marian's vocabulary puts </s> first
SLOWEST_FREQUENCY = 1 / 200  # the slowest position frequency the switch compares: distances up to ~600 tokens
FREQUENCIES = 10  # how many position frequencies the switch compares (more: a sharper switch, fewer free dims)


@dataclass(frozen=True)
class LengthSwitch:
    """Decoding ends after about `ratio` * source tokens (without </s>) - `offset` tokens.

    ratio is one of the ratios the sinusoidal table allows (neighbouring frequencies differ by a
    constant factor); offset shifts the switch by a number of decoding steps; sharpness scales the
    switch head's attention scores.
    """

    shift: int  # columns between the decoder's frequency and the encoder's: ratio = frequency_step**shift
    offset: float
    sharpness: float = 8.0


def frequencies(dim: int) -> np.ndarray:
    """The frequencies of CTranslate2's sinusoidal table: column j is sin, column dim/2 + j cos, of t * 10000**(-2j/dim)."""
    return 10000.0 ** (-2.0 * np.arange(dim // 2) / dim)


def switch_ratio(dim: int, shift: int) -> float:
    return float(10000.0 ** (-2.0 * shift / dim))


@dataclass(frozen=True)
class SwitchDims:
    reference: int
    marker: int
    decoder_columns: list[int]
    encoder_columns: list[int]

    @classmethod
    def of(cls, dim: int, heads: int, shift: int) -> SwitchDims:
        half = dim // 2
        slowest = int(np.argmin(np.abs(frequencies(dim) - SLOWEST_FREQUENCY)))
        count = min(FREQUENCIES, dim // heads // 2)  # a sine and a cosine each, in one head
        stride = max(1, math.ceil(slowest / (count - 1)))
        decoder = [j for j in range(0, slowest + 1, stride) if 0 <= j + shift < half - 2]
        return cls(half - 1, half - 2, decoder, [j + shift for j in decoder])

    def kept(self, dim: int) -> list[int]:
        columns = sorted(set(self.decoder_columns) | set(self.encoder_columns))
        return [self.reference, self.marker, *columns, *(dim // 2 + j for j in columns)]


def sublayer_scale(arch: marian_spec.MarianArchitecture) -> float:
    """The factor on random sublayer outputs that gives the kept columns the tiny model's overall shrinkage."""
    layer_norms = 2 * arch.enc_depth + 3 * arch.dec_depth
    variance = (1 + SUBLAYER_VARIANCE) ** (REFERENCE_LAYER_NORMS / layer_norms) - 1
    return math.sqrt(variance / SUBLAYER_VARIANCE)


def install_switch(weights: dict[str, np.ndarray], arch: marian_spec.MarianArchitecture, switch: LengthSwitch) -> None:
    """Rewrite random weights in place so that decoding ends where `switch` says."""
    dim, half = arch.dim_emb, arch.dim_emb // 2
    dims = SwitchDims.of(dim, arch.heads, switch.shift)
    kept = dims.kept(dim)
    for name, weight in weights.items():
        suffix = name.rsplit("_", 1)[-1]
        if suffix in ("Wq", "Wk", "Wv", "W1"):
            weight[kept, :] = 0.0  # no sublayer reads the kept dimensions...
        elif suffix in ("Wo", "W2", "bo", "b2"):
            weight *= sublayer_scale(arch)
            weight[:, kept] = 0.0  # ...or writes them
    embedding = weights["Wemb"]
    embedding[:, kept] = 0.0
    embedding[EOS_ID, dims.marker] = MARKER_WEIGHT

    head_dim = dim // arch.heads
    first = dim - head_dim  # the last head's columns; the first head gives the word alignments
    scope = f"decoder_l{arch.dec_depth}_context"
    for part in "qkv":
        weights[f"{scope}_W{part}"][:, first:] = 0.0
        weights[f"{scope}_b{part}"][:, first:] = 0.0
    weights[f"{scope}_Wo"][first:, :] = 0.0
    query, key, value = (weights[f"{scope}_W{part}"] for part in "qkv")
    gain = switch.sharpness * math.sqrt(head_dim)  # undoes the attention's 1/sqrt(head_dim)
    omegas = frequencies(dim)
    for slot, (decoder_column, encoder_column) in enumerate(
        zip(dims.decoder_columns, dims.encoder_columns, strict=True)
    ):
        # q.k = cos(w_dec * (t + offset) - w_enc * p): largest where t + offset = p * w_enc / w_dec
        angle = omegas[decoder_column] * switch.offset
        sin_q, cos_q = first + 2 * slot, first + 2 * slot + 1
        sin_t, cos_t = decoder_column, half + decoder_column
        # rotate (sin wt, cos wt) by the offset: sin(w(t+o)) = sin wt cos wo + cos wt sin wo, and so on
        for row, (a, b) in ((sin_t, (math.cos(angle), -math.sin(angle))), (cos_t, (math.sin(angle), math.cos(angle)))):
            query[row, sin_q] += gain * a
            query[row, cos_q] += gain * b
            query[dims.reference, sin_q] -= gain * a
            query[dims.reference, cos_q] -= gain * b
        key[encoder_column, sin_q], key[half + encoder_column, cos_q] = 1.0, 1.0
        key[dims.reference, sin_q] -= 1.0
        key[dims.reference, cos_q] -= 1.0
    value[dims.marker, first], value[dims.reference, first] = 1.0, -1.0
    # CTranslate2 scales embeddings by sqrt(dim): the marker enters the residual stream as MARKER_WEIGHT * sqrt(dim)
    weights[f"{scope}_Wo"][first, dims.marker] = SWITCH_STRENGTH / (MARKER_WEIGHT * math.sqrt(dim))


def fit_switch(
    arch: marian_spec.MarianArchitecture, source_lengths: Sequence[int], target_lengths: Sequence[int]
) -> LengthSwitch:
    """The switch whose lengths best follow human ones: target ~ ratio * source - offset, fitted on pairs.

    Lengths count SentencePiece tokens without </s>. For each ratio the sinusoidal table allows near the
    pairs' median ratio, the offset is the median residual; the ratio whose residuals spread least wins.
    """
    sources = np.asarray(source_lengths, dtype=float)
    targets = np.asarray(target_lengths, dtype=float)
    median_ratio = float(np.median(targets / np.maximum(sources, 1)))
    step = math.log(switch_ratio(arch.dim_emb, 1))
    nearest = round(math.log(median_ratio) / step)
    fits = []
    for shift in range(nearest - 1, nearest + 2):
        residuals = switch_ratio(arch.dim_emb, shift) * sources - targets
        offset = float(np.median(residuals))
        fits.append((float(np.median(np.abs(residuals - offset))), LengthSwitch(shift, round(offset, 2))))
    return min(fits, key=lambda fit: fit[0])[1]


def switch_length(arch: marian_spec.MarianArchitecture, switch: LengthSwitch, source_length: int) -> int:
    """Where the switch ends a source of this many tokens (without </s>): the first step past ratio * length - offset."""
    return max(1, math.ceil(switch_ratio(arch.dim_emb, switch.shift) * source_length - switch.offset))
