"""Worker: run SeedCore tasks in Python threads, through the SQL worker protocol (migration 020).

Guarantees (the same as the TypeScript worker's): a task runs under a lease that this worker
renews every ``heartbeat_seconds``; every outcome is a compare-and-set on (task, owner,
running), so a worker that lost its lease or whose task was cancelled changes nothing;
attempts are counted by the claim and bounded by ``max_attempts``; a crashed worker's tasks
are recovered by any other worker once its lease expires or its registry instance is dead.

Timing contract (defaults, lease 30 s): renewal every min(5, lease/3) s; when renewals fail
for 2/3 of the lease (monotonic clock) or the registry heartbeat has not been accepted for the
liveness window minus a margin, the worker fences itself: it stops claiming and sets
``ctx.cancelled`` on every running handler, before any other worker may take the tasks over
(lease expiry or owner-dead recovery, both judged on the database clock).

Run it: ``python3 -m seedcore.worker --handlers path/to/handlers.py`` (reads DATABASE_URL).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import select
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence


from ._db import CONNECTION_ERRORS, Pool, connect
from .settings import ConnectionSettings, resolve_settings
from ._outcomes import Outcome, OutcomeWriter
from .durable import Durable, TaskSuspended
from .errors import PermanentError, invalid_input
from .registry import Membership
from .tasks import Task

log = logging.getLogger("seedcore.worker")


class TaskContext:
    """What a handler gets besides the task: cancellation, lease renewal, a logger."""

    def __init__(self, worker: "Worker", task: Task, owner: str) -> None:
        self._worker = worker
        self.task = task
        self.owner = owner
        #: Set when the task was cancelled, its lease was lost, it timed out, or the worker shuts down.
        self.cancelled = threading.Event()
        #: Why ``cancelled`` was set (first reason wins).
        self.cancel_reason: Optional[str] = None
        self.logger = logging.getLogger(f"seedcore.task.{task.type}")
        self._last_renewed = time.monotonic()
        self._lock = threading.Lock()
        self._durable: Optional[Durable] = None

    @property
    def durable(self) -> Durable:
        """Steps, sleeps, events and child tasks (migration 018); see seedcore.durable for the replay model."""
        if self._durable is None:
            self._durable = Durable(self._worker._pool, self.task.id, self.owner)
        return self._durable

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` once per task: a later execution gets the stored (JSON) result without calling it."""
        return self.durable.step(name, fn)

    def sleep_for(self, seconds: float) -> None:
        """Suspend the task durably (the slot is freed); it resumes after ``seconds`` on any worker."""
        self.durable.sleep_for(seconds)

    def sleep_until(self, when: Any) -> None:
        self.durable.sleep_until(when)

    def await_event(self, name: str, timeout: Optional[float] = None) -> Any:
        """The payload of event ``name`` (emitted before or after); SeedCoreError SEEDCORE_EVENT_TIMEOUT on timeout."""
        return self.durable.await_event(name, timeout)

    def spawn(self, type: str, params: Optional[Mapping[str, Any]] = None, **options: Any) -> str:
        """Create a child task (the same one when the handler runs again); returns its id."""
        return self.durable.spawn(type, params, **options)

    def await_tasks(self, ids: Sequence[str]) -> List[Any]:
        """The children's results in order, once all completed; SEEDCORE_CHILD_FAILED when one failed."""
        return self.durable.await_tasks(ids)

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.cancel_reason is None:
                self.cancel_reason = reason
        self.cancelled.set()

    def heartbeat(self) -> bool:
        """Renew this task's lease now; False (and ``cancelled`` set) when the task is no longer ours."""
        sent = time.monotonic()
        rows = self._worker._pool.query(
            "SELECT id FROM renew_task_leases(%s, ARRAY[%s::uuid], %s) AS id", (self.owner, self.task.id, self._worker.lease_seconds)
        )
        if rows:
            self._last_renewed = sent
            return True
        self.cancel("lease lost or task cancelled")
        return False


Handler = Callable[[Task, TaskContext], Any]


