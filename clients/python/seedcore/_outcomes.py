"""Batched outcome writing: handlers finish one by one; their outcomes are queued and written
set-wise by one thread (everything that finished while the previous write was in flight goes in
the next statement), so under load one round trip carries many outcomes and when idle a single
outcome is written at once. Each row is still a compare-and-set through complete_task /
fail_task / release_task."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from psycopg.types.json import Jsonb

from ._db import CONNECTION_ERRORS, Pool

log = logging.getLogger("seedcore.worker")

BATCH = 500


@dataclass
class Outcome:
    task_id: str
    owner: str
    kind: str  # complete | fail | release
    value: Any = None
    max_attempts: int = 3
    #: monotonic time of the last lease renewal the database accepted for this task
    renewed_at: Callable[[], float] = time.monotonic


class OutcomeWriter:
    """``on_written(task_id, kind, status)``: status is True/False (complete, release), the new status or None (fail)."""

    def __init__(self, pool: Pool, lease_seconds: float, on_written: Callable[[str, str, Any], None], writers: int = 2) -> None:
        self._pool = pool
        self._lease = lease_seconds
        self._on_written = on_written
        self._q: "queue.Queue[Optional[Outcome]]" = queue.Queue()
        # Two writers by default: a new batch need not wait for the previous one's round trip.
        self._threads = [threading.Thread(target=self._run, name=f"seedcore-outcomes-{i}", daemon=True) for i in range(max(1, writers))]
        for th in self._threads:
            th.start()

    def put(self, o: Outcome) -> None:
        self._q.put(o)

    def close(self) -> None:
        """Write everything queued, then stop."""
        for _ in self._threads:
            self._q.put(None)
        for th in self._threads:
            th.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            batch: List[Outcome] = []
            if first is None:
                stop = True
            else:
                batch.append(first)
            while len(batch) < BATCH:
                try:
                    o = self._q.get_nowait()
                except queue.Empty:
                    break
                if o is None:
                    # Another writer's stop sentinel too: put it back for that writer.
                    self._q.put(None)
                    stop = True
                    break
                batch.append(o)
            if batch:
                self._write(batch)

    def _write(self, batch: List[Outcome]) -> None:
        by: Dict[Tuple[str, str], List[Outcome]] = {}
        for o in batch:
            by.setdefault((o.kind, o.owner), []).append(o)
        for (kind, owner), group in by.items():
            attempt = 0
            while group:
                try:
                    for task_id, status in self._statement(kind, owner, group):
                        self._on_written(task_id, kind, status)
                    break
                except CONNECTION_ERRORS as e:
                    attempt += 1
                    # Keep retrying while the lease may still be ours: once a full lease has passed
                    # since the last accepted renewal, another worker may own the task.
                    now = time.monotonic()
                    gone = [o for o in group if now - o.renewed_at() > self._lease]
                    for o in gone:
                        log.warning("outcome of task %s not written (lease certainly lost): %s", o.task_id, e)
                        self._on_written(o.task_id, "lost", None)
                    group = [o for o in group if o not in gone]
                    time.sleep(min(2.0, 0.05 * 2**attempt))
                except Exception as e:  # noqa: BLE001 - a bad row must not stop the writer
                    log.error("outcome write failed: %s", e)
                    for o in group:
                        self._on_written(o.task_id, "lost", None)
                    break

    def _statement(self, kind: str, owner: str, group: List[Outcome]) -> List[Tuple[str, Any]]:
        ids = [o.task_id for o in group]
        if kind == "complete":
            written = {
                r["id"] for r in self._pool.query("SELECT id::text AS id FROM complete_tasks(%s, %s) AS id", (owner, Jsonb({o.task_id: o.value for o in group})))
            }
            return [(i, i in written) for i in ids]
        elif kind == "fail":
            rows = self._pool.query(
                "SELECT u.id::text AS id, fail_task(u.id, %s, u.e, NULL, u.m) AS r FROM unnest(%s::uuid[], %s::text[], %s::int[]) AS u(id, e, m)",
                (owner, ids, [str(o.value)[:10000] for o in group], [o.max_attempts for o in group]),
            )
        else:
            rows = self._pool.query("SELECT u.id::text AS id, release_task(u.id, %s) AS r FROM unnest(%s::uuid[]) AS u(id)", (owner, ids))
        return [(r["id"], r["r"]) for r in rows]
