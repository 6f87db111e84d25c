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
- A head of the last decoder layer's cross-attention (the first head gives the word alignments) is
  a position comparator: its query is the decoder step's (sin, cos) pairs rotated by
  `offset` steps, its keys the source positions' pairs `shift` columns further along the table, so
  q.k = sum of cos(w_j (t + offset) - w_(j+shift) p), largest where p = (t + offset) / ratio with
  ratio = w_(j+shift) / w_j, the same for every j because the table's frequencies are geometric.
  Decoding step t attends to source position (t + offset) / ratio; when that reaches </s>, the head's
  value (the marker, amplified) turns the final layer norm's output towards </s>'s embedding, and
  the next token is </s>. The marker's weight in the layer norms leaves </s>'s position columns a
  little weaker than its neighbours', so </s>'s key also gets a small constant bonus (`EOS_BONUS`).
- Each layer norm shrinks the kept columns as random sublayers add variance; the settings suit the
  tiny model's depth, so deeper models (opus-mt's 6+6 layers) get their random sublayers' outputs
  scaled down until the kept columns reach the top as strong as in the tiny model (`sublayer_scale`).

So a source of n tokens decodes to about ratio * n - offset tokens (`switch_length`). Human
translations spread around that line, by a ratio more than by a number of tokens (on tico19, the
10th-90th percentile of the output/source ratio is 0.71-1.26 for 15-30 source tokens and 0.74-1.10
from 50), and several lines copy that spread:

- `fit_spread` ranks the human pairs by their ratio to the fitted line and cuts them into as many
  slices as the decoder has heads besides the alignment head (`line_shares`: a fifth for each
  outer slice, so the shortest and the longest lines sit near the human 10th and 90th percentiles);
  each slice gets its own line (`fit_switch` on its pairs). Each of those heads switches one line.
- Every token carries a salience and a class (a line, drawn with the line's share), in kept
  columns. The last head of the first encoder layer's self-attention gives the </s> position the
  class of the source's most salient token: from </s> it attends by salience (a softmax that one
  token dominates), from every other position it attends to </s>, whose value is zero, so only </s>
  gets a class. Salience is random, tilted towards rare pieces, so that the few pieces in every
  source do not decide most sources' classes.
