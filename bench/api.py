"""Serving capacity through gunicorn: concurrent single-sentence clients against one request, and beside a bulk job.

Every pass sends the same distinct sentences (../shared; --source: tico19's test sentences, or held-out
real news, each a seeded random sample: common.sentence_sample) to POST /api/v1/translate, with the translation
memory off so each request does real work, to a generated model (base by default, as bench/translate.py):
by default the one that ends each output near a human length (`model generate --realistic-length`), with
the service's own decoding limit. With `--lengths forced` (tico19 only), the plain random model, which never
stops on its own, so decoding is held to the source length times tico19's target/source token ratio, plus one
(MT_DECODE_LENGTH_RATIO, MT_DECODE_LENGTH_EXTRA=1): each sentence decodes to about its reference length.
Output tokens are counted from the responses (the model's target.spm re-tokenises each sentence's
translation, each <fillerN> the generated model emits counted as one token: output_tokens), never assumed.
Each client thread keeps one HTTP/1.1 connection open, and gunicorn's access log is off.

  (a) capacity: for each client count, the same sentences as single-sentence requests from N clients
      and as ONE request carrying them all, alternating in every round: sentences/s, output tokens/s,
      p50/p99 latency, and the ratio N clients / one request (target >= 0.8 at 16 clients), over all
      rounds and in each round;
  (b) bulk job: single-sentence clients with no job and with a large job (POST /api/v1/jobs, news
      articles) running in the server's own job workers (JOBS_WORKERS), alternating; the interactive
      p99 with the job against without (target <= 1.5x). Each job is cancelled after its pass, and the
      next pass waits until the server is idle;
  (c) peak RSS of the server per kind of pass: its processes' VmHWM (gunicorn master and workers),
      reset before each pass and summed.

`--env NAME=VALUE` passes settings to the server (say, a scheduler's). bench/api_overhead.py measures
the HTTP overhead of search and translate against the same library calls.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import sentencepiece as spm
from common import (
    PROJECT_ROOT,
    SENTENCE_SOURCES,
    add_model_options,
    bench_model_dir,
    free_port,
    model_line,
    news_articles,
    read_lines,
    sentence_sample,
    shared_file,
)

from service.config import Settings

DATA = PROJECT_ROOT / "bench" / ".data" / "api"
API_KEY = "bench-api-key-0000"
JSON_WITH_KEY = {"Content-Type": "application/json", "X-API-Key": API_KEY}
MAX_REFUSALS = 100  # 503s one request waits out before the bench gives up
IDLE_CPU_SHARE = 0.05  # of one core: the server counts as idle below it
FILLER = re.compile(r"<filler\d+>")  # the generated vocabulary's entries beyond its SentencePiece models' pieces


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Server:
    """`python -m service serve` in a subprocess, with the memory and CPU time of its processes."""

    def __init__(self, env: dict[str, str], port: int, workers: int, threads: int, log_name: str = "server.log"):
        self.port = port
        command = [sys.executable, "-m", "service", "serve", "--port", str(port)]
        command += ["--workers", str(workers), "--threads", str(threads), "--no-access-log"]
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        DATA.mkdir(parents=True, exist_ok=True)
        self.log = DATA / log_name
        with open(self.log, "w") as log:
            for line in self.process.stderr:
                log.write(line)
                if "Listening at" in line:
                    threading.Thread(target=self._keep_log, daemon=True).start()  # keep the pipe from filling
                    return
        sys.exit(f"error: the server did not start (see {self.log})")

    def _keep_log(self) -> None:
        with open(self.log, "a") as log:
            for line in self.process.stderr:
                log.write(line)
                log.flush()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)

    def pids(self) -> list[int]:
        """The gunicorn master (the process we started: serve execs into gunicorn) and its workers."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone since the listing
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                children.append(int(entry.name))
        return [self.process.pid, *children]

    def reset_peak(self) -> None:
        for pid in self.pids():
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset VmHWM to the current RSS

    def peak_rss_mb(self) -> float:
        return sum(_status_kb(pid, "VmHWM") for pid in self.pids()) / 1024

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.pids():
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(stat[11]) + int(stat[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, deadline_s: float = 600, window_s: float = 1.0) -> None:
        """Poll until the server's CPU use over a window falls below IDLE_CPU_SHARE of one core."""
        give_up = time.monotonic() + deadline_s
        while time.monotonic() < give_up:
            before = self.cpu_seconds()
            time.sleep(window_s)  # the measuring window of the poll, not a wait for an event
            if self.cpu_seconds() - before < IDLE_CPU_SHARE * window_s:
                return
        sys.exit(f"error: the server was still busy after {deadline_s:.0f} s")


def _status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


_connections = threading.local()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
    """One request on this thread's keep-alive connection, as a real client or load balancer would.

    For the clients of a pass, which send back to back: gunicorn closes a connection idle for a few seconds.
    """
    connection = getattr(_connections, "http", None)
    if connection is None:
        connection = _connections.http = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    return _exchange(connection, method, path, body, headers or {})


def control(port: int, method: str, path: str, body=None, expect: Iterable[int] = (200,)) -> dict:
    """One JSON request on a connection of its own: the bench's own calls, with long pauses between them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        data = None if body is None else json.dumps(body).encode()
        return json.loads(_exchange(connection, method, path, data, JSON_WITH_KEY, expect))
    finally:
        connection.close()


class Busy(Exception):
    """A 503 with Retry-After: the server's queue is full (back-pressure), try again later."""

    def __init__(self, retry_after: float):
        super().__init__(f"busy, retry after {retry_after} s")
        self.retry_after = retry_after


def _exchange(connection, method: str, path: str, body, headers: dict, expect: Iterable[int] = (200,)) -> bytes:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status == 503 and response.getheader("Retry-After"):
        raise Busy(float(response.getheader("Retry-After")))
    if response.status not in expect:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:200]!r}")
    return data


