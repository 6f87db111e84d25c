"""Side by side with LibreTranslate on the same model: this service vs libretranslate 1.9.6, alternating (ABAB).

A generated model (base by default: opus-mt-ar-en's dimensions, int8; by default the one that ends
its outputs near a human length, `model generate --realistic-length`) is packaged once as an Argos
Translate package (.argosmodel). LibreTranslate installs it into its own package directory; this
service installs the same file with `model install --source` (modelstore/argos.py), so both serve
the same weights and the same SentencePiece model. Both are asked through POST /translate, the
LibreTranslate API (ours: service/web/libre.py), with source "ar", on the same sentences (--sentences):

  tico19      (the default) tico19's test sentences: the text the generated model's SentencePiece and its
              output lengths were fitted to, so outputs end near the human English's length
  news        distinct sentences of real Arabic news, ../shared's ant-dev split by our segmenter, of
              common.SENTENCE_WORDS words (the outlets' "*" credit and disclaimer lines left out): what the service
              translates, and text the generated vocabulary never saw, which it cuts into about 1.3 times the
              pieces a word that tico19 gets. On tico19 our normalisation (harakat and tanween removed) makes
              0.3% more pieces, the vocabulary holding tico19's own spellings whole; on text it never saw
              (ant-dev, ud_pud, tatoeba) 0.4-5.8% fewer, as with a real model

Every workload takes the first so many of one seeded random order of the source's distinct sentences
(common.sentence_sample), so that they all draw alike. The workloads:

  batch       one request carrying the first --texts sentences as a list
  N clients   each text its own request, N at a time (4, 16 and 64 by default), over N x --requests-per-client
              sentences (at least --texts), so that every client has a run of requests to make: the load
              is held, not one burst whose ramp and tail decide the figure (and 64 clients are 64, not the 32
              texts there were)
  single      the first --texts sentences, each its own request, one at a time, the two servers taking
              turns text by text (a lone request is a few hundred ms, so pass-long alternation let the
              machine's drift decide)
  paragraphs  one client again, each request one paragraph of real Arabic news (../shared's ant-dev: the
              first --paragraphs distinct ones of two sentences or more and at most PARAGRAPH_WORDS words,
              the outlets' "*" credit and disclaimer lines left out), taking turns paragraph by paragraph as
              single requests do. What an analyst pasting a paragraph waits for: both sides split it into
              sentences, and both may decode them on every core (Argos in batches of at most 32 tokens)

Held equal on both sides: inter and intra threads (ARGOS_INTER_THREADS / ARGOS_INTRA_THREADS vs
MT_INTER_THREADS / MT_INTRA_THREADS), beam 4 and HTTP threads. The realistic-length model stops each
sentence near the length of its human translation, so neither side's decoding limit binds: ours
stays at its default (2 x source + 10 tokens, which also sizes the pieces CTranslate2 decodes
together, MT_BATCH_DECODE_TOKENS), LibreTranslate's at CTranslate2's 256. With `--lengths forced` (the
plain random model, which never emits </s>) every sentence decodes to the limit, so ours is set to
LibreTranslate's 256 (MT_DECODE_LENGTH_RATIO/EXTRA), as the figures before issue 22 were. Our
translation memory is off (and so are our word alignments: no view that translates texts shows
them, so with no memory to store them the model is not asked for them). Output tokens are counted
from each response's text, re-tokenised with the model's target SentencePiece model after case
folding and without a last punctuation mark:
  - LibreTranslate upper-cases a whole translation when its source's only cased letters are capitals
    (an Arabic sentence quoting "(S)"), and a generated model's <fillerN> tokens would then count as
    six pieces each;
  - LibreTranslate ends each translation with its source's last character where that is one of
    FORMATTED_ENDINGS, and drops one there where the source ends otherwise (improve_translation_formatting):
    on tico19 a "." its model never decoded, one token more a sentence than it made, about 3% of a
    single sentence's count. So our answers' ends are made by the same rule first
    (libretranslate_ending), and then neither side's last mark is counted.

LibreTranslate runs offline: an empty local package index (ARGOS_PACKAGE_INDEX=file://...), no
model download, and spaCy sentence splitting (ARGOS_CHUNK_TYPE=SPACY). spaCy's multilingual
xx_sent_ud_sm does not ship on PyPI, so the package carries a blank multilingual spaCy pipeline,
to which Argos adds spaCy's rule-based sentencizer. LibreTranslate and spaCy are installed from
PyPI into bench/.peer/venv (once, kept; no torch). When that cannot be done, the bench says so in
one line and exits 0.

Prints the model, then per workload each side's output tokens/s, texts/s, p50/p99 latency, server
CPU per output token (its process tree's user and system time) and the ratio ours/theirs (for the
one-client workloads with its 95% interval, the requests resampled in pairs: paired_interval; for the
others with each round's ratio, its two passes side by side: round_ratios), under
single requests each side's time in the model a request: the wall time of its CTranslate2 calls (ours
from /metrics, translation_model_seconds; LibreTranslate's from MODEL_TIME_PROBE, a sitecustomize on
its PYTHONPATH alone) and the output tokens they produced, and the rest of a request's latency (HTTP,
the code around the model, the client). Then each server's peak RSS (VmHWM, summed over its
process tree), then the raw CTranslate2 ceiling on the same model and the --texts sentences.
Targets (issue 22): >= 1.5x output tokens/s at 16 clients and for one batch, lower peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import sentencepiece as spm
from common import (
    PROJECT_ROOT,
    SENTENCE_SOURCES,
    add_model_options,
    bench_model_dir,
    model_line,
    news_articles,
    raw_sentences,
    sentence_sample,
)
from search import percentile

from service.config import Settings
from service.modelstore import argos

PEER_DIR = PROJECT_ROOT / "bench" / ".peer"
PEER_VENV = PEER_DIR / "venv"
PEER_REQUIREMENTS = ("libretranslate==1.9.6", "spacy==3.7.5")
DECODING_LIMIT = 256  # CTranslate2's default max_decoding_length, which LibreTranslate keeps
BEAM_SIZE = 4
FORMATTED_ENDINGS = "!?.,;。"  # LibreTranslate 1.9.6's improve_translation_formatting: a last one follows the source
PARAGRAPH_WORDS = 100  # the paragraphs workload's longest; a whole article in one paragraph would take seconds
START_TIMEOUT_SECONDS = 300
MODEL_TIME_FILE = "PEER_MODEL_TIME_FILE"
# LibreTranslate's time in the model, for the decomposition the bench prints: this module, on LibreTranslate's
# PYTHONPATH alone (and so on for every workload), wraps CTranslate2's Translator so that every synchronous
# translate_batch call adds its wall time and output tokens to a file, replaced whole each time. Ours counts the
# same in its engine (from submission until the results are ready) and shows them at /metrics.
MODEL_TIME_PROBE = """\
import os

