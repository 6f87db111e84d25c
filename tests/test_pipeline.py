from service.errors import ArticleError
from service.pipeline import segment_field, translate_articles
from service.translation.memory import CachedTranslator, TranslationMemory

ARTICLE = {
    "id": "a1",
    "title": "عنوان الخبر",
    "source": "test",
    "body": "قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل بجد.\n\nوفي سياق آخر، انتهى الاجتماع.",
}


def run(translator, articles, **kwargs):
    return list(translate_articles(enumerate(articles), translator, **kwargs))


def test_article_gets_one_target_per_sentence_with_spans(translator):
    [(_, result)] = run(translator, [ARTICLE])
    body = [s for s in result["sentences"] if s["field"] == "body"]
    assert [s["source"] for s in body] == [
        "قال الرئيس إن الاقتصاد تحسن.",
        "وأضاف أن الحكومة ستعمل بجد.",
        "وفي سياق آخر، انتهى الاجتماع.",
    ]
    for sentence in result["sentences"]:
        start, end = sentence["span"]
        assert result[sentence["field"]][start:end] == sentence["source"]
        assert sentence["target"] and sentence["score"] <= 0


def test_paragraph_structure_is_preserved(translator):
    [(_, result)] = run(translator, [ARTICLE])
    lines = result["body_en"].split("\n")
    assert len(lines) == 3 and lines[0] and lines[1] == "" and lines[2]
    assert result["title_en"] and "\n" not in result["title_en"]


def test_input_fields_are_kept_and_translation_is_labelled(translator):
    [(_, result)] = run(translator, [ARTICLE])
    assert {k: result[k] for k in ARTICLE} == ARTICLE
    assert result["translation"]["model"] == translator.model_id
    assert result["translation"]["demo"] is True
    assert result["language"]["language"] == "ar"


def test_english_is_kept_as_it_is(translator):
    english = {"title": "Markets rally", "body": "Stocks rose on Monday.  Bonds fell."}
    [(_, result)] = run(translator, [english])
    assert result["body_en"] == english["body"] and result["title_en"] == english["title"]
    assert result["translation"]["translated"] is False


def test_english_lines_inside_arabic_text_are_kept_as_they_are(translator):
    """Issue 21 item 9: an English quote inside Arabic text is not sent through the Arabic model."""
    quote = 'The minister said: "We will talk again on Monday."'
    mixed = {"body": f"قال الرئيس إن الاقتصاد تحسن.\n{quote}\nوفي سياق آخر، انتهى الاجتماع."}
    [(_, result)] = run(translator, [mixed])
    assert result["language"]["language"] == "ar" and result["translation"]["translated"] is True
    assert result["body_en"].split("\n")[1] == quote
    kept = [s for s in result["sentences"] if s.get("kept")]
    assert [s["source"] for s in kept] == [quote] and kept[0]["target"] == quote and kept[0]["kept"] == "en"
    arabic = [s for s in result["sentences"] if not s.get("kept")]
    assert len(arabic) == 2 and all(s["target"] != s["source"] for s in arabic)


def test_bad_articles_are_reported_in_order(translator):
    articles = [
        ARTICLE,
        {"title": "x"},
        "not an object",
        {"body": "این یک متن فارسی است که برای آزمایش نوشته شده است و باید فارسی تشخیص داده شود"},
    ]
    results = run(translator, articles)
    assert [k for k, _ in results] == [0, 1, 2, 3]
    assert isinstance(results[0][1], dict)
    assert [str(r) for _, r in results[1:]] == [
        "missing or empty 'body'",
        "record is not a JSON object",
        "language is fa (confidence 1.00), not Arabic or English",
    ]
    assert all(isinstance(r, ArticleError) for _, r in results[1:])


def test_small_windows_give_the_same_results(translator):
    articles = [dict(ARTICLE, id=str(i)) for i in range(5)]
    assert run(translator, articles, window_sentences=1) == run(translator, articles)


def test_long_sentence_is_split_and_nothing_is_dropped(translator):
    long_body = "، ".join(["قال الرئيس إن الاقتصاد تحسن كثيرا هذا العام"] * 60) + "."
    [(_, result)] = run(translator, [{"body": long_body}])
    spans = [s["span"] for s in result["sentences"]]
    assert len(spans) > 1
    assert all(
        translator.count_tokens(s["source"]) <= translator.settings.max_input_tokens for s in result["sentences"]
    )
    covered = "".join(long_body[a:b] for a, b in spans)
    assert covered.replace(" ", "") == long_body.replace(" ", "")


def test_memory_makes_reingestion_free(translator, tmp_path):
    cached = CachedTranslator(translator, TranslationMemory(tmp_path / "tm.db", 1000))
    first = run(cached, [ARTICLE])
    misses = cached.misses
    assert run(cached, [ARTICLE]) == first
    assert cached.misses == misses


def test_segment_field_spans_point_into_the_original():
    text = "  قال الرئيـس\u200f: نعم.\nوأضاف ١٢٫٥ بالمئة."
    for unit in segment_field(text, "body", 200, lambda s: len(s.split())):
        assert text[unit.start : unit.end].strip() == text[unit.start : unit.end]
        assert unit.source


def test_windows_flush_on_items_that_need_no_translation(translator):
    pulled = []

    def english():
        for i in range(10):
            pulled.append(i)
            yield i, {"body": f"Stocks rose on day {i}."}

    results = translate_articles(english(), translator, window_sentences=3)
    next(results)
    assert len(pulled) == 3  # one window read, not the whole input
    assert len(list(results)) == 9