class Worker:
    """A pool of ``concurrency`` threads running ``handlers[task.type](task, ctx)``."""

    def __init__(
        self,
        dsn: str,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 8,
        prefetch: Optional[int] = None,
        queues: Sequence[str] = ("default",),
        lease_seconds: float = 30.0,
        heartbeat_seconds: Optional[float] = None,
        max_attempts: int = 3,
        aging_seconds: float = 300.0,
        poll_interval: float = 0.5,
        recovery_interval: Optional[float] = None,
        shutdown_grace: float = 10.0,
        logical_id: str = "dispatcher",
        registry_heartbeat_seconds: float = 3.0,
        types: Optional[Sequence[str]] = None,
        listen: bool = True,
        settings: Optional[ConnectionSettings] = None,
    ) -> None:
        if not isinstance(handlers, Mapping) or not handlers:
            raise invalid_input("handlers must be a non-empty dict of task type -> function")
        for t, fn in handlers.items():
            if not callable(fn):
                raise invalid_input(f"handler for {t!r} is not callable")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise invalid_input("concurrency must be an integer >= 1")
        if not queues or any(not isinstance(q, str) or not q for q in queues):
            raise invalid_input("queues must be a non-empty list of queue names")
        if not lease_seconds > 0:
            raise invalid_input("lease_seconds must be > 0")
        hb = heartbeat_seconds if heartbeat_seconds is not None else min(5.0, lease_seconds / 3)
        if not 0 < hb < lease_seconds:
            raise invalid_input("heartbeat_seconds must be > 0 and shorter than lease_seconds")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise invalid_input("max_attempts must be an integer >= 1")
        self.types = list(types) if types is not None else list(handlers)
        for t in self.types:
            if t not in handlers:
                raise invalid_input(f"no handler for type {t!r}")
        #: Timeouts, keepalive and the listen URL (seedcore.settings; environment variables as in the TypeScript library).
        self.settings = settings if settings is not None else resolve_settings()
        self.dsn = dsn
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        #: Tasks claimed ahead of free threads (leased, handed back unstarted on shutdown).
        self.prefetch = concurrency if prefetch is None else max(0, int(prefetch))
        self.queues = list(queues)
        self.lease_seconds = float(lease_seconds)
        self.heartbeat_seconds = float(hb)
        self.max_attempts = max_attempts
        self.aging_seconds = float(aging_seconds)
        self.poll_interval = float(poll_interval)
        self.recovery_interval = float(recovery_interval if recovery_interval is not None else min(5.0, lease_seconds / 2))
        self.shutdown_grace = float(shutdown_grace)
        self.logical_id = logical_id
        self.registry_heartbeat_seconds = float(registry_heartbeat_seconds)
        self.listen = listen
        #: Renewals failing for this long (monotonic) fence the worker; well before the lease expires.
        self.self_fence_after = self.lease_seconds * 2 / 3
        self.completed = 0
        self.failed = 0
        self.lost = 0
        self.suspended = 0
        self._pool = Pool(dsn, concurrency + 5, "seedcore-python-worker", self.settings)
        self._writer: Optional[OutcomeWriter] = None
        self._running: Dict[str, TaskContext] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Event()  # every handler has ended: lease renewal stops
        self._paused = threading.Event()  # claiming paused (fenced / lease unrenewable)
        self._owner: Optional[str] = None
        self._membership: Optional[Membership] = None
        self._threads: List[threading.Thread] = []
        self._last_renew_ok = time.monotonic()
        #: Set once the notification listener is subscribed (cancels then arrive at once).
        self.listening = threading.Event()

    # -- public ---------------------------------------------------------------------------

    @property
    def instance_id(self) -> Optional[str]:
        """The registry instance id tasks are claimed as (changes after fencing)."""
        return self._owner

    def stop(self) -> None:
        """Stop claiming and drain: running handlers finish (cancelled after ``shutdown_grace``)."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Register, claim and run tasks until stop() (or SIGTERM/SIGINT in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        self._membership = Membership(
            self._pool,
            self.logical_id,
            heartbeat_base=self.registry_heartbeat_seconds,
            heartbeat_jitter=self.registry_heartbeat_seconds * 2 / 3,
            on_fenced=self._on_fenced, on_registered=self._on_registered)
        self._owner = self._membership.start()
        self._last_renew_ok = time.monotonic()
        self._writer = OutcomeWriter(self._pool, self.lease_seconds, self._on_written)
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="seedcore-task")
        for target, name in ((self._renew_loop, "seedcore-renew"), (self._recovery_loop, "seedcore-recovery")):
            th = threading.Thread(target=target, name=name, daemon=True)
            th.start()
            self._threads.append(th)
        if self.listen:
            th = threading.Thread(target=self._listen_loop, name="seedcore-listen", daemon=True)
            th.start()
            self._threads.append(th)
        log.info("worker %s serving %s on queues %s (concurrency %d)", self._owner, self.types, self.queues, self.concurrency)
        try:
            self._claim_loop(executor)
        finally:
            self._drain(executor)

    # -- claiming -------------------------------------------------------------------------

    def _claim_loop(self, executor: ThreadPoolExecutor) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            membership = self._membership
            trusted = membership is not None and membership.trusted
            if not trusted and self._running:
                self._cancel_all("registry heartbeat not confirmed (self-fenced)")
            if self._running and time.monotonic() - self._last_renew_ok > self.self_fence_after:
                # Renewals have not landed for 2/3 of the lease (failing, or hanging on a dead
                # route): stop claiming and stop the handlers before anyone may take over.
                self._paused.set()
                self._cancel_all("lease unrenewable")
            free = self.concurrency + self.prefetch - len(self._running)
            claimed = 0
            if free > 0 and trusted and not self._paused.is_set():
                try:
                    rows = self._pool.query(
                        "SELECT * FROM claim_tasks(%s, %s, %s, %s, %s, %s)",
                        (self._owner, free, self.lease_seconds, self.types, self.queues, self.aging_seconds),
                    )
                    failures = 0
                except CONNECTION_ERRORS as e:
                    failures += 1
                    log.warning("claim failed (database unreachable, will retry): %s", e)
                    self._stopping.wait(min(5.0, 0.2 * 2**failures))
                    continue
                for row in rows:
                    task = Task.from_row(row)
                    ctx = TaskContext(self, task, str(row["owner_id"]))
                    with self._lock:
                        self._running[task.id] = ctx
                    executor.submit(self._execute, ctx)
                claimed = len(rows)
            if claimed > 0 and claimed == free:
                continue
            self._wake.wait(self.poll_interval)

    def _on_fenced(self, old: str) -> None:
        self._paused.set()
        self._cancel_all(f"instance {old} fenced")

    def _on_registered(self, new: str, previous: Optional[str]) -> None:
        self._owner = new
        if previous is not None:
            self._paused.clear()
            self._wake.set()

    def _cancel_all(self, reason: str) -> None:
        with self._lock:
            ctxs = list(self._running.values())
        for ctx in ctxs:
            ctx.cancel(reason)

    # -- executing ------------------------------------------------------------------------

    def _execute(self, ctx: TaskContext) -> None:
        task = ctx.task
        timer: Optional[threading.Timer] = None
        if task.timeout_seconds:
            timer = threading.Timer(float(task.timeout_seconds), ctx.cancel, args=(f"timeout after {task.timeout_seconds} s",))
            timer.daemon = True
            timer.start()
        writer = self._writer
        assert writer is not None
        suspended = False
        try:
            if self._stopping.is_set():
                # Claimed ahead but never started: hand it back with its attempt.
                writer.put(Outcome(task.id, ctx.owner, "release"))
                return
            kind, value, permanent = "complete", None, False
            try:
                value = self.handlers[task.type](task, ctx)
                json.dumps(value)
            except TaskSuspended:
                # The task waits in the database (its attempt given back): no outcome to write.
                suspended = True
                return
            except PermanentError as e:
                kind, value, permanent = "fail", f"{type(e).__name__}: {e}", True
            except (TypeError, ValueError) as e:
                kind, value = "fail", f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001 - any handler error is the attempt's outcome
                kind, value = "fail", f"{type(e).__name__}: {e}"
            if ctx.cancel_reason is not None and ctx.cancel_reason.startswith("timeout"):
                kind, value = "fail", ctx.cancel_reason
            writer.put(Outcome(task.id, ctx.owner, kind, value, 0 if permanent else self.max_attempts, lambda: max(ctx._last_renewed, self._last_renew_ok)))
        finally:
            if timer is not None:
                timer.cancel()
            if suspended:
                with self._lock:
                    self._running.pop(task.id, None)
                    self.suspended += 1
                self._wake.set()

    def _on_written(self, task_id: str, kind: str, status: Any) -> None:
        with self._lock:
            ctx = self._running.pop(task_id, None)
            if kind == "complete":
                if status:
                    self.completed += 1
                else:
                    self.lost += 1
            elif kind == "fail":
                if status is None:
                    self.lost += 1
                else:
                    self.failed += 1
            elif kind == "lost":
                self.lost += 1
        if kind == "fail" and status is not None and ctx is not None:
            log.info("task %s (%s) attempt %d failed -> %s", task_id, ctx.task.type, ctx.task.attempts, status)
        self._wake.set()

    # -- leases, recovery, notifications --------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._done.wait(self.heartbeat_seconds):
            with self._lock:
                ctxs = list(self._running.values())
            if not ctxs:
                self._last_renew_ok = time.monotonic()
                continue
            sent = time.monotonic()
            try:
                by_owner: Dict[str, List[TaskContext]] = {}
                for c in ctxs:
                    by_owner.setdefault(c.owner, []).append(c)
                for owner, group in by_owner.items():
                    rows = self._pool.query(
                        "SELECT id::text AS id FROM renew_task_leases(%s, %s::uuid[], %s) AS id",
                        (owner, [c.task.id for c in group], self.lease_seconds),
                    )
                    renewed = {r["id"] for r in rows}
                    for c in group:
                        if c.task.id in renewed:
                            c._last_renewed = sent
                        else:
                            c.cancel("lease lost or task cancelled")
                self._last_renew_ok = sent
                if self._paused.is_set() and self._membership is not None and self._membership.trusted:
                    self._paused.clear()
            except CONNECTION_ERRORS as e:
                log.warning("lease renewal failed: %s", e)
                if time.monotonic() - self._last_renew_ok > self.self_fence_after:
                    self._paused.set()
                    self._cancel_all("lease unrenewable")

    def _recovery_loop(self) -> None:
        while not self._stopping.wait(self.recovery_interval):
            try:
                rows = self._pool.query("SELECT id::text AS id, status FROM recover_stale_tasks(%s, 500, true)", (self.max_attempts,))
                self._pool.query("SELECT count(*) FROM expire_tasks(500)")
                if rows:
                    log.info("recovered %d stale tasks", len(rows))
                    self._wake.set()
                self._pool.query(
                    "SELECT expire_stale_instances(coalesce((SELECT liveness_seconds FROM cluster_metadata WHERE id = 1), 15)),"
                    " expire_old_epoch_instances()"
                )
            except Exception as e:  # noqa: BLE001 - the sweep must survive anything
                log.warning("recovery sweep failed: %s", e)

    def _listen_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn = connect(self.settings.listen_url or self.dsn, "seedcore-python-listen", self.settings)
            except CONNECTION_ERRORS:
                self._stopping.wait(1.0)
                continue
            try:
                conn.execute("LISTEN seedcore_tasks")
                conn.execute("LISTEN seedcore_task_cancel")
                self.listening.set()
                pg = conn.pgconn
                while not self._stopping.is_set():
                    ready, _, _ = select.select([pg.socket], [], [], 0.5)
                    if not ready:
                        continue
                    pg.consume_input()
                    while True:
                        n = pg.notifies()
                        if n is None:
                            break
                        if n.relname == b"seedcore_task_cancel":
                            with self._lock:
                                ctx = self._running.get(n.extra.decode())
                            if ctx is not None:
                                ctx.cancel("cancelled")
                        else:
                            self._wake.set()
            except Exception as e:  # noqa: BLE001 - reconnect on anything
                log.info("listener reconnecting: %s", e)
                self._stopping.wait(1.0)
            finally:
                conn.close()

    # -- shutdown -------------------------------------------------------------------------

    def _drain(self, executor: ThreadPoolExecutor) -> None:
        deadline = time.monotonic() + self.shutdown_grace
        while self._running and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._running:
            self._cancel_all("worker shutting down")
        executor.shutdown(wait=True)
        if self._writer is not None:
            self._writer.close()
        self._done.set()
        for th in self._threads:
            th.join(timeout=5)
        if self._membership is not None:
            self._membership.close()
        self._pool.close()
        log.info("worker %s stopped (completed %d, failed %d, lost %d)", self._owner, self.completed, self.failed, self.lost)


def load_handlers(path: str) -> Dict[str, Handler]:
    """Import a Python file and return its ``handlers`` dict."""
    spec = importlib.util.spec_from_file_location("seedcore_user_handlers", path)
    if spec is None or spec.loader is None:
        raise invalid_input(f"cannot import handlers file {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    handlers = getattr(mod, "handlers", None)
    if not isinstance(handlers, dict) or not handlers:
        raise invalid_input(f"{path} must define a non-empty dict `handlers = {{type: fn}}`")
    return handlers