if os.environ.get("PEER_MODEL_TIME_FILE"):
    import threading, time
    import ctranslate2

    _lock, _total = threading.Lock(), [0.0, 0]

    class _Timed(ctranslate2.Translator):
        def translate_batch(self, *args, **kwargs):
            if kwargs.get("asynchronous"):  # its results are not ready here: not counted (Argos never asks)
                return super().translate_batch(*args, **kwargs)
            started = time.perf_counter()
            results = super().translate_batch(*args, **kwargs)
            seconds = time.perf_counter() - started
            with _lock:
                _total[0] += seconds
                _total[1] += sum(len(result.hypotheses[0]) for result in results)
                path = os.environ["PEER_MODEL_TIME_FILE"]
                with open(path + ".tmp", "w") as out:
                    out.write(f"{_total[0]} {_total[1]}")
                os.replace(path + ".tmp", path)
            return results

    ctranslate2.Translator = _Timed
"""


def skip(reason: str) -> None:
    print(f"skipped: {reason}")
    sys.exit(0)


def peer_python() -> Path:
    """The Python of LibreTranslate's own virtual environment, installed once from PyPI."""
    python = PEER_VENV / "bin" / "python"
    marker = PEER_VENV / ".installed"
    if marker.is_file() and marker.read_text() == " ".join(PEER_REQUIREMENTS):
        return python
    print(f"installing {', '.join(PEER_REQUIREMENTS)} into {PEER_VENV} (once)…", file=sys.stderr)
    shutil.rmtree(PEER_VENV, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", str(PEER_VENV)],
        [str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS],
    )
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            skip(f"LibreTranslate cannot be installed ({last})")
    marker.write_text(" ".join(PEER_REQUIREMENTS))
    return python


