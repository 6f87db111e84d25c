"""Aligned pairs, word alignments, provenance and the search API's facets, CSV and 400s, on a real node.

The machine-translated articles go through a real generated model: its English is noise, but its attention is
real, so what is checked is that pairs, words and spans stay consistent from translation to search.
"""

import csv
import io
import json
import re
import shutil
from dataclasses import replace

import pytest
from helpers import run_cli

from service.config import Settings
from service.ingest import ingest
from service.search.request import SearchRequest
from service.search.searcher import search
from service.translation.engine import Translator
from service.web import create_app

MACHINE = {
    "id": "m1",
    "source": "Sky News Arabia",
    "category": "politics",
    "date": "2018-02-01T09:00:00Z",
    "title": "عنوان الخبر",
    "body": "قال الرئيس إن الاقتصاد تحسن.\nوأضاف أن الحكومة ستعمل على خفض الأسعار. وانتهى الاجتماع مساء.",
}
PRETRANSLATED = [
    ("h1", "Al Arabiya", "economy", "2018-03-01", "أعلن الجيش وقف إطلاق النار.", "The army announced a ceasefire."),
    ("h2", "CNN Arabic", "middle_east", "2018-05-01", "بدأ وقف إطلاق النار أمس.", "The ceasefire began yesterday."),
    ("h3", "BBC Arabic", "middle_east", "2018-07-01", "انهار وقف إطلاق النار.", "The ceasefire collapsed."),
    ("h4", "Reuters, Cairo", "world", "2018-08-01", "صمدت الهدنة.", "The truce held."),
]
ENGLISH = {
    "id": "e1",
    "source": "Reuters",
    "title": "Markets calm",
    "body": "Stock markets were calm on Monday as traders waited for the central bank decision on interest rates.",
    "date": "2018-04-01T09:00:00Z",
}
EVERY_CEASEFIRE = "ceasefire"


@pytest.fixture(scope="module")
def machine_translator(tiny_model_dir, tmp_path_factory):
    """The generated model, labelled as a real one: its attention and its ids are what a real model's would be."""
    model_dir = tmp_path_factory.mktemp("machine") / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    (model_dir / "manifest.json").write_text(json.dumps({**manifest, "demo": False}))
    return Translator(model_dir, Settings(model_dir=model_dir, inter_threads=2))


@pytest.fixture(scope="module")
def corpus(client, alias, machine_translator, translator):
    pretranslated = [
        (
            n,
            {
                "id": i,
                "source": s,
                "category": c,
                "date": d,
                "title_en": "",
                "body": ar,
                "sentences": [{"source": ar, "target": en}],
            },
        )
        for n, (i, s, c, d, ar, en) in enumerate(PRETRANSLATED)
    ]
    assert ingest(pretranslated, client, alias, pretranslated=True).indexed == len(PRETRANSLATED)
    assert ingest([(0, MACHINE), (1, ENGLISH)], client, alias, machine_translator).indexed == 2
    assert ingest([(0, {**MACHINE, "id": "d1", "source": "Demo"})], client, alias, translator).indexed == 1
    client.indices.refresh(index=alias)
    return alias


@pytest.fixture(scope="module")
def api(search_settings, corpus):
    return create_app(replace(search_settings, opensearch_index=corpus)).test_client()


def run(client, alias, query, **options):
    return search(client, alias, SearchRequest(query, **options))


def stored(client, alias, doc_id):
    return client.get(index=alias, id=doc_id)["_source"]


def latin_word(text):
    return next(w for w in text.split() if re.fullmatch(r"[A-Za-z]{3,}", w))


def test_every_pair_is_a_sentence_beside_its_own_translation(client, corpus):
    document = stored(client, corpus, "m1")
    assert [s["field"] for s in document["sentences"]] == ["title", "body", "body", "body"]
    word = latin_word(document["sentences"][2]["en"])
    hit = next(h for h in run(client, corpus, word, lang="en")["hits"] if h["id"] == "m1")
    assert hit["sentences"]
    for pair in hit["sentences"]:
        own = document["sentences"][pair["position"]]
        assert (pair["ar"], pair["en"], pair["field"]) == (own["ar"], own["en"], own["field"])
        assert (pair["matched"], pair["counterpart"]) == ("en", "ar")


def test_highlighted_english_words_lead_to_the_arabic_words_they_align_to(client, corpus):
    document = stored(client, corpus, "m1")
    sentence = document["sentences"][1]
    assert re.fullmatch(r"(\d+-\d+ ?)+", sentence["alignment"])
    word = latin_word(sentence["en"])
    hit = next(h for h in run(client, corpus, word, lang="en")["hits"] if h["id"] == "m1")
    pair = next(p for p in hit["sentences"] if p["position"] == 1)
    assert pair["alignment"], pair
    en_words, ar_words = pair["en"].split(), pair["ar"].split()
    expected = {}
    for item in sentence["alignment"].split():
        i, j = map(int, item.split("-"))
        expected.setdefault(j, set()).add(ar_words[i])
    for span in pair["alignment"]:
        start, end = span["en"]
        assert pair["en"][start:end].lower() == word.lower()
        j = len(pair["en"][:start].split())  # the index of the highlighted word among the sentence's words
        assert en_words[j].lower().startswith(word.lower())
        assert {pair["ar"][a:b] for a, b in span["ar"]} == expected.get(j, set())


