"""The process's translation scheduler, on the real generated tiny model: batches shared across requests, results
in order and isolated, interactive work before bulk work, and a 503 past the queue bound.

The model stays real; only its translate_batch is seen through a proxy that records each call (what it carried)
and can hold a call at a gate, so what waits in the queue meanwhile is known, not guessed from timings.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from service.config import Settings
from service.jobs.backends import open_job_store
from service.jobs.worker import Worker
from service.services import Services
from service.translation import open_translator
from service.translation.engine import InputTooLong, Translator
from service.translation.memory import CachedTranslator, open_memory
from service.translation.scheduler import Priority, SchedulingTranslator, TranslatorClosed, bulk_priority
from service.web import create_app

WORDS = ["قال", "الرئيس", "إن", "الاقتصاد", "تحسن", "كثيرا", "هذا", "العام"]
# The same words in other orders: SentencePiece splits at spaces, so each has the same number of tokens, and a
# random-weight model's output length (its batch's decoding limit) is the same alone as in a shared batch.
SENTENCES = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))]
DEADLINE = 30.0  # seconds a poll waits for the scheduler before the test fails


class RecordingModel:
    """The real CTranslate2 model, with each translate_batch call recorded; close the gate to hold calls."""

    def __init__(self, model):
        self.model = model
        self.calls: list[list[list[str]]] = []
        self.attention: list[bool] = []  # each call's return_attention
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Semaphore(0)  # released once per call that reaches the gate while it is closed
        self._lock = threading.Lock()

    def translate_batch(self, batch, **options):
        with self._lock:
            self.calls.append([list(pieces) for pieces in batch])
            self.attention.append(options.get("return_attention", False))
        if not self.gate.is_set():
            self.held.release()
        assert self.gate.wait(DEADLINE), "the test never opened the gate"
        if options.get("beam_size") == 3:  # the tests' way of making the engine fail a batch
            raise RuntimeError("the engine failed this batch")
        return self.model.translate_batch(batch, **options)


def decoded(translations) -> list:
    """What decoding decides of each result. Not its alignment: on random weights the attention has ties, which
    the argmax breaks by the sentence's position in its batch."""
    return [(t.target, t.score, t.tokens) for t in translations]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return Translator(tiny_model_dir, Settings(model_dir=tiny_model_dir, inter_threads=1))


@pytest.fixture
def recording(engine):
    recording = RecordingModel(engine._model)
    engine._model = recording
    yield recording
    recording.gate.set()
    engine._model = recording.model


def scheduler_of(engine, **options) -> SchedulingTranslator:
    """A scheduler over the module's engine with these settings (one runner unless inter_threads says more)."""
    engine.settings = replace(engine.settings, **options)
    return SchedulingTranslator(engine)


@pytest.fixture
def make_scheduler(engine):
    settings, made = engine.settings, []

    def make(**options) -> SchedulingTranslator:
        scheduler = scheduler_of(engine, **options)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()
    engine.settings = settings


def hold_the_runner(scheduler, recording, pool) -> object:
    """Close the gate and start one request, so the runner is busy with it and everything else queues."""
    recording.gate.clear()
    held = pool.submit(scheduler.translate, ["شكرا جزيلا."])
    assert recording.held.acquire(timeout=DEADLINE)
    return held


def test_concurrent_requests_share_one_model_call_and_get_what_each_would_alone(engine, recording, make_scheduler):
    alone = [engine.translate([sentence]) for sentence in SENTENCES]
    scheduler = make_scheduler(scheduler_wait_ms=0)
    with ThreadPoolExecutor(len(SENTENCES) + 1) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        calls_before = len(recording.calls)
        futures = [pool.submit(scheduler.translate, [sentence]) for sentence in SENTENCES]
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == len(SENTENCES), "every request waits")
        recording.gate.set()
        results = [future.result(timeout=DEADLINE) for future in futures]
        held.result(timeout=DEADLINE)
    assert len(recording.calls) - calls_before == 1  # eight requests, one model call
    assert sorted(map(tuple, recording.calls[-1])) == sorted(tuple(engine.tokenize(s)) for s in SENTENCES)
    assert list(map(decoded, results)) == list(map(decoded, alone))


