"""Registry membership, as the TypeScript worker does it (migrations 011/012).

register: a fresh instance id in the current cluster epoch → alive → beat() every
3 s + random(0..2 s). beat() returning false means the database fenced the instance (dead, epoch
rotated, or it missed the liveness window): it is never revived; a NEW instance is registered.
close(): draining → dead. Liveness is decided by the database clock; the process's monotonic
clock only judges, conservatively, whether this process may still act (``trusted``).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from typing import Callable, Optional

from ._db import CONNECTION_ERRORS, Pool

log = logging.getLogger("seedcore.registry")


def _host_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing interface
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class Membership:
    """One process's registry instance. ``on_fenced(old)`` / ``on_registered(new, old)`` are called from the beat thread."""

    def __init__(
        self,
        pool: Pool,
        logical_id: str = "dispatcher",
        heartbeat_base: float = 3.0,
        heartbeat_jitter: float = 2.0,
        on_fenced: Optional[Callable[[str], None]] = None,
        on_registered: Optional[Callable[[str, Optional[str]], None]] = None,
    ) -> None:
        if not logical_id:
            raise ValueError("logical_id must be a non-empty string")
        self._pool = pool
        self.logical_id = logical_id
        self._base = heartbeat_base
        self._jitter = heartbeat_jitter
        self._on_fenced = on_fenced
        self._on_registered = on_registered
        self.instance_id: Optional[str] = None
        self.liveness_seconds = 15.0
        self._confirmed_at = 0.0
        self._fenced_id: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def trusted(self) -> bool:
        """Less than the liveness window minus a margin since the last accepted heartbeat was sent."""
        if self.instance_id is None or self._fenced_id is not None or self._stop.is_set():
            return False
        margin = min(2.0, self.liveness_seconds / 5)
        return time.monotonic() - self._confirmed_at < self.liveness_seconds - margin

    def start(self) -> str:
        iid = self._register(None)
        self._thread = threading.Thread(target=self._run, name="seedcore-registry", daemon=True)
        self._thread.start()
        return iid

    def _current_epoch(self) -> str:
        rows = self._pool.query("SELECT current_epoch::text AS e FROM cluster_metadata WHERE id = 1")
        if rows:
            return str(rows[0]["e"])
        # The first epoch: insert-if-absent (not set_current_epoch), so processes starting at
        # once on an empty cluster agree on one epoch instead of fencing each other.
        self._pool.query("INSERT INTO cluster_metadata (id, current_epoch) VALUES (1, %s::uuid) ON CONFLICT (id) DO NOTHING", (str(uuid.uuid4()),))
        return str(self._pool.query("SELECT current_epoch::text AS e FROM cluster_metadata WHERE id = 1")[0]["e"])

    def _register(self, previous: Optional[str]) -> str:
        iid = str(uuid.uuid4())
        sent = time.monotonic()
        epoch = self._current_epoch()
        rows = self._pool.query("SELECT coalesce((SELECT liveness_seconds FROM cluster_metadata WHERE id = 1), 15)::float8 AS s")
        self.liveness_seconds = float(rows[0]["s"])
        self._pool.query(
            "SELECT register_instance(%s::uuid, %s, %s::uuid, %s, NULL, %s, %s::inet, %s::int)",
            (iid, self.logical_id, epoch, self.logical_id, socket.gethostname(), _host_ip(), os.getpid()),
        )
        self._pool.query("SELECT set_instance_status(%s::uuid, 'alive')", (iid,))
        self.instance_id = iid
        self._confirmed_at = sent
        log.info("registered instance %s (logical id %s, epoch %s, previous %s)", iid, self.logical_id, epoch, previous)
        if self._on_registered:
            self._on_registered(iid, previous)
        return iid

    def beat_once(self) -> bool:
        iid = self.instance_id
        if iid is None:
            return False
        sent = time.monotonic()
        rows = self._pool.query("SELECT beat(%s::uuid) AS ok", (iid,))
        ok = bool(rows and rows[0]["ok"])
        if ok and self.instance_id == iid:
            self._confirmed_at = sent
        return ok

    def _run(self) -> None:
        failures = 0
        while True:
            delay = min(10.0, 0.5 * 2 ** (failures - 1)) if failures else self._base + random.random() * self._jitter
            if self._stop.wait(delay):
                return
            try:
                if self._fenced_id is not None:
                    self._register(self._fenced_id)
                    self._fenced_id = None
                elif not self.beat_once():
                    if self._stop.is_set():
                        return
                    old = self.instance_id or ""
                    log.warning("instance %s fenced (dead, old epoch or missed the liveness window); registering a new instance", old)
                    self._fenced_id = old
                    if self._on_fenced:
                        self._on_fenced(old)
                    self._register(old)
                    self._fenced_id = None
                failures = 0
            except CONNECTION_ERRORS as e:
                failures += 1
                log.warning("registry: database unreachable (will retry): %s", e)
            except Exception as e:  # noqa: BLE001 - the beat thread must survive anything
                failures += 1
                log.warning("registry error (will retry): %s", e)

    def close(self) -> None:
        """draining → dead; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        iid = self.instance_id
        if iid is None:
            return
        for status in ("draining", "dead"):
            try:
                self._pool.query("SELECT set_instance_status(%s::uuid, %s::instancestatus)", (iid, status))
            except Exception as e:  # noqa: BLE001 - already dead (fenced) is the outcome we wanted
                log.info("registry close: %s", e)
                break
