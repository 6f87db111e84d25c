"""Names in every spelling through the default search, on a real node: the collection's spellings of a name in
an English or Arabic query searched as a `names` wording, listed, replaced by q_names, kept in saved searches."""

import html
import re
from dataclasses import replace

import pytest
from helpers import run_cli

from service.alerts.store import AlertStore
from service.alerts.usecases import AlertSpec, create_alert
from service.config import Settings
from service.ingest import ingest
from service.search.names import (
    collection_names,
    collection_names_from,
    english_names_in,
    forget_collection_names,
    respelled,
)
from service.search.request import SearchRequest
from service.search.searcher import search
from service.web import create_app
from service.web.searchpage import spellings_to_try

# (id, source, Arabic sentences with their English): ترامب at three outlets, Al Arabiya's ترمب, Erdogan's hamza
# seats (their English, like a demo model's, never names them: only the names wording reaches them), and the common words كريم and أمل, which the collection inflects (الكريم, كريمة, الأمل, بالأمل)
ARTICLES = [
    ("t1", "BBC Arabic", [("قال ترامب إن المحادثات مستمرة.", "The president said the talks continue.")]),
    ("t2", "CNN Arabic", [("التقى ترامب بالوفد في واشنطن.", "The president met the delegation in Washington.")]),
    ("t3", "Sky News Arabia", [("وصف ترامب الاتفاق بأنه تاريخي.", "The president called the deal historic.")]),
    ("t4", "Al Arabiya", [("أعلن ترمب فرض رسوم جديدة.", "The president announced new tariffs.")]),
    ("t5", "Al Arabiya", [("انتقد ترمب الصحافة مجددا.", "The president criticised the press again.")]),
    ("e1", "BBC Arabic", [("زار أردوغان أنقرة أمس.", "The Turkish president visited Ankara yesterday.")]),
    ("e2", "Al Arabiya", [("قال اردوغان إن تركيا مستعدة.", "The Turkish president said Turkey is ready.")]),
    ("k1", "BBC Arabic", [("كان كريم في بيته، والضيف الكريم وصل.", "Karim was home, and the generous guest came.")]),
    ("k2", "Al Arabiya", [("حياة كريمة للجميع، وعيش كريم.", "A decent life for all, and a decent living.")]),
    ("k3", "CNN Arabic", [("وقال كرم إن الكريم يعطي.", "Karam said the generous give.")]),
    ("h1", "BBC Arabic", [("يبقى الأمل قائما، وأمل الناس كبير.", "They said the hope remains, and hope is great.")]),
    ("h2", "Al Arabiya", [("تمسك الناس بالأمل رغم أمل ضعيف.", "People held on to hope despite a weak hope.")]),
]
LATER_TRUMP = ("t6", "Al Arabiya", [("رد ترمب على منتقديه.", "The president answered his critics.")])


def records(*articles):
    return [
        (
            line,
            {
                "id": article_id,
                "source": source,
                "category": "world",
                "date": "2026-01-05T09:00:00Z",
                "title": pairs[0][0],
                "title_en": pairs[0][1],
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            },
        )
        for line, (article_id, source, pairs) in enumerate(articles, 1)
    ]


@pytest.fixture(scope="module")
def names_alias(client, alias):
    assert ingest(records(*ARTICLES), client, alias, pretranslated=True).indexed == len(ARTICLES)
    client.indices.refresh(index=alias)
    forget_collection_names(alias)
    return alias


def run(client, alias, query, translator=None, **options):
    return search(client, alias, SearchRequest(query, size=50, collapse=False, **options), translator)


def ids(result) -> set[str]:
    return {hit["id"] for hit in result["hits"]}


def by_names(result) -> list[str]:
    return [form["text"] for form in result["query"]["searched"] if form["by"] == "names"]


def test_an_english_name_finds_the_arabic_articles_in_every_spelling(client, names_alias, translator):
    pytest.importorskip("arabnamer")
    result = run(client, names_alias, "Trump", translator)  # the demo model: no translation of the query
    assert ids(result) == {"t1", "t2", "t3", "t4", "t5"}
    (names,) = by_names(result)
    assert set(names.replace('"', "").split(" OR ")) == {"ترامب", "ترمب"}
    erdogan = run(client, names_alias, "Erdogan", translator)
    assert ids(erdogan) == {"e1", "e2"} and "أردوغان" in by_names(erdogan)[0]


def test_an_arabic_name_is_searched_in_the_collections_other_spellings_with_the_users_words(client, names_alias):
    result = run(client, names_alias, "ترامب")
    assert ids(result) == {"t1", "t2", "t3", "t4", "t5"}
    assert by_names(result) == ['"ترامب" OR "ترمب"']
    assert ids(run(client, names_alias, "ترامب الصحافة")) == {"t5"}  # the user's other words still must match


