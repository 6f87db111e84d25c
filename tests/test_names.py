"""Names in every spelling (service/names): variants and keys are pure; the collection's spellings and the guard
are checked on word counts written here; arabnamer's spellings only where it is installed."""

from __future__ import annotations

import pytest

from service.names.collection import CollectionSpellings, capitalised_shares, word_counts
from service.names.english import english_to_arabic, token_spellings
from service.names.guard import is_probably_name
from service.names.spelling import MAX_NAME_LETTERS, MAX_VARIANTS, arabic_variants, name_key


def test_trump_spelled_with_and_without_the_long_vowel_share_a_key_and_list_each_other():
    assert name_key("ترامب") == name_key("ترمب")
    assert "ترمب" in arabic_variants("ترامب")
    assert "ترامب" in arabic_variants("ترمب")


def test_erdogan_hamza_seats_share_a_key_and_are_listed():
    spellings = ("أردوغان", "اردوغان", "إردوغان")
    assert len({name_key(spelling) for spelling in spellings}) == 1
    assert set(spellings) <= set(arabic_variants("أردوغان"))
    assert "أردوجان" in arabic_variants("أردوغان")  # G written ج, as Egyptian outlets do


def test_variants_fold_final_letters_and_drop_tashkeel_and_tatweel():
    assert arabic_variants("مُودِي")[0] == "مودي"
    assert "مودى" in arabic_variants("مودي")
    assert arabic_variants("نتنيـاهو")[0] == "نتنياهو"
    assert "نتانياهو" in arabic_variants("نتنياهو")
    assert name_key("رحمة") == name_key("رحمه")


def test_a_word_that_is_not_arabic_gives_only_itself():
    assert arabic_variants("Trump") == ["Trump"]
    assert arabic_variants("") == []


def _collection() -> CollectionSpellings:
    # Two outlets: one writes ترامب, the other ترمب; both write the common word أمل with its inflections
    texts = {
        "outlet-a": "ترامب قال . وترامب يزور . لترامب . أمل كبير . الأمل . أمله . آمال . كانت كنت",
        "outlet-b": "ترمب قال . وترمب . ترمب يزور . أمل . الأمل . آمال . آماله . كانت كنت",
    }
    return CollectionSpellings.from_sources({source: word_counts([text]) for source, text in texts.items()})


def test_the_collection_gives_each_spelling_of_a_name_the_other():
    spellings = _collection()
    assert spellings.searchable_spellings("ترامب") == ["ترامب", "ترمب"]
    assert spellings.searchable_spellings("ترمب") == ["ترمب", "ترامب"]
    assert spellings.occurrences("ترامب") == 3  # with its clitics


def test_an_english_names_candidates_reach_the_collections_spellings_through_the_best_one_that_occurs():
    spellings = _collection()
    assert spellings.spellings_for(["ترامبب", "ترمب", "ترامب"]) == ["ترمب", "ترامب"]
    assert spellings.spellings_for(["أمل"]) == []


def test_a_common_word_that_is_also_a_name_is_not_expanded():
    spellings = _collection()
    assert spellings.searchable_spellings("أمل") == []
    assert spellings.form_counts("أمل").inflected_share > 0.05


def test_words_with_a_clitic_suffix_or_the_article_are_asked_for_bare():
    spellings = CollectionSpellings.from_counts(word_counts(["ترامب ترامب ترامب وترامب رسمي رسمي رسميا الترامب"]))
    assert spellings.searchable_spellings("وترامب") == []
    assert spellings.searchable_spellings("رسميا") == []
    assert spellings.searchable_spellings("الترامب") == []


def test_a_name_whose_variant_is_another_name_used_by_every_outlet_is_not_expanded():
    texts = {"outlet-a": "محمود قال . محمد قال . محمد", "outlet-b": "محمود ذهب . محمد ذهب . محمد"}
    spellings = CollectionSpellings.from_sources({source: word_counts([text]) for source, text in texts.items()})
    assert spellings.searchable_spellings("محمود") == ["محمود"]


def test_the_english_guard_reads_the_collections_capitals():
    shares = capitalised_shares(["We met Trump there. There is hope for Hope Street and hope."])
    assert is_probably_name("Trump", capitalised_share=shares["trump"])
    assert not is_probably_name("Hope", capitalised_share=shares["hope"])
    assert is_probably_name("Zelensky")  # never seen: the query's capital decides
    assert not is_probably_name("hope")
    assert not is_probably_name("Will", common_words=frozenset({"will"}))


def test_english_spellings_put_back_a_dropped_initial_alif_and_list_variants():
    spellings = token_spellings("Erdogan", transliterate=lambda token: ["ردوغان"])
    assert spellings[:3] == ["أردوغان", "اردوغان", "إردوغان"]
    assert "أردوجان" in spellings
    names = english_to_arabic("Xi Jinping", transliterate=lambda token: {"Xi": ["شي"], "Jinping": ["جينبينغ"]}[token])
    assert names[0] == "شي جينبينغ"


def test_arabnamer_spells_trump_both_ways():
    pytest.importorskip("arabnamer")
    assert {"ترامب", "ترمب"} <= set(english_to_arabic("Trump"))


def test_a_word_longer_than_any_name_is_not_spelled_out():
    # a hostile query or an unspaced scrape: spelling it out cost 50-166 s and GBs before the cap
    assert not is_probably_name("E" + "sk" * 249)
    assert english_to_arabic("E" + "sk" * 249, transliterate=lambda token: ["اسك" * 100]) == []
    assert arabic_variants("أس" * 250) == ["أس" * 250]
    assert len(arabic_variants("أس" * (MAX_NAME_LETTERS // 2))) <= MAX_VARIANTS


def test_concurrent_first_searches_read_the_collection_once():
    import threading

    from service.search.names import _Cache

    reads, started = [], threading.Barrier(8)

    def read(client, alias):
        reads.append(alias)
        return [{"source": "a", "title": "ترامب", "body": "ترامب", "body_en": "Trump"}]

    cache = _Cache(read)
    found = []

    def search():
        started.wait(timeout=10)
        found.append(cache.get(client, "news"))

    client = object()
    threads = [threading.Thread(target=search) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert reads == ["news"] and len(found) == 8 and all(names is found[0] for names in found)


def test_a_spelling_the_collection_never_writes_is_asked_in_the_ones_it_does():
    spellings = CollectionSpellings.from_sources({"Al Arabiya": {"ترمب": 12, "الرئيس": 30}, "BBC": {"الرئيس": 20}})
    assert spellings.searchable_spellings("ترامب") == ["ترامب", "ترمب"]
    assert spellings.searchable_spellings("الرئاسة") == []  # the article: no name


def test_a_word_that_is_nothing_once_plain_has_no_spellings():
    spellings = CollectionSpellings.from_sources({"Al Arabiya": {"ترمب": 12}})
    assert spellings.searchable_spellings("ـ") == []  # tatweel alone: a 500 in the API fuzzer before
