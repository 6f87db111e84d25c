"""The realistic-length generated model ends its outputs near a human length for each source."""

import statistics

import ctranslate2
import pytest
import sentencepiece as spm
from helpers import run_cli, shared_path

from service.modelstore import length_switch, marian_spec

SENTENCES = 100


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
    """tico19 is what the switch is fitted on; ud_pud is held out (news and wiki sentences)."""
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
    assert human_low - 0.1 <= model_low <= model_high <= human_high + 0.1, (model_low, model_high)
    assert max(len(r.hypotheses[0]) for r in results) < 512, "every output ends before the limit"


def test_the_fit_follows_the_pairs_line():
    """Targets one shorter than sources, on a 64-wide model (ratios 0.75 apart): shift 0, offset 1."""
    arch = marian_spec.SIZES["tiny"]
    sources = list(range(5, 60))
    switch = length_switch.fit_switch(arch, sources, [n - 1 for n in sources])
    assert (switch.shift, switch.offset) == (0, 1.0)
    assert length_switch.switch_length(arch, switch, 20) == 19