def test_results_keep_their_order_and_one_request_s_error_fails_it_alone(engine, recording, make_scheduler):
    scheduler = make_scheduler(scheduler_wait_ms=0)
    requests = {
        "forward": SENTENCES[:3],
        "backward": SENTENCES[:3][::-1],
        "with empty": ["", SENTENCES[4], ""],
    }
    with ThreadPoolExecutor(8) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        futures = {name: pool.submit(scheduler.translate, sentences) for name, sentences in requests.items()}
        too_long = pool.submit(scheduler.translate, [SENTENCES[0], "كلمة " * 400])
        engine_fails = pool.submit(scheduler.translate, SENTENCES[5:], beam_size=3)  # a batch of its own
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 3 + 3 + 1 + 3, "every request waits")
        recording.gate.set()
        results = {name: future.result(timeout=DEADLINE) for name, future in futures.items()}
        with pytest.raises(InputTooLong):
            too_long.result(timeout=DEADLINE)
        with pytest.raises(RuntimeError, match="the engine failed this batch"):
            engine_fails.result(timeout=DEADLINE)
        held.result(timeout=DEADLINE)
    assert decoded(results["backward"]) == decoded(results["forward"][::-1])
    assert [r.target for r in results["with empty"]][::2] == ["", ""] and results["with empty"][1].target
    assert decoded(results["forward"]) == decoded(engine.translate(SENTENCES[:3]))


def test_an_interactive_request_goes_before_a_running_job_s_queued_batches(engine, recording, make_scheduler):
    scheduler = make_scheduler(scheduler_wait_ms=0, batch_tokens=2 * engine.count_tokens(SENTENCES[0]))
    job = SENTENCES * 2  # eight batches of two sentences
    question = "ما هي الأخبار اليوم؟"

    def bulk(sentences):
        with bulk_priority():
            return scheduler.translate(sentences)

    finished: list[str] = []
    with ThreadPoolExecutor(4) as pool:
        recording.gate.clear()
        running = pool.submit(bulk, job)
        assert recording.held.acquire(timeout=DEADLINE)  # the job's first batch is on the model
        running.add_done_callback(lambda _: finished.append("job"))
        asked = pool.submit(scheduler.translate, [question])
        asked.add_done_callback(lambda _: finished.append("question"))
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 1, "the question waits")
        recording.gate.set()
        asked.result(timeout=DEADLINE)
        running.result(timeout=DEADLINE)
    batches = [[tuple(pieces) for pieces in call] for call in recording.calls]
    # the question waited for the one job batch already running, and then went first
    assert batches[1] == [tuple(engine.tokenize(question))]
    assert len(batches) == 1 + len(job) // 2 and finished == ["question", "job"]


def test_bulk_work_holds_at_most_its_slots_and_leaves_the_others_free(engine, recording, make_scheduler):
    scheduler = make_scheduler(
        scheduler_wait_ms=0, inter_threads=2, scheduler_bulk_slots=1, batch_tokens=engine.count_tokens(SENTENCES[0])
    )
    with ThreadPoolExecutor(4) as pool:
        recording.gate.clear()
        job = pool.submit(_bulk, scheduler, SENTENCES)  # eight batches of one sentence, all queued at once
        assert recording.held.acquire(timeout=DEADLINE)  # one bulk batch is on the model
        # and no second one, though a runner is free and seven bulk sentences wait: without the cap one would be
        # there within milliseconds (an observation window: with the cap it cannot fail, whatever the machine)
        assert not recording.held.acquire(timeout=0.5)
        asked = pool.submit(scheduler.translate, ["ما هي الأخبار اليوم؟"])
        assert recording.held.acquire(timeout=DEADLINE)  # the free runner took the question at once
        recording.gate.set()
        asked.result(timeout=DEADLINE)
        job.result(timeout=DEADLINE)
    assert recording.calls[1] == [engine.tokenize("ما هي الأخبار اليوم؟")]


def test_by_default_bulk_work_takes_every_slot_until_an_interactive_request_comes(engine, recording, make_scheduler):
    scheduler = make_scheduler(scheduler_wait_ms=0, inter_threads=2, batch_tokens=engine.count_tokens(SENTENCES[0]))
    with ThreadPoolExecutor(4) as pool:
        recording.gate.clear()
        job = pool.submit(_bulk, scheduler, SENTENCES)  # eight batches of one sentence
        assert recording.held.acquire(timeout=DEADLINE) and recording.held.acquire(timeout=DEADLINE)  # both slots
        asked = pool.submit(scheduler.translate, ["ما هي الأخبار اليوم؟"])
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 1, "the question waits")
        recording.gate.set()
        asked.result(timeout=DEADLINE)
        recording.gate.clear()  # from now on the job may hold one slot only: the other stays free
        while not job.done():
            if recording.held.acquire(timeout=0.2):
                assert not recording.held.acquire(timeout=0.3), "two bulk batches at once after a question"
                recording.gate.set()
                recording.gate.clear()
        recording.gate.set()
        job.result(timeout=DEADLINE)


