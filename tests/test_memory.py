import inspect
import multiprocessing
from dataclasses import replace

from service.config import Settings
from service.translation.interface import SentenceTranslator, Translation
from service.translation.memory import CachedTranslator, TranslationMemory


class CountingTranslator:
    """Stands in for the engine to count what reaches the model; the engine has its own tests."""

    def __init__(self, alignments=False):
        self.seen = []
        self.settings = Settings(alignments=alignments)

    def decoding_key(self, beam_size=None):
        return f"model@1|beam={beam_size or 4}"

    def translate(self, sentences, beam_size=None):
        self.seen.extend(sentences)
        alignment = "0-0" if self.settings.alignments else None
        return [Translation(f"en:{s}", -0.5, 3, alignment) for s in sentences]


def test_sentences_are_translated_once(tmp_path):
    inner = CountingTranslator()
    cached = CachedTranslator(inner, TranslationMemory(tmp_path / "tm.db", 100))
    first = cached.translate(["أ", "ب", "أ"])
    second = cached.translate(["ب", "ج"])
    assert [t.target for t in first] == ["en:أ", "en:ب", "en:أ"]
    assert [t.target for t in second] == ["en:ب", "en:ج"]
    assert inner.seen == ["أ", "ب", "ج"]
    assert (cached.hits, cached.misses) == (2, 3)


def test_memory_survives_reopening(tmp_path):
    TranslationMemory(tmp_path / "tm.db", 100).put_many("k", [("أ", Translation("a", -0.1, 1))])
    assert TranslationMemory(tmp_path / "tm.db", 100).get_many("k", ["أ"]) == {"أ": Translation("a", -0.1, 1)}


def test_decoding_key_separates_models(tmp_path):
    memory = TranslationMemory(tmp_path / "tm.db", 100)
    memory.put_many("model-a", [("أ", Translation("a", -0.1, 1))])
    assert memory.get_many("model-b", ["أ"]) == {}


def test_memory_is_bounded_and_drops_least_recently_used(tmp_path):
    memory = TranslationMemory(tmp_path / "tm.db", 10)
    memory.put_many("k", [(f"s{i}", Translation("t", 0.0, 1)) for i in range(10)])
    memory.get_many("k", ["s0"])  # s0 is now the most recently used
    memory.put_many("k", [(f"n{i}", Translation("t", 0.0, 1)) for i in range(5)])
    assert len(memory) == 10
    assert "s0" in memory.get_many("k", ["s0"]) and memory.get_many("k", ["s1"]) == {}


def _writer(path, worker, start):
    start.wait(30)  # every process opens the new file at the same moment
    memory = TranslationMemory(path, 100_000)
    for batch in range(20):
        memory.put_many("k", [(f"{worker}-{batch}-{i}", Translation("t", 0.0, 1)) for i in range(50)])
        memory.get_many("k", [f"{(worker + 1) % 4}-{batch}-{i}" for i in range(50)])


def test_concurrent_processes_share_the_memory(tmp_path):
    path = tmp_path / "tm.db"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    processes = [context.Process(target=_writer, args=(path, w, start)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert len(TranslationMemory(path, 100_000)) == 4 * 20 * 50


def test_the_engine_and_the_memory_wrapper_implement_one_interface(translator, tmp_path):
    cached = CachedTranslator(translator, TranslationMemory(tmp_path / "tm.db", 100))
    members = [name for name in vars(SentenceTranslator) if not name.startswith("_")]
    wanted = list(inspect.signature(SentenceTranslator.translate).parameters)  # self, sentences, beam_size, alignments
    for implementation in (translator, cached):
        assert [name for name in members if not hasattr(implementation, name)] == []
        assert list(inspect.signature(type(implementation).translate).parameters)[: len(wanted)] == wanted
    assert (cached.model_id, cached.demo, cached.settings) == (
        translator.model_id,
        translator.demo,
        translator.settings,
    )
    assert cached.counters() == replace(translator.counters(), memory_hits=0, memory_misses=0)
    assert translator.counters().memory_hits is None


def test_alignments_are_kept_and_a_sentence_stored_without_one_is_translated_again(tmp_path):
    path = tmp_path / "tm.db"
    TranslationMemory(path, 100).put_many("model@1|beam=4", [("أ", Translation("old", -0.1, 1))])
    inner = CountingTranslator(alignments=True)
    cached = CachedTranslator(inner, TranslationMemory(path, 100))
    assert cached.translate(["أ", "ب"]) == [Translation(f"en:{s}", -0.5, 3, "0-0") for s in ("أ", "ب")]
    assert cached.translate(["أ"])[0].alignment == "0-0" and inner.seen == ["أ", "ب"]
    reopened = TranslationMemory(path, 100).get_many("model@1|beam=4", ["أ"])
    assert reopened["أ"].alignment == "0-0"


def test_a_caller_that_reads_no_alignments_takes_a_translation_stored_without_one(tmp_path):
    path = tmp_path / "tm.db"
    TranslationMemory(path, 100).put_many("model@1|beam=4", [("أ", Translation("old", -0.1, 1))])
    inner = CountingTranslator(alignments=True)
    cached = CachedTranslator(inner, TranslationMemory(path, 100))
    assert cached.translate(["أ", "ب"], alignments=False) == [
        Translation("old", -0.1, 1),
        Translation("en:ب", -0.5, 3, "0-0"),  # translated with its alignment all the same, for those who read it
    ]
    assert inner.seen == ["ب"]
    assert TranslationMemory(path, 100).get_many("model@1|beam=4", ["ب"])["ب"].alignment == "0-0"


def test_a_memory_file_from_before_alignments_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE memory (decoding TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, score REAL NOT NULL,"
            " tokens INTEGER NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (decoding, source)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO memory VALUES ('k', 'أ', 'a', -0.1, 1, 1)")
    memory = TranslationMemory(path, 100)
    assert memory.get_many("k", ["أ"]) == {"أ": Translation("a", -0.1, 1, None)}
    memory.put_many("k", [("ب", Translation("b", -0.1, 1, "0-0"))])
    assert memory.get_many("k", ["ب"])["ب"].alignment == "0-0"
