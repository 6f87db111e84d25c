"""The meaning channel's similarity floor, calibrated on our data: which rule admits a query's own article and
keeps a query about nothing in the collection at "no articles".

Exact cosine in numpy, as the service scores an article by meaning: its best sentence among the query's
KNN_CANDIDATES nearest sentences. Three collections of Arabic articles (sentences as the write path splits them):
  - tico19: 60 articles of 16 tico19 sentences (COVID-19), asked in English (two sentences' human English) and in
    Arabic (two other sentences' words);
  - ud_pud: 50 articles of 10 ud_pud sentences (2016 news and Wikipedia), asked alike;
  - news: the first 200 ANT news articles (2018), asked in Arabic (words of two of their sentences).
From each sentence: the whole sentence (an Arabic one is the article's own: found trivially), its 4 longest content
words, 2 longest, the longest one, and its names (capitalised words inside an English sentence). Off-topic queries are
made alike from a set whose topic the collection lacks (ud_pud's for tico19, tico19's for ud_pud and for the
2018 news, in both languages: COVID-19 came later), plus a few written by hand.

A rule admits an article for a query or not. For each rule: recall (the query's own article admitted), precision
(admitted articles that are the query's own: a lower bound, as a topical collection holds other relevant ones),
articles admitted per query, and the share of off-topic queries that admit any article. Floors are fitted on the
even articles of tico19 and ud_pud (held in; --fit-on) and reported on the odd ones (held out) of every collection.

    OMP_NUM_THREADS=1 .venv/bin/python bench/floor.py [--encoder use] [--news 200] [--off-topic-rate 0.05]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import random
import re
from dataclasses import dataclass

import numpy as np
from common import PROJECT_ROOT, news_articles, read_lines, shared_file

from service.config import Settings
from service.embedding.models import load_encoder
from service.search.body import KNN_CANDIDATES
from service.text import langid
from service.text.normalize import normalize_text
from service.text.segment import split_sentences

DATA = PROJECT_ROOT / "bench" / ".data" / "floor"
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves said says one two may
    might must shall us s t don let get got في من على إلى الى عن أن ان التي الذي هذا هذه مع كان قد لا ما أو او بين
    بعد قبل حتى ذلك تلك كما وقال وأن وفي"""  # English, and the commonest Arabic particles
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
UNRELATED = [
    "quarterly earnings of a semiconductor maker",
    "football transfer window striker signs contract",
    "new smartphone camera review",
    "recipe for chocolate cake",
    "أرباح شركة أشباه الموصلات الفصلية",
    "وصفة كعكة الشوكولاتة",
]
KINDS = ("sentence", "4 words", "2 words", "1 word", "names")
LENGTH_BUCKETS = (1, 2, 4, 8)  # the fewest words of each bucket a rule may give its own floor: 1, 2-3, 4-7, 8+
LANGUAGES = ("en", "ar")  # the query's, as search detects it


def query_length(text: str) -> int:
    return max(1, len(WORD.findall(text)))


def length_bucket(words: int) -> int:
    return max(i for i, fewest in enumerate(LENGTH_BUCKETS) if words >= fewest)


@dataclass(frozen=True)
class Rule:
    """A floor by the query's language and length (one per LENGTH_BUCKETS entry for each of LANGUAGES), and a
    margin below the collection's best article; the service's MeaningFloor is the rule with one floor."""

    floors: dict[str, tuple[float, ...]]
    margin: float | None = None

    @classmethod
    def uniform(cls, floor: float, margin: float | None = None) -> Rule:
        return cls({lang: (floor,) * len(LENGTH_BUCKETS) for lang in LANGUAGES}, margin)

    def floor(self, lang: str, words: int) -> float:
        return self.floors[lang][length_bucket(words)]


@dataclass
class Collection:
    name: str
    articles: list[list[str]]  # Arabic sentences of each article
    queries: list[tuple[str, str, int]]  # (kind, text, own article) on topic
    off_topic: list[tuple[str, str]]  # (kind, text)


def content_words(sentence: str) -> list[str]:
    return list(dict.fromkeys(w for w in WORD.findall(sentence) if w.lower() not in STOPWORDS and len(w) > 1))


def longest(sentence: str, count: int) -> str:
    words = content_words(sentence)
    chosen = set(sorted(words, key=len, reverse=True)[:count])
    return " ".join(w for w in words if w in chosen)


