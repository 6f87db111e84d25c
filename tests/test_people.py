"""People and places an article names (service/names/people.py, pure): on a small lexicon and word counts written
here; the lexicon of the shipped packages (service/names/lexicon.py) only where they are installed."""

from __future__ import annotations

from collections import Counter

import pytest

from service.names.collection import CollectionSpellings
from service.names.lexicon import NameLexicon, Place, name_lexicon
from service.names.people import PERSON, PLACE, CollectionEvidence, names_in
from service.names.spelling import fold

LEXICON = NameLexicon(
    given=Counter({fold(w): n for w, n in {"محمد": 11829, "بشار": 45, "أمل": 158, "وزير": 6, "عبد": 5}.items()}),
    surname=Counter({fold(w): n for w, n in {"صلاح": 37, "الأسد": 21, "الدولة": 4, "وزير": 21, "الله": 3}.items()}),
    foreign={fold("دونالد"): "Donald", fold("جون"): "John", fold("بولتون"): "Bolton"},
    final_alif_maqsura=frozenset({"مصطفى"}),
    places={
        (fold("سوريا"),): Place("Syria", "SY"),
        (fold("مالي"),): Place("Mali", "ML"),
        (fold("العراق"),): Place("Iraq", "IQ"),
        tuple(fold(w) for w in ["الولايات", "المتحدة"]): Place("United States", "US"),
        (fold("القاهرة"),): Place("Cairo", "Africa/Cairo"),
    },
)
# A collection's word counts: names stand bare, common words take the article and suffixes
COUNTS = {
    "محمد": 400, "صلاح": 300, "بشار": 80, "أمل": 50, "الأمل": 60, "أمله": 10, "وزير": 500, "الوزير": 400,
    "وزيرة": 90, "ترمب": 227, "ترامب": 900, "دونالد": 300, "جون": 40, "بولتون": 30, "سوريا": 500, "مالي": 30,
    "المالي": 200, "في": 40000, "قال": 6000, "قالت": 3000, "الدولة": 700, "منذ": 900,
}  # fmt: skip
EVIDENCE = CollectionEvidence.of(CollectionSpellings.from_counts(Counter(COUNTS) | Counter({"كلمة": 2_000_000})))


def names(text: str, evidence: CollectionEvidence | None = EVIDENCE) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {e.key: (e.kind, e.display, e.spellings) for e in names_in([text], LEXICON, evidence)}


def test_a_person_is_two_name_units_in_a_row_keyed_by_their_name_keys():
    found = names("وقال محمد صلاح إن الفريق")
    assert list(found.values()) == [(PERSON, "محمد صلاح", ("محمد صلاح",))]


def test_foreign_names_show_their_english_and_a_surname_the_collection_writes_as_a_name_continues_one():
    assert [display for _, display, _ in names("قال جون بولتون للصحفيين").values()] == ["John Bolton"]
    found = names("الرئيس دونالد ترامب قال")
    assert [spellings for _, _, spellings in found.values()] == [("دونالد ترامب",)]


def test_every_spelling_of_one_name_is_one_entry():
    found = names("الرئيس دونالد ترامب، ثم دونالد ترمب.")
    assert len(found) == 1
    ((kind, _, spellings),) = found.values()
    assert kind == PERSON and set(spellings) == {"دونالد ترامب", "دونالد ترمب"}


def test_a_surname_with_the_article_continues_a_name_when_attested_as_a_surname():
    assert [s for _, _, s in names("الرئيس بشار الأسد قال").values()] == [("بشار الأسد",)]
    assert names("وزير الدولة قال", evidence=None) == {}  # الدولة: attested 4 times, not enough


def test_one_unit_alone_is_no_name_and_a_common_word_ends_one():
    assert names("قال محمد إن") == {}
    # أمل and وزير are given names the collection inflects like common words (الأمل, أمله; الوزير, وزيرة)
    assert names("أمل صلاح") == {}
    assert names("وزير صلاح") == {}
    assert names("وزير صلاح", evidence=None) != {}  # without the collection's evidence nothing tells


def test_function_words_and_words_after_an_unattested_unit_end_a_name():
    assert names("دونالد في") == {}  # في: 2% of the words, no name in any lexicon
    assert [s for _, _, s in names("دونالد ترامب منذ").values()] == [("دونالد ترامب",)]


def test_the_preposition_ala_is_not_the_name_ali():
    lexicon = NameLexicon(given=Counter({fold("علي"): 4076}), surname=Counter({fold("صلاح"): 37}))
    assert names_in(["على صلاح"], lexicon) == []
    assert [e.spellings for e in names_in(["علي صلاح"], lexicon)] == [("علي صلاح",)]


def test_places_with_clitics_and_the_article_and_in_several_words():
    found = names("في سوريا وبالعراق وللعراق، والولايات المتحدة")
    assert sorted(display for kind, display, _ in found.values() if kind == PLACE) == [
        "Iraq",
        "Syria",
        "United States",
    ]
    assert next(s for k, d, s in found.values() if d == "Iraq") == ("العراق",)


def test_a_place_that_is_also_a_common_word_is_not_one():
    assert names("قال مالي") == {}  # المالي: financial
    assert names("قال مالي", evidence=None) != {}


def test_names_are_ordered_by_mentions_and_romanised_when_a_romaniser_is_given():
    found = names_in(["سوريا محمد صلاح. سوريا"], LEXICON, EVIDENCE, romanise=lambda arabic: "Mohamed Salah")
    assert [(e.display, e.mentions) for e in found] == [("Syria", 2), ("Mohamed Salah", 1)]


def test_names_in_the_shipped_lexicon():
    lexicon = name_lexicon()
    if not (lexicon.given and lexicon.foreign and lexicon.places):
        pytest.skip("arabic-name-romanizer, arabnamer or babel is not installed")
    found = {e.display: e for e in names_in(["زار الرئيس بشار الأسد دمشق ثم المملكة العربية السعودية"], lexicon)}
    assert {"Damascus", "Saudi Arabia"} <= found.keys()
    assert any(e.kind == PERSON and e.spellings == ("بشار الأسد",) for e in found.values())
