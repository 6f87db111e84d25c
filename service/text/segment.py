"""Sentence segmentation for Arabic news, with character spans, and splitting of over-long sentences.

Works on normalised text (normalize.py). Boundaries fall after `.`, `!`, `?`, `؟`, `…`, `۔` and
runs of them, plus any closing quotes or brackets. A full stop is not a boundary in a decimal
(3.5), a URL, e-mail or domain (العربية.نت too), inside a dotted acronym (إف.بي.آي, U.S.), after an
abbreviation or an initial (د. for Dr., J. Smith), or after a list number (1.). Boundaries inside a
short quotation are ignored. No text is ever dropped: the spans cover every non-space character.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

Span = tuple[int, int]

_TERMINAL = re.compile(r"[.!?؟…۔‼⁇⁈⁉]+[\"'”’»)\]›]*")
_WORD = re.compile(r"\S+")
_ADDRESS_TRAILING = ".,;:!?؟،؛»”)]"  # punctuation after a URL, e-mail or domain belongs to the sentence
_URL_START = re.compile(r"https?://|www\.", re.IGNORECASE)
_DOMAIN_CHARS = re.compile(r"[\w.-]+")
_TOP_LEVEL_DOMAIN = re.compile(r"com|net|org|gov|edu|info|int|io|tv|news|[a-z]{2}", re.IGNORECASE)
_WORD_CHAR = re.compile(r"\w")
_WORD_CHARS = re.compile(r"\w+")
_LIST_MARKER = re.compile(r"[(\[]?(?:\d{1,3}|[ivxIVX]{1,4}|\w)[)\]]?")
_LOOK_BACK = 8  # the longest list marker, "(viii)", or abbreviation, with the single spaces of normalised text
ABBREVIATIONS = frozenset(
    {
        # Latin abbreviations that appear inside Arabic news (lower-cased, without the dot)
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "gen",
        "sen",
        # Arabic: page, part, number, doctor, professor, engineer, BC, AD, Hijri
        "ص",
        "ج",
        "رقم",
        "د",
        "أ",
        "م",
        "ق.م",
        "ه",
        "هـ",
        "مج",
        "ت",
    }
)
# Latin letters as Arabic news spells them in acronyms (إف.بي.آي, إي.إس.بي.إن), with the alefs and yas folded as
# _fold folds them. Some are also common Arabic words (أو "or", في "in", إن "that"…): those join an acronym only
# with another letter name beside them, never on their own.
_WORDLIKE_LETTER_NAMES = {"او", "في", "ان", "اي", "ام", "كي", "ال", "زي"}
_BARE_STRONG_LETTER_NAMES = {
    *("ايه", "بي", "سي", "دي", "اف", "جي", "اتش", "ايتش", "جيه", "جاي", "كيه", "كاي", "اس", "كيو", "ار"),
    *("تي", "يو", "دبليو", "دابليو", "اكس", "واي", "زد"),
}
_STRONG_LETTER_NAMES = frozenset(_BARE_STRONG_LETTER_NAMES)
# With a proclitic (وبي.إم, الإف.بي.آي, لإف.بي.آي) a name may be a word (التي, كاس, الاف), so it counts as ambiguous.
_ACRONYM_PREFIXES = ("وال", "بال", "فال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_AMBIGUOUS_LETTER_NAMES = frozenset(_WORDLIKE_LETTER_NAMES) | {
    prefix + name for prefix in _ACRONYM_PREFIXES for name in _BARE_STRONG_LETTER_NAMES
}
_STRONG_AS_SPELT = frozenset({"إي", "آي"})  # E and I; أي ("which") is the word that folds to the same letters
_ARABIC_TOP_LEVEL_DOMAINS = frozenset({"نت", "كوم", "اورغ", "اورج", "انفو"})  # العربية.نت, بيت.كوم
_LONGEST_GROUP = 16  # letters looked at on each side of a dot: past this a group is a word, not a letter name
_LETTERS = re.compile(rf"[^\W\d_]{{1,{_LONGEST_GROUP + 1}}}")
_LETTERS_AT_END = re.compile(r"[^\W\d_]+\Z")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ئ": "ي"})
# Words that begin an English sentence: "the U.S. Then he left" ends a sentence, "the U.S. President" does not.
SENTENCE_STARTERS = frozenset(
    {
        *("the", "a", "an", "he", "she", "it", "they", "we", "i", "you", "his", "her", "its", "their", "our"),
        *("this", "that", "these", "those", "there", "here", "but", "and", "or", "so", "yet", "then", "however"),
        *("in", "on", "at", "for", "from", "after", "before", "when", "while", "if", "as", "by", "with", "also"),
        *("meanwhile", "since", "although", "according", "some", "many", "most", "no", "not", "one", "what"),
        *("who", "why", "how", "where", "officials", "police"),
    }
)
_LATIN_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")
_NEXT_WORD = re.compile(r"[\"'”’»)\]›]* ?(\w{1,16})")
_OPENING_QUOTES = {"«": "»", "“": "”"}
MAX_QUOTE_CHARS = 250  # a quotation longer than this is split into its own sentences
_CLAUSE_BREAK = re.compile(r"[،؛;,:]\s+")


def _url_span(word: str, core_end: int) -> Span | None:
    """From http://, https:// or www. to the end of the word's core (at least one character past the prefix)."""
    prefix = _URL_START.search(word)
    if not prefix or prefix.end() == len(word):
        return None
    return prefix.start(), max(core_end, prefix.end() + 1)


