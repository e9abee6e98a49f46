"""Tests run against a fresh, migrated PostgreSQL database named by SEEDCORE_TEST_DATABASE_URL
(test/protocol-python.test.ts creates one and runs pytest; the Python client cannot reach PGlite)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import psycopg
import pytest
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seedcore import Worker  # noqa: E402


@pytest.fixture(scope="session")
def dsn() -> str:
    url = os.environ.get("SEEDCORE_TEST_DATABASE_URL")
    if not url:
        pytest.skip("SEEDCORE_TEST_DATABASE_URL is not set (run through test/protocol-python.test.ts)")
    return url


@pytest.fixture()
def db(dsn: str) -> Iterator[psycopg.Connection[Dict[str, Any]]]:
    conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
    conn.execute("DELETE FROM tasks; DELETE FROM queue_limits; DELETE FROM registry_instance")
    yield conn
    conn.close()


class Running:
    """A Worker running in a background thread; stop() drains it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "worker did not stop"


@pytest.fixture()
def start_worker(dsn: str) -> Iterator[Callable[..., Running]]:
    started: List[Running] = []

    def start(handlers: Dict[str, Any], **kw: Any) -> Running:
        kw.setdefault("poll_interval", 0.05)
        r = Running(Worker(dsn, handlers, **kw))
        started.append(r)
        return r

    yield start
    for r in started:
        if r.thread.is_alive():
            r.stop()


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
