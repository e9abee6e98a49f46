"""``python3 -m seedcore.worker --handlers file.py``: a worker process (reads DATABASE_URL).

The handlers file defines ``handlers = {"type": fn}`` with ``fn(task, ctx)``. SIGTERM drains:
no new claims, running handlers finish (``ctx.cancelled`` is set after the grace period), the
registry instance goes draining → dead, and the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from ._worker import Handler, TaskContext, Worker, load_handlers
from .errors import SeedCoreError

__all__ = ["Handler", "TaskContext", "Worker", "load_handlers", "main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m seedcore.worker", description="Run SeedCore tasks with Python handlers (reads DATABASE_URL).")
    p.add_argument("--handlers", required=True, help="a Python file defining handlers = {type: fn(task, ctx)}")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--prefetch", type=int, default=None, help="tasks claimed ahead of free threads (default: concurrency)")
    p.add_argument("--queues", default="default", help="comma-separated queue names")
    p.add_argument("--types", default=None, help="comma-separated task types to claim (default: every type in handlers)")
    p.add_argument("--lease-seconds", type=float, default=30.0)
    p.add_argument("--heartbeat-seconds", type=float, default=None)
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--poll-interval", type=float, default=0.5)
    p.add_argument("--logical-id", default="dispatcher")
    p.add_argument("--log-level", default=os.environ.get("SEEDCORE_LOG_LEVEL", "INFO"))
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("seedcore worker: DATABASE_URL is not set (the Python worker needs a PostgreSQL server)", file=sys.stderr)
        return 2
    try:
        worker = _worker(a, dsn)
    except SeedCoreError as e:
        print(f"seedcore worker: {e.message}", file=sys.stderr)
        return 2
    worker.run()
    return 0


def _worker(a: argparse.Namespace, dsn: str) -> Worker:
    """The Worker the arguments describe; connection settings come from the environment (seedcore.settings)."""
    return Worker(
        dsn,
        load_handlers(a.handlers),
        concurrency=a.concurrency,
        prefetch=a.prefetch,
        queues=[q for q in a.queues.split(",") if q],
        lease_seconds=a.lease_seconds,
        heartbeat_seconds=a.heartbeat_seconds,
        max_attempts=a.max_attempts,
        poll_interval=a.poll_interval,
        logical_id=a.logical_id,
        types=[t for t in a.types.split(",") if t] if a.types else None,
    )


if __name__ == "__main__":
    sys.exit(main())
