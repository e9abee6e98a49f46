"""Client: submit, read and cancel tasks, emit events, from any Python program."""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any, Dict, Iterable, Mapping, Optional

from psycopg.types.json import Jsonb

from ._db import Pool
from .settings import ConnectionSettings
from .errors import SeedCoreError, invalid_input

PRIORITIES = ("critical", "high", "normal", "low")

# run_after is 'infinity' for a task suspended until an event or its children (no Python
# datetime can hold it): returned as None, with waiting_for saying what the task waits for.
TASK_COLUMNS = """id::text AS id, type, status::text AS status, params, result, error, attempts, description, domain,
  drift_score, queue, priority::text AS priority, max_attempts, timeout_seconds, dedup_key,
  CASE WHEN isfinite(run_after) THEN run_after END AS run_after, expires_at, waiting_for, parent_id::text AS parent_id,
  owner_id, lease_expires_at, created_at, updated_at"""

_LIVE = "('created', 'queued', 'running', 'retry')"


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise invalid_input(f"{field} must be a task id (uuid)", field=field, value=value) from None


class Client:
    """A connection to a SeedCore database (PostgreSQL server; PGlite is in-process and not reachable)."""

    def __init__(self, dsn: str, pool_size: int = 2, settings: Optional[ConnectionSettings] = None) -> None:
        """``settings``: timeouts and keepalive (default: seedcore.settings.resolve_settings(), i.e. the environment)."""
        self._pool = Pool(dsn, pool_size, "seedcore-python-client", settings)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(
        self,
        type: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        priority: str = "normal",
        queue: str = "default",
        run_after: Optional[_dt.datetime] = None,
        delay_seconds: Optional[float] = None,
        expires_at: Optional[_dt.datetime] = None,
        max_attempts: Optional[int] = None,
        timeout_seconds: Optional[float] = None,
        dedup_key: Optional[str] = None,
        description: Optional[str] = None,
        domain: Optional[str] = None,
        depends_on: Iterable[str] = (),
    ) -> Dict[str, Any]:
        """Create a task; returns its row. With ``dedup_key``, a live task with that key is returned instead."""
        if not isinstance(type, str) or not type.strip():
            raise invalid_input("type must be a non-empty string", field="type")
        if params is not None and not isinstance(params, Mapping):
            raise invalid_input("params must be a JSON object (a dict)", field="params")
        if priority not in PRIORITIES:
            raise invalid_input(f"priority must be one of {', '.join(PRIORITIES)}", field="priority")
        if not isinstance(queue, str) or not 1 <= len(queue) <= 200:
            raise invalid_input("queue must be a string of 1 to 200 characters", field="queue")
        if max_attempts is not None and (not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1):
            raise invalid_input("max_attempts must be an integer >= 1", field="max_attempts")
        if timeout_seconds is not None and not (isinstance(timeout_seconds, (int, float)) and timeout_seconds > 0):
            raise invalid_input("timeout_seconds must be a number > 0", field="timeout_seconds")
        if dedup_key is not None and (not isinstance(dedup_key, str) or not 1 <= len(dedup_key) <= 500):
            raise invalid_input("dedup_key must be a string of 1 to 500 characters", field="dedup_key")
        if delay_seconds is not None:
            if run_after is not None:
                raise invalid_input("give run_after or delay_seconds, not both", field="delay_seconds")
            run_after = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=float(delay_seconds))
        if run_after is not None and expires_at is not None and expires_at <= run_after:
            raise invalid_input("expires_at must be after run_after (the window would be empty)", field="expires_at")
        deps = [_uuid(d, "depends_on") for d in depends_on]
        with self._pool.connection() as conn, conn.transaction():
            status = "queued"
            if deps:
                # FOR SHARE: a dependency cannot end while the edges are added, so its
                # completion sees them and releases this task.
                rows = conn.execute(
                    "SELECT id::text AS id, status::text AS status FROM tasks WHERE id = ANY(%s::uuid[]) ORDER BY id FOR SHARE", (deps,)
                ).fetchall()
                found = {r["id"]: r["status"] for r in rows}
                missing = [d for d in deps if d not in found]
                if missing:
                    raise SeedCoreError("SEEDCORE_NOT_FOUND", f"dependency task(s) not found: {', '.join(missing)}", {"missing": missing})
                dead = [d for d in deps if found[d] in ("failed", "cancelled")]
                if dead:
                    raise SeedCoreError("SEEDCORE_CONFLICT", f"cannot depend on task(s) that ended failed or cancelled: {', '.join(dead)}")
                if any(found[d] != "completed" for d in deps):
                    status = "created"
            row = conn.execute(
                f"""INSERT INTO tasks (type, params, status, priority, queue, run_after, expires_at, max_attempts,
                                       timeout_seconds, dedup_key, description, domain)
                    VALUES (%s, %s, %s::taskstatus, %s::taskpriority, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN {_LIVE} DO NOTHING
                    RETURNING {TASK_COLUMNS}""",
                (
                    type,
                    Jsonb(dict(params or {})),
                    status,
                    priority,
                    queue,
                    run_after,
                    expires_at,
                    max_attempts,
                    timeout_seconds,
                    dedup_key,
                    description,
                    domain,
                ),
            ).fetchone()
            if row is None:
                existing = conn.execute(
                    f"SELECT {TASK_COLUMNS} FROM tasks WHERE dedup_key = %s AND status IN {_LIVE}", (dedup_key,)
                ).fetchone()
                if existing is None:
                    raise SeedCoreError("SEEDCORE_CONFLICT", "dedup_key contention: retry the submit")
                return dict(existing)
            if deps:
                conn.execute(
                    "INSERT INTO task_depends_on_task (src_task_id, dst_task_id) SELECT %s::uuid, d FROM unnest(%s::uuid[]) AS d ON CONFLICT DO NOTHING",
                    (row["id"], deps),
                )
            return dict(row)

    def get(self, task_id: str) -> Optional[Dict[str, Any]]:
        """The task's row, or None."""
        rows = self._pool.query(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s::uuid", (_uuid(task_id, "id"),))
        return dict(rows[0]) if rows else None

    def cancel(self, task_id: str, reason: str = "cancelled by request") -> bool:
        """Cancel a task that has not ended (and its waiting dependents); False if it had ended."""
        rows = self._pool.query("SELECT cancel_task(%s::uuid, %s) AS ok", (_uuid(task_id, "id"), reason))
        return bool(rows and rows[0]["ok"])

    def emit_event(self, name: str, payload: Any = None) -> bool:
        """Emit a named event (first emit wins). Needs the durable-runs functions in the database."""
        if not isinstance(name, str) or not name:
            raise invalid_input("event name must be a non-empty string", field="name")
        fn = self._pool.query("SELECT to_regproc('emit_task_event') IS NOT NULL AS ok")
        if not fn or not fn[0]["ok"]:
            raise SeedCoreError("SEEDCORE_UNAVAILABLE", "this database has no durable events (emit_task_event); apply the newer migrations")
        rows = self._pool.query("SELECT emit_task_event(%s, %s) AS ok", (name, Jsonb(payload)))
        return bool(rows and rows[0]["ok"])

    def wait(self, task_id: str, timeout: float = 30.0, poll: float = 0.05) -> Dict[str, Any]:
        """Poll until the task ended (completed, failed, cancelled); returns its row."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            row = self.get(task_id)
            if row is None:
                raise SeedCoreError("SEEDCORE_NOT_FOUND", f"task {task_id} not found")
            if row["status"] in ("completed", "failed", "cancelled"):
                return row
            if time.monotonic() > deadline:
                raise SeedCoreError("SEEDCORE_TIMEOUT", f"task {task_id} still {row['status']} after {timeout} s")
            time.sleep(poll)


__all__ = ["Client", "PRIORITIES"]