def _email_span(core: str) -> Span | None:
    """The whole core when it reads text@text.word, whatever the text."""
    dot = core.rfind(".")
    if dot > 0 and _WORD_CHARS.fullmatch(core, dot + 1) and core.find("@", 1, dot - 1) >= 0:
        return 0, len(core)
    return None


def _domain_start(run: str) -> int | None:
    """Where the dotted names of run (letters, digits, _, - and dots) that end in a top-level domain begin."""
    labels = run.split(".")
    if len(labels) < 2 or not _TOP_LEVEL_DOMAIN.fullmatch(labels[-1]):
        return None
    first = max((index + 1 for index, label in enumerate(labels) if not label), default=0)  # past any "..", ".x"
    offset = sum(len(label) + 1 for label in labels[:first])
    for label in labels[first:-1]:
        if letter := _WORD_CHAR.search(label):  # a domain starts at a word boundary
            return offset + letter.start()
        offset += len(label) + 1
    return None


def _domain_span(core: str) -> Span | None:
    """From the first name of a domain (bbc.co.uk, perhaps followed by /path) to the end of the core."""
    for run in _DOMAIN_CHARS.finditer(core):
        if run.end() == len(core) or core[run.end()] == "/":
            start = _domain_start(run.group())
            if start is not None:
                return run.start() + start, len(core)
    return None


def _address_span(word: str) -> Span | None:
    """The part of one word that is a URL, e-mail address or domain, without the punctuation after it.

    Word by word and without backtracking, so the time stays linear in the text whatever it holds.
    """
    core_end = len(word.rstrip(_ADDRESS_TRAILING))
    core = word[:core_end]
    found = [span for span in (_url_span(word, core_end), _email_span(core), _domain_span(core)) if span]
    return min(found, key=lambda span: span[0], default=None)  # the leftmost; on a tie, the first kind listed


def _protected_spans(text: str) -> list[Span]:
    spans = [
        (word.start() + address[0], word.start() + address[1])
        for word in _WORD.finditer(text)
        if (address := _address_span(word.group()))
    ]
    for opener, closer in _OPENING_QUOTES.items():
        for match in re.finditer(re.escape(opener) + r"[^" + opener + closer + r"]*" + re.escape(closer), text):
            if match.end() - match.start() <= MAX_QUOTE_CHARS:
                # The closing quote itself may still end a sentence.
                spans.append((match.start(), match.end() - 1))
    return spans


def _inside(spans: list[Span], length: int) -> bytearray:
    """1 at each position of a text of that length that one of the spans covers (one look-up per full stop)."""
    mask = bytearray(length)
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    return mask