def test_a_batch_is_no_more_than_the_engine_decodes_as_one_piece(engine, recording, make_scheduler):
    longest = max(engine.count_tokens(sentence) for sentence in SENTENCES)
    two_per_piece = 2 * engine.settings.beam_size * engine._decoding_lengths([longest], None)["max_decoding_length"]
    scheduler = make_scheduler(scheduler_wait_ms=0, batch_decode_tokens=two_per_piece)
    assert scheduler.inner.decoded_together(longest) == 2
    with ThreadPoolExecutor(len(SENTENCES)) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        asked = [pool.submit(scheduler.translate, [sentence]) for sentence in SENTENCES[1:]]
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == len(SENTENCES) - 1, "all requests wait")
        recording.gate.set()
        answers = [held.result(timeout=DEADLINE)] + [a.result(timeout=DEADLINE) for a in asked]
    # the seven waiting requests went out two by two, not as one batch of seven that each waits for
    assert [len(call) for call in recording.calls[1:]] == [2, 2, 2, 1]
    assert [decoded(a) for a in answers[1:]] == [decoded(engine.translate([s])) for s in SENTENCES[1:]]


def _bulk(scheduler, sentences):
    with bulk_priority():
        return scheduler.translate(sentences)


def test_past_the_queue_bound_interactive_requests_get_503_and_bulk_waits(
    engine, recording, make_scheduler, settings, tmp_path
):
    scheduler = make_scheduler(scheduler_wait_ms=0, scheduler_queue_sentences=2)
    app_settings = replace(settings, jobs_db=tmp_path / "jobs.db", memory_enabled=False)
    services = Services(app_settings)
    services.translator = scheduler
    client = create_app(app_settings, services).test_client()
    with ThreadPoolExecutor(4) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        accepted = pool.submit(scheduler.translate, SENTENCES[:2])  # fills the queue to its bound
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 2, "the queue is full")
        job = pool.submit(_bulk, scheduler, SENTENCES[2:4])

        api = client.post("/api/v1/translate", json={"text": SENTENCES[5]})
        assert api.status_code == 503 and api.json["error"]["code"] == "translator_busy"
        assert int(api.headers["Retry-After"]) >= 1
        libre = client.post("/translate", json={"q": SENTENCES[5], "source": "ar", "target": "en"})
        assert libre.status_code == 503 and isinstance(libre.json["error"], str) and libre.headers["Retry-After"]
        page = client.post("/translation", data={"text": SENTENCES[5]})
        assert page.status_code == 503 and page.headers["Retry-After"] and b"<html" in page.data.lower()

        assert scheduler.queued() == {Priority.INTERACTIVE: 2, Priority.BULK: 0}  # the job waits for room
        assert "translation_queue_sentences 2.0" in client.get("/metrics").text
        recording.gate.set()
        assert [r.target for r in accepted.result(timeout=DEADLINE)] == [
            r.target for r in engine.translate(SENTENCES[:2])
        ]
        assert len(job.result(timeout=DEADLINE)) == 2 and held.result(timeout=DEADLINE)
    assert client.post("/api/v1/translate", json={"text": SENTENCES[5]}).status_code == 200


def test_the_time_batches_spend_in_the_model_is_counted_and_scraped(
    engine, recording, make_scheduler, settings, tmp_path
):
    scheduler = make_scheduler(scheduler_wait_ms=0)
    app_settings = replace(settings, jobs_db=tmp_path / "jobs.db", memory_enabled=False)
    services = Services(app_settings)
    services.translator = scheduler
    client = create_app(app_settings, services).test_client()
    held_for = 0.3  # seconds the model call is held at the gate: a floor under the time counted
    before = scheduler.counters().model_seconds  # the engine is the module's: earlier tests' time is in it
    with ThreadPoolExecutor(1) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        since = time.monotonic()
        wait_until(lambda: time.monotonic() - since >= held_for, "the call has been held long enough")
        recording.gate.set()
        held.result(timeout=DEADLINE)
    counted = scheduler.counters().model_seconds
    assert held_for <= counted - before < time.monotonic() - since + 1
    scraped = re.search(r"^translation_model_seconds (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert scraped and float(scraped.group(1)) == pytest.approx(counted)


def test_a_batch_asks_for_the_attention_only_when_a_caller_reads_alignments(engine, recording, make_scheduler):
    scheduler = make_scheduler(scheduler_wait_ms=0)
    expected = decoded(engine.translate(SENTENCES[1:2]))
    recording.attention.clear()
    alone = scheduler.translate(SENTENCES[:1], alignments=False)
    assert recording.attention == [False] and alone[0].alignment is None and alone[0].target
    assert scheduler.translate([""], alignments=False)[0].alignment is None  # nothing to decode, nothing to align
    with ThreadPoolExecutor(3) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        blind = pool.submit(scheduler.translate, SENTENCES[1:2], alignments=False)
        reading = pool.submit(scheduler.translate, SENTENCES[2:3])
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 2, "both requests wait")
        recording.gate.set()
        assert reading.result(timeout=DEADLINE)[0].alignment  # shared with a caller who reads none
        assert decoded(blind.result(timeout=DEADLINE)) == expected
        held.result(timeout=DEADLINE)
    assert recording.attention[1:] == [True, True]  # the held request's batch, then the two in one