def names(sentence: str) -> str:
    """Capitalised words after the first: an English sentence's names (Arabic has no capitals: none)."""
    words = WORD.findall(sentence)[1:]
    return " ".join(dict.fromkeys(w for w in words if w[0].isupper() and w.lower() not in STOPWORDS))


def queries_of(sentence: str) -> list[tuple[str, str]]:
    out = [("sentence", sentence[:400])]
    words = content_words(sentence)
    if len(words) >= 4:
        out += [("4 words", longest(sentence, 4)), ("2 words", longest(sentence, 2)), ("1 word", longest(sentence, 1))]
    if names(sentence):
        out.append(("names", names(sentence)))
    return out


def split(text: str) -> list[str]:
    text = normalize_text(text)
    return [text[a:b] for a, b in split_sentences(text)]


def parallel(folder: str, arabic_file: str, english_file: str) -> tuple[list[str], list[str]]:
    base = shared_file("data", "parallel", folder)
    return read_lines(base / arabic_file), read_lines(base / english_file)


def asked(sentences: list[str], rng: random.Random, count: int = 2) -> list[str]:
    usable = [s for s in sentences if 40 < len(s) < 400 and len(content_words(s)) >= 4]
    return rng.sample(usable, min(count, len(usable)))


def collections(news_count: int) -> list[Collection]:
    rng = random.Random(20)
    tico_ar, tico_en = parallel("tico19_test", "src.ar", "ref.en")
    pud_ar, pud_en = parallel("ud_pud", "ar.txt", "en.txt")
    tico = [(tico_ar[i : i + 16], tico_en[i : i + 16]) for i in range(1000, 1960, 16)]
    pud = [(pud_ar[i : i + 10], pud_en[i : i + 10]) for i in range(0, 500, 10)]

    def on_topic(pairs: list[tuple[list[str], list[str]]]) -> list[tuple[str, str, int]]:
        """Each article asked by two of its English sentences and two of its Arabic ones (not the same lines)."""
        return [
            (k, t, n)
            for n, (ar, en) in enumerate(pairs)
            for side in (en, ar)
            for s in asked(side, rng)
            for k, t in queries_of(s)
        ]

    def off_topic(sentences: list[str], count: int = 150) -> list[tuple[str, str]]:
        return [(k, t) for s in asked(sentences, rng, count) for k, t in queries_of(s)]

    hand = [("by hand", text) for text in UNRELATED]
    news = [split(a["title"]) + [s for p in a["body"].split("\n") for s in split(p)] for a in news_articles(news_count)]
    news_queries = [
        (k, t, n) for n, sentences in enumerate(news) for s in asked(sentences, rng) for k, t in queries_of(s)
    ]
    return [
        Collection("tico19", [ar for ar, _ in tico], on_topic(tico), off_topic(pud_en) + off_topic(pud_ar) + hand),
        Collection(
            "ud_pud", [ar for ar, _ in pud], on_topic(pud), off_topic(tico_en[:1000]) + off_topic(tico_ar[:1000]) + hand
        ),
        Collection("news", news, news_queries, off_topic(tico_ar[:1000]) + off_topic(tico_en[:1000]) + hand),
    ]


def encode(encoder, texts: list[str], passages: bool) -> np.ndarray:
    """Rows of the texts, cached in bench/.data/floor by encoder, side and text; a summed encoder's from its parts'
    (exactly what it returns: service/embedding/models.py SummedEncoder)."""
    if hasattr(encoder, "parts"):
        return np.hstack([encode(part, texts, passages) for part in encoder.parts]) / np.sqrt(len(encoder.parts))
    DATA.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = DATA / f"{encoder.encoder_id}-{'p' if passages else 'q'}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    normalized = [normalize_text(t) for t in texts]
    call = encoder.encode_passages if passages else encoder.encode_queries
    rows = np.vstack([call(normalized[i : i + 64]) for i in range(0, len(normalized), 64)])
    np.save(path, rows)
    return rows


def article_scores(query_rows: np.ndarray, sentence_rows: np.ndarray, owner: np.ndarray, articles: int) -> np.ndarray:
    """(queries, articles): each article's best cosine among the query's KNN_CANDIDATES nearest sentences (-1: none)."""
    cosines = query_rows @ sentence_rows.T
    k = min(KNN_CANDIDATES, cosines.shape[1])
    top = np.argpartition(-cosines, k - 1, axis=1)[:, :k]
    scores = np.full((len(query_rows), articles), -1.0, np.float32)
    for q in range(len(query_rows)):
        np.maximum.at(scores[q], owner[top[q]], cosines[q, top[q]])
    return scores


