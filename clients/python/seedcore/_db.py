"""Connections: a tiny thread-safe pool of autocommit psycopg connections."""

from __future__ import annotations

import queue
import select
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, TypeVar, cast

import psycopg
from psycopg.abc import PQGen
from psycopg.rows import dict_row
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_W

from .settings import ConnectionSettings, resolve_settings

Row = Dict[str, Any]
RV = TypeVar("RV")


class ReplyTimeout(psycopg.OperationalError):
    """No reply within ``query_timeout_ms``: the connection was closed (a connection-class error, so writes retry)."""


# Errors after which a connection is not reused and a write may be retried: the server or the
# network went away (restart, failover, partition, a reply timeout). Everything else is a real
# answer (a constraint, a cancelled statement, bad input) and is not retried.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class _Connection(psycopg.Connection[Row]):
    """A connection whose every statement waits at most ``reply_timeout`` seconds for its reply."""

    reply_timeout: Optional[float] = None
    reply_timeout_ms: int = 0

    def wait(self, gen: PQGen[RV], timeout: Optional[float] = 0.1) -> RV:
        limit = self.reply_timeout
        if limit is None:
            return super().wait(gen, timeout)
        # psycopg's own loop (psycopg.waiting.wait_select) with a deadline: a statement whose
        # reply does not come (dropped route, hung server) fails instead of waiting for TCP.
        deadline = time.monotonic() + limit
        fileno = self.pgconn.socket
        try:
            s = next(gen)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    raise ReplyTimeout(
                        f"no reply from the database within {self.reply_timeout_ms} ms (SEEDCORE_QUERY_TIMEOUT_MS); the connection was discarded"
                    )
                rl, wl, _ = select.select([fileno] if s & WAIT_R else [], [fileno] if s & WAIT_W else [], [fileno], left)
                ready = (READY_R if rl else 0) | (READY_W if wl else 0)
                if ready:
                    s = gen.send(cast(Any, ready))
        except StopIteration as ex:
            return cast(RV, ex.args[0] if ex.args else None)


def connect(dsn: str, application_name: str = "seedcore-python", settings: Optional[ConnectionSettings] = None) -> psycopg.Connection[Row]:
    """An autocommit connection with the settings' timeouts and TCP keepalive (a dropped route is noticed in seconds)."""
    st = settings if settings is not None else resolve_settings()
    conn = cast(_Connection, _Connection.connect(
        dsn,
        autocommit=True,
        row_factory=dict_row,
        application_name=application_name,
        prepare_threshold=None,  # no server-side prepared statements: safe behind PgBouncer
        **st.connect_kwargs(),
    ))
    if st.query_timeout_ms > 0:
        conn.reply_timeout = st.query_timeout_ms / 1000
        conn.reply_timeout_ms = st.query_timeout_ms
    return conn


class Pool:
    """Up to ``size`` connections shared by threads; a broken connection is replaced."""

    def __init__(self, dsn: str, size: int, application_name: str = "seedcore-python", settings: Optional[ConnectionSettings] = None) -> None:
        self._dsn = dsn
        self.settings = settings if settings is not None else resolve_settings()
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
                    return connect(self._dsn, self._name, self.settings)
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