@dataclass
class Tally:
    """One kind of pass, summed over the rounds."""

    seconds: float = 0.0
    sentences: int = 0
    tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    refusals: int = 0  # 503s with Retry-After, each waited out and retried
    pass_rates: list[float] = field(default_factory=list)  # sentences/s of each pass, in order

    @property
    def sentences_per_s(self) -> float:
        return self.sentences / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def row(self, name: str) -> str:
        ms = self.latencies_ms
        return (
            f"{name:<18} {self.sentences_per_s:8.1f} {self.tokens_per_s:9.0f} {percentile(ms, 50):8.0f} "
            f"{percentile(ms, 99):8.0f} {self.peak_rss_mb:8.0f} {self.refusals:5}"
        )


HEADER = f"{'':<18} {'sent/s':>8} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8} {'503s':>5}"


class Answer(NamedTuple):
    ms: float  # from the first try to the answer, waits after a 503 included
    targets: list[str]  # each text's translated sentences, joined
    refusals: int


class Bench:
    """The server and the workload; each pass method measures one pass and adds it to a Tally."""

    def __init__(self, server: Server, sentences: list[str], target_sp):
        self.server = server
        self.sentences = sentences
        self.target_sp = target_sp

    def _measure(self, tally: Tally, calls: list[Callable[[], Answer]], clients: int) -> None:
        self.server.reset_peak()
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda call: call(), calls))
        seconds = time.perf_counter() - started
        tally.seconds += seconds
        tally.peak_rss_mb = max(tally.peak_rss_mb, self.server.peak_rss_mb())
        targets = [target for answer in results for target in answer.targets]
        tally.sentences += len(targets)
        tally.pass_rates.append(len(targets) / seconds)
        tally.tokens += output_tokens(self.target_sp, targets)  # after the clock: no client load
        tally.latencies_ms += [answer.ms for answer in results for _ in answer.targets]
        tally.refusals += sum(answer.refusals for answer in results)

    def _translate(self, texts: list[str]) -> Callable[[], Answer]:
        """A call of one request carrying texts, which waits out and retries a 503 as a polite client does."""
        body = json.dumps({"text": texts[0]} if len(texts) == 1 else {"texts": texts}).encode()

        def call():
            started, refusals = time.perf_counter(), 0
            while True:
                try:
                    response = json.loads(request(self.server.port, "POST", "/api/v1/translate", body, JSON_WITH_KEY))
                    break
                except Busy as busy:
                    refusals += 1
                    if refusals > MAX_REFUSALS:
                        raise RuntimeError(f"refused {refusals} times: is the queue bound below one request?") from None
                    time.sleep(busy.retry_after)  # what the server asked for
            ms = (time.perf_counter() - started) * 1000
            targets = [" ".join(s["target"] for s in t["sentences"]) for t in response["translations"]]
            return Answer(ms, targets, refusals)

        return call

    def one_request(self, tally: Tally) -> None:
        self._measure(tally, [self._translate(self.sentences)], 1)

    def clients(self, tally: Tally, clients: int) -> None:
        self._measure(tally, [self._translate([s]) for s in self.sentences], clients)

    def beside_job(self, tally: Tally, clients: int, articles: list[dict]) -> tuple[int, bool]:
        """A client pass while a job translates articles: (articles it translated meanwhile, whether it outlived it)."""
        job = control(self.server.port, "POST", "/api/v1/jobs?index=false", articles, expect=(202,))
        path = f"/api/v1/jobs/{job['id']}"
        give_up = time.monotonic() + 120
        while (job := control(self.server.port, "GET", path))["state"] != "running":  # a worker claimed items
            if time.monotonic() > give_up:
                sys.exit("error: no job worker started the job in 120 s (is JOBS_WORKERS 0?)")
            time.sleep(0.05)  # poll interval of the deadline loop above
        self.clients(tally, clients)
        after = control(self.server.port, "DELETE", path)
        self.server.wait_idle()  # the batch in flight finishes after the cancel
        return after["counts"]["done"] - job["counts"]["done"], after["state"] == "cancelled"


