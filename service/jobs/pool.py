"""The job worker threads of one process, watched: a thread that ends while the pool runs is started again.

The pool is started explicitly where the process serves (gunicorn's post_worker_init hook, `serve
--dev`), never by building the app, so no thread claims items in a process that is about to exec.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from service.jobs.worker import Worker

log = logging.getLogger(__name__)
CHECK_EVERY = 1.0  # seconds between looks at the worker threads


class WorkerPool:
    def __init__(self, workers: Sequence[Worker], check_every: float = CHECK_EVERY):
        self.workers, self.check_every = list(workers), check_every
        self.restarts = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._supervisor: threading.Thread | None = None

    def start(self) -> WorkerPool:
        self._threads = [self._thread(worker) for worker in self.workers]
        self._supervisor = threading.Thread(target=self._watch, name="job-worker-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop after its batch, wait up to timeout, and give back what they still hold."""
        self._stop.set()
        for thread in [self._supervisor, *self._threads]:
            if thread is not None:
                thread.join(timeout)
        for worker in self.workers:
            try:
                worker.store.release_claims(worker.name)
            except Exception:
                log.exception("could not give back the claims of %s; they wait for the lease", worker.name)

    def running(self) -> int:
        """How many worker threads are alive."""
        return sum(thread.is_alive() for thread in self._threads)

    @property
    def healthy(self) -> bool:
        """Every worker thread runs, and so does the supervisor that restarts them."""
        supervised = self._supervisor is not None and self._supervisor.is_alive()
        return supervised and not self._stop.is_set() and self.running() == len(self.workers)

    def _thread(self, worker: Worker) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(worker,), name=f"job-worker-{worker.name}", daemon=True)
        thread.start()
        return thread

    def _run(self, worker: Worker) -> None:
        try:
            worker.run(self._stop)
        except BaseException:  # logged here; the supervisor starts it again
            log.exception("job worker %s died", worker.name)

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every):
            for index, thread in enumerate(self._threads):
                if not (thread.is_alive() or self._stop.is_set()):
                    try:
                        self._restart(index)
                    except Exception:  # try again on the next look; /readyz says 503 meanwhile
                        log.exception("could not restart job worker %s", self.workers[index].name)

    def _restart(self, index: int) -> None:
        worker = self.workers[index]
        log.error("job worker %s stopped; starting it again", worker.name)
        worker.store.release_claims(worker.name)  # its process lives on, so no one else would free them
        self._threads[index] = self._thread(worker)
        self.restarts += 1