def test_translating_texts_skips_the_attention_unless_the_memory_stores_it(
    engine, recording, make_scheduler, settings, tmp_path
):
    """No view that translates texts shows word alignments: with no memory to store them the model makes none."""
    for memory_enabled, wanted in ((False, [False, False, False]), (True, [True])):
        app_settings = replace(settings, jobs_db=tmp_path / "jobs.db", memory_enabled=memory_enabled)
        services = Services(app_settings)
        scheduler = make_scheduler(scheduler_wait_ms=0)
        services.translator = CachedTranslator(scheduler, open_memory(app_settings)) if memory_enabled else scheduler
        client = create_app(app_settings, services).test_client()
        recording.attention.clear()
        libre = client.post("/translate", json={"q": SENTENCES[0], "source": "ar", "target": "en"})
        api = client.post("/api/v1/translate", json={"text": SENTENCES[0]})  # the memory has it, if there is one
        page = client.post("/translation", data={"text": SENTENCES[0]})
        assert libre.json["translatedText"] == api.json["translations"][0]["translation"]
        assert page.status_code == 200 and recording.attention == wanted
    stored = open_memory(app_settings).get_many(engine.decoding_key(), SENTENCES[:1])
    assert stored[SENTENCES[0]].alignment  # the memory stores what it asked the model for


def test_closing_fails_what_waits_and_refuses_what_comes(engine, recording, make_scheduler):
    scheduler = make_scheduler(scheduler_wait_ms=0)
    with ThreadPoolExecutor(2) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        waiting = pool.submit(scheduler.translate, SENTENCES[:2])
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 2, "the request waits")
        scheduler.close()
        with pytest.raises(TranslatorClosed):
            waiting.result(timeout=DEADLINE)
        recording.gate.set()
        assert held.result(timeout=DEADLINE)  # the batch in hand still finishes
    with pytest.raises(TranslatorClosed):
        scheduler.translate(SENTENCES[:1])


def test_a_job_worker_s_sentences_queue_as_bulk_work(engine, recording, make_scheduler, settings, tmp_path):
    scheduler = make_scheduler(scheduler_wait_ms=0)
    store = open_job_store(replace(settings, jobs_db=tmp_path / "jobs.db"))
    job_id, _ = store.create([(1, {"body": SENTENCES[0]}), (2, {"body": SENTENCES[1]})], {"index": False})
    with ThreadPoolExecutor(2) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        worked = pool.submit(Worker(store, scheduler, batch=2).run_once)
        wait_until(lambda: scheduler.queued()[Priority.BULK] == 2, "the job's sentences wait as bulk work")
        recording.gate.set()
        assert worked.result(timeout=DEADLINE) and held.result(timeout=DEADLINE)
    assert store.status(job_id).state == "done"


def test_the_process_translator_is_memory_then_one_scheduler_and_cached_sentences_skip_it(settings):
    translator = open_translator(settings)
    scheduler = translator.inner
    assert isinstance(scheduler, SchedulingTranslator) and open_translator(settings).inner is scheduler
    first = translator.translate(SENTENCES[:2])
    batches = scheduler.stats().batches
    assert translator.translate(SENTENCES[:2]) == first and scheduler.stats().batches == batches