def _letter_group(text: str, dot: int, step: int) -> tuple[str, int] | None:
    """The letters next to the dot on one side (step -1 before, +1 after) and the position where they stop;
    None past _LONGEST_GROUP letters, so each dot costs constant time."""
    if step > 0:
        found = _LETTERS.match(text, dot + 1)
        stop = found.end() if found else dot
    else:
        found = _LETTERS_AT_END.search(text, max(0, dot - _LONGEST_GROUP - 1), dot)
        stop = found.start() - 1 if found else dot
    if not found or len(found.group()) > _LONGEST_GROUP:
        return None
    return found.group(), stop


def _letter_name_strength(group: str) -> int:
    """2 for a Latin letter's Arabic name that is no Arabic word, perhaps after a proclitic (وبي, الإف); 1 for an
    initial or a letter name that is also a word (أو, في); 0 for anything else."""
    if len(group) == 1:
        return 1
    folded = group.translate(_FOLD)
    if folded in _STRONG_LETTER_NAMES or group in _STRONG_AS_SPELT:
        return 2
    return 1 if folded in _AMBIGUOUS_LETTER_NAMES else 0


def _is_dotted_name(text: str, dot: int) -> bool:
    """Whether a dot with letters right on both sides joins an acronym or a domain (إف.بي.آي, العربية.نت)
    rather than two sentences whose space was lost (غدا.وقال)."""
    before, after = _letter_group(text, dot, -1), _letter_group(text, dot, 1)
    if before is None or after is None:
        return False
    (left, left_stop), (right, right_stop) = before, after
    if right.translate(_FOLD) in _ARABIC_TOP_LEVEL_DOMAINS:
        return True
    left_strength, right_strength = _letter_name_strength(left), _letter_name_strength(right)
    # Two letter names, or one that is no Arabic word beside anything: دبليو.بوش, بي.أوت.كيو, سي.بي.سي.نيوز
    if (left_strength and right_strength) or 2 in (left_strength, right_strength):
        return True
    # Three or more groups (باتون.بارتون.دورستين): a lost space twice in one word is far rarer than a name.
    return _continues_dotted(text, left_stop, -1) or _continues_dotted(text, right_stop, 1)


def _continues_dotted(text: str, stop: int, step: int) -> bool:
    """Whether the character where a letter group stopped is a dot with a letter group beyond it."""
    return 0 <= stop < len(text) and text[stop] == "." and _letter_group(text, stop, step) is not None


def _ends_sentence_after_initials(text: str, dot: int) -> bool:
    """After Latin initials (U.S., J.), only a word that starts English sentences, or a non-Latin word, begins one."""
    following = _NEXT_WORD.match(text, dot + 1)
    if not following:
        return True
    word = following.group(1)
    return not (word[0].isascii() and word[0].isupper() and word.lower() not in SENTENCE_STARTERS)


def _is_full_stop_boundary(text: str, dot: int, sentence_start: int) -> bool:
    before = text[dot - 1] if dot > 0 else ""
    after = text[dot + 1] if dot + 1 < len(text) else ""
    if before.isdigit() and after.isdigit():
        return False
    if before.isalpha() and after.isalpha() and _is_dotted_name(text, dot):
        return False
    # Only an abbreviation or a list marker matters here: looking further back would make a long run of
    # full stops that are no boundary (x.x.x…) quadratic.
    recent = text[max(sentence_start, dot - _LOOK_BACK) : dot]
    word = recent.rsplit(" ", 1)[-1].lstrip("(\"'«“[")
    if word.lower() in ABBREVIATIONS:
        return False
    if _LATIN_INITIALS.fullmatch(word):
        return _ends_sentence_after_initials(text, dot)
    if len(word) == 1 and word.isalpha():
        return False  # an initial: ديفيد ل. فيليبس, far more common in the news than a sentence ending in one
    return not (dot - sentence_start <= _LOOK_BACK and _LIST_MARKER.fullmatch(recent.strip()))


