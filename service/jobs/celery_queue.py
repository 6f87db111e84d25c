"""The job fleet on Celery with RabbitMQ (JOBS_BACKEND=celery): one task per batch of a job's items.

The job store on PostgreSQL keeps what it keeps with any back end (jobs, items, results, errors), so progress,
ETA, cancel and the queue-depth metric read it as before; the broker only carries which batch to work on. On
submit, the store's dispatch (CeleryDispatch) splits a job's items into batches of JOB_BATCH_ITEMS and publishes
one task per batch (job id, seqs), with publisher confirms, to the durable `bulk` queue, never the default one:
interactive translation is never queued behind bulk work.

A task claims its items in the store under its worker's name, translates (and indexes) them with Worker's batch
processing, and commits them (the result and the done mark in one transaction, only while the item is still this
worker's), so a redelivered batch cannot store a result twice. Tasks are acknowledged late and rejected when their
worker dies, and each worker takes one at a time: a worker killed mid-batch has its batch redelivered; the new
task waits (a retry with a countdown) until the dead worker's lease on the items runs out. Items no longer runnable
(done, cancelled) are skipped. On an OpenSearch outage the task gives its items back with the reason (the job is
paused) and retries with a growing countdown; the job resumes when the cluster answers.
"""

from __future__ import annotations

import logging
import sys

from celery import Celery, Task
from kombu import Connection, Queue
from kombu.exceptions import KombuError

from service.errors import JobsUnavailable
from service.jobs.store import JobDispatch, JobStore
from service.jobs.worker import Worker

log = logging.getLogger(__name__)
BULK_QUEUE = "bulk"
TASK_NAME = "service.jobs.run_batch"
FIRST_COUNTDOWN, MAX_COUNTDOWN = 1.0, 30.0  # seconds before a batch is tried again, doubling while it repeats
# A submission's publish tries one new connection after a dropped one (a broker restart), not Celery's three:
# against a broker that does not answer, each try waits the timeout again.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


class BatchTask(Task):
    """The batch task's class: its worker is the process's Worker (its model loaded once), given to make_app where
    the process consumes the queue (run_worker); a process that only publishes has none."""

    worker: Worker | None = None


def make_app(broker_url: str, timeout: float, worker: Worker | None = None) -> Celery:
    """A Celery app on the broker, with the batch task registered (run by worker) and routed to the bulk queue;
    connecting to the broker (the AMQP handshake included) and waiting for a free connection take at most timeout
    seconds each."""
    app = Celery("service.jobs", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_queues=(Queue(BULK_QUEUE, routing_key=BULK_QUEUE, durable=True),),
        task_routes={TASK_NAME: {"queue": BULK_QUEUE, "routing_key": BULK_QUEUE}},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"confirm_publish": True},  # a published batch is on the broker's disk
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits out a broker outage
        broker_connection_timeout=timeout,
        broker_pool_acquire_timeout=timeout,
        worker_hijack_root_logger=False,
    )
    app.task(
        name=TASK_NAME,
        base=BatchTask,
        worker=worker,  # set on the task's class, as Celery does with a decorator's extra options
        shared=False,  # this app's own task: a shared one would carry the first app's worker to every later app
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=None,
        ignore_result=True,
    )(run_batch)
    return app


class CeleryDispatch(JobDispatch):
    """Publishes one task per batch of each new job to the bulk queue (the jobs stay in the PostgreSQL store)."""

    def __init__(self, broker_url: str, batch_items: int, timeout: float):
        self.broker_url, self.batch_items, self.timeout = broker_url, batch_items, timeout
        self._app: Celery | None = None

    def job_submitted(self, store: JobStore, job_id: str, created: bool) -> None:
        """Publish the job's batches; the same job submitted again is published again until a worker has started
        it (its first publication may have met the broker down). Extra tasks are harmless: they find their items
        taken or done."""
        status = store.status(job_id)
        if created or (status.state == "queued" and status.started is None):
            self.publish(store, job_id)

    def publish(self, store: JobStore, job_id: str) -> int:
        """One task per batch of the job's runnable items; the number of tasks. JobsUnavailable when the broker
        cannot be reached: the job stays stored, and submitting it again publishes it."""
        if self._app is None:
            self._app = make_app(self.broker_url, self.timeout)
        seqs = store.queued_seqs(job_id)
        batches = [seqs[i : i + self.batch_items] for i in range(0, len(seqs), self.batch_items)]
        try:
            for batch in batches:
                self._app.send_task(
                    TASK_NAME,
                    args=(job_id, batch),
                    queue=BULK_QUEUE,
                    routing_key=BULK_QUEUE,
                    timeout=self.timeout,
                    confirm_timeout=self.timeout,  # a broker that takes the message but never confirms it (frozen)
                    retry_policy=PUBLISH_RETRY,
                )
        except (KombuError, OSError) as error:
            raise JobsUnavailable(
                f"job {job_id} is stored, but the job queue's broker could not be reached to queue it ({error}); "
                "submit it again once the broker is back"
            ) from None
        return len(batches)

    def health(self) -> dict[str, bool]:
        return {"jobs_broker": self._broker_answers()}

    def _broker_answers(self) -> bool:
        """Whether the broker takes a connection (the AMQP handshake included) within the timeout."""
        try:
            with Connection(self.broker_url, connect_timeout=self.timeout) as connection:
                connection.ensure_connection(max_retries=0)  # connect() retries once after a 2 s back-off
        except Exception:  # any failure to reach the broker means "not ready", never a 500
            return False
        return True


def run_batch(task, job_id: str, seqs: list[int]) -> int:
    """The task: claim, translate (and index) and commit the batch's runnable items; the number stored."""
    worker = task.worker
    if worker is None:
        raise RuntimeError("no job worker in this process: start it with `python -m service jobs worker`")
    countdown = min(MAX_COUNTDOWN, FIRST_COUNTDOWN * 2**task.request.retries)
    try:
        worker.resume_if_possible()  # a job paused by an outage runs again once the cluster answers
        stored, reason, waiting = 0, None, True
        while waiting and reason is None:  # items a worker died on are claimed one at a time
            items, waiting = worker.store.claim_items(worker.name, job_id, seqs)
            if not items:
                break
            reason = worker.process_claimed(job_id, items)
            stored += len(items)
        state = worker.store.status(job_id)
    except Exception as error:  # the store is unreachable, say: try the batch again later
        log.warning("job %s: batch of %d items failed (%s); again in %.0f s", job_id, len(seqs), error, countdown)
        raise task.retry(exc=error, countdown=countdown) from error
    if reason is not None or waiting or (state is not None and state.state == "paused"):
        # paused (an outage), or a dead worker's lease still holds some items: not lost, only not yet runnable
        raise task.retry(countdown=countdown)
    return stored


def run_worker(worker: Worker, broker_url: str, timeout: float) -> int:
    """A Celery worker consuming the bulk queue, one batch at a time, in this process, each batch run by worker."""
    app = make_app(broker_url, timeout, worker)
    print(f"{worker.name} working on {worker.store.where} via the {BULK_QUEUE} queue", file=sys.stderr, flush=True)
    try:
        app.worker_main(
            [
                "worker",
                "--pool=solo",
                "--concurrency=1",
                f"--queues={BULK_QUEUE}",
                f"--hostname={worker.name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ]
        )
    finally:
        worker.store.release_claims(worker.name)
    return 0
