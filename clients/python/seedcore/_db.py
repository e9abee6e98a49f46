"""Connections: a tiny thread-safe pool of autocommit psycopg connections."""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence

import psycopg
from psycopg.rows import dict_row

Row = Dict[str, Any]

# Errors after which a connection is not reused and a write may be retried: the server or the
# network went away (restart, failover, partition). Everything else is a real answer.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def connect(dsn: str, application_name: str = "seedcore-python") -> psycopg.Connection[Row]:
    # TCP keepalive so a silently dropped route is noticed within seconds, not minutes.
    return psycopg.connect(
        dsn,
        autocommit=True,
        row_factory=dict_row,
        application_name=application_name,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
        connect_timeout=10,
        prepare_threshold=None,  # no server-side prepared statements: safe behind PgBouncer
    )


class Pool:
    """Up to ``size`` connections shared by threads; a broken connection is replaced."""

    def __init__(self, dsn: str, size: int, application_name: str = "seedcore-python") -> None:
        self._dsn = dsn
        self._size = max(1, size)
        self._name = application_name
        self._idle: "queue.LifoQueue[psycopg.Connection[Row]]" = queue.LifoQueue()
        self._count = 0
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Row]]:
        conn = self._get()
        ok = False
        try:
            yield conn
            ok = True
        except CONNECTION_ERRORS:
            raise
        except Exception:
            ok = not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            raise
        finally:
            self._put(conn, ok)

    def query(self, sql: str, params: Optional[Sequence[Any]] = None) -> List[Row]:
        with self.connection() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def _get(self) -> psycopg.Connection[Row]:
        while True:
            if self._closed:
                raise RuntimeError("pool closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                grow = self._count < self._size
                if grow:
                    self._count += 1
            if grow:
                try:
                    return connect(self._dsn, self._name)
                except BaseException:
                    with self._lock:
                        self._count -= 1
                    raise
            try:
                # Short waits: a connection dropped by another thread frees a slot, not a queue entry.
                return self._idle.get(timeout=0.05)
            except queue.Empty:
                continue

    def _put(self, conn: psycopg.Connection[Row], ok: bool) -> None:
        if ok and not conn.closed and not self._closed:
            self._idle.put(conn)
            return
        try:
            conn.close()
        finally:
            with self._lock:
                self._count -= 1

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
