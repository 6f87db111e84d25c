"""The realistic-length generated model ends its outputs near a human length for each source, with a human spread."""

import statistics

import ctranslate2
import pytest
import sentencepiece as spm
from helpers import run_cli, shared_path

from service.modelstore import length_switch, marian_spec

SENTENCES = 100
LONG_SOURCE = 30  # tokens: where a spread of a token or two around the line would show as none


@pytest.fixture(scope="module")
def realistic_model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("reallen") / "model"
    done = run_cli("model", "generate", "--size", "tiny", "--realistic-length", str(out))
    assert done.returncode == 0, done.stderr
    assert b"generated generated-tiny-reallen@" in done.stdout
    return out


def _spread(ratios):
    deciles = statistics.quantiles(ratios, n=10)
    return statistics.median(ratios), deciles[0], deciles[-1]


@pytest.mark.parametrize(
    ("source", "reference"), [("tico19_test/src.ar", "tico19_test/ref.en"), ("ud_pud/ar.txt", "ud_pud/en.txt")]
)
def test_outputs_end_near_the_human_length(realistic_model_dir, source, reference):
    """tico19 is what the switch is fitted on; ud_pud is held out (news and wiki sentences).

    The spread is checked where it is a ratio, not a token or two: over sources of 30 tokens and more.
    """
    sources = shared_path("data", "parallel", *source.split("/")).read_text(encoding="utf-8").splitlines()
    references = shared_path("data", "parallel", *reference.split("/")).read_text(encoding="utf-8").splitlines()
    step = len(sources) // SENTENCES
    sources, references = sources[::step][:SENTENCES], references[::step][:SENTENCES]
    source_sp = spm.SentencePieceProcessor(model_file=str(realistic_model_dir / "source.spm"))
    target_sp = spm.SentencePieceProcessor(model_file=str(realistic_model_dir / "target.spm"))
    tokens = [source_sp.encode(text, out_type=str) for text in sources]
    model = ctranslate2.Translator(str(realistic_model_dir), compute_type="int8", intra_threads=1)
    results = model.translate_batch(tokens, beam_size=4, max_batch_size=32, max_decoding_length=512)

    model_ratios = [len(r.hypotheses[0]) / len(t) for r, t in zip(results, tokens, strict=True)]
    human_ratios = [len(target_sp.encode(ref)) / len(t) for ref, t in zip(references, tokens, strict=True)]
    model_median, model_low, model_high = _spread(model_ratios)
    human_median, human_low, human_high = _spread(human_ratios)
    assert abs(model_median - human_median) <= 0.12, (model_median, human_median)
    # the tiny model's ratios step by 0.75x, so its outer lines can land that far from the human percentiles
    assert human_low - 0.2 <= model_low <= model_high <= human_high + 0.2, (model_low, model_high)
    assert max(len(r.hypotheses[0]) for r in results) < 512, "every output ends before the limit"

    long = [i for i, t in enumerate(tokens) if len(t) >= LONG_SOURCE]
    _, model_low, model_high = _spread([model_ratios[i] for i in long])
    _, human_low, human_high = _spread([human_ratios[i] for i in long])
    assert model_high - model_low >= 0.6 * (human_high - human_low), ((model_low, model_high), (human_low, human_high))
    assert max(model_ratios) < 2, "no output runs on past its line"


def test_the_fit_follows_the_pairs_line():
    """Targets one shorter than sources, on a 64-wide model (ratios 0.75 apart): shift 0, offset 1."""
    arch = marian_spec.SIZES["tiny"]
    sources = list(range(5, 60))
    switch = length_switch.fit_switch(arch, sources, [n - 1 for n in sources])
    assert (switch.shift, switch.offset) == (0, 1.0)
    assert length_switch.switch_length(arch, switch, 20) == 19


def test_the_spread_lines_bracket_the_fitted_line():
    """The human pairs' ratios spread 0.75x-1.25x around one line: the outer lines sit near those, the middle on it."""
    arch = marian_spec.SIZES["tiny"]
    sources = [n for n in range(10, 90) for _ in range(10)]
    targets = [round(n * factor) for n in range(10, 90) for factor in (0.7, 0.75, 0.8, 0.9, 1, 1, 1.1, 1.25, 1.3, 1.35)]
    shortest, middle, longest = length_switch.fit_spread(arch, sources, targets)
    lengths = [length_switch.switch_length(arch, line, 60) for line in (shortest, middle, longest)]
    assert lengths[0] <= 48 and 57 <= lengths[1] <= 63 and lengths[2] >= 75, lengths
    assert list(length_switch.line_shares(3)) == [0.2, 0.6, 0.2]