def joint_sentencepiece(model_dir: Path, out: Path) -> Path:
    """One SentencePiece model for the whole model vocabulary, as an Argos package has.

    Argos encodes the source and decodes the output with one model. source.spm's pieces come
    first, so Arabic encodes as with source.spm; target.spm's pieces follow. The rest of the
    vocabulary (the generated model's <fillerN> entries, which random weights do emit) become
    user-defined pieces, so re-tokenising an output counts each of them as the one token it was.
    """
    from sentencepiece import sentencepiece_model_pb2

    piece_type = sentencepiece_model_pb2.ModelProto.SentencePiece
    joint = sentencepiece_model_pb2.ModelProto()
    joint.ParseFromString((model_dir / "source.spm").read_bytes())
    english = sentencepiece_model_pb2.ModelProto()
    english.ParseFromString((model_dir / "target.spm").read_bytes())
    known = {piece.piece for piece in joint.pieces}
    for piece in english.pieces:
        if piece.type == piece_type.NORMAL and piece.piece not in known:
            joint.pieces.add().CopyFrom(piece)
            known.add(piece.piece)
    vocabulary = json.loads((model_dir / "shared_vocabulary.json").read_text(encoding="utf-8"))
    for token in vocabulary:
        if token not in known:
            joint.pieces.add(piece=token, score=0.0, type=piece_type.USER_DEFINED)
            known.add(token)
    joint.trainer_spec.vocab_size = len(joint.pieces)
    out.write_bytes(joint.SerializeToString())
    return out


def build_package(python: Path, model_dir: Path) -> Path:
    """The model as an .argosmodel, with a blank spaCy pipeline for Argos's SPACY sentence splitting."""
    package = PEER_DIR / f"translate-ar_en-{model_dir.name}.argosmodel"
    if package.is_file() and package.stat().st_mtime > max(
        p.stat().st_mtime for p in (model_dir / "model.bin", Path(__file__))
    ):
        return package  # built from this model by this script
    work = PEER_DIR / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spm_path = joint_sentencepiece(model_dir, work / "sentencepiece.model")
    argos.write_package(model_dir, work / package.name, spm_path)
    spacy_dir = work / "spacy"
    subprocess.run([str(python), "-c", f"import spacy; spacy.blank('xx').to_disk({str(spacy_dir)!r})"], check=True)
    with zipfile.ZipFile(work / package.name) as zipped:
        folder = zipped.namelist()[0].split("/")[0]
    with zipfile.ZipFile(work / package.name, "a") as zipped:
        for path in sorted(spacy_dir.rglob("*")):
            if path.is_file():
                zipped.write(path, f"{folder}/spacy/{path.relative_to(spacy_dir)}")
    os.replace(work / package.name, package)
    shutil.rmtree(work)
    return package


def peer_env(inter: int, intra: int) -> dict:
    """LibreTranslate's environment: offline, its own directories, our thread and beam settings."""
    home = PEER_DIR / "home"
    index = PEER_DIR / "index"
    index.mkdir(parents=True, exist_ok=True)
    (index / "index.json").write_text("[]")
    return {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "ARGOS_PACKAGES_DIR": str(home / "packages"),
        "ARGOS_PACKAGE_INDEX": f"file://{index}/",
        "ARGOS_CHUNK_TYPE": "SPACY",
        "ARGOS_DEVICE_TYPE": "cpu",
        "ARGOS_INTER_THREADS": str(inter),
        "ARGOS_INTRA_THREADS": str(intra),
        "ARGOS_BEAM_SIZE": str(BEAM_SIZE),
    }