def test_a_pretranslated_hit_has_no_word_alignment_and_says_why(client, corpus):
    hit = next(h for h in run(client, corpus, "army")["hits"] if h["id"] == "h1")
    pair = hit["sentences"][0]
    assert (pair["matched"], pair["counterpart"]) == ("en", "ar")
    assert pair["alignment"] is None and pair["alignment_absent"] == "pre-translated"
    arabic = run(client, corpus, "الجيش", lang="ar")["hits"][0]["sentences"][0]
    assert (arabic["matched"], arabic["counterpart"], arabic["en"]) == ("ar", "en", "The army announced a ceasefire.")


def test_provenance_of_each_kind_on_hits_and_articles(client, corpus, api, machine_translator):
    expected = {
        "m1": {"kind": "machine", "model": machine_translator.model_id},
        "d1": {"kind": "demo", "model": machine_translator.model_id},
        "h1": {"kind": "human", "model": None},
        "e1": {"kind": "original", "model": None},
    }
    machine_word = latin_word(stored(client, corpus, "m1")["sentences"][1]["en"])
    for doc_id, query in (("m1", machine_word), ("d1", machine_word), ("h1", "army"), ("e1", "markets")):
        hit = next(h for h in run(client, corpus, query, lang="en", size=20)["hits"] if h["id"] == doc_id)
        assert hit["provenance"] == expected[doc_id]
        assert api.get(f"/api/v1/articles/{doc_id}").json["provenance"] == expected[doc_id]


def test_cli_search_json_carries_provenance(search_settings, corpus):
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": corpus, "MT_MODEL_DIR": "/none"}
    done = run_cli("search", "army", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"][0]["provenance"] == {"kind": "human", "model": None}


def counts(result, facet):
    return {f["value"]: f["count"] for f in result["facets"][facet]}


def test_a_chosen_facet_keeps_the_counts_of_its_other_values(client, corpus):
    result = run(client, corpus, EVERY_CEASEFIRE, sources=("CNN Arabic",))
    assert [h["id"] for h in result["hits"]] == ["h2"] and result["total"] == 1
    assert counts(result, "source") == {"Al Arabiya": 1, "CNN Arabic": 1, "BBC Arabic": 1}
    assert counts(result, "category") == {"middle_east": 1}  # under the source choice, not its own
    assert counts(result, "published") == {"2018-05-01": 1}  # each bucket by its first day
    both = run(client, corpus, EVERY_CEASEFIRE, sources=("CNN Arabic",), categories=("middle_east",))
    assert counts(both, "source") == {"CNN Arabic": 1, "BBC Arabic": 1}
    assert counts(both, "category") == {"middle_east": 1}
    dated = run(client, corpus, EVERY_CEASEFIRE, sources=("CNN Arabic",), date_from="2018-04-01")
    assert counts(dated, "source") == {"CNN Arabic": 1, "BBC Arabic": 1}  # the date range still narrows facets


def test_several_values_per_facet_by_repeating_or_by_commas(api, corpus):
    def ids(path):
        response = api.get(path)
        assert response.status_code == 200, response.json
        return sorted(h["id"] for h in response.json["hits"])

    expected = ["h1", "h3"]
    assert ids("/api/v1/search?q=ceasefire&source=Al+Arabiya&source=BBC+Arabic") == expected
    assert ids("/api/v1/search?q=ceasefire&source=Al+Arabiya,BBC+Arabic") == expected
    assert ids("/api/v1/search?q=ceasefire&category=economy,middle_east&source=") == ["h1", "h2", "h3"]
    assert ids("/api/v1/search?q=truce&source=Reuters,+Cairo") == ["h4"]  # a value with a comma, whole
    page = api.get("/?q=ceasefire&source=Al+Arabiya&source=BBC+Arabic")
    sources = re.search(
        r'<fieldset class="facet" id="facet-source">.*?</fieldset>', page.get_data(as_text=True), re.DOTALL
    )
    checked = re.findall(r'<input[^>]*name="source" value="([^"]+)"[^>]*\bchecked\b[^>]*>', sources.group(0))
    assert set(checked) == {"Al Arabiya", "BBC Arabic"}


def test_csv_export_holds_every_result_not_the_page(api, corpus):
    response = api.get("/api/v1/search?q=ceasefire&sort=date&size=2&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert re.match(r'attachment; filename="search-ceasefire-\d{4}-\d\d-\d\d\.csv"', disposition)  # what and when
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads Arabic only after the UTF-8 byte order mark
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 3  # all three matches, though a page holds two
    assert [(r["id"], r["source"]) for r in rows[:2]] == [("h3", "BBC Arabic"), ("h2", "CNN Arabic")]
    assert all(r["article_link"].endswith(f"/articles/{r['id']}") for r in rows)
    assert all(r["translation"] in ("human", "machine", "original", "demo") for r in rows)


@pytest.mark.parametrize(
    "query,code,message",
    [
        ("from=2018-06-01&to=2018-01-01", "reversed_dates", r"from \(2018-06-01\) is after to \(2018-01-01\)"),
        ("size=2&page=3", "past_last_page", "page 3 is past the end of the results: 3 articles match, 2 pages"),
        ("size=2&page=3&format=csv", "past_last_page", "page 3 is past the end"),
    ],
)
def test_clear_400s_for_a_reversed_date_range_and_a_page_past_the_end(api, corpus, query, code, message):
    response = api.get(f"/api/v1/search?q=ceasefire&{query}")
    assert response.status_code == 400 and response.is_json
    assert response.json["error"]["code"] == code
    assert re.search(message, response.json["error"]["message"])
    assert api.get("/api/v1/search?q=nothingmatchesthis&page=3").status_code == 200  # no results: an empty page
