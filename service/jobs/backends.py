"""The job back ends, chosen and composed from the settings: above store.py, which knows none of them.

SQLite at JOBS_DB, the embedded default; PostgreSQL at JOBS_DATABASE_URL, shared by every host; with
JOBS_BACKEND=celery, the PostgreSQL store whose dispatch publishes each new job's batches to the broker.
"""

from __future__ import annotations

from service.jobs.store import POLLING, JobDispatch, JobStore, SqliteJobStore


def open_job_store(settings) -> JobStore:
    """The job store the settings name, with the dispatch that tells its workers of new jobs."""
    if settings.jobs_database_url:
        from service.jobs.store_pg import PostgresJobStore  # psycopg is needed only then

        return PostgresJobStore(
            settings.jobs_database_url,
            settings.job_lease_seconds,
            settings.job_item_max_attempts,
            settings.jobs_timeout,
            dispatch=_dispatch(settings),
        )
    return SqliteJobStore(settings.jobs_db, settings.job_lease_seconds, settings.job_item_max_attempts)


def _dispatch(settings) -> JobDispatch:
    if settings.jobs_backend == "celery":
        from service.jobs.celery_queue import CeleryDispatch  # celery is needed only then

        return CeleryDispatch(settings.jobs_broker_url, settings.job_batch_items, settings.jobs_timeout)
    return POLLING
