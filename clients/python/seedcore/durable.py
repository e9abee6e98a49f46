"""Durable steps, sleeps, events and child tasks, on the stored functions of migration 018.

Replay model (the same as the TypeScript handler API): a resumed or retried task runs its
handler again from the top. Completed steps return their stored result without running; code
outside steps runs again. Step identity is the name plus its occurrence: the second
``ctx.step("fetch", …)`` of one execution is stored as ``fetch#2``, so a loop may reuse a name
as long as it makes its calls in the same order on every execution. Sleeps and spawns are
numbered the same way (``$sleep#1``, ``$spawn#1``, …); step names cannot start with ``$``.

Suspending (a sleep that has not ended, an event not yet emitted, children still running)
raises :class:`TaskSuspended`: let it propagate. It derives from BaseException so that a
handler's ``except Exception`` does not swallow it.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

from psycopg.types.json import Jsonb

from ._db import Pool
from .errors import SeedCoreError, invalid_input

T = TypeVar("T")

MAX_NAME = 400
PRIORITIES = ("critical", "high", "normal", "low")


class TaskSuspended(BaseException):
    """The task now waits in the database; the worker writes no outcome and frees the slot."""

    def __init__(self, task_id: str, waiting_for: str) -> None:
        super().__init__(f"task {task_id} suspended ({waiting_for})")
        self.task_id = task_id
        self.waiting_for = waiting_for


def _name(what: str, name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise invalid_input(f"{what} must be a string of 1 to {MAX_NAME} characters")
    return name


def _json(what: str, value: Any) -> Any:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as e:
        raise invalid_input(f"{what} is not JSON-serialisable: {e}") from None
    if "\\u0000" in text:
        raise invalid_input(f"{what} contains \\u0000, which PostgreSQL jsonb cannot store")
    return value


class Durable:
    """One per execution; reached through the handler's ctx."""

    def __init__(self, pool: Pool, task_id: str, owner: str) -> None:
        self._pool = pool
        self._task_id = task_id
        self._owner = owner
        self._checkpoints: Optional[Dict[str, Any]] = None
        self._seen: Dict[str, int] = {}

    def _occurrence(self, base: str) -> str:
        n = self._seen.get(base, 0) + 1
        self._seen[base] = n
        return base if n == 1 else f"{base}#{n}"

    def _lost(self, what: str) -> SeedCoreError:
        return SeedCoreError(
            "SEEDCORE_CONFLICT",
            f"{what}: task {self._task_id} is no longer running under {self._owner} (lease lost or cancelled); nothing was stored",
            {"taskId": self._task_id, "owner": self._owner},
        )

    def _call(self, sql: str, params: Sequence[Any]) -> Any:
        rows = self._pool.query(sql, params)
        return rows[0]["r"] if rows else None

    def step(self, name: str, fn: Callable[[], T]) -> T:
        _name("step name", name)
        if name.startswith("$"):
            raise invalid_input("step names cannot start with $ (reserved for sleeps and spawns)")
        key = self._occurrence(name)
        if self._checkpoints is None:
            # One read per execution: every stored step of the task, at the first step.
            rows = self._pool.query("SELECT name, result FROM task_checkpoints WHERE task_id = %s::uuid", (self._task_id,))
            self._checkpoints = {r["name"]: r["result"] for r in rows}
        if key in self._checkpoints:
            return self._checkpoints[key]  # type: ignore[no-any-return]
        value = _json(f"step {key}'s result", fn())
        # SQL NULL means "not ours"; a step that returned None stores JSON null, which is not
        # SQL NULL (both reach Python as None, hence the IS NULL column).
        saved = self._pool.query(
            "SELECT r, r IS NULL AS lost FROM save_task_checkpoint(%s::uuid, %s, %s, %s) AS r", (self._task_id, self._owner, key, Jsonb(value))
        )
        if not saved or saved[0]["lost"]:
            raise self._lost(f"step {key}")
        result = saved[0]["r"]
        self._checkpoints[key] = result
        # The stored JSON, not the live value: a replay returns exactly what this call returns.
        return result  # type: ignore[no-any-return]

    def sleep_for(self, seconds: float) -> None:
        if not isinstance(seconds, (int, float)) or seconds < 0 or seconds != seconds:
            raise invalid_input("sleep_for: seconds must be a finite number >= 0")
        self._sleep(float(seconds), None)

    def sleep_until(self, when: _dt.datetime) -> None:
        if not isinstance(when, _dt.datetime) or when.tzinfo is None:
            raise invalid_input("sleep_until: expected a timezone-aware datetime")
        self._sleep(None, when)

    def _sleep(self, seconds: Optional[float], until: Optional[_dt.datetime]) -> None:
        key = self._occurrence("$sleep")
        r = self._call("SELECT sleep_task(%s::uuid, %s, %s, %s, %s) AS r", (self._task_id, self._owner, key, seconds, until))
        if r is None:
            raise self._lost("sleep")
        if r.get("status") == "suspended":
            raise TaskSuspended(self._task_id, "sleep")

    def await_event(self, name: str, timeout: Optional[float] = None) -> Any:
        _name("event name", name)
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise invalid_input("await_event: timeout must be a finite number >= 0")
        r = self._call("SELECT await_task_event(%s::uuid, %s, %s, %s) AS r", (self._task_id, self._owner, name, timeout))
        if r is None:
            raise self._lost(f"await_event {name}")
        if r["status"] == "emitted":
            return r.get("payload")
        if r["status"] == "timeout":
            raise SeedCoreError("SEEDCORE_EVENT_TIMEOUT", f"event '{name}' was not emitted within {timeout or 0} s", {"event": name, "timeoutSeconds": timeout})
        raise TaskSuspended(self._task_id, f"event:{name}")

    def spawn(
        self,
        type: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        queue: Optional[str] = None,
        priority: Optional[str] = None,
        max_attempts: Optional[int] = None,
        timeout_seconds: Optional[float] = None,
        description: Optional[str] = None,
        domain: Optional[str] = None,
    ) -> str:
        _name("task type", type)
        if params is not None and not isinstance(params, Mapping):
            raise invalid_input("spawn: params must be a dict")
        opts: Dict[str, Any] = {}
        if queue is not None:
            opts["queue"] = _name("queue", queue)
        if priority is not None:
            if priority not in PRIORITIES:
                raise invalid_input(f"priority must be one of {', '.join(PRIORITIES)}")
            opts["priority"] = priority
        if max_attempts is not None:
            if not isinstance(max_attempts, int) or max_attempts < 1:
                raise invalid_input("max_attempts must be an integer >= 1")
            opts["maxAttempts"] = max_attempts
        if timeout_seconds is not None:
            if not isinstance(timeout_seconds, (int, float)) or timeout_seconds <= 0:
                raise invalid_input("timeout_seconds must be a positive number")
            opts["timeoutSeconds"] = timeout_seconds
        if description is not None:
            opts["description"] = str(description)
        if domain is not None:
            opts["domain"] = str(domain)
        key = self._occurrence("$spawn")
        r = self._call(
            "SELECT spawn_child_task(%s::uuid, %s, %s, %s, %s, %s)::text AS r",
            (self._task_id, self._owner, key, type, Jsonb(_json("spawn params", dict(params or {}))), Jsonb(opts)),
        )
        if r is None:
            raise self._lost(f"spawn {type}")
        return str(r)

    def await_tasks(self, ids: Sequence[str]) -> List[Any]:
        if not isinstance(ids, (list, tuple)) or any(not isinstance(i, str) for i in ids):
            raise invalid_input("await_tasks: expected a list of task ids")
        if not ids:
            return []
        r = self._call("SELECT await_child_tasks(%s::uuid, %s, %s::uuid[]) AS r", (self._task_id, self._owner, list(ids)))
        if r is None:
            raise self._lost("await_tasks")
        status = r["status"]
        if status == "completed":
            return list(r["results"])
        if status == "failed":
            err = f": {r['error']}" if r.get("error") else ""
            raise SeedCoreError(
                "SEEDCORE_CHILD_FAILED",
                f"child task {r['child']} {r['child_status']}{err}",
                {"childId": r["child"], "status": r["child_status"], "error": r.get("error")},
            )
        if status == "invalid":
            raise invalid_input(f"await_tasks: {r['child']} is not a child task of {self._task_id} (spawn it with ctx.spawn)", childId=r["child"])
        raise TaskSuspended(self._task_id, f"tasks:{r.get('pending')}")
