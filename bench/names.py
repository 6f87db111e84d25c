"""Names in every spelling: for 20 foreign names common in Arabic news, which spellings the ANT news in ../shared
uses, and how many of them each method lists (recall) and how many listed spellings occur nowhere (noise).

The spellings that occur (GOLD) were found by a regular expression per name over the collection's words (clitics
taken off) and checked by hand: only spellings of the person are kept (ماركل is Markle, not Merkel; مقرن is a
Saudi name, not Macron; مسك is a common word). A word counts once per article word, with or without a clitic.

Methods, for the English name:
  arabnamer      its three engines' spellings (dictionary, XGBoost, rules), none of ours;
  +variants      english_to_arabic: those, an initial alif put back, and their outlet variants (spelling.py);
  +collection    the best-ranked listed spelling that occurs and is name-like, widened to the collection's own
                 spellings of it (collection.py spellings_for): what the search would send.
and for the Arabic query (the outlets' usual spelling): its collection spellings.
Then the precision guard: common words that are also names, and every title word of the first articles.

    .venv/bin/python bench/names.py [--articles 22070] [--titles 300]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from common import news_articles, peak_rss_mb, read_lines, shared_file

from service.names import english
from service.names.collection import CollectionSpellings, capitalised_shares, word_counts
from service.names.guard import is_probably_name
from service.names.spelling import fold

# English name → the Arabic spellings of it that occur in ant-dev (checked by hand), and the token searched
GOLD = {
    "Trump": ["ترامب", "ترمب"],
    "Erdogan": ["أردوغان", "إردوغان", "اردوغان", "أردوجان", "أردغان", "أرودغان"],
    "Macron": ["ماكرون", "مايكرون"],
    "Netanyahu": ["نتنياهو", "نتانياهو", "نتناياهو", "نتيناهو", "نيتنياهو", "نيتانياهو"],
    "Putin": ["بوتين", "بوتن"],
    "Biden": ["بايدن"],
    "Zelensky": ["زيلينسكي"],
    "Guterres": ["غوتيريس", "غوتيريش", "غوتيريز", "غوتيرش", "غوتيرس", "جوتيريش", "غوتريس"],
    "Blinken": ["بلينكن"],
    "Khamenei": ["خامنئي", "خامئني", "خامنئ"],
    "Musk": ["ماسك"],
    "Merkel": ["ميركل", "ميركيل", "مركيل", "مريكل"],
    "Modi": ["مودي", "مودى"],
    "Jinping": ["جينبينغ", "جينبينج", "جينبنغ", "جنبنغ"],  # Xi Jinping: شي is also a common word
    "Sunak": ["سوناك"],
    "Starmer": ["ستارمر"],
    "Lula": ["لولا"],
    "Milei": ["ميلي"],
    "Scholz": ["شولتز", "شولز", "شولتس"],
    "Meloni": ["ميلوني"],
}
ARABIC_COMMON_NAMES = [
    "كريم",
    "أمل",
    "جميل",
    "سعيد",
    "نبيل",
    "نور",
    "سلام",
    "منى",
    "عادل",
    "أمين",
    "رشيد",
    "فرح",
    "صباح",
    "هدى",
    "وفاء",
    "أحلام",
    "حسن",
    "محمود",
    "كمال",
    "جمال",
    "سامي",
    "ماجد",
    "عزيز",
    "فاضل",
    "شريف",
    "حكيم",
    "طارق",
]
ENGLISH_COMMON_NAMES = [
    "Hope",
    "Will",
    "May",
    "Rose",
    "Grace",
    "Faith",
    "Bill",
    "Mark",
    "Frank",
    "Joy",
    "Sky",
    "Rock",
    "Young",
    "Brown",
    "White",
    "Black",
    "Bush",
    "Amal",
    "Pat",
    "Bob",
]


def _row(label, listed, occurring, spellings):
    found = [form for form in occurring if form in listed]
    weight = sum(occurring.values())
    noise = [form for form in listed if spellings.occurrences(form) == 0]
    return (
        label,
        len(found),
        len(occurring),
        sum(occurring[form] for form in found) / weight if weight else 0.0,
        len(listed),
        len(noise),
        len([f for f in listed if f not in occurring and spellings.occurrences(f)]),
    )


def spellings_report(spellings: CollectionSpellings) -> None:
    totals: dict[str, list] = {}
    print("name       occurring spellings (count)              | arabnamer  +variants  +collection  arabic query")
    for name, gold in GOLD.items():
        occurring = {form: spellings.occurrences(form) for form in gold if spellings.occurrences(form)}
        by_arabnamer = english._transliterations(name)
        by_variants = english.english_to_arabic(name)
        by_collection = spellings.spellings_for(by_variants)
        usual = max(occurring, key=occurring.get) if occurring else gold[0]
        by_arabic = spellings.searchable_spellings(usual)
        cells = []
        for label, listed in (
            ("arabnamer", by_arabnamer),
            ("variants", by_variants),
            ("collection", by_collection),
            ("arabic", by_arabic),
        ):
            row = _row(label, listed, occurring, spellings)
            totals.setdefault(label, []).append(row)
            cells.append(f"{row[1]}/{row[2]} n{row[5]} f{row[6]}")
        shown = " ".join(f"{form}({count})" for form, count in occurring.items())
        print(f"{name:10} {shown[:40]:40} | " + "  ".join(f"{cell:11}" for cell in cells))
    print(
        "\nmethod      spellings found  occurrences covered  listed  listed, occur nowhere (noise)  listed, another word"
    )
    for label, rows in totals.items():
        found, occurring = sum(r[1] for r in rows), sum(r[2] for r in rows)
        covered = sum(r[3] for r in rows if r[2]) / sum(1 for r in rows if r[2])
        listed, noise, other = sum(r[4] for r in rows), sum(r[5] for r in rows), sum(r[6] for r in rows)
        print(
            f"{label:11} {found:3}/{occurring:<3} {found / occurring:.3f}   {covered:.3f} (mean per name)      "
            f"{listed:5}   {noise:5} ({noise / max(listed, 1):.3f})                 {other}"
        )


def guard_report(spellings: CollectionSpellings, articles: list[dict], titles: int) -> None:
    print("\nArabic common words that are also names: spellings searched besides the word itself")
    expanded = {word: spellings.searchable_spellings(word)[1:] for word in ARABIC_COMMON_NAMES}
    print("  " + ", ".join(f"{w}→{'/'.join(s) or '-'}" for w, s in expanded.items()))
    print(f"  expanded: {sum(1 for s in expanded.values() if s)} of {len(expanded)}")
    seen, widened = set(), {}
    for article in articles[:titles]:
        for word in word_counts([article["title"]]):
            if word not in seen:
                seen.add(word)
                # hamza seats, ى and ة the index's arabic_normalization folds anyway: only other letters widen
                others = [f for f in spellings.searchable_spellings(word)[1:] if fold(f) != fold(word)]
                if others:
                    widened[word] = others
    print(f"\nEvery Arabic word of {titles} titles ({len(seen)} distinct): {len(widened)} widened by other letters")
    added = sum(spellings.occurrences(form) for others in widened.values() for form in others)
    print(
        f"  they add {added} occurrences in the collection (the word's own: "
        f"{sum(spellings.occurrences(word) for word in widened)}); check each by eye:"
    )
    for word, others in widened.items():
        print(f"  {word}: {' '.join(f'{form}({spellings.occurrences(form)})' for form in others)}")
    english_texts = [*read_lines(shared_file("data", "parallel", "ud_pud", "en.txt"))]
    english_texts += read_lines(shared_file("data", "parallel", "tico19_test", "ref.en"))
    english_texts += read_lines(shared_file("data", "parallel", "tatoeba_v2021-08-07", "ref.en"))
    shares = capitalised_shares(english_texts)
    print(f"\nEnglish guard (capitalised share in {len(english_texts)} English sentences of ../shared's parallel sets)")
    for label, words in (
        ("names", [n for n in GOLD if n != "Jinping"] + ["Xi", "Jinping"]),
        ("common words", ENGLISH_COMMON_NAMES),
    ):
        kept = [w for w in words if is_probably_name(w, capitalised_share=shares.get(w.lower()))]
        print(f"  {label}: {len(kept)}/{len(words)} taken as names: {' '.join(kept)}")
        print("    shares: " + " ".join(f"{w}={shares[w.lower()]:.2f}" for w in words if w.lower() in shares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=22070)
    parser.add_argument("--titles", type=int, default=300)
    parser.add_argument(
        "--by-source", action=argparse.BooleanOptionalAction, default=True, help="tell spellings apart by outlet"
    )
    args = parser.parse_args()
    articles = news_articles(args.articles)
    started = time.perf_counter()
    sources = sorted({a["source"] for a in articles})
    by_source = {s: word_counts(a["title"] + "\n" + a["body"] for a in articles if a["source"] == s) for s in sources}
    spellings = (CollectionSpellings.from_sources if args.by_source else CollectionSpellings.from_counts)(
        by_source if args.by_source else sum(by_source.values(), Counter())
    )
    print(f"{len(articles)} articles, {len(spellings.counts)} distinct words, {time.perf_counter() - started:.0f} s")
    print(f"arabnamer: {'installed' if english.arabnamer_available() else 'absent (its columns are empty)'}\n")
    spellings_report(spellings)
    guard_report(spellings, articles, args.titles)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB (the articles, their word counts and arabnamer's model)")


if __name__ == "__main__":
    main()