def test_q_names_replaces_the_collections_spellings(client, names_alias):
    result = run(client, names_alias, "ترامب", q_names="ترامب")
    assert by_names(result) == ["ترامب"] and ids(result) == {"t1", "t2", "t3"}
    english = run(client, names_alias, "Trump", q_names="ترمب")
    assert by_names(english) == ["ترمب"] and ids(english) == {"t4", "t5"}


def test_common_words_that_are_also_names_are_not_expanded(client, names_alias):
    assert by_names(run(client, names_alias, "كريم")) == []
    assert by_names(run(client, names_alias, "أمل")) == []
    assert by_names(run(client, names_alias, "Hope")) == []
    assert by_names(run(client, names_alias, "Trump tariffs")) == []  # a name beside other words: no names wording


def test_a_saved_search_keeps_the_names_spellings_and_matches_an_article_ingested_after(client, names_alias):
    pytest.importorskip("arabnamer")
    store = AlertStore(client, names_alias)
    store.ensure()
    saved = create_alert(store, "owner-n", AlertSpec("trump", "Trump"), Settings(), {})
    assert [form for form in saved.alert.searched if form["by"] == "names"] == [
        form for form in run(client, names_alias, "Trump")["query"]["searched"] if form["by"] == "names"
    ]
    assert ingest(records(LATER_TRUMP), client, names_alias, pretranslated=True).indexed == 1
    client.indices.refresh(index=store.matches_index)
    _, entries = store.matches(saved.alert.id, size=50)
    assert "t6" in {article for entry in entries for article in entry.article_ids}


def test_the_page_lists_the_spellings_searched_with_a_form_to_replace_them(search_settings, names_alias):
    client = create_app(replace(search_settings, opensearch_index=names_alias)).test_client()
    page = html.unescape(client.get("/?q=ترامب").get_data(as_text=True))
    names = re.search(r'<div class="wording" data-lang="ar" data-by="names">.*?</div>', page, re.DOTALL).group(0)
    assert '“<span class="wording-text" lang="ar" dir="auto">"ترامب" OR "ترمب"</span>”' in names
    form = re.search(r'<div class="wording-change" data-lang="ar" data-by="names">.*?</details>', page, re.DOTALL)
    assert '<input name="q_names" value=""ترامب" OR "ترمب""' in form.group(0)  # the edit form starts from them
    own = html.unescape(client.get("/?q=Trump&q_names=ترمب").get_data(as_text=True))
    assert "(your spellings)" in own and "Use the collection's spellings" in own
    assert 'data-id="t1"' not in own and 'data-id="t4"' in own


def test_names_are_left_out_not_failed_when_the_index_cannot_be_read(client):
    forget_collection_names("no-such-alias-names")
    assert collection_names(client, "no-such-alias-names").articles == 0


def test_respelling_keeps_operators_and_exclusions():
    spell = {"ترامب": ["ترامب", "ترمب"]}.get
    assert respelled("ترامب NOT بايدن", lambda w: spell(w) or [], every_word=False) == ('("ترامب" OR "ترمب") NOT بايدن')
    assert respelled("بايدن -ترامب", lambda w: spell(w) or [], every_word=False) is None
    assert collection_names_from([]).articles == 0


def test_an_article_opened_from_an_english_name_marks_the_arabic_spelling(search_settings, names_alias):
    pytest.importorskip("arabnamer")
    client = create_app(replace(search_settings, opensearch_index=names_alias)).test_client()
    page = client.get("/articles/t4?q=Trump").get_data(as_text=True)
    assert "<mark>ترمب</mark>" in page


def test_the_cli_takes_the_users_spellings(search_settings, names_alias):
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": names_alias}
    done = run_cli("search", "Trump", "--q-names", "ترمب", "--no-collapse", env=env)
    assert done.returncode == 0, done.stderr
    shown = done.stdout.decode()
    assert "searched en (user): Trump; ar (names): ترمب" in shown and "t4" in shown and "t1" not in shown


def test_a_search_that_found_nothing_is_offered_its_english_names_in_the_collections_spellings():
    pytest.importorskip("arabnamer")
    names = collection_names_from([record for _, record in records(*ARTICLES)])
    found = english_names_in("Trump Beijing -Erdogan", names)
    assert found == {"Trump": ["ترمب", "ترامب"]}  # Beijing is not written here, and Erdogan is excluded
    tries = spellings_to_try({"q": ["Trump Beijing"], "page": ["2"], "q_ar": ["x"], "source": ["BBC Arabic"]}, found)
    assert [(t.label, t.query) for t in tries] == [
        ("ترمب", "ترمب"),
        ("ترامب", "ترامب"),
        ("all of them", '"ترمب" OR "ترامب"'),
    ]
    assert tries[0].args == {"source": ["BBC Arabic"], "q": ["ترمب"]}  # the filters stay; the page and wordings go
