"""Bulk jobs: a durable SQLite store of jobs and items, and workers that claim and process items."""