def output_tokens(target_sp, texts: list[str]) -> int:
    """Output tokens in translated texts, re-tokenised with the model's target SentencePiece model; each <fillerN>
    the generated model's random weights emit counts as the one token it was (target.spm alone cuts one into about
    eight pieces, which made this column eight times what the model decoded)."""
    return sum(len(target_sp.encode(FILLER.sub(" ", text))) + len(FILLER.findall(text)) for text in texts)


def target_source_ratio(model_dir: Path) -> float:
    """tico19's target/source token ratio over the whole test set, with the model's own SentencePiece models."""
    sources = read_lines(shared_file("data", "parallel", "tico19_test", "src.ar"))
    references = read_lines(shared_file("data", "parallel", "tico19_test", "ref.en"))
    source_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "source.spm"))
    target_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "target.spm"))
    return sum(map(len, target_sp.encode(references))) / sum(map(len, source_sp.encode(sources)))


def server_env(args, model_dir: Path, ratio: float | None, sentences: list[str]) -> dict[str, str]:
    """The server's environment; ratio: the forced-length ratio (--lengths forced), else None."""
    jobs_db = DATA / "jobs.sqlite3"
    for stale in DATA.glob("jobs.sqlite3*"):
        stale.unlink()
    passed = dict(pair.split("=", 1) for pair in args.env)
    return {
        **os.environ,
        "MT_MODEL_DIR": str(model_dir),
        "MT_MEMORY": "off",
        **({"MT_DECODE_LENGTH_RATIO": f"{ratio:.3f}", "MT_DECODE_LENGTH_EXTRA": "1"} if ratio is not None else {}),
        "MAX_BATCH_TEXTS": str(max(64, len(sentences))),  # the one-request pass carries every sentence
        "MAX_REQUEST_CHARS": str(max(100_000, sum(map(len, sentences)))),
        "MAX_REQUEST_BYTES": str(16 << 20),
        "RATE_LIMIT": "off",
        "API_KEYS": API_KEY,
        "JOBS_DB": str(jobs_db),
        "JOBS_WORKERS": str(args.job_workers),
        "JOB_BATCH_ITEMS": str(args.job_batch_items),
        "ALERT_DELIVERY": "off",  # no cluster here: the thread would only log that it cannot reach one
        **passed,
    }


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
            platform.processor() or "unknown CPU",
        )
    return f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,4,16,64", help="client counts for (a), comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of every comparison")
    parser.add_argument("--sentences", type=int, default=256, help="distinct sentences per pass")
    parser.add_argument(
        "--source",
        choices=SENTENCE_SOURCES,
        default="tico19",
        help="whose sentences: tico19, to which the model was fitted, or news, held out (common.sentence_sample)",
    )
    parser.add_argument("--skip-job", action="store_true", help="leave out (b), the bulk-job comparison")
    parser.add_argument("--job-clients", type=int, default=4, help="interactive clients in (b)")
    parser.add_argument("--job-articles", type=int, default=2000, help="news articles in each job of (b)")
    parser.add_argument("--job-workers", type=int, default=1, help="JOBS_WORKERS: job threads in each server worker")
    parser.add_argument(
        "--job-batch-items",
        type=int,
        default=8,
        help="JOB_BATCH_ITEMS: articles per job batch (a cancel waits for the batch in flight)",
    )
    parser.add_argument("--gunicorn-workers", type=int, default=1, help="server processes (each loads the model)")
    parser.add_argument("--gunicorn-threads", type=int, default=80, help="threads per server process")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a server setting")
    parser.add_argument("--port", type=int, default=None, help="the server's port (default: a free one)")
    add_model_options(parser)
    args = parser.parse_args()
    client_counts = [int(n) for n in args.clients.split(",")]
    if args.source == "news" and args.lengths == "forced":
        parser.error("--lengths forced holds outputs to tico19's reference lengths, and news has no references")
    if any("=" not in pair for pair in args.env):
        parser.error("--env takes NAME=VALUE")
    if args.gunicorn_workers * args.gunicorn_threads < max(client_counts) + args.job_clients:
        parser.error("too few gunicorn threads to serve every client at once")

    model_dir = bench_model_dir(args)
    sentences = sentence_sample(args.source, args.sentences)
    ratio = target_source_ratio(model_dir) if args.lengths == "forced" else None  # unread otherwise
    target_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "target.spm"))
    env = server_env(args, model_dir, ratio, sentences)
    settings = Settings.from_env(env)
    articles = [] if args.skip_job else [{"id": a["id"], "body": a["body"]} for a in news_articles(args.job_articles)]
    inter, intra = settings.threads
    print(f"machine: {machine()}")
    print(model_line(model_dir))
    print(
        f"server: {args.gunicorn_workers} gunicorn worker(s) x {args.gunicorn_threads} threads; {args.model} model, "
        f"{settings.resolved_compute_type}, {inter}x{intra} threads (inter x intra), beam {settings.beam_size}, "
        f"batch {settings.batch_tokens} tokens, memory off, decoding "
        + (f"{ratio:.2f} x source + 1 tokens" if ratio is not None else "until the model stops")
        + (f"; {' '.join(args.env)}" if args.env else "")
    )
    scheduler = [f"{f.name}={getattr(settings, f.name)}" for f in fields(settings) if f.name.startswith("scheduler_")]
    if scheduler:  # the cross-request scheduler's settings, where the service has one
        print(f"scheduler: {' '.join(scheduler)}")
    print(
        f"workload: {len(sentences)} distinct {args.source} sentences per pass "
        f"({sum(len(s.split()) for s in sentences) / len(sentences):.1f} words on average), {args.rounds} rounds"
    )

    server = Server(env, args.port or free_port(), args.gunicorn_workers, args.gunicorn_threads)
    try:
        bench = Bench(server, sentences, target_sp)
        bench.one_request(Tally())  # warm-up: loads the model in every thread it touches
        bench.clients(Tally(), max(client_counts))
        print(f"idle server after warm-up: {sum(_status_kb(p, 'VmRSS') for p in server.pids()) / 1024:.0f} MB RSS")

        one, many = {n: Tally() for n in client_counts}, {n: Tally() for n in client_counts}
        for _ in range(args.rounds):
            for n in client_counts:
                bench.one_request(one[n])
                bench.clients(many[n], n)
        print(f"\n(a) single-sentence clients against one request carrying the same {len(sentences)} sentences")
        print(f"{HEADER} {'ratio sent/s':>13} {'tokens/s':>9}")
        for n in client_counts:  # each ratio against the one-request passes that alternated with its own
            print(one[n].row(f"one request (/{n})"))
            print(
                f"{many[n].row(f'{n} clients')} {many[n].sentences_per_s / one[n].sentences_per_s:13.2f} "
                f"{many[n].tokens_per_s / one[n].tokens_per_s:9.2f}"
            )
            # the two passes of a round ran one after the other (the one request first): their spread is how far
            # the machine's drift moves the ratio within one run
            rounds = zip(many[n].pass_rates, one[n].pass_rates, strict=True)
            print(f"{'':<18} each round's ratio sent/s: {' '.join(f'{a / b:.2f}' for a, b in rounds)}")
        print(
            "target: sentences/s ratio >= 0.80 at 16 clients. tokens/s counts what the responses hold"
            + (
                ": with --lengths forced the model never stops, so in a batch a short sentence decodes to the limit"
                "\nof the batch's longest (more tokens, the same sentence); sentences/s is the ratio to judge."
                if args.lengths == "forced"
                else "."
            )
        )

        if not args.skip_job:
            quiet, busy, outlived, job_done = Tally(), Tally(), 0, 0
            for _ in range(args.rounds):
                bench.clients(quiet, args.job_clients)
                done, running = bench.beside_job(busy, args.job_clients, articles)
                outlived, job_done = outlived + running, job_done + done
            print(
                f"\n(b) {args.job_clients} single-sentence clients with and without a job of {len(articles)} articles "
                f"({args.job_workers} job worker(s), {args.job_batch_items} articles per batch)"
            )
            print(HEADER)
            print(quiet.row("no job"))
            print(busy.row("with the job"))
            print(
                f"interactive p99 with the job / without: "
                f"{percentile(busy.latencies_ms, 99) / percentile(quiet.latencies_ms, 99):.2f} (target <= 1.5)"
            )
            print(f"the job translated {job_done} articles during those passes ({job_done / busy.seconds:.2f}/s)")
            if outlived < args.rounds:
                print(f"warning: the job finished before the pass ended in {args.rounds - outlived} round(s)")
        print(
            "\nRSS MB: peak of the server's processes (VmHWM summed), the highest over that kind of pass. 503s: requests"
            "\nrefused with Retry-After (a full queue); each client waited as asked and retried, within its latency."
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
