"""`python -m service jobs submit|status|results|errors|cancel|worker`: bulk jobs from the command line."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from service.commands.common import existing_file
from service.errors import InputError
from service.files import check_not_binary, jsonl_records, text_records
from service.ingest import repeats_rule
from service.jobs.store import JobStore
from service.jobs.worker import IDLE_WAIT


def register(commands) -> None:
    parser = commands.add_parser("jobs", help="bulk translation jobs")
    actions = parser.add_subparsers(dest="jobs_command", required=True)
    submit = actions.add_parser("submit", help="submit a JSONL or plain-text file as a job")
    submit.add_argument("file")
    submit.add_argument("--text", action="store_true", help="plain text: each non-empty line is one item")
    submit.add_argument("--index", action="store_true", help="also index the articles for search")
    submit.add_argument("--beam", type=int, help="beam size for this job")
    submit.set_defaults(handler=run_submit)
    status = actions.add_parser("status", help="one job's state and counts, or all jobs")
    status.add_argument("job_id", nargs="?")
    status.set_defaults(handler=run_status)
    for name, handler in (("results", run_results), ("errors", run_errors), ("cancel", run_cancel)):
        action = actions.add_parser(name, help=f"{name} of a job")
        action.add_argument("job_id")
        action.set_defaults(handler=handler)
    worker = actions.add_parser(
        "worker",
        help="run a worker process on the jobs in JOBS_DB (or JOBS_DATABASE_URL; a Celery worker with JOBS_BACKEND=celery)",
    )
    worker.add_argument("--until-idle", action="store_true", help="exit when no runnable item is left")
    worker.set_defaults(handler=run_worker)


def read_records(path: Path, plain_text: bool) -> Iterator[tuple[int, object]]:
    """(line, record) from a JSONL file, or one {"body": line} per non-empty line of plain text, read as they are
    stored (a binary file is refused first)."""
    check_not_binary(path)
    return _records(path, plain_text)


def _records(path: Path, plain_text: bool) -> Iterator[tuple[int, object]]:
    with open(path, "rb") as handle:
        if plain_text:
            yield from text_records(handle, str(path))
        else:
            yield from jsonl_records(handle)


def run_submit(args, services) -> int:
    path = existing_file(args.file)
    options = {"index": args.index, "beam_size": args.beam}
    records = read_records(path, args.text)
    job_id, created = services.job_store.create(records, options, owner="cli", repeats=repeats_rule(options))
    print(job_id if created else f"{job_id} (the same job was already submitted)")
    return 0


def run_status(args, services) -> int:
    store = services.job_store
    jobs = [store.status(args.job_id)] if args.job_id else store.list()
    if args.job_id and jobs[0] is None:
        raise InputError(f"no job {args.job_id}")
    print(json.dumps([j.to_dict() for j in jobs] if not args.job_id else jobs[0].to_dict(), indent=2))
    return 0


def _stream(lines) -> int:
    for line in lines:
        sys.stdout.write(line)
    return 0


def run_results(args, services) -> int:
    return _stream(services.job_store.results(args.job_id))


def run_errors(args, services) -> int:
    return _stream(services.job_store.errors(args.job_id))


def run_cancel(args, services) -> int:
    print("cancelled" if services.job_store.cancel(args.job_id) else f"job {args.job_id} is not running")
    return 0


def run_worker(args, services) -> int:
    if services.settings.jobs_backend == "celery":  # a Celery worker on the bulk queue, with the same batch processing
        from service.jobs.celery_queue import run_worker as run_celery_worker

        if args.until_idle:
            raise InputError("--until-idle needs JOBS_BACKEND=store: a Celery worker waits for the broker's tasks")
        return run_celery_worker(services.worker(), services.settings.jobs_broker_url, services.settings.jobs_timeout)
    worker = services.worker()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # finish the batch in hand, then exit
    print(f"{worker.name} working on {worker.store.where}", file=sys.stderr, flush=True)
    try:
        worker.run(stop, until_idle=args.until_idle)
    except KeyboardInterrupt:
        pass  # Ctrl-C stops the worker as SIGTERM does; its claims are given back below
    finally:
        worker.store.release_claims(worker.name)
    return 0


def run_as_job(services, path: Path, options: dict, progress=None) -> tuple[JobStore, str]:
    """Run a file as a durable job in this process (with the translator services has loaded); an unfinished job
    for the same file and options resumes."""
    from tqdm import tqdm

    store = services.job_store
    records = read_records(path, plain_text=False)
    job_id, created = store.create(records, options, owner="cli", repeats=repeats_rule(options))
    status = store.status(job_id)
    if not created:
        print(f"resuming job {job_id}: {status.done + status.failed} of {status.total} already done", file=sys.stderr)
    worker = services.worker(job_id=job_id)
    store.release_dead_local_claims()
    worker.resume_if_possible()
    with tqdm(
        total=status.total,
        initial=status.done + status.failed,
        unit="article",
        file=sys.stderr,
        disable=None if progress is None else not progress,
    ) as bar:
        while True:
            worked = worker.run_once()
            current = store.status(job_id)
            bar.update(current.done + current.failed - bar.n)
            if current.state == "paused":
                raise InputError(f"job {job_id} paused: {current.reason}; run the same command again to resume")
            if current.state not in ("queued", "running"):
                return store, job_id
            if not worked:
                time.sleep(IDLE_WAIT)  # another live worker holds the remaining items


def report_job(store: JobStore, job_id: str, indexing: bool) -> int:
    """Failed items as `line N: reason`, then a summary, on stderr; the exit status (1 if any failed)."""
    for line in store.errors(job_id):
        error = json.loads(line)
        print(f"line {error['line']}: {error['error']}", file=sys.stderr)
    status = store.status(job_id)
    if indexing:  # an indexing job's done items are indexed or found unchanged: counted as `ingest` counts them
        unchanged = sum(json.loads(line).get("outcome") == "unchanged" for line in store.results(job_id))
        print(
            f"indexed {status.done - unchanged}, unchanged {unchanged}, rejected {status.failed} (job {job_id})",
            file=sys.stderr,
        )
    else:
        print(f"translated {status.done}, rejected {status.failed} (job {job_id})", file=sys.stderr)
    return 1 if status.failed else 0