def _follows_boundary(text: str, end: int, cluster: str) -> bool:
    """Whether what follows a terminal cluster allows a boundary there."""
    if end >= len(text):
        return True
    following = text[end]
    if following == " ":
        nxt = text[end + 1] if end + 1 < len(text) else ""
        return not (nxt.islower() and nxt.isascii())  # "e.g. this" or a mid-sentence Latin word
    # Scraped Arabic news often drops the space after a stop: "غدا.وقال".
    return following.isalpha() and not following.isascii() and not cluster.endswith(("'", '"'))


def split_sentences(text: str) -> list[Span]:
    """Split one normalised paragraph into sentence spans (start, end), stripped of spaces."""
    protected = _inside(_protected_spans(text), len(text))
    spans: list[Span] = []
    start = 0
    for match in _TERMINAL.finditer(text):
        position, end = match.span()
        if protected[position]:
            continue
        cluster = match.group()
        if (
            cluster[0] == "."
            and len(cluster.rstrip("\"'”’»)]›")) == 1
            and not _is_full_stop_boundary(text, position, start)
        ):
            continue
        if not _follows_boundary(text, end, cluster):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return [stripped for span in spans if (stripped := _strip(text, span))]


def _strip(text: str, span: Span) -> Span | None:
    start, end = span
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    return (start, end) if start < end else None


def split_long(text: str, span: Span, max_tokens: int, count_tokens: Callable[[str], int]) -> list[Span]:
    """Split a sentence longer than max_tokens at ، ؛ ; , : then at spaces, then inside a word."""
    start, end = span
    tokens = count_tokens(text[start:end])
    if tokens <= max_tokens or end - start < 2:  # one character cannot be split
        return [span]
    for pattern in (_CLAUSE_BREAK, re.compile(r" ")):
        cuts = [m.end() for m in pattern.finditer(text, start, end)]
        if cuts:
            return _pack(text, start, end, cuts, max_tokens, count_tokens)
    # One huge "word": cut it into as many equal parts as its tokens need, and cut again any part that still
    # does not fit (halving it instead counted the whole word once per halving).
    size = -(-(end - start) // max(2, -(-tokens // max_tokens)))
    bounds = [*range(start, end, size), end]
    return [piece for part in itertools.pairwise(bounds) for piece in split_long(text, part, max_tokens, count_tokens)]


def _longest_fit(text: str, pieces: list[Span], first: int, max_tokens: int, count_tokens) -> int | None:
    """The last piece of the longest run from pieces[first] that fits max_tokens; None if that one alone does not.

    Counts grow with the text, so the run's length is found by doubling then halving: O(log n) counts for a run
    of n pieces, where adding one piece at a time took n (quadratic for pieces of few or no tokens, such as ▁).
    """

    def fits(last: int) -> bool:
        return count_tokens(text[pieces[first][0] : pieces[last][1]]) <= max_tokens

    if not fits(first):
        return None
    good, step = first, 1
    while good + step < len(pieces) and fits(good + step):
        good += step
        step *= 2
    bad = min(good + step, len(pieces))  # the first piece known not to fit, or past the end
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


def _pack(text, start, end, cuts, max_tokens, count_tokens) -> list[Span]:
    """Join pieces between cuts into the longest spans that fit, in order; re-split any piece that is too long."""
    pieces = [p for p in (_strip(text, s) for s in zip([start, *cuts], [*cuts, end], strict=True)) if p]
    spans: list[Span] = []
    first = 0
    while first < len(pieces):
        last = _longest_fit(text, pieces, first, max_tokens, count_tokens)
        if last is None:
            spans.extend(split_long(text, pieces[first], max_tokens, count_tokens))
            last = first
        else:
            spans.append((pieces[first][0], pieces[last][1]))
        first = last + 1
    return spans


def segment(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[Span]:
    """Sentences of a normalised paragraph, none longer than max_tokens."""
    return [piece for span in split_sentences(text) for piece in split_long(text, span, max_tokens, count_tokens)]
