from concurrent.futures import ThreadPoolExecutor

import pytest

from service.config import Settings
from service.translation.engine import InputTooLong, Translator, detokenize

SENTENCES = [
    "قال الرئيس إن الاقتصاد تحسن.",
    "وأضاف أن الحكومة ستعمل بجد.",
    "شكرا.",
    "في 18 فبراير 2020، أبلغ الباحثون عن نتائج جديدة في المختبر.",
]


def test_one_translation_per_sentence_in_input_order(translator):
    # Random weights never emit </s>, so an output's length depends on its batch: compare the
    # same batch given in reverse order.
    results = translator.translate(SENTENCES)
    assert len(results) == len(SENTENCES)
    assert translator.translate(SENTENCES[::-1]) == results[::-1]
    assert len({r.target for r in results}) == len(SENTENCES)


def test_translation_is_deterministic(translator):
    assert translator.translate(SENTENCES) == translator.translate(SENTENCES)


def test_scores_are_length_normalised_log_probabilities(translator):
    for result in translator.translate(SENTENCES):
        assert result.score <= 0 and result.tokens > 0 and result.target


def test_empty_sentences_skip_the_model(translator):
    results = translator.translate(["", SENTENCES[0], ""])
    assert results[0].target == "" and results[2].target == "" and results[1].target


def test_over_long_input_is_refused_not_truncated(translator):
    with pytest.raises(InputTooLong, match="exceeds the limit"):
        translator.translate(["كلمة " * 400])


def test_output_length_follows_the_input_length_limit(translator):
    result = translator.translate([SENTENCES[2]])[0]
    limit = translator.settings.decode_length_ratio * translator.count_tokens(SENTENCES[2])
    assert result.tokens <= limit + translator.settings.decode_length_extra


def test_exact_target_lengths_fix_the_output_length(translator):
    results = translator.translate(SENTENCES[:2], target_lengths=[7, 7])
    assert [r.tokens for r in results] == [7, 7]


def test_concurrent_callers_get_the_same_results(translator):
    expected = translator.translate(SENTENCES)
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda _: translator.translate(SENTENCES), range(8)))
    assert all(output == expected for output in outputs)


def test_detokenize_joins_pieces_even_unknown_ones():
    assert detokenize(["▁The", "▁pres", "ident", "▁said", "<filler3>", "▁x"]) == "The president said<filler3> x"


def test_long_outputs_get_smaller_batches(tiny_model_dir):
    settings = Settings(model_dir=tiny_model_dir, inter_threads=2, batch_decode_tokens=4096)
    translator = Translator(tiny_model_dir, settings)
    assert translator._sentences_per_batch(beam_size=4, max_decoding_length=256) == 4
    assert translator._sentences_per_batch(beam_size=4, max_decoding_length=60) == 17
    assert translator._sentences_per_batch(beam_size=4, max_decoding_length=5000) == 1  # never none


def test_a_split_batch_keeps_each_sentence_its_own_translation(tiny_model_dir):
    settings = Settings(model_dir=tiny_model_dir, inter_threads=2, batch_decode_tokens=1)  # one sentence at a time
    translator = Translator(tiny_model_dir, settings)
    lengths = [8] * len(SENTENCES)  # one fixed output length, so each sentence alone decodes as in the batch
    alone = [translator.translate([s], target_lengths=[n])[0] for s, n in zip(SENTENCES, lengths, strict=True)]
    assert [r.tokens for r in alone] == lengths
    assert translator.translate(SENTENCES, target_lengths=lengths) == alone
