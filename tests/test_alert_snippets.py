"""The sentence pair a match keeps (pure): by the alert's words, else the sentence nearest its meaning."""

import numpy as np

from service.alerts.atom import feed_xml
from service.alerts.matching import story_matches
from service.alerts.meaning import AlertVector
from service.alerts.model import Alert, saved_wording, watching_in_words
from service.alerts.snippets import SNIPPET_CHARS, by_meaning, by_words, lead

DOCUMENT = {
    "id": "a1",
    "encoder": "use",
    "sentences": [
        {"ar": "قال الوزير إن الاقتصاد ينمو.", "en": "The minister said the economy grows.", "vector": [1.0, 0.0]},
        {"ar": "وأعلن الجيش وقف إطلاق النار.", "en": "The army declared a Ceasefire.", "vector": [0.0, 1.0]},
    ],
}


def test_the_first_sentence_holding_a_word_of_the_query_in_either_language():
    english = [saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})]
    assert by_words(DOCUMENT, english) == {
        "ar": "وأعلن الجيش وقف إطلاق النار.",
        "en": "The army declared a Ceasefire.",
        "by": "words",
    }
    arabic = [saved_wording({"lang": "ar", "text": "الاقتصاد", "by": "user"})]
    assert by_words(DOCUMENT, arabic)["en"] == "The minister said the economy grows."
    assert by_words(DOCUMENT, [saved_wording({"lang": "en", "text": "flood", "by": "user"})]) is None


def test_by_meaning_the_nearest_sentence_of_the_alerts_encoder_only():
    near_second = AlertVector("use", np.asarray([0.2, 0.98], dtype=np.float32))
    assert by_meaning(DOCUMENT, near_second)["en"] == "The army declared a Ceasefire."
    assert by_meaning(DOCUMENT, near_second)["by"] == "meaning"
    assert by_meaning(DOCUMENT, AlertVector("e5", near_second.vector)) is None
    assert by_meaning(DOCUMENT, None) is None


def test_a_long_sentence_is_cut_and_the_feed_shows_the_snippet_escaped():
    long = {"id": "a2", "sentences": [{"ar": "نار " * 300, "en": "<b>fire</b> " * 100}]}
    snippet = by_words(long, [saved_wording({"lang": "en", "text": "fire", "by": "user"})])
    assert len(snippet["ar"]) == SNIPPET_CHARS and snippet["ar"].endswith("…")
    (match,) = story_matches({"alert": [long]}, "2026-02-02T11:00:00Z", snippets={("alert", "a2"): snippet})
    alert = Alert("alert", "o", "Fire", "fire", {}, "t", None, "2026-02-01T00:00:00Z", None)
    feed = feed_xml(alert, [match], "https://news.example.org").decode()
    assert "matched by its words: “&lt;b&gt;fire&lt;/b&gt;" in feed and "<b>" not in feed


def test_an_alert_without_words_shows_the_lead_and_is_named_by_its_filters():
    assert lead(DOCUMENT) == {
        "ar": "قال الوزير إن الاقتصاد ينمو.",
        "en": "The minister said the economy grows.",
        "by": "lead",
    }
    assert lead({"id": "empty", "sentences": []}) is None
    (match,) = story_matches({"watch": [DOCUMENT]}, "2026-02-02T11:00:00Z", snippets={("watch", "a1"): lead(DOCUMENT)})
    alert = Alert("watch", "o", "BBC", "", {"source": ["BBC Arabic"]}, "t", None, "2026-02-01T00:00:00Z", None)
    assert "its lead: “The minister said" in feed_xml(alert, [match], "https://news.example.org").decode()
    assert watching_in_words({"source": ["BBC Arabic"]}, {}) == "Every new article from BBC Arabic"
    both = {"source": ["BBC Arabic", "Al Jazeera", "CNN"], "category": ["middle_east"], "name": ["بتن"], "from": "2024"}
    assert watching_in_words(both, {"بتن": "Putin"}) == (
        "Every new article from BBC Arabic, Al Jazeera or CNN in Middle East naming Putin published from 2024"
    )
