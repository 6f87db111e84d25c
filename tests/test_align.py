"""The align stage alone: translated sentences beside their source spans, and the English article rebuilt."""

import pytest

from service.align import SentenceUnit, assemble, assemble_pretranslated, join_paragraphs, mean_score
from service.text.langid import Detection
from service.translation.interface import Translation

ARABIC = Detection("ar", 0.98765, "script")
TITLE = "عنوان الخبر"
BODY = "قال الرئيس. ثم غادر.\n\nانتهى الاجتماع."
UNITS = [
    SentenceUnit("title", 0, 0, 11, "عنوان الخبر"),
    SentenceUnit("body", 0, 0, 11, "قال الرئيس."),
    SentenceUnit("body", 0, 12, 20, "ثم غادر."),
    SentenceUnit("body", 2, 22, 37, "انتهى الاجتماع."),
]
TRANSLATIONS = [
    Translation("News title", -0.5, 2),
    Translation("The president said.", -0.123456, 4),
    Translation("Then he left.", -1.0, 4),
    Translation("The meeting ended.", -0.25, 8),
]


def test_units_point_at_their_text():
    texts = {"title": TITLE, "body": BODY}
    assert [texts[u.field][u.start : u.end] for u in UNITS] == [u.source for u in UNITS]


def test_paragraphs_keep_the_field_s_line_structure():
    targets = [t.target for t in TRANSLATIONS]
    assert join_paragraphs(BODY, UNITS, targets, "body") == "The president said. Then he left.\n\nThe meeting ended."
    assert join_paragraphs(TITLE, UNITS, targets, "title") == "News title"


def test_an_empty_target_leaves_no_extra_space():
    targets = ["News title", "", "Then he left.", "The meeting ended."]
    assert join_paragraphs(BODY, UNITS, targets, "body") == "Then he left.\n\nThe meeting ended."


def test_the_article_score_is_weighted_by_tokens():
    assert mean_score(TRANSLATIONS) == pytest.approx((-0.5 * 2 - 0.123456 * 4 - 1.0 * 4 - 0.25 * 8) / 18)
    assert mean_score([Translation("", 0.0, 0)]) == 0.0
    assert mean_score([]) == 0.0


def test_a_translated_article_gets_the_shared_shape():
    article = {"id": "a1", "title": TITLE, "body": BODY, "source": "BBC Arabic"}
    result = assemble(article, ARABIC, UNITS, TRANSLATIONS, "opus-mt-ar-en@1", demo=False)
    assert {k: result[k] for k in article} == article  # input fields are kept as they are
    assert result["language"] == {"language": "ar", "confidence": 0.9877, "method": "script"}
    assert result["title_en"] == "News title"
    assert result["body_en"] == "The president said. Then he left.\n\nThe meeting ended."
    assert result["sentences"][2] == {
        "field": "body",
        "paragraph": 0,
        "span": [12, 20],
        "source": "ثم غادر.",
        "target": "Then he left.",
        "score": -1.0,
    }
    assert result["sentences"][1]["score"] == -0.1235  # rounded to four places
    assert [s["field"] for s in result["sentences"]] == ["title", "body", "body", "body"]
    assert result["translation"] == {
        "model": "opus-mt-ar-en@1",
        "demo": False,
        "translated": True,
        "score": round(mean_score(TRANSLATIONS), 4),
    }


def test_the_source_is_cut_from_the_original_text_not_the_normalised_input():
    body = "قالَ الرئيسُ."  # with diacritics, which normalisation drops before the model sees it
    unit = SentenceUnit("body", 0, 0, len(body), "قال الرئيس.")
    result = assemble({"body": body}, ARABIC, [unit], [Translation("He said.", -0.1, 3)], "m", demo=True)
    assert result["sentences"][0]["source"] == body and result["translation"]["demo"] is True


def test_an_english_article_is_kept_as_it_is():
    english = Detection("en", 0.99, "langdetect")
    article = {"title": "Stocks rose", "body": "Markets gained.\nOil fell."}
    result = assemble(article, english, [], [], None, demo=False)
    assert (result["title_en"], result["body_en"]) == ("Stocks rose", "Markets gained.\nOil fell.")
    assert result["sentences"] == []
    assert result["translation"] == {"model": None, "demo": False, "translated": False, "score": 0.0}


def test_pretranslated_pairs_are_located_in_the_body_in_order():
    body = "جملة. جملة.\nأخرى."
    article = {
        "body": body,
        "title_en": "Given title",
        "sentences": [
            {"source": "جملة.", "target": "A sentence.", "score": -0.2},
            {"source": "جملة.", "target": "The same again.", "score": -0.4},  # found after the first one
            {"source": "أخرى.", "target": "Another."},  # no score: 0
            {"source": "ليست هنا", "target": "Not there.", "score": "high"},  # not in the body; a bad score is 0
        ],
    }
    result = assemble_pretranslated(article, ARABIC)
    assert [s["span"] for s in result["sentences"]] == [[0, 5], [6, 11], [12, 17], [-1, -1]]
    assert [s["paragraph"] for s in result["sentences"]] == [0, 0, 1, 0]
    assert [s["score"] for s in result["sentences"]] == [-0.2, -0.4, 0.0, 0.0]
    assert result["body_en"] == "A sentence. The same again. Not there.\nAnother."
    assert result["title_en"] == "Given title"
    assert result["translation"] == {"model": "pretranslated", "demo": False, "translated": True, "score": -0.15}


def test_pretranslated_model_label_is_kept():
    article = {"body": "نص.", "model": "human", "sentences": [{"source": "نص.", "target": "Text."}]}
    result = assemble_pretranslated(article, ARABIC)
    assert result["translation"]["model"] == "human" and result["title_en"] == ""


@pytest.mark.parametrize(
    "sentences",
    [None, [], "نص", [{"source": "نص"}], [{"source": "نص", "target": 3}], ["نص"]],
    ids=["missing", "empty", "string", "no-target", "target-not-text", "not-an-object"],
)
def test_malformed_pairs_are_a_value_error(sentences):
    article = {"body": "نص.", **({} if sentences is None else {"sentences": sentences})}
    with pytest.raises(ValueError, match="'sentences' must be a non-empty list of"):
        assemble_pretranslated(article, ARABIC)