def install_into_peer(python: Path, package: Path, env: dict) -> None:
    packages = Path(env["ARGOS_PACKAGES_DIR"])
    shutil.rmtree(packages, ignore_errors=True)
    script = "import sys; from argostranslate import package; package.install_from_path(sys.argv[1])"
    subprocess.run([str(python), "-c", script, str(package)], env=env, check=True, capture_output=True)


def install_into_ours(package: Path) -> Path:
    dest = PEER_DIR / f"ours-{package.stem}"
    subprocess.run(
        [sys.executable, "-m", "service", "model", "install", "--source", str(package), "--dest", str(dest)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    return dest


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    passes: dict = field(default_factory=dict)  # workload -> [Pass]
    model_time: Callable[[], tuple[float, int]] = lambda: (0.0, 0)  # seconds in the model and its output tokens
    ending: Callable[[str, str], str] = lambda source, answer: answer  # (source, answer) -> the answer as counted

    def tree(self) -> list[int]:
        """The server's process tree (gunicorn's master and worker; waitress's one process)."""
        pids, tree = [self.process.pid], []
        while pids:
            pid = pids.pop()
            tree.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            pids += [int(child) for child in children.read_text().split()] if children.exists() else []
        return tree

    def peak_rss_mb(self) -> float:
        """VmHWM summed over the process tree."""
        peak = 0
        for pid in self.tree():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM"):
                    peak += int(line.split()[1])
        return peak / 1024

    def cpu_seconds(self) -> float:
        """User and system time of the process tree so far."""
        ticks = 0
        for pid in self.tree():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5), counted after the name)
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(name: str, command: list[str], env: dict, port: int, log: Path) -> Server:
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, process, port)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: {name} exited at start ({process.returncode}); see {log}")
        try:
            translate(port, ["مرحبا"])  # ready, and its model loaded
            return server
        except OSError:
            time.sleep(0.2)  # polling a starting server, under a deadline
    server.stop()
    sys.exit(f"error: {name} did not answer within {START_TIMEOUT_SECONDS}s; see {log}")