@dataclass
class Scored:
    kinds: list[str]
    lengths: np.ndarray  # words in each query
    langs: np.ndarray  # each query's language, as search detects it
    scores: np.ndarray  # (queries, articles)
    own: np.ndarray  # the query's own article, -1 off topic


def score(encoder, collection: Collection) -> tuple[Scored, Scored]:
    sentences = [s for a in collection.articles for s in a]
    owner = np.array([n for n, a in enumerate(collection.articles) for _ in a])
    rows = encode(encoder, sentences, passages=True)

    def scored(kinds, texts, own):
        q = encode(encoder, texts, passages=False)
        lengths = np.array([query_length(t) for t in texts])
        langs = np.array(["ar" if langid.detect(t).language == "ar" else "en" for t in texts])
        return Scored(kinds, lengths, langs, article_scores(q, rows, owner, len(collection.articles)), np.array(own))

    on = scored(
        [k for k, _, _ in collection.queries],
        [t for _, t, _ in collection.queries],
        [n for *_, n in collection.queries],
    )
    off = scored(
        [k for k, _ in collection.off_topic], [t for _, t in collection.off_topic], [-1] * len(collection.off_topic)
    )
    return on, off


def admitted(rule: Rule, s: Scored) -> np.ndarray:
    """(queries, articles) booleans: the articles the rule lets the meaning channel return."""
    floors = np.array([rule.floor(lang, int(n)) for lang, n in zip(s.langs, s.lengths, strict=True)])[:, None]
    keep = s.scores >= floors
    if rule.margin is not None:  # as service/search/floor.py MeaningFloor.least: within the margin of the best
        keep &= s.scores >= s.scores.max(axis=1, keepdims=True) - rule.margin
    return keep


def measure(rule: Rule, on: Scored, off: Scored, rows_on: np.ndarray, rows_off: np.ndarray) -> dict:
    keep_on, keep_off = admitted(rule, on)[rows_on], admitted(rule, off)[rows_off]
    own = on.own[rows_on]
    hits = keep_on[np.arange(len(own)), own]
    total = keep_on.sum()
    return {
        "recall": hits.mean(),
        "precision": hits.sum() / total if total else 1.0,
        "per query": keep_on.sum(axis=1).mean(),
        "off-topic answered": keep_off.any(axis=1).mean(),
        "off per query": keep_off.sum(axis=1).mean(),
    }


def quantiles(values: np.ndarray) -> str:
    if not len(values):
        return "-"
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return f"{p5:.2f} / {p50:.2f} / {p95:.2f}"


def distributions(name: str, on: Scored, off: Scored) -> None:
    print(
        f"\n{name}: cosines p5 / p50 / p95 (own article's best sentence; the 1st and 10th best other article; "
        "off-topic queries' best article)"
    )
    print("| query | n | own article | 1st other | 10th other | off-topic best | n off |")
    print("|---|---|---|---|---|---|---|")
    for kind in (*KINDS, "by hand"):
        rows = np.array([k == kind for k in on.kinds])
        rows_off = np.array([k == kind for k in off.kinds])
        own = others1 = others10 = np.array([])
        if rows.any():
            s, o = on.scores[rows], on.own[rows]
            own = s[np.arange(len(o)), o]
            masked = s.copy()
            masked[np.arange(len(o)), o] = -1
            ranked = -np.sort(-masked, axis=1)
            others1, others10 = ranked[:, 0], ranked[:, min(9, ranked.shape[1] - 1)]
        best_off = off.scores[rows_off].max(axis=1) if rows_off.any() else np.array([])
        if rows.any() or rows_off.any():
            print(
                f"| {kind} | {rows.sum()} | {quantiles(own)} | {quantiles(others1)} | {quantiles(others10)} | "
                f"{quantiles(best_off)} | {rows_off.sum()} |"
            )


def lowest_floor(off_best: np.ndarray, rate: float) -> float:
    """The least floor (to 0.01) at which at most `rate` of these off-topic queries' best cosines pass."""
    if not len(off_best):
        return 1.0
    return float(np.ceil(np.quantile(off_best, 1 - rate, method="higher") * 100 + 1e-9) / 100)