def test_a_request_on_an_idle_model_goes_at_once_and_one_behind_a_batch_waits_for_company(
    engine, recording, make_scheduler
):
    """The fill wait is for traffic: with a wait far longer than the deadline, a lone request still reaches the
    model at once, and a request that comes while a batch is on it waits for company, though a runner is free;
    once a batch's worth waits, the free runner takes it, one call for both."""
    scheduler = make_scheduler(
        scheduler_wait_ms=600_000, inter_threads=2, batch_tokens=sum(map(engine.count_tokens, SENTENCES[:2]))
    )
    with ThreadPoolExecutor(3) as pool:
        held = hold_the_runner(scheduler, recording, pool)  # reaches the model at once: it was idle
        first = pool.submit(scheduler.translate, [SENTENCES[0]])
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 1, "the first is queued")
        assert len(recording.calls) == 1  # the second runner is free, yet it waits: a batch is on the model
        second = pool.submit(scheduler.translate, [SENTENCES[1]])
        assert recording.held.acquire(timeout=DEADLINE)  # a batch's worth: taken at once, the gate still shut
        recording.gate.set()
        for future in (held, first, second):
            future.result(timeout=DEADLINE)
    assert [len(call) for call in recording.calls] == [1, 2]


def test_the_rest_of_a_request_on_the_model_waits_for_no_company(engine, recording, make_scheduler):
    """A request cut into pieces (here two sentences each): the runner left free takes the next piece at once,
    though a batch is on the model and the fill wait is far longer than the deadline."""
    longest = max(engine.count_tokens(sentence) for sentence in SENTENCES)
    two_per_piece = 2 * engine.settings.beam_size * engine._decoding_lengths([longest], None)["max_decoding_length"]
    scheduler = make_scheduler(
        scheduler_wait_ms=600_000, inter_threads=2, batch_tokens=10_000, batch_decode_tokens=two_per_piece
    )
    with ThreadPoolExecutor(1) as pool:
        recording.gate.clear()
        asked = pool.submit(scheduler.translate, SENTENCES[:5])
        assert recording.held.acquire(timeout=DEADLINE) and recording.held.acquire(timeout=DEADLINE)  # both at once
        recording.gate.set()
        asked.result(timeout=DEADLINE)
    assert [len(call) for call in recording.calls] == [2, 2, 1]


def test_a_lone_request_is_spread_over_the_idle_runners(engine, recording, make_scheduler):
    """CTranslate2 decodes a batch on one worker: an article alone on an idle model gets every runner, each with its
    share of the tokens (the longest sentence alone here, the three short ones together), and each sentence
    decodes as it would alone."""
    scheduler = make_scheduler(scheduler_wait_ms=600_000, inter_threads=2, batch_tokens=10_000)
    long = " ".join(WORDS * 3)
    article = [SENTENCES[0], long, *SENTENCES[1:3]]
    assert engine.count_tokens(long) >= 3 * engine.count_tokens(SENTENCES[0])
    with ThreadPoolExecutor(1) as pool:
        recording.gate.clear()
        asked = pool.submit(scheduler.translate, article)
        assert recording.held.acquire(timeout=DEADLINE) and recording.held.acquire(timeout=DEADLINE)  # both at once
        recording.gate.set()
        answer = asked.result(timeout=DEADLINE)
    assert sorted(recording.calls) == sorted([[engine.tokenize(long)], [engine.tokenize(s) for s in SENTENCES[:3]]])
    assert decoded(answer) == [decoded(engine.translate([s]))[0] for s in article]


def test_the_oldest_request_is_in_the_next_batch_however_many_longer_ones_came_after(engine, recording, make_scheduler):
    """Batches are planned longest first; one sentence of the oldest request goes in each all the same, so a short
    sentence behind a stream of longer ones is never left for later again and again."""
    short, long = "شكرا.", " ".join(WORDS * 3)
    per_batch = 3 * engine.count_tokens(long)  # room for three long sentences, and not a fourth beside them
    scheduler = make_scheduler(scheduler_wait_ms=0, batch_tokens=per_batch)
    with ThreadPoolExecutor(8) as pool:
        held = hold_the_runner(scheduler, recording, pool)
        first = pool.submit(scheduler.translate, [short])
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 1, "the short one waits")
        later = [pool.submit(scheduler.translate, [long]) for _ in range(6)]
        wait_until(lambda: scheduler.queued()[Priority.INTERACTIVE] == 7, "the long ones wait behind it")
        recording.gate.set()
        for future in [held, first, *later]:
            future.result(timeout=DEADLINE)
    assert engine.tokenize(short) in recording.calls[1]


def test_on_cuda_a_lone_request_stays_one_batch(engine, recording, make_scheduler):
    """On a GPU a batch costs about what one sentence does and the runners share the device: no spreading."""
    scheduler = make_scheduler(scheduler_wait_ms=0, inter_threads=2, batch_tokens=10_000, device="cuda")
    scheduler.translate(SENTENCES[:4])
    assert [len(call) for call in recording.calls] == [4]
