"""The task as a handler sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional


@dataclass(frozen=True)
class Task:
    """One claimed task. ``attempts`` counts executions started, this one included."""

    id: str
    type: str
    params: Dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    queue: str = "default"
    priority: str = "normal"
    description: Optional[str] = None
    domain: Optional[str] = None
    drift_score: float = 0.0
    max_attempts: Optional[int] = None
    timeout_seconds: Optional[float] = None

    @staticmethod
    def from_row(row: Mapping[str, Any]) -> "Task":
        params = row.get("params")
        return Task(
            id=str(row["id"]),
            type=str(row["type"]),
            params=dict(params) if isinstance(params, dict) else {"value": params} if params is not None else {},
            attempts=int(row.get("attempts") or 0),
            queue=str(row.get("queue") or "default"),
            priority=str(row.get("priority") or "normal"),
            description=row.get("description"),
            domain=row.get("domain"),
            drift_score=float(row.get("drift_score") or 0.0),
            max_attempts=row.get("max_attempts"),
            timeout_seconds=row.get("timeout_seconds"),
        )