def translate(port: int, texts: list[str]) -> list[str]:
    """POST /translate (the LibreTranslate API) with q as a list; the translated texts."""
    body = json.dumps({"q": texts, "source": "ar", "target": "en", "format": "text"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/translate", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())["translatedText"]


@dataclass
class Pass:
    seconds: float
    latencies: list[float]
    output_tokens: int
    texts: int
    cpu_seconds: float
    tokens: list[int] = field(default_factory=list)  # each request's output tokens, beside its latency (one client)


def count_tokens(target_sp, text: str) -> int:
    """An answer's output tokens, re-tokenised as the module's docstring says (its ending already made as
    LibreTranslate makes one: libretranslate_ending)."""
    return len(target_sp.encode((text[:-1] if text and text[-1] in FORMATTED_ENDINGS else text).casefold()))


def libretranslate_ending(source: str, answer: str) -> str:
    """Our answer's end made as LibreTranslate 1.9.6 makes a translation's (improve_translation_formatting): the
    source's last character where that is one of FORMATTED_ENDINGS, in place of a last one the answer has; else
    without a last one. Both sides' answers then went through the same rule once, and count_tokens drops what it
    put there."""
    source = source.strip()
    if not source or not answer:
        return answer
    bare = answer[:-1] if answer[-1] in FORMATTED_ENDINGS else answer
    return bare + source[-1] if source[-1] in FORMATTED_ENDINGS else bare


def timed(server: Server, batch: list[str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    answer = translate(server.port, batch)
    return time.perf_counter() - started, answer


def run_pass(server: Server, workload: str, texts: list[str], target_sp) -> None:
    """One pass of a workload on one server: wall time, each request's latency, output tokens, server CPU."""
    if workload == "batch":
        requests, clients = [texts], 1
    else:
        requests, clients = [[text] for text in texts], int(workload.split()[0])  # "16 clients" -> 16
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda batch: timed(server, batch), requests))
    seconds = time.perf_counter() - started
    tokens = sum(
        count_tokens(target_sp, server.ending(source, text))
        for batch, (_, answer) in zip(requests, results, strict=True)
        for source, text in zip(batch, answer, strict=True)
    )
    latencies = [latency for latency, _ in results]
    server.passes.setdefault(workload, []).append(
        Pass(seconds, latencies, tokens, len(texts), server.cpu_seconds() - cpu)
    )


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def ours_model_time(port: int) -> tuple[float, int]:
    """Seconds our batches spent in CTranslate2, and the output tokens it produced (/metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as response:
        metrics = dict(line.split(" ", 1) for line in response.read().decode().splitlines() if line[:1] not in "#")
    return float(metrics["translation_model_seconds"]), int(float(metrics["translated_tokens"]))


def probed_model_time(path: Path) -> tuple[float, int]:
    """The same for LibreTranslate, from MODEL_TIME_PROBE's file (nothing yet: no call made)."""
    if not path.exists():
        return 0.0, 0
    seconds, tokens = path.read_text().split()
    return float(seconds), int(tokens)


def in_the_model(servers: list[Server], before: list[tuple[float, int]]) -> str:
    """Each side's time and output tokens in the model a single request since `before`, and the rest of its
    latency (HTTP, the code around the model, the client). Single requests only: under concurrent clients
    LibreTranslate's calls also wait in CTranslate2's queue, where ours wait in the scheduler, before the model."""
    parts = []
    for server, (seconds, tokens) in zip(servers, before, strict=True):
        now_seconds, now_tokens = server.model_time()
        latencies = [latency for p in server.passes["single"] for latency in p.latencies]
        model = (now_seconds - seconds) / len(latencies)
        parts.append(
            f"{server.name} {1000 * model:5.1f} ms ({(now_tokens - tokens) / len(latencies):.1f} tokens), "
            f"the rest {1000 * (sum(latencies) / len(latencies) - model):.1f} ms"
        )
    return f"{'':<11} | in the model a request: " + " | ".join(parts)


def news_paragraphs(count: int) -> list[str]:
    """The first `count` distinct paragraphs of ant-dev's bodies of two sentences or more (by our segmenter) and
    at most PARAGRAPH_WORDS words, leaving out the outlets' credit and disclaimer lines (they start with "*")."""
    paragraphs: dict[str, None] = {}
    for article in news_articles(count * 16):
        for paragraph in article["body"].split("\n"):
            paragraph = paragraph.strip()
            if (
                paragraph
                and not paragraph.startswith("*")
                and len(paragraph.split()) <= PARAGRAPH_WORDS
                and len(raw_sentences(paragraph)) >= 2
            ):
                paragraphs[paragraph] = None
            if len(paragraphs) == count:
                return list(paragraphs)
    return list(paragraphs)


def run_single_pass(servers: list[Server], texts: list[str], target_sp, first: int, workload: str = "single") -> None:
    """Requests one at a time, the servers taking turns text by text (who goes first alternates)."""
    passes = {server.name: Pass(0.0, [], 0, 0, 0.0) for server in servers}
    for index, text in enumerate(texts):
        for server in servers if (index + first) % 2 == 0 else servers[::-1]:
            cpu = server.cpu_seconds()
            latency, answer = timed(server, [text])
            done = passes[server.name]
            done.cpu_seconds += server.cpu_seconds() - cpu
            done.seconds += latency
            done.latencies.append(latency)
            done.tokens.append(count_tokens(target_sp, server.ending(text, answer[0])))
            done.output_tokens += done.tokens[-1]
            done.texts += 1
    for server in servers:
        server.passes.setdefault(workload, []).append(passes[server.name])


def paired_interval(servers: list[Server], workload: str, resamples: int = 2000) -> tuple[float, float]:
    """The 95% interval of ours/theirs output tokens/s over a one-client workload, its requests resampled in pairs
    (the same text in the same round on both sides, asked one after the other), so the machine's drift, which
    both requests of a pair share, mostly cancels. Whether a ratio near 1 is a tie or a gap."""
    ours, theirs = (
        [
            (latency, tokens)
            for p in server.passes[workload]
            for latency, tokens in zip(p.latencies, p.tokens, strict=True)
        ]
        for server in servers
    )
    random = Random(0)
    ratios = []
    for _ in range(resamples):
        picks = [random.randrange(len(ours)) for _ in ours]
        rates = [sum(side[i][1] for i in picks) / sum(side[i][0] for i in picks) for side in (ours, theirs)]
        ratios.append(rates[0] / rates[1])
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def round_ratios(servers: list[Server], workload: str) -> list[float]:
    """Ours/theirs output tokens/s in each round of a pass-by-pass workload: the two passes of a round ran one after
    the other, so how far they spread is how far the machine's drift moves the figure."""
    ours, theirs = (server.passes[workload] for server in servers)
    return [(a.output_tokens / a.seconds) / (b.output_tokens / b.seconds) for a, b in zip(ours, theirs, strict=True)]


def summary(server: Server, workload: str) -> tuple[float, float, float, float, float]:
    """(output tokens/s, texts/s, p50 ms, p99 ms, server CPU ms per output token) over every pass of the workload."""
    passes = server.passes[workload]
    seconds = sum(p.seconds for p in passes)
    tokens = sum(p.output_tokens for p in passes)
    latencies = [latency * 1000 for p in passes for latency in p.latencies]
    return (
        tokens / seconds,
        sum(p.texts for p in passes) / seconds,
        percentile(latencies, 50),
        percentile(latencies, 99),
        1000 * sum(p.cpu_seconds for p in passes) / tokens,
    )


def raw_ceiling(model_dir: Path, texts: list[str], inter: int, intra: int, limit: int | None) -> None:
    """What batching can give at all at this decoding length: raw CTranslate2 on the same model and texts, each
    text its own batch (LibreTranslate's way under concurrent clients) against all of them as one batch decoded in
    pieces of our MT_BATCH_DECODE_TOKENS budget and in pieces of 8, alternating. Run after both servers stopped.
    limit: the decoding limit held on both sides; None: ours by default, for the longest text."""
    import ctranslate2

    source = spm.SentencePieceProcessor(model_file=str(model_dir / "source.spm"))
    tokens = [source.encode(text, out_type=str) for text in texts]
    model = ctranslate2.Translator(
        str(model_dir), device="cpu", compute_type="int8", inter_threads=inter, intra_threads=intra
    )
    settings = Settings()
    longest = max(map(len, tokens))
    limit = limit or int(settings.decode_length_ratio * longest) + settings.decode_length_extra
    options = {"beam_size": BEAM_SIZE, "max_decoding_length": limit, "max_input_length": 0}
    budget = max(1, settings.batch_decode_tokens // (BEAM_SIZE * limit))

    def tokens_per_second(batches: list[list[list[str]]], piece: int) -> float:
        started = time.perf_counter()
        futures = [
            f for b in batches for f in model.translate_batch(b, asynchronous=True, max_batch_size=piece, **options)
        ]
        return sum(len(f.result().hypotheses[0]) for f in futures) / (time.perf_counter() - started)

    ways = {"each its own batch": ([[t] for t in tokens], 1), f"pieces of {budget} (our budget)": ([tokens], budget)}
    ways["pieces of 8"] = ([tokens], 8)
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(2):
        for name, (batches, piece) in ways.items():
            rates[name].append(tokens_per_second(batches, piece))
    alone = sum(rates["each its own batch"]) / 2
    print(
        "raw CTranslate2, same model and texts: "
        + " | ".join(f"{name} {sum(r) / 2:.0f} tok/s ({sum(r) / 2 / alone:.2f}x)" for name, r in rates.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=positive, default=32, help="sentences per pass under batch and single")
    parser.add_argument(
        "--sentences", choices=SENTENCE_SOURCES, default="tico19", help="which sentences (see the docstring)"
    )
    parser.add_argument(
        "--clients", type=positive, nargs="+", default=[4, 16, 64], help="concurrent single-text clients"
    )
    parser.add_argument(
        "--requests-per-client",
        type=positive,
        default=8,
        help="N clients send N x this many sentences (at least --texts) between them",
    )
    parser.add_argument("--paragraphs", type=int, default=32, help="news paragraphs per pass (0: none)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds per workload, the servers taking turns (AB, BA, ...)"
    )
    parser.add_argument("--inter", type=int, default=2, help="inter threads, both sides")
    parser.add_argument("--intra", type=int, default=1, help="intra threads, both sides")
    parser.add_argument("--http-threads", type=int, default=16, help="HTTP threads, both sides")
    parser.add_argument("--port", type=int, default=8791, help="ours; LibreTranslate gets the next port")
    add_model_options(parser)
    args = parser.parse_args()

    python = peer_python()
    model_dir = bench_model_dir(args)
    print(model_line(model_dir))
    package = build_package(python, model_dir)
    env = peer_env(args.inter, args.intra)
    install_into_peer(python, package, env)
    ours_dir = install_into_ours(package)
    probe_dir, model_time_file = PEER_DIR / "probe", PEER_DIR / "probe" / "model_time"
    probe_dir.mkdir(parents=True, exist_ok=True)
    (probe_dir / "sitecustomize.py").write_text(MODEL_TIME_PROBE)
    model_time_file.unlink(missing_ok=True)
    probed_env = {**env, "PYTHONPATH": str(probe_dir), MODEL_TIME_FILE: str(model_time_file)}
    target_sp = spm.SentencePieceProcessor(model_file=str(ours_dir / "target.spm"))
    sizes = {f"{n} clients": max(args.texts, n * args.requests_per_client) for n in args.clients}
    sentences = sentence_sample(args.sentences, max(sizes.values()))
    texts = sentences[: args.texts]
    concurrent = {workload: sentences[:size] for workload, size in sizes.items()}
    paragraphs = news_paragraphs(args.paragraphs) if args.paragraphs else []
    one_client = {"single": texts, **({"paragraphs": paragraphs} if paragraphs else {})}  # workload -> its texts
    workloads = ["batch", *concurrent, *one_client]

    ours_env = {
        **os.environ,
        "MT_MODEL_DIR": str(ours_dir),
        "MT_MEMORY": "off",
        "RATE_LIMIT": "off",
        "JOBS_WORKERS": "0",
        "ALERT_DELIVERY": "off",  # no cluster here, and LibreTranslate has no such thread
        "MT_INTER_THREADS": str(args.inter),
        "MT_INTRA_THREADS": str(args.intra),
        "MT_BEAM_SIZE": str(BEAM_SIZE),
        "MAX_BATCH_TEXTS": str(max(64, args.texts)),
    }
    if args.lengths == "forced":  # every output decodes to the limit: LibreTranslate's, on both sides
        # the decoding limit is ratio x longest input + extra: a tiny ratio rounds up to 1, so 1 + 255 = 256
        ours_env.update({"MT_DECODE_LENGTH_RATIO": "0.0001", "MT_DECODE_LENGTH_EXTRA": str(DECODING_LIMIT - 1)})
    logs = PEER_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        servers.append(
            start(
                "ours",
                [
                    sys.executable,
                    "-m",
                    "service",
                    "serve",
                    "--port",
                    str(args.port),
                    "--threads",
                    str(args.http_threads),
                    "--no-access-log",
                ],
                ours_env,
                args.port,
                logs / "ours.log",
            )
        )
        servers.append(
            start(
                "LibreTranslate",
                [
                    str(PEER_VENV / "bin" / "libretranslate"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.port + 1),
                    "--load-only",
                    "ar,en",
                    "--threads",
                    str(args.http_threads),
                    "--char-limit",
                    "-1",
                    "--batch-limit",
                    "-1",
                    "--disable-web-ui",
                    "--disable-files-translation",
                ],
                probed_env,
                args.port + 1,
                logs / "libretranslate.log",
            )
        )
        servers[0].model_time = lambda: ours_model_time(args.port)
        servers[0].ending = libretranslate_ending
        servers[1].model_time = lambda: probed_model_time(model_time_file)
        limits = (
            f"{DECODING_LIMIT} tokens both sides"
            if args.lengths == "forced"
            else f"ours {Settings().decode_length_ratio:g} x source + {Settings().decode_length_extra}, LibreTranslate "
            f"{DECODING_LIMIT} (neither binds: the model stops)"
        )
        print(
            f"{args.sentences} sentences: {len(texts)} per pass under batch and single, "
            + ", ".join(f"{len(c)} under {w}" for w, c in concurrent.items())
            + f", {len(paragraphs)} news paragraphs under paragraphs; {args.rounds} rounds, the order alternating; "
            f"the model above (int8) from one .argosmodel; inter {args.inter} x intra {args.intra} threads, "
            f"beam {BEAM_SIZE}, {args.http_threads} HTTP threads, both sides; decoding limit {limits}; "
            "POST /translate on both"
        )
        run_single_pass(servers, texts[:2], target_sp, 0)  # warm-up, not counted
        for server in servers:
            server.passes.clear()
        for workload in workloads:
            before = [server.model_time() for server in servers]
            for round_ in range(args.rounds):
                if workload in one_client:
                    run_single_pass(servers, one_client[workload], target_sp, round_, workload)
                    continue
                for server in servers if round_ % 2 == 0 else servers[::-1]:
                    run_pass(server, workload, concurrent.get(workload, texts), target_sp)
            ours, theirs = (summary(server, workload) for server in servers)
            print(
                f"{workload:<11} | ours {ours[0]:7.1f} tok/s {ours[1]:6.2f} texts/s p50 {ours[2]:8.0f} p99 {ours[3]:8.0f} ms"
                f" CPU {ours[4]:5.2f} ms/tok | LibreTranslate {theirs[0]:7.1f} tok/s {theirs[1]:6.2f} texts/s p50 "
                f"{theirs[2]:8.0f} p99 {theirs[3]:8.0f} ms CPU {theirs[4]:5.2f} ms/tok | ours/theirs {ours[0] / theirs[0]:.2f}x"
                + (
                    " (95% interval by pairs {:.2f}-{:.2f})".format(*paired_interval(servers, workload))
                    if workload in one_client
                    else " (rounds " + ", ".join(f"{r:.2f}x" for r in round_ratios(servers, workload)) + ")"
                ),
                flush=True,
            )
            if workload == "single":
                print(in_the_model(servers, before), flush=True)
            if workload != workloads[-1]:  # the last one's is the peak RSS printed below
                ours_rss, theirs_rss = (server.peak_rss_mb() for server in servers)
                print(
                    f"{'':<11} | peak RSS so far: ours {ours_rss:.0f} MB, LibreTranslate {theirs_rss:.0f} MB",
                    flush=True,
                )
        ours_rss, theirs_rss = (server.peak_rss_mb() for server in servers)
        print(
            f"peak RSS (VmHWM, process tree) | ours {ours_rss:.0f} MB | LibreTranslate {theirs_rss:.0f} MB "
            f"| ours/theirs {ours_rss / theirs_rss:.2f}"
        )
    finally:
        for server in servers:
            server.stop()
    raw_ceiling(ours_dir, texts, args.inter, args.intra, DECODING_LIMIT if args.lengths == "forced" else None)


if __name__ == "__main__":
    main()
