"""SeedCore for Python: a threaded worker and a client, speaking SeedCore's SQL worker protocol.

Needs a PostgreSQL server with SeedCore's migrations applied (``seedcore migrate``); the
embedded PGlite backend lives inside a Node process and cannot be reached from Python.
"""

from ._db import ReplyTimeout
from .client import Client
from .durable import TaskSuspended
from .errors import PermanentError, SeedCoreError
from .settings import ConnectionSettings, resolve_settings
from .tasks import Task
from ._worker import TaskContext, Worker, load_handlers

__all__ = ["Client", "ConnectionSettings", "PermanentError", "ReplyTimeout", "SeedCoreError", "Task", "TaskContext", "TaskSuspended", "Worker", "load_handlers", "resolve_settings"]
__version__ = "0.1.0"