def fit(pairs: list[tuple[Scored, Scored]], rate: float, held_in) -> dict[str, Rule]:
    """Rules fitted on the held-in off-topic queries of every collection: one floor; a floor per query language; a
    floor per language and length; and each with a margin below the best article."""
    off_best = np.concatenate([off.scores[held_in(off)].max(axis=1) for _, off in pairs])
    off_lengths = np.concatenate([off.lengths[held_in(off)] for _, off in pairs])
    off_langs = np.concatenate([off.langs[held_in(off)] for _, off in pairs])
    one = lowest_floor(off_best, rate)
    by_lang = {lang: (lowest_floor(off_best[off_langs == lang], rate),) * len(LENGTH_BUCKETS) for lang in LANGUAGES}
    by_length = {
        lang: tuple(
            lowest_floor(
                off_best[(off_langs == lang) & (np.array([length_bucket(int(n)) for n in off_lengths]) == b)], rate
            )
            for b in range(len(LENGTH_BUCKETS))
        )
        for lang in LANGUAGES
    }

    def shown(floors):
        return " ".join(f"{lang} " + "/".join(f"{f:.2f}" for f in floors[lang]) for lang in LANGUAGES)

    rules = {f"one floor {one:.2f}": Rule.uniform(one)}
    for margin in (0.05, 0.1):
        rules[f"one floor {one:.2f}, margin {margin}"] = Rule.uniform(one, margin)
    rules[f"by language {shown({k: v[:1] for k, v in by_lang.items()})}"] = Rule(by_lang)
    rules[f"by language and length {shown(by_length)}"] = Rule(by_length)
    rules["by language and length, margin 0.1"] = Rule(by_length, 0.1)
    return rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="use")
    parser.add_argument("--news", type=int, default=200)
    parser.add_argument("--fit-on", default="tico19,ud_pud", help="collections whose off-topic queries fit the floors")
    parser.add_argument("--off-topic-rate", type=float, default=0.05, help="off-topic queries a floor may let through")
    args = parser.parse_args()
    encoder = load_encoder(args.encoder)
    pairs = [(c.name, *score(encoder, c)) for c in collections(args.news)]
    print(f"{encoder.encoder_id}, exact cosine, k={KNN_CANDIDATES} sentences; buckets of query words: {LENGTH_BUCKETS}")
    for name, on, off in pairs:
        distributions(name, on, off)

    def half(s: Scored, parity: int) -> np.ndarray:
        keys = s.own if (s.own >= 0).all() else np.arange(len(s.own))
        return keys % 2 == parity

    fitted = [(on, off) for name, on, off in pairs if name in args.fit_on.split(",")]
    rules = fit(fitted, args.off_topic_rate, lambda s: half(s, 0))
    rules["before: one floor 0.30"] = Rule.uniform(0.3)
    shipped = Settings(encoder=args.encoder)
    rules[f"the service's: {shipped.meaning_floor}, margin {shipped.meaning_margin}"] = Rule.uniform(
        shipped.meaning_floor, shipped.meaning_margin
    )
    print(
        f"\nrules fitted on the held-in half of {args.fit_on} (off-topic queries answered at most {args.off_topic_rate:.0%}); "
        "held-out half: recall / precision / articles per query // off-topic queries answered / their articles"
    )
    print("| rule | " + " | ".join(name for name, *_ in pairs) + " |")
    print("|---" * (1 + len(pairs)) + "|")
    for label, rule in rules.items():
        cells = []
        for _, on, off in pairs:
            m = measure(rule, on, off, half(on, 1), half(off, 1))
            cells.append(
                f"{m['recall']:.2f} / {m['precision']:.2f} / {m['per query']:.1f} // "
                f"{m['off-topic answered']:.2f} / {m['off per query']:.1f}"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nheld-out recall by query kind")
    columns = [
        (n, lang, kind)
        for n, (_, on, _) in enumerate(pairs)
        for lang in LANGUAGES
        for kind in KINDS[:4]
        if ((on.langs == lang) & (np.array(on.kinds) == kind)).any()
    ]
    print("| rule | " + " | ".join(f"{pairs[n][0]} {lang} {kind}" for n, lang, kind in columns) + " |")
    print("|---" * (1 + len(columns)) + "|")
    for label, rule in rules.items():
        cells = []
        for n, lang, kind in columns:
            _, on, off = pairs[n]
            rows = half(on, 1) & (on.langs == lang) & (np.array(on.kinds) == kind)
            cells.append(f"{measure(rule, on, off, rows, half(off, 1))['recall']:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