- A line's switch head reads that class in its key for </s> (`GATE_PENALTY`): a line shorter than
  the source's class loses more there than the comparator can win by, so it never fires, and the
  source ends on its own class's line (or on a shorter line that crosses it at that length). The
  class depends only on the source's tokens, the tokens' classes and salience are drawn with the
  seed, and the classes' shares hold at every source length: on tico19 and the held-out ud_pud the
  model's 10th-90th percentile ratio is about 0.75-1.28 (humans: 0.74-1.19 and 0.80-1.31).
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
# The class head's scores: </s> outbids every salience from other positions, and shuts itself out at </s>
CLASS_HEAD_SCORE = 100.0
SALIENCE_SCALE = 40.0  # the class head's score for the rarest piece over the most frequent: the top one dominates
SALIENCE_JITTER = 1.0  # the random part of each token's salience (its deviation), against rarity's range of 1
# What a line's switch loses on </s> per unit of class it lacks, against the comparator's few units of margin
GATE_PENALTY = 40.0
# What </s> wins by in every switch head: the marker's weight in the layer norms shrinks </s>'s position columns,
# and without it a few source lengths end where a neighbouring position's score stays ahead (their decoding runs on)
EOS_BONUS = 6.0
TAIL_SHARE = (
    0.2  # the shortest and the longest line's share of sources: their lines sit at the human 10th and 90th percentiles
)


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
        count = min(FREQUENCIES, dim // heads // 2 - 1)  # a sine and a cosine each, in one head beside its gate
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


@dataclass(frozen=True)
class SpreadDims:
    """The kept columns that choose a source's line: slow sine columns, below the marker, whose values stay near zero.

    constant is the reference's cosine partner (about 1 at every position); each line but the longest
    has a token-class column (1 where the token's class is that line's or shorter) and a source-class
    column (the class head writes the most salient token's token-class value there, at </s> only).
    """

    constant: int
    salience: int
    token_classes: list[int]
    source_classes: list[int]

    @classmethod
    def of(cls, dim: int, lines: int) -> SpreadDims:
        below_marker = list(range(dim // 2 - 3, dim // 2 - 3 - (2 * lines - 1), -1))
        # the source classes are read at </s>, at the sentence's end: the slowest columns drift least there
        return cls(dim - 1, below_marker[-1], below_marker[lines - 1 : -1], below_marker[: lines - 1])

    def kept(self) -> list[int]:
        return [self.constant, self.salience, *self.token_classes, *self.source_classes]


def install_switch(
    weights: dict[str, np.ndarray],
    arch: marian_spec.MarianArchitecture,
    switches: Sequence[LengthSwitch],
    seed: int,
) -> None:
    """Rewrite random weights in place so that decoding ends on one of `switches`' lines, chosen by the source.

    switches: the lines from `fit_spread`, shortest first, one per head of the last decoder layer's
    cross-attention from its last heads back (the first gives the word alignments); seed draws the
    tokens' salience and class.
    """
    dim = arch.dim_emb
    head_dim = dim // arch.heads
    if not 1 <= len(switches) < arch.heads:
        raise ValueError(f"{len(switches)} lines for {arch.heads} heads: one head gives the word alignments")
    switch_dims = [SwitchDims.of(dim, arch.heads, switch.shift) for switch in switches]
    spread = SpreadDims.of(dim, len(switches))
    kept = sorted({column for dims in switch_dims for column in dims.kept(dim)} | set(spread.kept()))
    for name, weight in weights.items():
        suffix = name.rsplit("_", 1)[-1]
        if suffix in ("Wq", "Wk", "Wv", "W1"):
            weight[kept, :] = 0.0  # no sublayer reads the kept dimensions...
        elif suffix in ("Wo", "W2", "bo", "b2"):
            weight *= sublayer_scale(arch)
            weight[:, kept] = 0.0  # ...or writes them
    reference, marker = switch_dims[0].reference, switch_dims[0].marker
    # CTranslate2 scales embeddings by sqrt(dim): the marker enters the residual stream as MARKER_WEIGHT * sqrt(dim)
    marker_input = MARKER_WEIGHT * math.sqrt(dim)
    embedding = weights["Wemb"]
    embedding[:, kept] = 0.0
    embedding[EOS_ID, marker] = MARKER_WEIGHT
    _draw_token_classes(embedding, spread, len(switches), seed)

    # the class head: the last head of the first encoder layer, which reads the embeddings themselves
    scope, first = "encoder_l1_self", dim - head_dim
    query, key, value, out = _clear_head(weights, scope, first, head_dim)
    gain = math.sqrt(head_dim)  # undoes the attention's 1/sqrt(head_dim)
    # score(q -> p) = CLASS_HEAD_SCORE * is_eos(p) * (1 - 2 is_eos(q)) + SALIENCE_SCALE * salience(p)
    _read(query, spread.constant, reference, first, gain * CLASS_HEAD_SCORE)
    _read(key, marker, reference, first, 1 / marker_input)
    _read(query, marker, reference, first + 1, -2 * gain * CLASS_HEAD_SCORE / marker_input)
    _read(key, marker, reference, first + 1, 1 / marker_input)
    _read(query, spread.constant, reference, first + 2, gain * SALIENCE_SCALE)
    _read(key, spread.salience, reference, first + 2, 1.0)
    for slot, (token_class, source_class) in enumerate(zip(spread.token_classes, spread.source_classes, strict=True)):
        _read(value, token_class, reference, first + slot, 1.0)
        out[first + slot, source_class] = 1.0

    scope = f"decoder_l{arch.dec_depth}_context"
    first_line_head = arch.heads - len(switches)
    for line, (switch, dims) in enumerate(zip(switches, switch_dims, strict=True)):
        first = (first_line_head + line) * head_dim
        query, key, value, out = _clear_head(weights, scope, first, head_dim)
        _install_comparator(query, key, dim, switch, dims, first, head_dim)
        # the key for </s>: EOS_BONUS, minus (1 - source class) * GATE_PENALTY but for the longest line, always open
        gate = first + head_dim - 1
        penalty = GATE_PENALTY if line < len(switches) - 1 else 0.0
        _read(query, spread.constant, reference, gate, gain)
        _read(key, marker, reference, gate, (EOS_BONUS - penalty) / marker_input)
        if penalty:
            _read(key, spread.source_classes[line], reference, gate, penalty)
        _read(value, marker, reference, first, 1.0)
        out[first, marker] = SWITCH_STRENGTH / marker_input


def _draw_token_classes(embedding: np.ndarray, spread: SpreadDims, lines: int, seed: int) -> None:
    """Give every token but </s> a salience and a class (a line), in embedding units (the input is sqrt(dim) times).

    The vocabulary lists each side's SentencePiece pieces from the most frequent, so a later piece is a rarer
    one: salience is that rarity (0 to 1) plus a random part, so pieces found in most sources seldom decide a
    source's class, and the classes of many pieces share the sources between the lines.
    """
    rng = np.random.default_rng(seed)
    tokens = np.arange(embedding.shape[0]) != EOS_ID
    count = int(tokens.sum())
    scale = 1 / math.sqrt(embedding.shape[1])
    rarity = np.arange(count) / count
    embedding[tokens, spread.salience] = (rarity + SALIENCE_JITTER * rng.standard_normal(count)) * scale
    token_class = rng.choice(lines, size=count, p=line_shares(lines))
    for line, column in enumerate(spread.token_classes):
        embedding[tokens, column] = (token_class <= line) * scale


def _clear_head(
    weights: dict[str, np.ndarray], scope: str, first: int, head_dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zero one head of an attention layer; return its query, key, value and output weights to fill."""
    columns = slice(first, first + head_dim)
    for part in "qkv":
        weights[f"{scope}_W{part}"][:, columns] = 0.0
        weights[f"{scope}_b{part}"][:, columns] = 0.0
    weights[f"{scope}_Wo"][columns, :] = 0.0
    return tuple(weights[f"{scope}_W{part}"] for part in "qkvo")


def _read(weight: np.ndarray, column: int, reference: int, slot: int, scale: float) -> None:
    """Make `slot` read `column` minus the reference (which cancels the layer norms' mean subtraction)."""
    weight[column, slot] += scale
    weight[reference, slot] -= scale


def _install_comparator(
    query: np.ndarray,
    key: np.ndarray,
    dim: int,
    switch: LengthSwitch,
    dims: SwitchDims,
    first: int,
    head_dim: int,
) -> None:
    """Make the head starting at `first` attend from decoding step t to source position (t + offset) / ratio."""
    half = dim // 2
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
            _read(query, row, dims.reference, sin_q, gain * a)
            _read(query, row, dims.reference, cos_q, gain * b)
        _read(key, encoder_column, dims.reference, sin_q, 1.0)
        _read(key, half + encoder_column, dims.reference, cos_q, 1.0)


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


def fit_spread(
    arch: marian_spec.MarianArchitecture, source_lengths: Sequence[int], target_lengths: Sequence[int]
) -> tuple[LengthSwitch, ...]:
    """Lines that spread like the human lengths: the pairs ranked by their ratio to the fitted line, cut into slices.

    One line per decoder head besides the alignment head, each fitted (`fit_switch`) on its slice of the pairs
    (`line_shares`), the shortest first.
    """
    sources = np.asarray(source_lengths)
    targets = np.asarray(target_lengths)
    line = fit_switch(arch, sources, targets)
    predicted = [switch_length(arch, line, int(length)) for length in sources]
    order = np.argsort(targets / np.asarray(predicted), kind="stable")
    cuts = np.round(np.cumsum(line_shares(arch.heads - 1))[:-1] * len(order)).astype(int)
    return tuple(fit_switch(arch, sources[part], targets[part]) for part in np.split(order, cuts))


def line_shares(lines: int) -> np.ndarray:
    """Each line's share of sources: TAIL_SHARE for the shortest and the longest, the rest split evenly between the others."""
    if lines < 3:
        return np.full(lines, 1 / lines)
    return np.array([TAIL_SHARE, *[(1 - 2 * TAIL_SHARE) / (lines - 2)] * (lines - 2), TAIL_SHARE])
