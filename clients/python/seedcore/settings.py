"""Connection settings: each an argument, else an environment variable, else a default.

The same names, variables and defaults as the TypeScript library (src/db/settings.ts), so one
environment configures both, and ``DATABASE_URL`` pointing at a transaction-mode pooler
(PgBouncer, Supabase, Neon) works with nothing else set.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

from .errors import invalid_input

#: Defaults in milliseconds, as in the TypeScript library's CONNECTION_DEFAULTS.
DEFAULTS = {"query_timeout_ms": 60_000, "statement_timeout_ms": 0, "connect_timeout_ms": 10_000, "keepalive_ms": 10_000}

_ENV = {
    "query_timeout_ms": "SEEDCORE_QUERY_TIMEOUT_MS",
    "statement_timeout_ms": "SEEDCORE_STATEMENT_TIMEOUT_MS",
    "connect_timeout_ms": "SEEDCORE_CONNECT_TIMEOUT_MS",
    "keepalive_ms": "SEEDCORE_KEEPALIVE_MS",
}

@dataclass(frozen=True)
class ConnectionSettings:
    """What every connection of a Worker or Client uses.

    - ``query_timeout_ms``: client-side limit on waiting for a statement's reply (0 = none).
      It turns a dropped route during a statement into an error within seconds instead of
      TCP's ~15 minutes of retransmissions; the connection is then discarded (a write is
      retried on a new one). It covers every statement of the client, which sends no
      long-running maintenance statements.
      ``SEEDCORE_QUERY_TIMEOUT_MS``, default 60000.
    - ``statement_timeout_ms``: server-side ``statement_timeout``, sent as a startup option
      (0 = the server's own setting). PgBouncer refuses startup options it does not know
      unless listed in ``ignore_startup_parameters`` (and then ignores them): behind it,
      prefer ``ALTER ROLE … SET statement_timeout``. ``SEEDCORE_STATEMENT_TIMEOUT_MS``, default 0.
    - ``connect_timeout_ms``: how long opening a connection may take (libpq counts whole
      seconds, so it is rounded up). ``SEEDCORE_CONNECT_TIMEOUT_MS``, default 10000.
    - ``keepalive_ms``: TCP keepalive idle time before the first probe (0 = off); then a
      probe every 2 s, 3 unanswered ones drop the connection. ``SEEDCORE_KEEPALIVE_MS``,
      default 10000.
    - ``listen_url``: a direct (non-pooled) URL for the worker's LISTEN connection
      (transaction-mode poolers do not deliver notifications). ``SEEDCORE_LISTEN_URL``,
      default the database URL.
    """

    query_timeout_ms: int = DEFAULTS["query_timeout_ms"]
    statement_timeout_ms: int = DEFAULTS["statement_timeout_ms"]
    connect_timeout_ms: int = DEFAULTS["connect_timeout_ms"]
    keepalive_ms: int = DEFAULTS["keepalive_ms"]
    listen_url: Optional[str] = None

    def connect_kwargs(self) -> Dict[str, Any]:
        """psycopg.connect() keyword arguments (libpq parameters) for these settings."""
        kw: Dict[str, Any] = {}
        if self.connect_timeout_ms > 0:
            # libpq ignores values below 2 s (treats them as 2).
            kw["connect_timeout"] = max(2, math.ceil(self.connect_timeout_ms / 1000))
        if self.keepalive_ms > 0:
            kw.update(keepalives=1, keepalives_idle=max(1, math.ceil(self.keepalive_ms / 1000)), keepalives_interval=2, keepalives_count=3)
        else:
            kw["keepalives"] = 0
        if self.statement_timeout_ms > 0:
            kw["options"] = f"-c statement_timeout={self.statement_timeout_ms}"
        return kw


def _ms(name: str, value: Optional[int]) -> int:
    env = _ENV[name]
    if value is None:
        raw = os.environ.get(env, "").strip()
        if raw == "":
            return DEFAULTS[name]
        try:
            n = int(raw)
        except ValueError:
            n = -1
        if n < 0:
            raise invalid_input(f"{env} must be a whole number of milliseconds, 0 or more (got {raw!r})", field=env)
        return n
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_input(f"{name} must be a whole number of milliseconds, 0 or more (got {value!r})", field=name)
    return value


def resolve_settings(
    *,
    query_timeout_ms: Optional[int] = None,
    statement_timeout_ms: Optional[int] = None,
    connect_timeout_ms: Optional[int] = None,
    keepalive_ms: Optional[int] = None,
    listen_url: Optional[str] = None,
) -> ConnectionSettings:
    """Arguments over environment over defaults; a bad value is SEEDCORE_INVALID_INPUT naming the setting."""
    return ConnectionSettings(
        query_timeout_ms=_ms("query_timeout_ms", query_timeout_ms),
        statement_timeout_ms=_ms("statement_timeout_ms", statement_timeout_ms),
        connect_timeout_ms=_ms("connect_timeout_ms", connect_timeout_ms),
        keepalive_ms=_ms("keepalive_ms", keepalive_ms),
        listen_url=listen_url or os.environ.get("SEEDCORE_LISTEN_URL") or None,
    )
